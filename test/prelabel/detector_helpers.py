"""Helpers of the camera detector tests: the KITTI pedestrian both models must find, and a stand-in model
with preset detections."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mmfusion_annotate.prelabel.detectors import RawDetections

PEDESTRIAN_000000 = (712.40, 143.00, 810.73, 307.92)  # label_2/000000.txt


def kitti_people(model, image: Path) -> tuple[np.ndarray, np.ndarray]:
    """KITTI frame 000000 (``image``, RGB) and the person boxes ``model`` finds in it at score 0.3."""
    rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    (found,) = model.infer([rgb], 0.3)
    return rgb, found.boxes[found.classes == 0]


class FakeModel:
    """Returns preset detections per crop index (boxes in crop pixels) and records the crops it got."""

    name = "fake"
    input_size = (416, 416)

    def __init__(self, per_crop: dict[int, list[tuple]], fail: bool = False) -> None:
        self.per_crop = per_crop
        self.fail = fail
        self.crops: list[tuple[int, int]] = []

    def infer(self, crops, min_score):
        if self.fail:
            raise RuntimeError("inference failed")
        self.crops += [c.shape[:2] for c in crops]
        out = []
        for k in range(len(crops)):
            rows = [r for r in self.per_crop.get(k, []) if r[2] >= min_score]
            out.append(
                RawDetections(
                    np.array([r[0] for r in rows], np.float32).reshape(-1, 4),
                    np.array([r[1] for r in rows], np.int64),
                    np.array([r[2] for r in rows], np.float32),
                )
            )
        return out

    def input_scale(self, width, height):
        return height / self.input_size[1]
