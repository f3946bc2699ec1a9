import math

import numpy as np
import pytest

from mmfusion_annotate.prelabel.boxes2d import box_iou, cuboid_corners, project_cuboids
from mmfusion_annotate.prelabel.metrics import Evaluator, GtObject, bev_iou
from mmfusion_annotate.prelabel.model import Cuboid, ObjectClass, Provenance
from mmfusion_annotate.rig.camera_model import CameraModel

CAM = CameraModel(width=1000, height=600, K=[[500, 0, 500], [0, 500, 300], [0, 0, 1]])
# optical frame: x right, y down, z forward; build cuboids directly there (yaw about the vertical = -y)


def _corners_cam(center_xyz, size):
    c = cuboid_corners((center_xyz[0], center_xyz[2], -center_xyz[1]), size, 0.0)
    return np.stack([c[:, 0], -c[:, 2], c[:, 1]], axis=1)


def _project_one(corners_cam: np.ndarray, model: CameraModel, near: float):
    """(box or None, truncation) of one cuboid, projected alone."""
    boxes, truncations = project_cuboids(corners_cam[None], model, near)
    return (None if np.isnan(boxes[0, 0]) else tuple(boxes[0])), float(truncations[0])


def test_box_in_front_matches_the_pinhole_corners():
    corners = _corners_cam((0.0, 0.0, 10.0), (2.0, 2.0, 2.0))
    box, trunc = _project_one(corners, CAM, near=0.1)
    uv = corners[:, :2] / corners[:, 2:] * 500 + (500, 300)
    np.testing.assert_allclose(box, (*uv.min(0), *uv.max(0)), atol=1e-6)
    assert trunc == 0.0


def test_box_straddling_the_camera_is_clipped_not_flipped():
    corners = _corners_cam((3.0, 0.0, 0.5), (2.0, 4.0, 1.5))  # half of it behind the camera
    box, trunc = _project_one(corners, CAM, near=0.1)
    assert box is not None
    assert box[0] > 500  # everything is on the right of the principal point, as the object is
    assert box[2] == 1000 and trunc > 0.5


def test_box_fully_behind_the_camera_has_no_box():
    assert _project_one(_corners_cam((0.0, 0.0, -5.0), (2.0, 2.0, 2.0)), CAM, near=0.1) == (None, 1.0)


def test_all_cuboids_projected_in_one_call_match_each_projected_alone():
    rng = np.random.default_rng(1)
    centres = np.c_[rng.uniform(-8, 8, 40), rng.uniform(-2, 2, 40), rng.uniform(-6, 25, 40)]
    sizes = rng.uniform(0.5, 5.0, (40, 3))
    corners = np.stack([_corners_cam(c, s) for c, s in zip(centres, sizes, strict=True)])
    boxes, truncations = project_cuboids(corners, CAM, near=0.1)
    kinds = set()
    for k in range(40):
        box, trunc = _project_one(corners[k], CAM, near=0.1)
        if box is None:
            assert np.isnan(boxes[k]).all() and truncations[k] == 1.0
            kinds.add("none")
        else:
            np.testing.assert_allclose(boxes[k], box, atol=1e-9)
            assert truncations[k] == pytest.approx(trunc)
            kinds.add("straddling" if corners[k][:, 2].min() < 0.1 else "in front")
    assert kinds == {"none", "straddling", "in front"}
    # the corners of a batch are those of each cuboid alone
    yaws = rng.uniform(-3, 3, 40)
    batch = cuboid_corners(centres, sizes, yaws)
    np.testing.assert_allclose(batch[7], cuboid_corners(centres[7], sizes[7], yaws[7]))
    assert project_cuboids(np.zeros((0, 8, 3)), CAM, near=0.1)[0].shape == (0, 4)


def test_iou_helpers():
    assert bev_iou((0, 0), (4, 2), 0.3, (0, 0), (4, 2), 0.3) == pytest.approx(1.0, abs=1e-6)
    assert bev_iou((0, 0), (4, 2), 0.0, (2, 0), (4, 2), 0.0) == pytest.approx(1 / 3, abs=1e-6)
    assert bev_iou((0, 0), (4, 2), 0.0, (0, 0), (4, 2), math.pi / 2) == pytest.approx(4 / 12, abs=1e-6)
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def _cuboid(oid, label, center, yaw=0.0, size=(4.5, 1.8, 1.5)):
    return Cuboid(oid, 0, center, size, yaw, label, 50, Provenance("test", "v", 0.9))


def test_evaluator_counts_matches_misses_false_positives_and_id_switches():
    gts = [
        GtObject(1, ObjectClass.CAR, (10.0, 0.0, 0.0), (4.5, 1.8, 1.5), 0.0),
        GtObject(2, ObjectClass.PEDESTRIAN, (8.0, 3.0, 0.0), (0.6, 0.6, 1.7), 0.0),
        GtObject(3, ObjectClass.CAR, (40.0, 0.0, 0.0), (4.5, 1.8, 1.5), 0.0),
    ]
    ev = Evaluator()
    ev.add_frame(
        gts,
        [
            _cuboid(7, ObjectClass.CAR, (10.2, 0.1, 0.0), 0.05),
            _cuboid(8, ObjectClass.PEDESTRIAN, (8.3, 3.0, 0.0), size=(0.7, 0.6, 1.7)),
            _cuboid(9, ObjectClass.CAR, (20.0, 8.0, 0.0)),
        ],
    )
    ev.add_frame(gts, [_cuboid(11, ObjectClass.CAR, (10.0, 0.0, 0.0))])
    rep = ev.report()["detection"]
    assert (rep["car@30m"]["tp"], rep["car@30m"]["fp"], rep["car@30m"]["fn"]) == (2, 1, 0)
    assert (rep["car@50m"]["tp"], rep["car@50m"]["fn"]) == (2, 2)
    assert rep["pedestrian@20m"]["tp"] == 1 and rep["pedestrian@20m"]["fn"] == 1
    assert ev.report()["id_switches"] == 1
