"""Compiled (numba) ray caster shared by the LiDAR and the cameras: the fast CPU variant of
:func:`mmfusion_annotate.sim.geometry.ray_boxes` (the numpy reference it is tested against).

Rays are laid out as rows x columns (LiDAR: azimuth columns x beams, camera: image rows x columns); each
row has its own origin and its own box poses, which is how one LiDAR column sees the world at its own
time. Each box is tested only on the rows its culling mask allows and inside a column window, so a sweep
of 115k rays against ~20 boxes costs about one pass over the rays.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def cast(origin, dirs, ground_t, center, yaw, half, row_ok, col_lo, col_hi):  # pragma: no cover - compiled
    """Nearest hit per ray among ground (``ground_t``, inf for none) and boxes.

    origin (M, 3); dirs (M, N, 3); ground_t (M, N); center (B, M, 3); yaw (B, M); half (B, 3);
    row_ok (B, M) bool; col_lo/col_hi (B,) column window. Returns (t (M, N), box index (M, N), -1 for
    ground/none, outward normal (M, N, 3), full (B,) = rays hitting each box regardless of occlusion).
    """
    m_rows, n_cols = ground_t.shape
    n_boxes = half.shape[0]
    best = ground_t.copy()
    which = np.full((m_rows, n_cols), -1, np.int32)
    normal = np.zeros((m_rows, n_cols, 3))
    full = np.zeros(n_boxes, np.int64)
    for b in range(n_boxes):
        hx, hy, hz = half[b, 0], half[b, 1], half[b, 2]
        for i in range(m_rows):
            if not row_ok[b, i]:
                continue
            c, s = math.cos(yaw[b, i]), math.sin(yaw[b, i])
            rx = origin[i, 0] - center[b, i, 0]
            ry = origin[i, 1] - center[b, i, 1]
            oz = origin[i, 2] - center[b, i, 2]
            ox = c * rx + s * ry
            oy = -s * rx + c * ry
            for j in range(col_lo[b], col_hi[b]):
                d0, d1, dz = dirs[i, j, 0], dirs[i, j, 1], dirs[i, j, 2]
                dx = c * d0 + s * d1
                dy = -s * d0 + c * d1
                t_in = -np.inf
                t_out = np.inf
                axis = 0
                sign = 1.0
                ok = True
                for a in range(3):
                    o = ox if a == 0 else (oy if a == 1 else oz)
                    d = dx if a == 0 else (dy if a == 1 else dz)
                    h = hx if a == 0 else (hy if a == 1 else hz)
                    if d == 0.0:
                        if o < -h or o > h:
                            ok = False
                            break
                        continue
                    t1 = (-h - o) / d
                    t2 = (h - o) / d
                    lo, hi = (t1, t2) if t1 < t2 else (t2, t1)
                    if lo > t_in:
                        t_in = lo
                        axis = a
                        sign = -1.0 if d > 0 else 1.0
                    if hi < t_out:
                        t_out = hi
                if not ok or t_out < t_in or t_in <= 0.0:
                    continue
                full[b] += 1
                if t_in < best[i, j]:
                    best[i, j] = t_in
                    which[i, j] = b
                    nx = sign if axis == 0 else 0.0
                    ny = sign if axis == 1 else 0.0
                    normal[i, j, 0] = c * nx - s * ny
                    normal[i, j, 1] = s * nx + c * ny
                    normal[i, j, 2] = sign if axis == 2 else 0.0
    return best, which, normal, full
