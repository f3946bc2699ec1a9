"""YOLOX's letterbox and grid decoding, and the exported model on a real KITTI pedestrian."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from detector_helpers import PEDESTRIAN_000000, kitti_people

from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.camera_detector import open_model
from mmfusion_annotate.prelabel.detectors import deimv2, yolox

SIZE = (64, 64)  # a small input: 8x8 + 4x4 + 2x2 = 84 anchors


@pytest.fixture(scope="module")
def model(shared_models):
    return open_model(shared_models / "yolox_nano.onnx", "yolox", threads=1)


def test_letterbox_keeps_the_aspect_ratio_top_left_in_bgr_and_pads_with_114():
    red = np.zeros((30, 120, 3), np.uint8)
    red[..., 0] = 255
    blob, ratio = yolox.letterbox(red, SIZE)
    assert blob.shape == (1, 3, 64, 64) and ratio == pytest.approx(64 / 120)
    assert np.all(blob[0, 2, :16] == 255) and np.all(blob[0, :2, :16] == 0)  # red lands in the B-G-R's R
    assert np.all(blob[0, :, 16:] == yolox.PAD_VALUE)  # below the resized image


def _prediction(rows: dict[int, tuple]) -> np.ndarray:
    """A [84, 85] output with the given anchor rows (dx, dy, log w, log h, objectness, class, class score)."""
    out = np.zeros((84, 85), np.float32)
    for anchor, (dx, dy, lw, lh, obj, cls, score) in rows.items():
        out[anchor, :5] = dx, dy, lw, lh, obj
        out[anchor, 5 + cls] = score
    return out


def test_decode_places_a_box_from_its_grid_cell_and_stride():
    # anchor 9 is cell (1, 1) of the stride-8 grid; anchor 64 + 5 is cell (1, 1) of the stride-16 grid
    out = _prediction({9: (0.5, 0.25, math.log(2), math.log(4), 0.9, 2, 0.8), 69: (0, 0, 0, 0, 0.5, 0, 0.2)})
    found = yolox.decode(out, SIZE, ratio=0.5, min_score=0.3)
    assert found.classes.tolist() == [2] and found.scores.tolist() == pytest.approx([0.72])
    # centre (1.5 * 8, 1.25 * 8) = (12, 10), size (16, 32), then / ratio 0.5
    assert found.boxes[0].tolist() == pytest.approx([8.0, -12.0, 40.0, 52.0])


def test_decode_suppresses_overlaps_of_one_class_only():
    same = {9: (0, 0, 2, 2, 0.9, 0, 0.9), 10: (0, 0, 2, 2, 0.9, 0, 0.8)}  # neighbouring cells, big boxes
    assert len(yolox.decode(_prediction(same), SIZE, 1.0, 0.3).boxes) == 1
    other = {9: (0, 0, 2, 2, 0.9, 0, 0.9), 10: (0, 0, 2, 2, 0.9, 2, 0.8)}
    assert yolox.decode(_prediction(other), SIZE, 1.0, 0.3).classes.tolist() == [0, 2]
    assert len(yolox.decode(_prediction({}), SIZE, 1.0, 0.3).boxes) == 0


def test_the_interface_check_accepts_the_export_and_names_what_differs(model):
    session = model._session
    assert yolox.interface_problem(session.get_inputs(), session.get_outputs()) is None
    images = [SimpleNamespace(name="images", type="tensor(float)", shape=[1, 3, 416, 416])]
    wrong = [SimpleNamespace(name="output", type="tensor(float)", shape=[1, 8400, 85])]
    assert "must be [1, 3549, 5 + classes]" in yolox.interface_problem(images, wrong)
    assert deimv2.interface_problem(session.get_inputs(), session.get_outputs()) is not None


def test_the_model_finds_the_kitti_pedestrian_in_original_pixels(model, kitti_image):
    rgb, people = kitti_people(model, kitti_image)
    assert len(people) == 1
    assert box_iou(tuple(people[0].tolist()), PEDESTRIAN_000000) > 0.8
    assert model.input_scale(rgb.shape[1], rgb.shape[0]) == pytest.approx(rgb.shape[1] / 416)
