"""Object class from size and shape (per frame) and from motion (over a track).

Each class has a size prior (ranges of length, width, height in metres, from KITTI/nuScenes-wide
statistics, not from any one dataset's frames). A measured dimension inside its range scores 1;
a *shorter* length or width is only mildly penalized (the far side of an object is self-occluded), a
longer one or a height out of range falls off quickly. Motion multiplies in: a pedestrian does not move at
8 m/s, a car does not jitter sideways. The confidence is the winning score times its share of all
scores, so two equally good classes give a low confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mmfusion_annotate.prelabel.model import ObjectClass


@dataclass(frozen=True)
class SizePrior:
    length: tuple[float, float]
    width: tuple[float, float]
    height: tuple[float, float]
    typical: tuple[float, float, float]
    max_speed_mps: float
    prior: float  # relative frequency on roads: breaks ties between equally well-fitting classes


PRIORS: dict[ObjectClass, SizePrior] = {
    ObjectClass.CAR: SizePrior((3.2, 5.9), (1.45, 2.25), (1.15, 2.2), (4.5, 1.85, 1.6), 70.0, 1.0),
    ObjectClass.TRUCK: SizePrior((5.5, 18.0), (2.0, 2.9), (2.2, 4.2), (9.0, 2.5, 3.2), 40.0, 0.4),
    ObjectClass.BUS: SizePrior((9.0, 18.0), (2.3, 2.9), (2.8, 4.0), (12.0, 2.55, 3.3), 30.0, 0.3),
    ObjectClass.PEDESTRIAN: SizePrior((0.2, 1.1), (0.2, 0.95), (1.0, 2.1), (0.7, 0.65, 1.75), 4.0, 0.8),
    ObjectClass.CYCLIST: SizePrior((1.3, 2.2), (0.3, 1.0), (1.3, 2.1), (1.8, 0.65, 1.7), 14.0, 0.5),
}
CLASSES: tuple[ObjectClass, ...] = tuple(PRIORS)
UNKNOWN_SCORE = 0.3  # a detection whose best class scores below this stays "unknown"
_PARTIAL_FLOOR = 0.3  # score of a zero-length side: partial views are allowed, not free
_HEIGHT_SOFT_M = 0.2  # fall-off of the height score outside a class's range


def _range_score(value: float, lo: float, hi: float, soft: float, partial: bool) -> float:
    if value > hi:
        return math.exp(-(((value - hi) / soft) ** 2))
    if value < lo:
        if partial:
            return _PARTIAL_FLOOR + (1 - _PARTIAL_FLOOR) * value / lo
        return math.exp(-(((lo - value) / soft) ** 2))
    return 1.0


def _at_least_score(value: float, lo: float, hi: float, soft: float) -> float:
    """Share of the (softened) range [lo, hi + soft] compatible with a true value >= ``value``."""
    return float(np.clip((hi + soft - max(value, lo)) / (hi + soft - lo), 0.0, 1.0))


def size_scores(
    length: float,
    width: float,
    height: float,
    height_cut: bool = False,
    view: str | None = None,
    occluded: bool = False,
) -> np.ndarray:
    """Score per class in ``CLASSES`` order for a measured box (length >= width).

    The longer measured side is a whole visible face, so it must fit either the class's length (side
    view) or its width (end view); the other measured side may fall short (the far side is hidden).
    ``occluded``: an end of the object is hidden behind something nearer, so the longer side may fall
    short of the class's length too.
    ``height_cut``: the object reaches the LiDAR's top or bottom beam, so its true height is only known
    to be at least ``height`` (a pole cut at 2.2 m is no pedestrian, a car cut at 0.9 m may be a car).
    ``view`` ("side" or "end", from the track's motion) keeps only that reading of the longer side.
    """
    out = np.empty(len(CLASSES))
    for i, cls in enumerate(CLASSES):
        p = PRIORS[cls]
        side_view, end_view = _view_scores(p, length, width, occluded)
        if height_cut:
            h = _at_least_score(height, *p.height, _HEIGHT_SOFT_M)
        else:
            h = _range_score(height, *p.height, _HEIGHT_SOFT_M, False)
        fit = side_view if view == "side" else end_view if view == "end" else max(side_view, end_view)
        out[i] = p.prior * fit * h
    return out


def _view_scores(p: SizePrior, length: float, width: float, occluded: bool) -> tuple[float, float]:
    """(side view, end view) scores of a measured box against one class's size ranges."""
    soft_l, soft_w = 0.05 * p.length[1] + 0.1, 0.05 * p.width[1] + 0.1
    side = _range_score(length, *p.length, soft_l, occluded) * _range_score(width, *p.width, soft_w, True)
    end = _range_score(length, *p.width, soft_w, occluded) * _range_score(width, *p.length, soft_l, True)
    return side, end


def is_end_view(label: ObjectClass, length: float, width: float, occluded: bool = False) -> bool:
    """True when the longer measured side fits the class's width better than its length (rear view)."""
    side_view, end_view = _view_scores(PRIORS[label], length, width, occluded)
    return end_view > side_view


def height_fits(label: ObjectClass, height: float, height_cut: bool = False) -> bool:
    """True when a measured height lies within the class's range (with the size rules' fall-off); a cut
    height is only a lower bound, so then it need not reach the class's lowest."""
    lo, hi = PRIORS[label].height
    return (height_cut or height >= lo - _HEIGHT_SOFT_M) and height <= hi + _HEIGHT_SOFT_M


def motion_factor(speed_mps: float) -> np.ndarray:
    """Per-class factor in [0, 1] for a tracked speed: 1 up to the class's top speed, then falling off."""
    top = np.array([PRIORS[c].max_speed_mps for c in CLASSES])
    over = np.maximum(speed_mps - top, 0.0) / (0.25 * top)
    return np.exp(-(over**2))


def decide(scores: np.ndarray) -> tuple[ObjectClass, float]:
    """Class and confidence from a score vector (``UNKNOWN`` when nothing fits)."""
    k = int(np.argmax(scores))
    best = float(scores[k])
    total = float(scores.sum()) + UNKNOWN_SCORE
    if best < UNKNOWN_SCORE:
        return ObjectClass.UNKNOWN, UNKNOWN_SCORE / total
    return CLASSES[k], best * best / total
