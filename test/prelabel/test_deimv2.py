"""DEIMv2's pre- and post-processing, and the exported model on a real KITTI pedestrian."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from detector_helpers import PEDESTRIAN_000000, kitti_people

from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.camera_detector import open_model
from mmfusion_annotate.prelabel.detectors import deimv2, yolox


def _arg(name, type_, shape):
    return SimpleNamespace(name=name, type=type_, shape=shape)


@pytest.fixture(scope="module")
def model(shared_models):
    return open_model(shared_models / "deimv2_hgnetv2_femto_coco.onnx", "deimv2", threads=1)


def test_preprocess_resizes_each_crop_whole_keeps_rgb_and_scales_to_one():
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 0] = 255
    grey = np.full((40, 30, 3), 51, np.uint8)
    feeds = deimv2.preprocess([red, grey], (64, 48))
    assert feeds["images"].shape == (2, 3, 48, 64) and feeds["images"].dtype == np.float32
    assert np.allclose(feeds["images"][0, 0], 1.0) and np.allclose(feeds["images"][0, 1:], 0.0)
    assert np.allclose(feeds["images"][1], 0.2)
    assert feeds["orig_target_sizes"].tolist() == [[160, 90], [30, 40]]  # width, height of each crop


def test_postprocess_keeps_each_crops_queries_above_the_score():
    labels = np.array([[0, 2, 7], [1, 0, 0]], np.int64)
    boxes = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    scores = np.array([[0.9, 0.3, 0.5], [0.1, 0.2, 0.45]], np.float32)
    first, second = deimv2.postprocess([labels, boxes, scores], 0.4)
    assert first.classes.tolist() == [0, 7] and first.boxes.tolist() == [
        boxes[0, 0].tolist(),
        boxes[0, 2].tolist(),
    ]
    assert second.classes.tolist() == [0] and second.scores.tolist() == pytest.approx([0.45])


def test_the_interface_check_accepts_the_export_and_names_what_differs(model):
    session = model._session
    assert deimv2.interface_problem(session.get_inputs(), session.get_outputs()) is None
    assert model.input_size == (416, 416)
    dynamic = [
        _arg("images", "tensor(float)", ["N", 3, "H", "W"]),
        _arg("orig_target_sizes", "tensor(int64)", [1, 2]),
    ]
    assert "fixed height and width" in deimv2.interface_problem(dynamic, session.get_outputs())
    yolox_like = (
        [_arg("images", "tensor(float)", [1, 3, 416, 416])],
        [_arg("output", "tensor(float)", [1, 3549, 85])],
    )
    assert "expects inputs ['images', 'orig_target_sizes']" in deimv2.interface_problem(*yolox_like)
    assert yolox.interface_problem(session.get_inputs(), session.get_outputs()) is not None


def test_the_model_finds_the_kitti_pedestrian_in_original_pixels(model, kitti_image):
    rgb, people = kitti_people(model, kitti_image)
    assert len(people) == 1
    assert box_iou(tuple(people[0].tolist()), PEDESTRIAN_000000) > 0.8
    assert model.input_scale(rgb.shape[1], rgb.shape[0]) == pytest.approx(rgb.shape[0] / 416)
