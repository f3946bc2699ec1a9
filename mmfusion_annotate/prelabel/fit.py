"""Cuboid fitting in the bird's-eye view: search-based L-shape fitting and prior-based completion.

L-shape fitting (Zhang et al., "Efficient L-Shape Fitting for Vehicle Detection Using Laser Scanners",
IV 2017, closeness criterion) scores every heading in [0, 90) degrees by how close the points lie to
the nearer rectangle edges; unlike ``cv2.minAreaRect`` it keeps the right heading when only one or two
sides of a car are seen; distances under ``CLOSENESS_FLOOR_M`` count alike. ``complete_with_prior``
grows a partly seen box away from the sensor to a class's typical size, keeping the visible corner where
it was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

CLOSENESS_FLOOR_M = 0.15
"""Points this close to an edge all count as on it. With the paper's 1 cm floor the few extreme points,
which lie on an edge at every heading, outvote a whole side of a real car, whose curved body and noisy
returns spread that side over about this depth: a part of a car then fits a heading far off (chosen on
PandaSet's tuning frames, bench/RESULTS.md)."""


@dataclass(frozen=True)
class BevBox:
    """A rectangle in BEV: centre, length along ``yaw``, width across (length >= width)."""

    cx: float
    cy: float
    length: float
    width: float
    yaw: float

    def corners(self) -> np.ndarray:
        """(4,2) corners counter-clockwise."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        half = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64) * (
            self.length / 2,
            self.width / 2,
        )
        rot = np.array([[c, -s], [s, c]])
        return half @ rot.T + (self.cx, self.cy)


def _normalized_box(
    c1: tuple[float, float], c2: tuple[float, float], theta: float, min_size: float
) -> BevBox:
    """Box from extents along e1=(cos t, sin t) and e2=(-sin t, cos t); length is the longer side.

    The centre is ``e1 * (c1 sum) / 2 + e2 * (c2 sum) / 2`` in scalar floats (the same operations in the
    same order as on two-element arrays, without their allocations: it runs once per cluster)."""
    c, s = math.cos(theta), math.sin(theta)
    m1, m2 = float(c1[0] + c1[1]), float(c2[0] + c2[1])
    cx, cy = c * m1 / 2 + -s * m2 / 2, s * m1 / 2 + c * m2 / 2
    l1, l2 = max(c1[1] - c1[0], min_size), max(c2[1] - c2[0], min_size)
    if l1 >= l2:
        return BevBox(cx, cy, l1, l2, wrap_half(theta))
    return BevBox(cx, cy, l2, l1, wrap_half(theta + math.pi / 2))


def wrap_half(angle: float) -> float:
    """Wrap an axis direction to [-pi/2, pi/2) (a box heading without a known front)."""
    return (angle + math.pi / 2) % math.pi - math.pi / 2


def fit_at(xy: np.ndarray, theta: float, min_size: float) -> BevBox:
    """The rectangle of (n,2) points with its sides along ``theta`` (a heading known from elsewhere)."""
    e1 = xy @ np.array([math.cos(theta), math.sin(theta)])
    e2 = xy @ np.array([-math.sin(theta), math.cos(theta)])
    return _normalized_box((e1.min(), e1.max()), (e2.min(), e2.max()), theta, min_size)


@cache
def _headings(angle_step_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The headings ``fit_lshape`` tries and their unit vectors along and across, (2, k) each: the same
    for every cluster, so made once per step."""
    thetas = np.deg2rad(np.arange(0.0, 90.0, angle_step_deg))
    cos, sin = np.cos(thetas), np.sin(thetas)
    along, across = np.stack([cos, sin]), np.stack([-sin, cos])
    for a in (thetas, along, across):
        a.flags.writeable = False  # shared by every call
    return thetas, along, across


def fit_lshape(xy: np.ndarray, angle_step_deg: float, max_points: int, min_size: float) -> BevBox:
    """Best-scoring rectangle for (n,2) points; ``max_points`` caps the cost by even subsampling."""
    if xy.shape[0] > max_points:
        xy = xy[np.linspace(0, xy.shape[0] - 1, max_points).astype(np.int64)]
    xy = xy.astype(np.float64)
    if xy.shape[0] < 3:
        return _normalized_box(
            (xy[:, 0].min(), xy[:, 0].max()), (xy[:, 1].min(), xy[:, 1].max()), 0.0, min_size
        )
    thetas, along, across = _headings(angle_step_deg)
    c1 = xy @ along  # (n, k)
    c2 = xy @ across
    lo1, hi1, lo2, hi2 = c1.min(0), c1.max(0), c2.min(0), c2.max(0)
    d1 = np.minimum(hi1 - c1, c1 - lo1)
    d2 = np.minimum(hi2 - c2, c2 - lo2)
    score = (1.0 / np.maximum(np.minimum(d1, d2), CLOSENESS_FLOOR_M)).sum(0)
    k = int(np.argmax(score))
    return _normalized_box((lo1[k], hi1[k]), (lo2[k], hi2[k]), float(thetas[k]), min_size)


def complete_with_prior(
    box: BevBox,
    prior_length: float,
    prior_width: float,
    sensor_xy: tuple[float, float],
    centred: bool = False,
) -> BevBox:
    """Grow a box that is shorter/narrower than the prior on the side facing away from the sensor.

    The side nearest the sensor is the measured one (it produced the returns); the far side is where
    points are missing because of self-occlusion, so that is where the box is extended. ``centred``: the
    length grows to both ends alike (both ends hidden: the part seen may lie anywhere along the object).
    """
    if box.length >= prior_length and box.width >= prior_width:
        return box
    e1 = np.array([math.cos(box.yaw), math.sin(box.yaw)])
    e2 = np.array([-math.sin(box.yaw), math.cos(box.yaw)])
    rel = np.array(sensor_xy) - (box.cx, box.cy)
    shift = np.zeros(2)
    length, width = box.length, box.width
    if length < prior_length:
        if not centred:
            shift -= e1 * math.copysign((prior_length - length) / 2, float(rel @ e1))
        length = prior_length
    if width < prior_width:
        shift -= e2 * math.copysign((prior_width - width) / 2, float(rel @ e2))
        width = prior_width
    return BevBox(box.cx + float(shift[0]), box.cy + float(shift[1]), length, width, box.yaw)


def near_side(box: BevBox, width: float, sensor_xy: tuple[float, float]) -> BevBox:
    """The box cut to ``width`` across its axis on the side nearest the sensor: of a cluster wider than its
    class allows, the face the sensor saw is the object's; the rest is a stray return or the edge of the
    next object beside it."""
    if box.width <= width:
        return box
    e2 = np.array([-math.sin(box.yaw), math.cos(box.yaw)])
    toward = math.copysign((box.width - width) / 2, float((np.array(sensor_xy) - (box.cx, box.cy)) @ e2))
    return BevBox(box.cx + float(e2[0] * toward), box.cy + float(e2[1] * toward), box.length, width, box.yaw)
