"""Projection of cuboids into cameras: near-plane clipping, distortion-aware edges, truncation.

Corners behind the camera cannot be projected (a pinhole flips them); instead each of the 12 box edges
is clipped against the plane z = ``near`` and sampled along its length, so the box of a car beside the
camera stays correct and curved (distorted) edges are followed. The projected box is then clipped to
the image; ``truncation`` is the share of the unclipped box area outside the image.
"""

from __future__ import annotations

import math

import numpy as np

_EDGES = np.array(
    [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
)
_SAMPLES = np.linspace(0.0, 1.0, 9)


def cuboid_corners(center, size, yaw: float) -> np.ndarray:
    """(8,3) corners: bottom face counter-clockwise, then the top face."""
    length, width, height = size
    c, s = math.cos(yaw), math.sin(yaw)
    x = np.array([1, -1, -1, 1] * 2) * length / 2
    y = np.array([1, 1, -1, -1] * 2) * width / 2
    z = np.array([-1] * 4 + [1] * 4) * height / 2
    return np.stack([c * x - s * y + center[0], s * x + c * y + center[1], z + center[2]], axis=1)


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ T[:3, :3].T + T[:3, 3]


def clipped_edge_points(corners_cam: np.ndarray, near: float) -> np.ndarray:
    """Points sampled along the parts of the 12 edges with z >= ``near`` ((K,3), K may be 0)."""
    a, b = corners_cam[_EDGES[:, 0]], corners_cam[_EDGES[:, 1]]
    za, zb = a[:, 2], b[:, 2]
    dz = np.where(np.abs(zb - za) < 1e-12, 1e-12, zb - za)
    t_cross = np.clip((near - za) / dz, 0.0, 1.0)
    t0 = np.where(za >= near, 0.0, t_cross)
    t1 = np.where(zb >= near, 1.0, t_cross)
    keep = (za >= near) | (zb >= near)
    t = t0[keep, None] + (t1 - t0)[keep, None] * _SAMPLES[None, :]
    pts = a[keep, None, :] + (b - a)[keep, None, :] * t[..., None]
    return pts.reshape(-1, 3)


def project_cuboid(corners_cam: np.ndarray, model, near: float):
    """(clipped box (x1,y1,x2,y2) or None, truncation) of a cuboid given in the optical frame."""
    pts = clipped_edge_points(corners_cam, near)
    if len(pts) == 0:
        return None, 1.0
    uv, _, _ = model.project(pts)
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) == 0:
        return None, 1.0
    x1, y1 = uv.min(axis=0)
    x2, y2 = uv.max(axis=0)
    cx1, cy1 = max(x1, 0.0), max(y1, 0.0)
    cx2, cy2 = min(x2, float(model.width)), min(y2, float(model.height))
    if cx2 <= cx1 or cy2 <= cy1:
        return None, 1.0
    full = max((x2 - x1) * (y2 - y1), 1e-9)
    truncation = 1.0 - (cx2 - cx1) * (cy2 - cy1) / full
    return (float(cx1), float(cy1), float(cx2), float(cy2)), float(np.clip(truncation, 0.0, 1.0))


def box_iou(a, b) -> float:
    """IoU of two axis-aligned (x1, y1, x2, y2) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
