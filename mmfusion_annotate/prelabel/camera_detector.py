"""Camera detector: a COCO-trained ONNX model over a camera image, its classes mapped to the pre-labeller's.

The model is a parameter (``DetectorConfig.model``): any export with one of the interfaces of
``prelabel/detectors`` runs here. A 416-px input spread over a 1600-px image leaves a distant person a
few pixels tall, so ``tiles`` square crops along the horizon band (where far road users stand) can run
besides the whole image: a tile detection touching an inner tile edge is dropped (the object was cut;
a neighbouring tile or the whole image holds it whole) and the rest are merged with the whole image's by
per-class NMS. Sessions run on the CPU with an explicit intra-op thread count and without spinning
threads, which on a 2-core car computer would take the core the rest of the pipeline needs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.prelabel.config import DetectorConfig
from mmfusion_annotate.prelabel.detectors import RawDetections, class_nms, deimv2, yolox
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.prelabel.model_store import MODEL_KEY, model_dir, resolve_model

TILE_OVERLAP = 0.25  # share of a tile's side it shares with its neighbour: objects that narrow fit in one
MERGE_IOU = 0.5  # a tile's box and the whole image's box of the same object overlap at least this much
EDGE_PX = 2.0  # a box this close to an inner tile edge was cut by it


class CameraClass(str, Enum):
    """What the camera can tell: the pre-labeller's road-user classes, with two-wheelers by kind (a
    bicycle is a cyclist only with a person on it)."""

    PEDESTRIAN = "pedestrian"
    BICYCLE = "bicycle"
    MOTORCYCLE = "motorcycle"
    CAR = "car"
    TRUCK = "truck"
    BUS = "bus"


COCO_CLASSES: dict[int, tuple[str, CameraClass]] = {
    0: ("person", CameraClass.PEDESTRIAN),
    1: ("bicycle", CameraClass.BICYCLE),
    2: ("car", CameraClass.CAR),
    3: ("motorcycle", CameraClass.MOTORCYCLE),
    5: ("bus", CameraClass.BUS),
    7: ("truck", CameraClass.TRUCK),
}
TWO_WHEELERS = (CameraClass.BICYCLE, CameraClass.MOTORCYCLE)


@dataclass(frozen=True)
class Detection2D:
    """One detection in original image pixels (x1, y1, x2, y2), its mapped class, COCO name and score."""

    box: tuple[float, float, float, float]
    kind: CameraClass
    coco_name: str
    score: float

    @property
    def object_class(self) -> ObjectClass | None:
        """The pre-labeller's class, None for a two-wheeler (a cyclist only with its rider)."""
        return None if self.kind in TWO_WHEELERS else ObjectClass(self.kind.value)


@dataclass(frozen=True)
class ImageDetections:
    """The detector's result on one camera's image of a frame; ``error`` set (and nothing found) when
    it raised: that camera's evidence is missing from the frame, which goes on with LiDAR-only labels."""

    camera: str
    detections: tuple[Detection2D, ...] = ()
    error: str = ""


def scheduled_cameras(
    frame_index: int, cameras: Sequence[str], every: int, per_frame: int
) -> tuple[str, ...]:
    """The cameras the detector looks at on the ``frame_index``-th frame (0-based).

    Every ``every``-th frame (starting with the first) takes the next ``per_frame`` cameras of ``cameras``
    in turn (all of them when ``per_frame`` is 0 or at least their number), so each camera is visited
    every ``every * len(cameras) / per_frame`` frames.
    """
    if not cameras or frame_index % every:
        return ()
    if per_frame == 0 or per_frame >= len(cameras):
        return tuple(cameras)
    start = (frame_index // every) * per_frame
    return tuple(cameras[(start + k) % len(cameras)] for k in range(per_frame))


class DetectorModel(Protocol):
    """One architecture's pre- and post-processing around a session (``prelabel/detectors``)."""

    name: str
    input_size: tuple[int, int]  # (width, height) of the model's input

    def infer(self, crops: Sequence[np.ndarray], min_score: float) -> list[RawDetections]:
        """Detections per RGB uint8 crop, boxes in that crop's pixels."""
        ...

    def input_scale(self, width: int, height: int) -> float:
        """Crop pixels per model-input pixel, vertically, for a crop of that size."""
        ...


_ARCHITECTURES: dict[
    str, tuple[Callable[[Sequence[Any], Sequence[Any]], str | None], Callable[[Any], Any]]
] = {
    deimv2.NAME: (deimv2.interface_problem, deimv2.Deimv2),
    yolox.NAME: (yolox.interface_problem, yolox.Yolox),
}


def open_model(path: Path, architecture: str, threads: int) -> DetectorModel:
    """The model at ``path`` on an onnxruntime CPU session with ``threads`` intra-op threads.

    ``architecture`` "auto" recognises the interface from the session's inputs and outputs. Raises
    ``ConfigError`` naming ``prelabel.camera.detector.model`` for an unreadable file, a file that is no
    ONNX model, or one whose inputs and outputs are not what the detector expects.
    """
    import onnxruntime as ort  # noqa: PLC0415 - 0.3 s to import: only when a model is configured

    if not os.access(path, os.R_OK):
        raise ConfigError(f"{path}: cannot read the model file", key=MODEL_KEY)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # onnxruntime's own warnings would bypass the suite's logging
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own pybind exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not a loadable ONNX model ({first})", key=MODEL_KEY) from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    candidates = _ARCHITECTURES if architecture == "auto" else {architecture: _ARCHITECTURES[architecture]}
    problems = []
    for name, (problem_of, model_class) in candidates.items():
        problem = problem_of(inputs, outputs)
        if problem is None:
            return model_class(session)
        problems.append(f"{name}: {problem}")
    raise ConfigError(f"{path}: not a supported detector ({'; '.join(problems)})", key=MODEL_KEY)


def tile_boxes(
    width: int, height: int, tiles: int, horizon_v: float | None
) -> list[tuple[int, int, int, int]]:
    """``tiles`` square crops (x1, y1, x2, y2) side by side across the image, overlapping by
    ``TILE_OVERLAP``, centred on row ``horizon_v`` (the image's middle when None); a crop taller than the
    image is cut to it."""
    if tiles <= 0:
        return []
    side = width / (tiles - (tiles - 1) * TILE_OVERLAP)
    side_px = min(int(math.ceil(side)), width)
    tall = min(side_px, height)
    centre = height / 2 if horizon_v is None or not math.isfinite(horizon_v) else horizon_v
    y1 = int(round(np.clip(centre - tall / 2, 0, height - tall)))
    step = (width - side_px) / (tiles - 1) if tiles > 1 else 0.0
    return [(int(round(k * step)), y1, int(round(k * step)) + side_px, y1 + tall) for k in range(tiles)]


def _cut_by_inner_edge(
    boxes: np.ndarray, tile: tuple[int, int, int, int], width: int, height: int
) -> np.ndarray:
    """True for boxes (tile pixels) touching an edge of the tile that lies inside the image."""
    x1, y1, x2, y2 = tile
    cut = np.zeros(len(boxes), dtype=bool)
    if x1 > 0:
        cut |= boxes[:, 0] <= EDGE_PX
    if y1 > 0:
        cut |= boxes[:, 1] <= EDGE_PX
    if x2 < width:
        cut |= boxes[:, 2] >= (x2 - x1) - EDGE_PX
    if y2 < height:
        cut |= boxes[:, 3] >= (y2 - y1) - EDGE_PX
    return cut


class CameraDetector:
    """Detections of the road-user classes in one RGB image (``detect``), whole image plus tiles."""

    def __init__(self, model: DetectorModel, cfg: DetectorConfig, label: str) -> None:
        self.model = model
        self.cfg = cfg
        self.label = label  # what provenance records: the model's name or file
        self._coco = [k for k, (_, kind) in COCO_CLASSES.items() if kind.value in cfg.classes]

    def crops(self, width: int, height: int, horizon_v: float | None) -> list[tuple[int, int, int, int]]:
        """The whole image, then the tiles, as (x1, y1, x2, y2)."""
        return [(0, 0, width, height), *tile_boxes(width, height, self.cfg.tiles, horizon_v)]

    def detect(self, rgb: np.ndarray, horizon_v: float | None = None) -> list[Detection2D]:
        """Road users in one image, strongest first; ``horizon_v`` is where the tiles are centred."""
        height, width = rgb.shape[:2]
        crops = self.crops(width, height, horizon_v)
        found = self.model.infer([rgb[y1:y2, x1:x2] for x1, y1, x2, y2 in crops], self.cfg.score_threshold)
        boxes, classes, scores = [], [], []
        for k, ((x1, y1, _, _), raw) in enumerate(zip(crops, found, strict=True)):
            keep = np.isin(raw.classes, self._coco)
            if k > 0:
                keep &= ~_cut_by_inner_edge(raw.boxes, crops[k], width, height)
            boxes.append(raw.boxes[keep] + np.array([x1, y1, x1, y1], np.float32))
            classes.append(raw.classes[keep])
            scores.append(raw.scores[keep])
        all_boxes, all_classes, all_scores = (
            np.concatenate(boxes),
            np.concatenate(classes),
            np.concatenate(scores),
        )
        kept = (
            class_nms(all_boxes, all_scores, all_classes, MERGE_IOU)
            if len(crops) > 1
            else np.argsort(-all_scores, kind="stable")
        )
        limits = np.array([width, height, width, height], np.float32)
        out = []
        for k in kept:
            x1, y1, x2, y2 = np.clip(all_boxes[k], 0, limits).tolist()
            if x2 <= x1 or y2 <= y1:
                continue
            coco_name, kind = COCO_CLASSES[int(all_classes[k])]
            out.append(Detection2D((x1, y1, x2, y2), kind, coco_name, float(all_scores[k])))
        return out

    def detect_images(self, images: Sequence[tuple[str, np.ndarray, float | None]]) -> list[ImageDetections]:
        """``detect`` on each (camera, image, horizon row); an image whose inference raises is reported in
        its ``ImageDetections.error`` and does not stop the others."""
        out = []
        for camera, image, horizon_v in images:
            try:
                out.append(ImageDetections(camera, tuple(self.detect(image, horizon_v))))
            except Exception as exc:  # noqa: BLE001 - onnxruntime and OpenCV raise their own types
                out.append(ImageDetections(camera, error=f"{type(exc).__name__}: {exc}".splitlines()[0]))
        return out

    def detectable_height(self, width: int, height: int) -> float:
        """Height (image pixels) of the smallest person the detector is taken to find: ``detectable_px``
        of the model's input in the finest crop (a tile, else the whole image)."""
        scales = [
            self.model.input_scale(x2 - x1, y2 - y1) for x1, y1, x2, y2 in self.crops(width, height, None)
        ]
        return self.cfg.detectable_px * min(scales)


def load_camera_detector(cfg: DetectorConfig, directory: str | Path | None = None) -> CameraDetector | None:
    """The configured detector (None without ``model``); the model directory as ``model_store.model_dir``.

    Raises ``ConfigError`` naming ``prelabel.camera.detector.model`` when the model cannot be used.
    """
    if cfg.model is None:
        return None
    path, architecture = resolve_model(cfg.model, model_dir(directory))
    if architecture is not None and cfg.architecture not in ("auto", architecture):
        raise ConfigError(
            f"model '{cfg.model}' is a {architecture} model, not {cfg.architecture}",
            key="prelabel.camera.detector.architecture",
        )
    model = open_model(path, architecture or cfg.architecture, cfg.threads)
    return CameraDetector(model, cfg, cfg.model if architecture is not None else path.name)


def describe(detector: CameraDetector | None) -> str:
    """One line on what classifies objects: the start-up log line of every pipeline."""
    if detector is None:
        return "camera detector: none configured (prelabel.camera.detector.model), LiDAR-only classes"
    cfg = detector.cfg
    tiles = f" + {cfg.tiles} tiles" if cfg.tiles else ""
    return (
        f"camera detector: {detector.label} ({detector.model.name}, whole image{tiles}, "
        f"score >= {cfg.score_threshold}, {cfg.threads} thread{'s' if cfg.threads > 1 else ''})"
    )
