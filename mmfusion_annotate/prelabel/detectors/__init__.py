"""Pre- and post-processing of each supported ONNX detector architecture, one module per model family.

Each module turns RGB crops into that model's input tensors and its outputs into ``RawDetections``
(boxes in crop pixels, COCO-80 contiguous class ids, scores), and says whether an onnxruntime session
has the inputs and outputs it expects (``interface_problem``). Everything else (threads, tiles, class
mapping, merging) is the runner's, ``prelabel.camera_detector``.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np


class RawDetections(NamedTuple):
    """One crop's detections as a model gives them, before class mapping and thresholds."""

    boxes: np.ndarray  # (K, 4) float32 x1, y1, x2, y2 in the crop's pixels
    classes: np.ndarray  # (K,) int64 COCO-80 contiguous ids (0 person, 1 bicycle, 2 car...)
    scores: np.ndarray  # (K,) float32


def empty_detections() -> RawDetections:
    return RawDetections(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))


def class_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by per-class non-maximum suppression, highest score first (ties by index)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(float)
    kept = np.ravel(
        cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.astype(float).tolist(), classes.tolist(), 0.0, iou)
    ).astype(np.int64)
    return kept[np.lexsort((kept, -scores[kept]))]
