"""Projection of cuboids into cameras: near-plane clipping, distortion-aware edges, truncation.

Corners behind the camera cannot be projected (a pinhole flips them); instead each of the 12 box edges
is clipped against the plane z = ``near`` and sampled along its length, so the box of a car beside the
camera stays correct and curved (distorted) edges are followed. The projected box is then clipped to
the image; ``truncation`` is the share of the unclipped box area outside the image. Everything works on
stacks of cuboids, so a camera projects all objects of a frame in one ``CameraModel.project`` call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mmfusion_annotate.rig.camera_model import CameraModel

_EDGES = np.array(
    [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
)
_SAMPLES = np.linspace(0.0, 1.0, 9)


def cuboid_corners(center, size, yaw) -> np.ndarray:
    """Corners, bottom face counter-clockwise then the top face: (8,3), or (M,8,3) for (M,3) centres,
    (M,3) sizes and (M,) yaws."""
    center, size, yaw = np.asarray(center, float), np.asarray(size, float), np.asarray(yaw, float)
    half = size[..., None, :] / 2
    x = np.array([1, -1, -1, 1] * 2) * half[..., 0]
    y = np.array([1, 1, -1, -1] * 2) * half[..., 1]
    z = np.array([-1] * 4 + [1] * 4) * half[..., 2]
    c, s = np.cos(yaw)[..., None], np.sin(yaw)[..., None]
    return np.stack([c * x - s * y, s * x + c * y, z], axis=-1) + center[..., None, :]


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ T[:3, :3].T + T[:3, 3]


def clipped_edge_points(corners_cam: np.ndarray, near: float) -> tuple[np.ndarray, np.ndarray]:
    """Points sampled along the 12 edges of each cuboid (..., 108, 3), and which lie on an edge's part
    with z >= ``near`` (..., 108); the others are placeholders to ignore."""
    a, b = corners_cam[..., _EDGES[:, 0], :], corners_cam[..., _EDGES[:, 1], :]
    za, zb = a[..., 2], b[..., 2]
    dz = np.where(np.abs(zb - za) < 1e-12, 1e-12, zb - za)
    t_cross = np.clip((near - za) / dz, 0.0, 1.0)
    t0 = np.where(za >= near, 0.0, t_cross)
    t1 = np.where(zb >= near, 1.0, t_cross)
    keep = (za >= near) | (zb >= near)
    t = t0[..., None] + (t1 - t0)[..., None] * _SAMPLES
    pts = a[..., None, :] + (b - a)[..., None, :] * t[..., None]
    shape = corners_cam.shape[:-2]
    return pts.reshape(*shape, -1, 3), np.repeat(keep, len(_SAMPLES), axis=-1)


def project_cuboids(corners_cam: np.ndarray, model: CameraModel, near: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Clipped boxes (M,4) (x1,y1,x2,y2; NaN rows where a cuboid has none) and truncations (M,) of
    cuboids (M,8,3) given in the optical frame, with one projection call for all of them."""
    m = len(corners_cam)
    if m == 0:
        return np.zeros((0, 4)), np.zeros(0)
    pts, keep = clipped_edge_points(corners_cam, near)
    uv, _, _ = model.project(np.where(keep[..., None], pts, 1.0).reshape(-1, 3))
    uv = uv.reshape(m, -1, 2)
    ok = keep & np.isfinite(uv).all(axis=-1)
    lo = np.where(ok[..., None], uv, np.inf).min(axis=1)
    hi = np.where(ok[..., None], uv, -np.inf).max(axis=1)
    clipped_lo = np.maximum(lo, 0.0)
    clipped_hi = np.minimum(hi, [float(model.width), float(model.height)])
    size = clipped_hi - clipped_lo
    has_box = ok.any(axis=1) & (size > 0).all(axis=1)
    full = np.maximum(np.prod(np.where(has_box[:, None], hi - lo, 1.0), axis=1), 1e-9)
    truncation = np.where(has_box, np.clip(1.0 - np.prod(size, axis=1) / full, 0.0, 1.0), 1.0)
    boxes = np.where(has_box[:, None], np.concatenate([clipped_lo, clipped_hi], axis=1), np.nan)
    return boxes, truncation


def box_iou(a, b) -> float:
    """IoU of two axis-aligned (x1, y1, x2, y2) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
