"""A LiDAR's mounting height and vertical field of view, measured on its own points.

Why: datasets without a rig file (KITTI-layout folders, imported sequences) must not be read as if
every LiDAR were KITTI's (1.73 m up, top beam at +2 degrees): on a sensor mounted higher nearly every
object would seem to touch the top beam and be taken as cut off. The height is the intercept of the
ground plane fitted under the sensor; the outer beams are the highest and lowest elevations the
points reach, the top one on far points only (a multi-block sensor's emitters sit off its origin, which
raises the apparent elevation of near returns by degrees).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUND_RANGE_M = (3.0, 25.0)
GROUND_INLIER_M = 0.15
TOP_BEAM_FROM_M = 20.0
"""The top beam is read on points at least this far (its elevation there is within a few tenths of a
degree of the datasheet's); nearer returns are used only when too few lie this far."""
BOTTOM_BEAM_FROM_M = 2.5
"""Returns nearer than this are taken as the ego vehicle's own body, not the bottom beam."""
OUTLIERS = 10
"""The top (bottom) beam is the elevation exceeded by (below) only this many points: strays ignored."""


def road_height(xyz: np.ndarray) -> float | None:
    """Height of the road plane under the frame's origin (frame z, negative) from ground points of one
    sweep: least-squares plane z = a x + b y + c over the points ``GROUND_RANGE_M`` away, refitted on the
    inliers; None with too few points."""
    r = np.hypot(xyz[:, 0], xyz[:, 1])
    points = xyz[(r >= GROUND_RANGE_M[0]) & (r <= GROUND_RANGE_M[1])]
    for _ in range(3):
        if len(points) < 100:
            return None
        A = np.c_[points[:, 0], points[:, 1], np.ones(len(points))]
        coefficients, *_ = np.linalg.lstsq(A, points[:, 2], rcond=None)
        points = points[np.abs(A @ coefficients - points[:, 2]) <= GROUND_INLIER_M]
    return float(coefficients[2])


def lowest_points(xyz: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """The lowest ``fraction`` of the points ``GROUND_RANGE_M`` away: mostly road and pavement on a street,
    the stand-in for road points when a sweep has no semantic labels."""
    r = np.hypot(xyz[:, 0], xyz[:, 1])
    ring = xyz[(r >= GROUND_RANGE_M[0]) & (r <= GROUND_RANGE_M[1])]
    return ring[ring[:, 2] <= np.quantile(ring[:, 2], fraction)] if len(ring) else ring


@dataclass(frozen=True)
class LidarMounting:
    """Measured on one sweep in the sensor frame (z up): height above the road, outer beam elevations."""

    height_m: float
    vertical_range_deg: tuple[float, float]


def measure_mounting(xyz: np.ndarray) -> LidarMounting | None:
    """The mounting of the LiDAR that took ``xyz`` (N, 3, its own upright frame); None when the sweep
    has too few ground points or returns to tell."""
    xyz = np.asarray(xyz, np.float64)
    road = road_height(lowest_points(xyz))
    r = np.hypot(xyz[:, 0], xyz[:, 1])
    elevation = np.degrees(np.arctan2(xyz[:, 2], r))
    far = elevation[r >= TOP_BEAM_FROM_M]
    near = elevation[r >= BOTTOM_BEAM_FROM_M]
    top_from = far if far.size > OUTLIERS else near
    if road is None or near.size <= OUTLIERS:
        return None
    top = float(np.partition(top_from, top_from.size - 1 - OUTLIERS)[top_from.size - 1 - OUTLIERS])
    bottom = float(np.partition(near, OUTLIERS)[OUTLIERS])
    return LidarMounting(-road, (round(bottom, 2), round(top, 2)))
