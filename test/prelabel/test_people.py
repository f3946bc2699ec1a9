"""Camera-only people detections: the round-robin budget, and the review item on a real KITTI pedestrian.

KITTI 000000 shows one pedestrian 8.4 m ahead (376 LiDAR points). Pre-labelled as recorded, its cuboid
explains the HOG detection and no camera-only item is raised; with the points inside its labelled 3D box
removed, the camera still sees the person and the review queue must say so, at the labelled 2D box.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from mmfusion_annotate.bagtools.evaluate import CAMERA, LIDAR, load_frame
from mmfusion_annotate.prelabel import ObjectClass, PrelabelConfig, Prelabeler
from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.config import CameraConfig
from mmfusion_annotate.prelabel.people import PersonDetection, scheduled_camera, unmatched
from mmfusion_annotate.prelabel.review import CAMERA_WITHOUT_LIDAR

KITTI = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kitti" / "training"
FRAME = "000000"


def test_one_camera_per_scheduled_frame_in_turn():
    cams = ("a", "b", "c")
    assert [scheduled_camera(k, cams, 1) for k in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]
    every2 = [scheduled_camera(k, cams, 2) for k in range(8)]
    assert every2 == ["a", None, "b", None, "c", None, "a", None]
    assert scheduled_camera(5, (), 1) is None
    # over any window of every * len(cameras) frames each camera runs exactly once
    window = [scheduled_camera(k, cams, 4) for k in range(100, 112)]
    assert sorted(c for c in window if c) == ["a", "b", "c"]


def test_a_negative_svm_threshold_is_refused_at_configuration():
    # OpenCV's NMSBoxes asserts a score threshold >= 0: caught when the config loads, not mid-drive
    with pytest.raises(ValidationError, match="detector_threshold"):
        PrelabelConfig.model_validate({"camera": {"detector_threshold": -0.5}})


def test_a_detection_a_projected_box_overlaps_or_lies_in_is_not_camera_only():
    det = [
        PersonDetection((100, 100, 150, 200), 0.5, 0.6),
        PersonDetection((400, 100, 450, 200), 0.4, 0.5),
        PersonDetection((700, 100, 800, 300), 0.3, 0.4),
    ]
    # overlaps det 0; a small box 78% inside det 2 (a pole's lower part, IoU 0.07); one apart
    projected = [(105, 110, 150, 205), (740, 230, 760, 320), (0, 0, 40, 40)]
    assert unmatched(det, projected, 0.3, 0.5) == [det[1]]
    assert unmatched(det, projected, 0.3, 0.9) == [det[1], det[2]]  # 78% inside
    assert unmatched(det, [], 0.3, 0.5) == det  # no cuboid in view: every detection is camera-only


def _kitti_copy(tmp_path: Path, drop_pedestrian: bool) -> Path:
    """A one-frame KITTI folder; optionally without the LiDAR points inside the pedestrian's 3D box."""
    if not (KITTI / "velodyne" / f"{FRAME}.bin").is_file():
        pytest.fail(f"KITTI sample data missing at {KITTI} (see shared/data/kitti/PROVENANCE.md)")
    root = tmp_path / ("dropped" if drop_pedestrian else "as_recorded")
    for sub, ext in (("image_2", "png"), ("calib", "txt"), ("label_2", "txt"), ("velodyne", "bin")):
        (root / sub).mkdir(parents=True)
        shutil.copy(KITTI / sub / f"{FRAME}.{ext}", root / sub / f"{FRAME}.{ext}")
    if drop_pedestrian:
        sample = load_frame(root, FRAME)
        (ped,) = [g for g in sample.gts if g.label is ObjectClass.PEDESTRIAN]
        scan = np.fromfile(root / "velodyne" / f"{FRAME}.bin", dtype=np.float32).reshape(-1, 4)
        T = sample.rig.sensor_to_base(LIDAR)
        local = scan[:, :3] @ T[:3, :3].T + T[:3, 3] - np.asarray(ped.center)
        c, s = np.cos(ped.yaw), np.sin(ped.yaw)
        along, across = local[:, 0] * c + local[:, 1] * s, -local[:, 0] * s + local[:, 1] * c
        margin = 0.2  # the label box is tight; returns off the arms and feet sit just outside it
        inside = (
            (np.abs(along) <= ped.size[0] / 2 + margin)
            & (np.abs(across) <= ped.size[1] / 2 + margin)
            & (np.abs(local[:, 2]) <= ped.size[2] / 2 + margin)
        )
        assert inside.sum() > 300  # the pedestrian's returns (376 in the label's own count)
        scan[~inside].tofile(root / "velodyne" / f"{FRAME}.bin")
    return root


def _near(cuboids, ped) -> list:
    return [c for c in cuboids if np.hypot(c.center[0] - ped.center[0], c.center[1] - ped.center[1]) < 1]


def _prelabel(root: Path):
    """The frame's pre-labels with the camera-only people (handed over after it) merged in, and the
    labelled pedestrian."""
    sample = load_frame(root, FRAME)
    (ped,) = [g for g in sample.gts if g.label is ObjectClass.PEDESTRIAN]
    prelabeler = Prelabeler(sample.rig, PrelabelConfig())
    result = prelabeler.process(sample.frame)
    assert not [b for b in result.boxes2d if b.object_id == -1]  # never in the frame's own result
    assert prelabeler.take_people() is None  # due detector_lag frames later
    people = prelabeler.take_people(final=True)  # the end of the stream: due now
    assert people.stamp == result.stamp and people.camera == CAMERA and not people.detector_error
    assert prelabeler.take_people() is None  # handed over once
    merged = replace(result, boxes2d=result.boxes2d + people.boxes,
                     review_items=result.review_items + people.review_items)  # fmt: skip
    return merged, ped


@pytest.mark.slow
def test_kitti_pedestrian_without_lidar_points_becomes_a_camera_only_review_item(tmp_path):
    result, ped = _prelabel(_kitti_copy(tmp_path, drop_pedestrian=False))
    label_box = ped.boxes2d[CAMERA]
    assert [c.label for c in _near(result.cuboids, ped)] == [ObjectClass.PEDESTRIAN]
    assert not [i for i in result.review_items if i.reason == CAMERA_WITHOUT_LIDAR]
    assert not [b for b in result.boxes2d if b.object_id == -1 and box_iou(b.box, label_box) > 0.3]

    result, _ = _prelabel(_kitti_copy(tmp_path, drop_pedestrian=True))
    assert not _near(result.cuboids, ped)
    camera_only = [b for b in result.boxes2d if b.object_id == -1]
    hits = [b for b in camera_only if box_iou(b.box, label_box) > 0.3]
    assert len(hits) == 1, camera_only
    (hit,) = hits
    assert hit.camera == CAMERA and hit.label is ObjectClass.PEDESTRIAN
    assert hit.provenance.algorithm == "hog_people" and 0 < hit.provenance.confidence < 1
    items = [i for i in result.review_items if i.reason == CAMERA_WITHOUT_LIDAR]
    assert len(items) == len(camera_only)
    assert items[0].camera == CAMERA and items[0].object_ids == ()
    top = max(b.provenance.confidence for b in camera_only)
    assert items[0].priority == pytest.approx(0.5 * top, abs=1e-4)


def test_people_must_be_taken_before_the_next_scheduled_frame(tmp_path):
    sample = load_frame(_kitti_copy(tmp_path, drop_pedestrian=False), FRAME)
    # detector_lag (3) is capped at detector_every (1): taken at the start of the next frame
    prelabeler = Prelabeler(sample.rig, PrelabelConfig(camera=CameraConfig(detector_every=1)))
    prelabeler.process(sample.frame)
    with pytest.raises(RuntimeError, match="take_people"):  # never dropped unseen
        prelabeler.process(sample.frame)
    assert prelabeler.take_people() is not None and prelabeler.take_people() is None


def test_people_are_due_detector_lag_frames_later(tmp_path):
    sample = load_frame(_kitti_copy(tmp_path, drop_pedestrian=False), FRAME)
    prelabeler = Prelabeler(sample.rig, PrelabelConfig(camera=CameraConfig(detector_every=5, detector_lag=3)))
    first = prelabeler.process(sample.frame)  # scheduled: frame 0
    assert prelabeler.people_pending(first.stamp) == CAMERA
    taken = []
    for _ in range(4):  # frames 1..4: the result is due before frame 3
        taken.append(prelabeler.take_people())
        prelabeler.process(sample.frame)
    assert [p is not None for p in taken] == [False, False, True, False]
    assert taken[2].stamp == first.stamp and prelabeler.people_pending(first.stamp) is None

