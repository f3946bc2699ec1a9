"""Camera evidence for a 2D box from the image alone, with nothing downloaded.

Two cues, computed once per image and read per box in O(1) through integral images: edge density
(Canny) inside the box against a ring around it, and the colour (CIE Lab) difference between box and
ring. An object in front of road or sky makes both high; an empty stretch of road makes both low.
For pedestrians OpenCV's built-in HOG people detector (shipped inside opencv 4.x) is run on the box
crop; OpenCV 5 moved HOG out of the main module, and there ``HOG_AVAILABLE`` is False and the cue is off.
"""

from __future__ import annotations

import cv2
import numpy as np

_EDGE_REF = 0.08  # edge density that counts as fully "textured"
_COLOUR_REF = 25.0  # Lab distance that counts as a full contrast
_RING = 0.25  # ring width as a share of the box size
_HOG_WINDOW_H = 128
_HOG_SCALE_H = 160
HOG_AVAILABLE = hasattr(cv2, "HOGDescriptor")


class ImageEvidence:
    """Integral images of one camera image; ``score(box)`` in [0, 1].

    The integral images are built on the first ``score`` call, so a camera no cuboid projects into
    costs nothing. 32-bit integer integrals suffice (255 x 2^23 pixels fits) and are the fastest.
    """

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb
        self.height, self.width = rgb.shape[:2]
        self._edges: np.ndarray | None = None
        self._lab: np.ndarray | None = None
        self._hog: cv2.HOGDescriptor | None = None

    def _integrals(self) -> tuple[np.ndarray, np.ndarray]:
        if self._edges is None:
            gray = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)
            edges = (cv2.Canny(gray, 80, 160) > 0).astype(np.uint8)
            self._edges = cv2.integral(edges, sdepth=cv2.CV_32S)
            self._lab = cv2.integral(cv2.cvtColor(self.rgb, cv2.COLOR_RGB2LAB), sdepth=cv2.CV_32S)
        return self._edges, self._lab

    def _clip(self, box) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = box
        return (
            int(np.clip(x1, 0, self.width)),
            int(np.clip(y1, 0, self.height)),
            int(np.clip(x2, 0, self.width)),
            int(np.clip(y2, 0, self.height)),
        )

    @staticmethod
    def _sum(integral: np.ndarray, box: tuple[int, int, int, int]):
        x1, y1, x2, y2 = box
        corners = integral[[y2, y1, y2, y1], [x2, x2, x1, x1]].astype(np.float64)
        return corners[0] - corners[1] - corners[2] + corners[3]

    def score(self, box) -> float:
        inner = self._clip(box)
        w, h = box[2] - box[0], box[3] - box[1]
        outer = self._clip((box[0] - _RING * w, box[1] - _RING * h, box[2] + _RING * w, box[3] + _RING * h))
        a_in = (inner[2] - inner[0]) * (inner[3] - inner[1])
        a_ring = (outer[2] - outer[0]) * (outer[3] - outer[1]) - a_in
        if a_in <= 0 or a_ring <= 0:
            return 0.0
        edges, lab = self._integrals()
        e_in = self._sum(edges, inner) / a_in
        e_ring = (self._sum(edges, outer) - self._sum(edges, inner)) / a_ring
        lab_in = self._sum(lab, inner) / a_in
        lab_ring = (self._sum(lab, outer) - self._sum(lab, inner)) / a_ring
        edge = min(1.0, e_in / _EDGE_REF) * min(1.0, e_in / max(e_ring, 1e-3))
        colour = min(1.0, float(np.linalg.norm(np.asarray(lab_in) - np.asarray(lab_ring))) / _COLOUR_REF)
        return float(0.5 * edge + 0.5 * colour)

    def person_in(self, box) -> bool:
        """True when the HOG people detector fires on the (padded, rescaled) box crop (False without HOG)."""
        if not HOG_AVAILABLE:
            return False
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        crop_box = self._clip((x1 - 0.3 * w - 8, y1 - 0.15 * h - 8, x2 + 0.3 * w + 8, y2 + 0.15 * h + 8))
        crop = self.rgb[crop_box[1] : crop_box[3], crop_box[0] : crop_box[2]]
        if crop.shape[0] < 16 or crop.shape[1] < 8:
            return False
        scale = _HOG_SCALE_H / crop.shape[0]
        crop = cv2.resize(crop, (max(72, int(crop.shape[1] * scale)), _HOG_SCALE_H))
        if self._hog is None:
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        found, _ = self._hog.detectMultiScale(crop, winStride=(8, 8), scale=1.1)
        return len(found) > 0 and crop.shape[0] >= _HOG_WINDOW_H
