"""Camera evidence for a 2D box from the image alone, with nothing downloaded.

Two cues, measured on the box and a ring around it: edge density (Canny) inside the box against the
ring, and the colour (CIE Lab) difference between box and ring. An object in front of road or sky makes
both high; an empty stretch of road makes both low. Only the box's region plus its ring is converted
and edge-filtered (with a few pixels of context, so Canny sees the same neighbours as on the whole
image): a frame's boxes cover a fraction of its six images. The Lab means are taken on a regular grid of
at most about ``LAB_SAMPLES`` pixels of the region (every pixel for small boxes): a mean over tens of
thousands of samples moves by far less than the colour cue's scale, and Lab is the costly conversion.
What the object is comes from the camera detector (``camera_detector``), when one is configured.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_EDGE_REF = 0.08  # edge density that counts as fully "textured"
_COLOUR_REF = 25.0  # Lab distance that counts as a full contrast
_RING = 0.25  # ring width as a share of the box size
_CONTEXT_PX = 8  # Sobel (1 px) + non-maximum suppression (1 px) + room for most hysteresis links
_PEAK_CONTRAST = 2.0  # a side's edge must be this many times its search window's median (else: no edge)
LAB_SAMPLES = 16_384


class ImageEvidence:
    """Evidence scores of boxes in one camera image; ``score(box)`` in [0, 1].

    Nothing is computed per image: each ``score`` call converts only its own region, so a camera no
    cuboid projects into costs nothing and a small far box costs a small crop.
    """

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb
        self.height, self.width = rgb.shape[:2]

    def _clip(self, box) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = box
        return (
            int(np.clip(x1, 0, self.width)),
            int(np.clip(y1, 0, self.height)),
            int(np.clip(x2, 0, self.width)),
            int(np.clip(y2, 0, self.height)),
        )

    def _edge_counts(self, inner, outer) -> tuple[int, int]:
        """Canny edge pixels inside ``inner`` and inside ``outer`` (image coordinates, inner in outer)."""
        cx1, cy1 = max(outer[0] - _CONTEXT_PX, 0), max(outer[1] - _CONTEXT_PX, 0)
        cx2, cy2 = min(outer[2] + _CONTEXT_PX, self.width), min(outer[3] + _CONTEXT_PX, self.height)
        gray = cv2.cvtColor(self.rgb[cy1:cy2, cx1:cx2], cv2.COLOR_RGB2GRAY)
        edges = cv2.Canny(gray, 80, 160)
        return (
            cv2.countNonZero(edges[inner[1] - cy1 : inner[3] - cy1, inner[0] - cx1 : inner[2] - cx1]),
            cv2.countNonZero(edges[outer[1] - cy1 : outer[3] - cy1, outer[0] - cx1 : outer[2] - cx1]),
        )

    def _lab_means(self, inner, outer) -> tuple[np.ndarray, np.ndarray] | None:
        """Mean Lab of ``inner`` and of the ring ``outer`` minus ``inner``, on a regular pixel grid.

        The grid step keeps the samples near ``LAB_SAMPLES`` but never skips a whole side of the
        ring: it is at most half the widest ring side on each axis that has one (a box spanning the
        image's height has its ring left and right only, and is sampled as coarsely as those allow, not
        pixel by pixel); None when the ring has no sample (a box filling the image).
        """
        ring_x = max(inner[0] - outer[0], outer[2] - inner[2])
        ring_y = max(inner[1] - outer[1], outer[3] - inner[3])
        ring_px = min((w for w in (ring_x, ring_y) if w > 0), default=0)
        area = (outer[2] - outer[0]) * (outer[3] - outer[1])
        step = max(1, min(int(math.sqrt(area / LAB_SAMPLES)), ring_px // 2))
        lab = cv2.cvtColor(
            np.ascontiguousarray(self.rgb[outer[1] : outer[3] : step, outer[0] : outer[2] : step]),
            cv2.COLOR_RGB2LAB,
        )
        # sample k of the grid sits at outer + k * step; inner covers samples ceil((inner - outer) / step)..
        ix1, iy1 = -(-(inner[0] - outer[0]) // step), -(-(inner[1] - outer[1]) // step)
        ix2, iy2 = -(-(inner[2] - outer[0]) // step), -(-(inner[3] - outer[1]) // step)
        n_out = lab.shape[0] * lab.shape[1]
        n_in = (ix2 - ix1) * (iy2 - iy1)
        if n_in <= 0 or n_out - n_in <= 0:
            return None
        s_out = np.array(cv2.sumElems(lab)[:3])
        s_in = np.array(cv2.sumElems(lab[iy1:iy2, ix1:ix2])[:3])
        return s_in / n_in, (s_out - s_in) / (n_out - n_in)

    def locate(self, box, search_px: int) -> tuple[float, float] | None:
        """Where the image puts the box: the shift (dx, dy) of its centre that brings each side onto the
        strongest intensity edge across it within ``search_px`` (sub-pixel), each side on its own so a
        box a little too wide or narrow still finds its centre; None when the search would leave the image.

        The box of a projected cuboid is its silhouette's extent, so on a well-calibrated, well-synced
        camera the shift is noise around zero; a camera's rotation or clock error moves every box, which is
        what ``events`` fits over many boxes (one box alone cannot tell an error from a bad fit).
        """
        x1, y1, x2, y2 = box
        s = int(min(search_px, (x2 - x1) / 3, (y2 - y1) / 3))
        cx1, cy1 = math.floor(x1) - s - 1, math.floor(y1) - s - 1
        cx2, cy2 = math.ceil(x2) + s + 2, math.ceil(y2) + s + 2
        if s < 2 or cx1 < 0 or cy1 < 0 or cx2 > self.width or cy2 > self.height:
            return None
        gray = cv2.cvtColor(self.rgb[cy1:cy2, cx1:cx2], cv2.COLOR_RGB2GRAY).astype(np.float32)
        inner_rows = slice(math.ceil(y1) + s - cy1, math.floor(y2) - s - cy1 + 1)  # away from the top/bottom
        inner_cols = slice(math.ceil(x1) + s - cx1, math.floor(x2) - s - cx1 + 1)
        across_x = np.abs(cv2.Sobel(gray[inner_rows], cv2.CV_32F, 1, 0, ksize=3)).sum(axis=0)
        across_y = np.abs(cv2.Sobel(gray[:, inner_cols], cv2.CV_32F, 0, 1, ksize=3)).sum(axis=1)
        shifts = [_edge_shift(profile, side - origin, s) for profile, side, origin in (
            (across_x, x1, cx1), (across_x, x2, cx1), (across_y, y1, cy1), (across_y, y2, cy1))]
        if any(d is None for d in shifts):
            return None
        left, right, top, bottom = shifts
        return (left + right) / 2, (top + bottom) / 2  # type: ignore[operator]

    def score(self, box) -> float:
        inner = self._clip(box)
        w, h = box[2] - box[0], box[3] - box[1]
        outer = self._clip((box[0] - _RING * w, box[1] - _RING * h, box[2] + _RING * w, box[3] + _RING * h))
        a_in = (inner[2] - inner[0]) * (inner[3] - inner[1])
        a_ring = (outer[2] - outer[0]) * (outer[3] - outer[1]) - a_in
        if a_in <= 0 or a_ring <= 0:
            return 0.0
        n_in, n_out = self._edge_counts(inner, outer)
        e_in = n_in / a_in
        e_ring = (n_out - n_in) / a_ring
        edge = min(1.0, e_in / _EDGE_REF) * min(1.0, e_in / max(e_ring, 1e-3))
        means = self._lab_means(inner, outer)
        colour = 0.0 if means is None else min(1.0, float(np.linalg.norm(means[0] - means[1])) / _COLOUR_REF)
        return float(0.5 * edge + 0.5 * colour)


def _edge_shift(profile: np.ndarray, at: float, search: int) -> float | None:
    """Offset from ``at`` (profile index, fractional) of the strongest ``profile`` value within ``search``,
    refined by a parabola through it and its neighbours; None when no edge stands out of the window."""
    centre = round(at)
    lo, hi = centre - search, centre + search + 1
    if lo < 1 or hi > len(profile) - 1:
        return None
    window = profile[lo:hi]
    k = int(np.argmax(window))
    if window[k] < _PEAK_CONTRAST * float(np.median(window)) or window[k] <= 0:
        return None
    a, b, c = (float(v) for v in profile[lo + k - 1 : lo + k + 2])
    curvature = a - 2 * b + c
    sub = 0.5 * (a - c) / curvature if curvature < 0 else 0.0
    return lo + k + sub - at
