"""Radar association: detections gated to cuboid footprints in the BEV, the rest kept as candidates.

Range-rate is measured relative to the moving radar; adding the radar's own velocity along the line of
sight (ego twist at the radar's mount) gives the target's radial velocity over ground, which is what
a track's velocity can be compared with. Unassociated *moving* detections (|radial velocity| above
the tolerance) are grouped by distance into low-confidence candidates; static returns without a
LiDAR object (guard rails, signs) are the normal case and are not flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class RadarScan:
    """One radar's detections in base_link with ego-compensated radial velocity."""

    name: str
    xyz: np.ndarray
    radial_velocity: np.ndarray
    rcs: np.ndarray
    line_of_sight: np.ndarray  # (M, 3) unit vectors radar -> detection, base_link axes


def compensate(
    xyz: np.ndarray,
    range_rate: np.ndarray,
    radar_origin: np.ndarray,
    ego_linear: np.ndarray,
    ego_angular: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(radial velocity over ground, unit line of sight) for detections seen from ``radar_origin``."""
    los = xyz - radar_origin
    los = los / np.maximum(np.linalg.norm(los, axis=1, keepdims=True), 1e-6)
    v_radar = ego_linear + np.cross(ego_angular, radar_origin)
    return range_rate + los @ v_radar, los


def associate(
    scan: RadarScan, boxes: list[tuple[float, float, float, float, float]], margin: float
) -> np.ndarray:
    """Index of the box (cx, cy, length, width, yaw) each detection falls in (+margin), -1 if none.

    When boxes overlap, the detection goes to the box whose centre is nearest.
    """
    out = np.full(len(scan.xyz), -1, dtype=np.int64)
    best = np.full(len(scan.xyz), np.inf)
    for k, (cx, cy, length, width, yaw) in enumerate(boxes):
        dx, dy = scan.xyz[:, 0] - cx, scan.xyz[:, 1] - cy
        c, s = math.cos(yaw), math.sin(yaw)
        u, v = c * dx + s * dy, -s * dx + c * dy
        inside = (np.abs(u) <= length / 2 + margin) & (np.abs(v) <= width / 2 + margin)
        dist = np.hypot(dx, dy)
        take = inside & (dist < best)
        out[take], best[take] = k, dist[take]
    return out


def group_candidates(xyz: np.ndarray, radius: float) -> np.ndarray:
    """Group label per detection (BEV connected components within ``radius``)."""
    if len(xyz) == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(xyz[:, :2]).query_pairs(radius, output_type="ndarray")

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(xyz), len(xyz)))
    return connected_components(graph, directed=False)[1]
