"""YOLOX (e.g. the nano COCO export): letterboxed input, a dense grid of raw predictions out.

Interface of the export: input ``images`` float32 ``[1, 3, H, W]`` (BGR, values 0-255, the crop resized
keeping its aspect ratio into the top-left corner and padded with 114); output ``[1, A, 5 + C]`` with one
row per anchor point of the stride 8, 16 and 32 grids (A = sum of (H/s) * (W/s)): ``dx, dy`` (cell units),
``log w, log h`` (stride units), objectness, then C class scores (COCO-80 contiguous ids). A box's score
is objectness x class score; overlapping boxes of one class are thinned by non-maximum suppression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from mmfusion_annotate.prelabel.detectors import RawDetections, class_nms, empty_detections

NAME = "yolox"
STRIDES = (8, 16, 32)
PAD_VALUE = 114
NMS_IOU = 0.45  # the YOLOX demo's value


def interface_problem(inputs: Sequence[Any], outputs: Sequence[Any]) -> str | None:
    """What keeps a session with these inputs/outputs (onnxruntime ``NodeArg``s) from being a YOLOX
    export, or None when it is one."""
    if len(inputs) != 1 or len(outputs) != 1:
        return f"expects one input and one output, has {len(inputs)} -> {len(outputs)}"
    images, out = inputs[0], outputs[0]
    if images.type != "tensor(float)" or len(images.shape) != 4 or images.shape[1] != 3:
        return f"input must be float [1, 3, H, W], is {images.type} {images.shape}"
    h, w = images.shape[2:]
    if not (isinstance(h, int) and isinstance(w, int) and h % 32 == 0 and w % 32 == 0):
        return f"input needs a fixed height and width divisible by 32, has {images.shape}"
    anchors = sum((h // s) * (w // s) for s in STRIDES)
    if (
        len(out.shape) != 3
        or out.shape[1] != anchors
        or not isinstance(out.shape[2], int)
        or out.shape[2] < 6
    ):
        return f"output must be [1, {anchors}, 5 + classes] for a {w}x{h} input, is {out.shape}"
    return None


def input_size(inputs: Sequence[Any]) -> tuple[int, int]:
    """(width, height) the export was traced at."""
    _, _, h, w = inputs[0].shape
    return int(w), int(h)


def letterbox(crop: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The ``[1, 3, H, W]`` BGR float input for one RGB uint8 crop, and the resize ratio."""
    ratio = min(size[0] / crop.shape[1], size[1] / crop.shape[0])
    w, h = max(1, int(crop.shape[1] * ratio)), max(1, int(crop.shape[0] * ratio))
    padded = np.full((size[1], size[0], 3), PAD_VALUE, np.uint8)
    padded[:h, :w] = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
    return padded.transpose(2, 0, 1)[None].astype(np.float32), ratio


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cell origins (A, 2) and strides (A, 1) in the output's row order."""
    cells, strides = [], []
    for s in STRIDES:
        ys, xs = np.mgrid[0 : size[1] // s, 0 : size[0] // s]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((len(cells[-1]), 1), s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode(output: np.ndarray, size: tuple[int, int], ratio: float, min_score: float) -> RawDetections:
    """Boxes in crop pixels from one ``[A, 5 + C]`` prediction: best class per anchor, then per-class NMS."""
    cells, strides = _grid(size)
    class_ids = output[:, 5:].argmax(axis=1)
    scores = output[:, 4] * output[np.arange(len(output)), 5 + class_ids]
    keep = scores >= min_score
    if not keep.any():
        return empty_detections()
    pred, cells, strides = output[keep], cells[keep], strides[keep]
    centre = (pred[:, :2] + cells) * strides
    half = np.exp(pred[:, 2:4]) * strides / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1) / ratio
    class_ids, scores = class_ids[keep], scores[keep]
    kept = class_nms(boxes, scores, class_ids, NMS_IOU)
    return RawDetections(
        boxes[kept].astype(np.float32), class_ids[kept].astype(np.int64), scores[kept].astype(np.float32)
    )


class Yolox:
    """A YOLOX export on an onnxruntime session (``DetectorModel``); crops run one at a time (batch 1)."""

    name = NAME

    def __init__(self, session) -> None:
        self._session = session
        self.input_size = input_size(session.get_inputs())
        self._input = session.get_inputs()[0].name

    def infer(self, crops: Sequence[np.ndarray], min_score: float) -> list[RawDetections]:
        out = []
        for crop in crops:
            blob, ratio = letterbox(crop, self.input_size)
            (pred,) = self._session.run(None, {self._input: blob})
            out.append(decode(pred[0], self.input_size, ratio, min_score))
        return out

    def input_scale(self, width: int, height: int) -> float:
        return max(width / self.input_size[0], height / self.input_size[1])  # the letterbox ratio, inverted
