"""The camera detector runner: schedule, tiles along the horizon, class mapping, merging, loading."""

from __future__ import annotations

import numpy as np
import pytest
from detector_helpers import FakeModel

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.prelabel.camera_detector import (
    CameraClass,
    CameraDetector,
    describe,
    load_camera_detector,
    scheduled_cameras,
    tile_boxes,
)
from mmfusion_annotate.prelabel.config import DetectorConfig
from mmfusion_annotate.prelabel.model import ObjectClass


def test_cameras_are_looked_at_in_turn():
    cams = ("a", "b", "c")
    assert [scheduled_cameras(k, cams, 1, 1) for k in range(4)] == [("a",), ("b",), ("c",), ("a",)]
    assert [scheduled_cameras(k, cams, 2, 1) for k in range(4)] == [("a",), (), ("b",), ()]
    assert [scheduled_cameras(k, cams, 1, 2) for k in range(3)] == [("a", "b"), ("c", "a"), ("b", "c")]
    assert scheduled_cameras(5, cams, 1, 0) == cams == scheduled_cameras(5, cams, 1, 7)
    assert scheduled_cameras(0, (), 1, 1) == ()


def test_tiles_are_squares_across_the_width_on_the_horizon():
    tiles = tile_boxes(1600, 900, 3, horizon_v=450.0)
    assert tiles == [(0, 130, 640, 770), (480, 130, 1120, 770), (960, 130, 1600, 770)]  # 25 % overlap
    # a wide, low image: the squares are cut to its height; a horizon near the top moves them down
    assert tile_boxes(1242, 375, 3, horizon_v=180.0)[0] == (0, 0, 497, 375)
    assert tile_boxes(1600, 900, 3, horizon_v=50.0)[0][1] == 0
    assert tile_boxes(1600, 900, 3, horizon_v=None)[1] == (480, 130, 1120, 770)  # the middle by default
    assert tile_boxes(1600, 900, 0, 450.0) == []


def test_detections_are_mapped_to_road_user_classes_and_clipped():
    model = FakeModel({0: [((10, 20, 50, 120), 0, 0.9), ((-5, 30, 80, 90), 3, 0.6), ((0, 0, 9, 9), 9, 0.95),
                           ((200, 20, 260, 60), 7, 0.3)]})  # fmt: skip
    detector = CameraDetector(model, DetectorConfig(score_threshold=0.4), "fake")
    found = detector.detect(np.zeros((100, 200, 3), np.uint8))
    assert [(d.kind, d.coco_name) for d in found] == [(CameraClass.PEDESTRIAN, "person"),
                                                      (CameraClass.MOTORCYCLE, "motorcycle")]  # fmt: skip
    assert found[0].object_class is ObjectClass.PEDESTRIAN and found[1].object_class is None
    assert found[1].box == (0.0, 30.0, 80.0, 90.0)  # clipped to the image; the traffic light is dropped
    assert model.crops == [(100, 200)]


def test_tile_detections_are_merged_with_the_whole_image_and_cut_ones_dropped():
    # 1600x900 with 3 tiles (crops 1..3 at x 0, 480, 960; y 130): one car found whole and in tile 2,
    # a small far person found only in tile 3, and a box cut by tile 1's inner right edge
    model = FakeModel({
        0: [((500, 400, 700, 500), 2, 0.7)],
        2: [((22, 268, 218, 372), 2, 0.8), ((600, 300, 640, 360), 0, 0.9)],
        3: [((100, 300, 120, 340), 0, 0.5)],
        1: [((600, 300, 639, 350), 2, 0.9)],
    })  # fmt: skip
    detector = CameraDetector(model, DetectorConfig(tiles=3), "fake")
    found = detector.detect(np.zeros((900, 1600, 3), np.uint8), horizon_v=450.0)
    assert model.crops == [(900, 1600), (640, 640), (640, 640), (640, 640)]
    assert [(d.kind, d.score) for d in found] == [(CameraClass.CAR, pytest.approx(0.8)),
                                                  (CameraClass.PEDESTRIAN, pytest.approx(0.5))]  # fmt: skip
    assert found[0].box == (502.0, 398.0, 698.0, 502.0) and found[1].box == (1060.0, 430.0, 1080.0, 470.0)
    # whole-image scale 900/416 against a tile's 640/416: tiles find people 1.4x smaller
    assert detector.detectable_height(1600, 900) == pytest.approx(32 * 640 / 416)
    assert CameraDetector(model, DetectorConfig(), "fake").detectable_height(1600, 900) == pytest.approx(
        32 * 900 / 416
    )


def test_only_the_configured_classes_are_kept_from_the_whole_image_and_the_tiles():
    # a car the whole image finds, a far car and a far person only tile 3 finds: the person only
    model = FakeModel({
        0: [((500, 400, 700, 500), 2, 0.7)],
        3: [((100, 300, 160, 340), 2, 0.6), ((300, 300, 320, 340), 0, 0.5), ((400, 300, 430, 340), 1, 0.5)],
    })  # fmt: skip
    image = np.zeros((900, 1600, 3), np.uint8)
    people = DetectorConfig(tiles=3, classes=("pedestrian", "bicycle", "motorcycle"))
    found = CameraDetector(model, people, "fake").detect(image, 450.0)
    assert [(d.kind, d.box[0]) for d in found] == [
        (CameraClass.PEDESTRIAN, 1260.0),
        (CameraClass.BICYCLE, 1360.0),
    ]
    assert len(CameraDetector(model, DetectorConfig(tiles=3), "fake").detect(image, 450.0)) == 4


def test_an_image_the_model_fails_on_is_reported_not_raised():
    detector = CameraDetector(FakeModel({}, fail=True), DetectorConfig(), "fake")
    (result,) = detector.detect_images([("cam", np.zeros((10, 10, 3), np.uint8), None)])
    assert (
        result.camera == "cam"
        and result.detections == ()
        and "RuntimeError: inference failed" in result.error
    )


def test_loading_names_the_parameter_for_every_unusable_model(
    model_dir, tmp_path, monkeypatch, shared_models
):
    assert load_camera_detector(DetectorConfig()) is None
    assert "LiDAR-only" in describe(None)
    detector = load_camera_detector(DetectorConfig(model="deimv2-femto", threads=2), model_dir)
    assert detector.model.name == "deimv2" and "deimv2-femto (deimv2, whole image" in describe(detector)
    monkeypatch.setenv("MMFUSION_MODEL_DIR", str(model_dir))
    assert load_camera_detector(DetectorConfig(model="yolox-nano")).model.name == "yolox"
    key = "key 'prelabel.camera.detector.model'"
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01 not a protobuf")
    with pytest.raises(ConfigError, match=f"{key}.*not a loadable ONNX model"):
        load_camera_detector(DetectorConfig(model=str(junk)))
    with pytest.raises(ConfigError, match=f"{key}.*not a supported detector .deimv2: expects inputs"):
        load_camera_detector(
            DetectorConfig(model=str(shared_models / "yolox_nano.onnx"), architecture="deimv2")
        )
    with pytest.raises(ConfigError, match="key 'prelabel.camera.detector.architecture'.*a yolox model"):
        load_camera_detector(DetectorConfig(model="yolox-nano", architecture="deimv2"))
    with pytest.raises(ConfigError, match=f"{key}.*neither a known model"):
        load_camera_detector(DetectorConfig(model="deimv2"))
