"""DEIMv2 (DETR-style, e.g. the HGNetv2 "femto" COCO export): plain resize in, one box per object out.

Interface of the export: inputs ``images`` float32 ``[N, 3, H, W]`` (RGB, the whole crop resized to
W x H without keeping the aspect ratio, values / 255) and ``orig_target_sizes`` int64 ``[N, 2]`` (the
crop's width and height); outputs ``labels`` int64 ``[N, Q]`` (COCO-80 contiguous ids), ``boxes``
float32 ``[N, Q, 4]`` (x1, y1, x2, y2 already in crop pixels) and ``scores`` float32 ``[N, Q]``. The
decoder's queries give one box per object, so no NMS is needed on one crop. Crops are batched along N.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from mmfusion_annotate.prelabel.detectors import RawDetections

NAME = "deimv2"
INPUTS = ("images", "orig_target_sizes")
OUTPUTS = ("labels", "boxes", "scores")


def interface_problem(inputs: Sequence[Any], outputs: Sequence[Any]) -> str | None:
    """What keeps a session with these inputs/outputs (onnxruntime ``NodeArg``s) from being a DEIMv2
    export, or None when it is one."""
    names_in, names_out = tuple(i.name for i in inputs), tuple(o.name for o in outputs)
    if names_in != INPUTS or names_out != OUTPUTS:
        return (
            f"expects inputs {list(INPUTS)} and outputs {list(OUTPUTS)}, "
            f"has {list(names_in)} -> {list(names_out)}"
        )
    images = inputs[0]
    if images.type != "tensor(float)" or len(images.shape) != 4 or images.shape[1] != 3:
        return f"input 'images' must be float [N, 3, H, W], is {images.type} {images.shape}"
    if not all(isinstance(v, int) for v in images.shape[2:]):
        return f"input 'images' needs a fixed height and width, has {images.shape}"
    if inputs[1].type != "tensor(int64)":
        return f"input 'orig_target_sizes' must be int64, is {inputs[1].type}"
    return None


def input_size(inputs: Sequence[Any]) -> tuple[int, int]:
    """(width, height) the export was traced at."""
    _, _, h, w = inputs[0].shape
    return int(w), int(h)


def preprocess(crops: Sequence[np.ndarray], size: tuple[int, int]) -> dict[str, np.ndarray]:
    """The feeds for RGB uint8 ``crops``, batched."""
    blob = np.empty((len(crops), 3, size[1], size[0]), np.float32)
    for k, crop in enumerate(crops):
        resized = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR)
        blob[k] = resized.transpose(2, 0, 1)
    blob *= 1.0 / 255.0
    sizes = np.array([[c.shape[1], c.shape[0]] for c in crops], np.int64)
    return {"images": blob, "orig_target_sizes": sizes}


def postprocess(outputs: Sequence[np.ndarray], min_score: float) -> list[RawDetections]:
    """Per crop, the queries scoring ``min_score`` or more."""
    labels, boxes, scores = outputs
    out = []
    for k in range(len(scores)):
        keep = scores[k] >= min_score
        out.append(
            RawDetections(
                boxes[k][keep].astype(np.float32),
                labels[k][keep].astype(np.int64),
                scores[k][keep].astype(np.float32),
            )
        )
    return out


class Deimv2:
    """A DEIMv2 export on an onnxruntime session (``DetectorModel``)."""

    name = NAME

    def __init__(self, session) -> None:
        self._session = session
        self.input_size = input_size(session.get_inputs())

    def infer(self, crops: Sequence[np.ndarray], min_score: float) -> list[RawDetections]:
        if not crops:
            return []
        outputs = self._session.run(list(OUTPUTS), preprocess(crops, self.input_size))
        return postprocess(outputs, min_score)

    def input_scale(self, width: int, height: int) -> float:
        return height / self.input_size[1]  # the plain resize scales each axis on its own
