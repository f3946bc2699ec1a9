"""Camera-only people detections: OpenCV's built-in HOG people detector over a whole image, on a budget.

This is the producer of "camera detection with no LiDAR points": a person the camera sees but no cuboid
explains (too few returns, hidden from the LiDAR, a LiDAR fault). The detector ships inside opencv 4.x
(``HOGDescriptor_getDefaultPeopleDetector``, Dalal-Triggs 64x128 window, a person ~96 px tall in it), so
nothing is downloaded. A whole image costs far more than the rest of the camera step (~26 ms for a
1242x375 KITTI image at scale 0.75, ~135 ms for 1600x900), so it runs on one camera per scheduled frame
in round-robin (``scheduled_camera``), on an image reduced by ``detector_scale``: the smallest person
found is then about 96 / scale px tall. Raw windows (no OpenCV grouping, which needs several overlapping
hits and drops a lone strong one) are thinned by non-maximum suppression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.config import CameraConfig

HOG_PYRAMID_STEP = 1.1  # window growth per pyramid level (1.05 doubles the cost)
HOG_STRIDE = (8, 8)  # one HOG cell; 4 px costs ~3x
MARGIN_REF = 0.5  # SVM margin above the threshold at which confidence reaches 1 - 1/e


@dataclass(frozen=True)
class PersonDetection:
    """A HOG window in full-image pixels (x1, y1, x2, y2), its SVM margin and the confidence from it."""

    box: tuple[float, float, float, float]
    margin: float
    confidence: float


def scheduled_camera(frame_index: int, cameras: Sequence[str], every: int) -> str | None:
    """The camera the detector looks at on the ``frame_index``-th frame (0-based), or None.

    Every ``every``-th frame (starting with the first) runs the detector on the next camera of
    ``cameras`` in turn, so each camera is visited every ``every * len(cameras)`` frames.
    """
    if not cameras or frame_index % every:
        return None
    return cameras[(frame_index // every) % len(cameras)]


def confidence_of(margin: float, threshold: float) -> float:
    """Map an SVM margin (>= ``threshold``) to a confidence in [0, 1): 1 - exp(-(margin - t) / ref)."""
    return 1.0 - math.exp(-max(margin - threshold, 0.0) / MARGIN_REF)


class PeopleDetector:
    """Whole-image HOG people detection with non-maximum suppression (``detect``).

    Needs ``HOG_AVAILABLE`` (opencv 4.x); the Prelabeler leaves the step off without it, as the in-box
    HOG cue of ``evidence`` does.
    """

    def __init__(self, cfg: CameraConfig) -> None:
        self.cfg = cfg
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, rgb: np.ndarray) -> list[PersonDetection]:
        """People in one RGB image, strongest first."""
        s = self.cfg.detector_scale
        image = rgb if s == 1.0 else cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        if image.shape[0] < 128 or image.shape[1] < 64:
            return []
        rects, weights = self._hog.detectMultiScale(
            image,
            hitThreshold=self.cfg.detector_threshold,
            winStride=HOG_STRIDE,
            scale=HOG_PYRAMID_STEP,
            groupThreshold=0,
        )
        if len(rects) == 0:
            return []
        margins = np.ravel(weights).astype(float)
        keep = cv2.dnn.NMSBoxes(
            [list(map(int, r)) for r in rects],
            margins.tolist(),
            self.cfg.detector_threshold,
            self.cfg.detector_nms_iou,
        )
        out = []
        for k in sorted(np.ravel(keep).tolist(), key=lambda k: (-margins[k], k)):
            x, y, w, h = (float(v) / s for v in rects[k])
            margin = float(margins[k])
            confidence = confidence_of(margin, self.cfg.detector_threshold)
            out.append(PersonDetection((x, y, x + w, y + h), margin, confidence))
        return out


def _cover(inner, outer) -> float:
    """Share of box ``inner``'s area that lies inside box ``outer``."""
    w = min(inner[2], outer[2]) - max(inner[0], outer[0])
    h = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return w * h / area if w > 0 and h > 0 and area > 0 else 0.0


def unmatched(
    detections: Sequence[PersonDetection], projected: Sequence[tuple], match_iou: float, match_cover: float
) -> list[PersonDetection]:
    """Detections no projected cuboid box explains: none overlaps them by ``match_iou`` (IoU) or more,
    and none lies ``match_cover`` or more inside them.

    The second test is for LiDAR objects that fill only part of a HOG window (the window has margins
    around the person; a pole's cuboid covers its lower part): the detection has LiDAR points then.
    """
    return [
        d
        for d in detections
        if all(box_iou(d.box, p) < match_iou and _cover(p, d.box) < match_cover for p in projected)
    ]
