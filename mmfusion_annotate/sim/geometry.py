"""Ray casting against oriented boxes and the ground plane, written once against ``xp``.

Boxes only turn about z (everything stands on flat ground), so a ray enters a box's frame with one
planar rotation; the slab test then gives the entry distance and the face that was hit (for shading
and LiDAR incidence angles).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np


def ray_boxes(
    origin: Any, direction: Any, center: Any, yaw: Any, half: Any, xp: ModuleType = np
) -> tuple[Any, Any]:
    """Entry distance of rays into boxes (slab test); ``inf`` where a ray misses or starts inside.

    All arguments broadcast against each other: origin/direction/center (..., 3), yaw (...), half (..., 3).
    Returns ``(t, normal)`` with the hit face's outward unit normal (..., 3) in the outer frame.
    """
    c, s = xp.cos(yaw), xp.sin(yaw)
    rel = origin - center
    ox = c * rel[..., 0] + s * rel[..., 1]
    oy = -s * rel[..., 0] + c * rel[..., 1]
    oz = rel[..., 2]
    dx = c * direction[..., 0] + s * direction[..., 1]
    dy = -s * direction[..., 0] + c * direction[..., 1]
    dz = direction[..., 2]
    enter = []
    leave = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for o, d, h in ((ox, dx, half[..., 0]), (oy, dy, half[..., 1]), (oz, dz, half[..., 2])):
            inv = 1.0 / d
            t1 = (-h - o) * inv
            t2 = (h - o) * inv
            enter.append(xp.minimum(t1, t2))
            leave.append(xp.maximum(t1, t2))
    t_in = xp.maximum(xp.maximum(enter[0], enter[1]), enter[2])
    t_out = xp.minimum(xp.minimum(leave[0], leave[1]), leave[2])
    hit = (t_out >= t_in) & (t_in > 0)
    t = xp.where(hit, t_in, xp.inf)
    axis = xp.where(enter[0] >= t_in, 0, xp.where(enter[1] >= t_in, 1, 2))
    d_axis = xp.where(axis == 0, dx, xp.where(axis == 1, dy, dz))
    sign = xp.where(d_axis > 0, -1.0, 1.0)
    nx_local = xp.where(axis == 0, sign, 0.0)
    ny_local = xp.where(axis == 1, sign, 0.0)
    nz = xp.where(axis == 2, sign, 0.0)
    normal = xp.stack([c * nx_local - s * ny_local, s * nx_local + c * ny_local, nz + 0.0 * c], axis=-1)
    return t, normal


def points_in_box(
    points: Any, center: Any, yaw: Any, half: Any, margin: float = 0.0, xp: ModuleType = np
) -> Any:
    """True where points (..., 3) lie inside the boxes (broadcast), grown by ``margin`` metres."""
    c, s = xp.cos(yaw), xp.sin(yaw)
    rel = points - center
    lx = c * rel[..., 0] + s * rel[..., 1]
    ly = -s * rel[..., 0] + c * rel[..., 1]
    return (
        (xp.abs(lx) <= half[..., 0] + margin)
        & (xp.abs(ly) <= half[..., 1] + margin)
        & (xp.abs(rel[..., 2]) <= half[..., 2] + margin)
    )


_CORNER_SIGNS = np.array(
    [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
)
BOX_EDGES = np.array(
    [[a, b] for a in range(8) for b in range(a + 1, 8) if (_CORNER_SIGNS[a] != _CORNER_SIGNS[b]).sum() == 1]
)
"""The 12 edges of a box as pairs of :func:`box_corners` indices."""


def box_corners(center: np.ndarray, yaw: np.ndarray | float, size: np.ndarray) -> np.ndarray:
    """The 8 corners (..., 8, 3) of boxes with centre (..., 3), yaw (...) and size (..., 3)."""
    center, size = np.asarray(center, dtype=np.float64), np.asarray(size, dtype=np.float64)
    local = _CORNER_SIGNS * (size[..., None, :] / 2)
    c, s = np.cos(yaw)[..., None], np.sin(yaw)[..., None]
    x = c * local[..., 0] - s * local[..., 1] + center[..., None, 0]
    y = s * local[..., 0] + c * local[..., 1] + center[..., None, 1]
    return np.stack([x, y, local[..., 2] + center[..., None, 2]], axis=-1)


def yaw_matrix(yaw: float) -> np.ndarray:
    """3x3 rotation about z by ``yaw`` radians."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def planar_pose(x: float, y: float, yaw: float) -> np.ndarray:
    """4x4 pose of a frame on the ground plane."""
    T = np.eye(4)
    T[:3, :3] = yaw_matrix(yaw)
    T[0, 3], T[1, 3] = x, y
    return T


def yaw_quaternion(yaw: Any, xp: ModuleType = np) -> Any:
    """Quaternion(s) [x, y, z, w] of a rotation about z."""
    yaw = xp.asarray(yaw, dtype=xp.float64)
    z = xp.zeros_like(yaw)
    return xp.stack([z, z, xp.sin(yaw / 2), xp.cos(yaw / 2)], axis=-1)
