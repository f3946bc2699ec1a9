"""Compiled (numba) ray casters: the fast CPU variants of
:func:`mmfusion_annotate.sim.geometry.ray_boxes` (the numpy reference they are tested against).

``cast`` serves the cameras: rays are laid out as rows x columns, each row with its own origin and box
poses, and each box is tested only on the rows its culling mask allows and inside a column window.
``lidar_sweep`` does a whole spinning-LiDAR sweep in one pass: per azimuth column it places the sensor
at the ego pose of that column's time, casts every beam against the ground and the column's candidate
boxes, and emits the noisy point (xyz, intensity, ring, object id) with dropouts, so no per-ray
temporary array is ever built in Python.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mmfusion_annotate.sim.world import material_at


@numba.njit(cache=True, nogil=True, inline="always")
def _slab(ox, oy, oz, dx, dy, dz, hx, hy, hz):  # pragma: no cover - compiled
    """Entry distance of a ray (box frame) into the box, the entered face's axis and outward sign;
    t = inf when it misses or starts inside."""
    t_in = -np.inf
    t_out = np.inf
    axis = 0
    sign = 1.0
    for a in range(3):
        o = ox if a == 0 else (oy if a == 1 else oz)
        d = dx if a == 0 else (dy if a == 1 else dz)
        h = hx if a == 0 else (hy if a == 1 else hz)
        if d == 0.0:
            if o < -h or o > h:
                return np.inf, 0, 1.0
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
    if t_out < t_in or t_in <= 0.0:
        return np.inf, 0, 1.0
    return t_in, axis, sign


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
                d0, d1 = dirs[i, j, 0], dirs[i, j, 1]
                t_in, axis, sign = _slab(
                    ox, oy, oz, c * d0 + s * d1, -s * d0 + c * d1, dirs[i, j, 2], hx, hy, hz
                )
                if t_in == np.inf:
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


@numba.njit(cache=True, nogil=True)
def lidar_sweep(
    ego,
    mount,
    dirs_base,
    dirs_sensor,
    ranges,
    center,
    yaw,
    half,
    row_ok,
    box_reflectivity,
    box_ids,
    road,
    ground_reflectivity,
    noise,
    rng,
):  # pragma: no cover - compiled
    """One sweep: nearest return per (column, beam) from the ground and the candidate boxes.

    ego (M, 3) world x, y, yaw per column; mount (3,) sensor origin in base_link; dirs_base /
    dirs_sensor (M, N, 3) beam directions in base_link / sensor axes; ranges = (min, max); boxes as in
    ``cast`` (B boxes at the M column times, ``row_ok`` (B, M) the columns that may see each);
    noise = (dropout probability, range sigma, intensity sigma), drawn from ``rng`` ray by ray.
    Returns the kept points in column-then-beam order: xyz (K, 3) float32 sensor frame, intensity
    (K,) float32 0-255, column (K,), beam (K,), object id (K,) (0 = ground).
    """
    m_cols, n_beams = dirs_base.shape[0], dirs_base.shape[1]
    n_boxes = half.shape[0]
    r_min, r_max = ranges[0], ranges[1]
    dropout, sigma_r, sigma_i = noise[0], noise[1], noise[2]
    xyz = np.empty((m_cols * n_beams, 3), np.float32)
    intensity = np.empty(m_cols * n_beams, np.float32)
    column = np.empty(m_cols * n_beams, np.int32)
    beam = np.empty(m_cols * n_beams, np.uint16)
    object_id = np.empty(m_cols * n_beams, np.int32)
    cand = np.empty(n_boxes, np.int64)
    bc = np.empty(n_boxes)
    bs = np.empty(n_boxes)
    box_o = np.empty((n_boxes, 3))
    count = 0
    for i in range(m_cols):
        c, s = math.cos(ego[i, 2]), math.sin(ego[i, 2])
        px = ego[i, 0] + c * mount[0] - s * mount[1]
        py = ego[i, 1] + s * mount[0] + c * mount[1]
        pz = mount[2]
        n_cand = 0
        for b in range(n_boxes):  # this column's boxes, with the sensor origin in each box's frame
            if not row_ok[b, i]:
                continue
            cb, sb = math.cos(yaw[b, i]), math.sin(yaw[b, i])
            rx, ry = px - center[b, i, 0], py - center[b, i, 1]
            cand[n_cand] = b
            bc[n_cand], bs[n_cand] = cb, sb
            box_o[n_cand, 0] = cb * rx + sb * ry
            box_o[n_cand, 1] = -sb * rx + cb * ry
            box_o[n_cand, 2] = pz - center[b, i, 2]
            n_cand += 1
        for j in range(n_beams):
            d0, d1, dz = dirs_base[i, j, 0], dirs_base[i, j, 1], dirs_base[i, j, 2]
            dx, dy = c * d0 - s * d1, s * d0 + c * d1
            best = -pz / dz if dz < 0.0 else np.inf
            if best > r_max:
                best = np.inf
            hit = -1
            cos_incidence = abs(dz)
            for k in range(n_cand):
                b = cand[k]
                cb, sb = bc[k], bs[k]
                lx, ly = cb * dx + sb * dy, -sb * dx + cb * dy
                t_in, axis, sign = _slab(
                    box_o[k, 0], box_o[k, 1], box_o[k, 2], lx, ly, dz, half[b, 0], half[b, 1], half[b, 2]
                )
                if t_in < best:
                    best, hit = t_in, b
                    cos_incidence = abs(lx if axis == 0 else (ly if axis == 1 else dz))
            if best == np.inf or best < r_min or best > r_max:
                continue
            if dropout > 0.0 and rng.random() < dropout:
                continue
            if hit >= 0:
                reflectivity = box_reflectivity[hit]
                object_id[count] = box_ids[hit]
            else:
                reflectivity = ground_reflectivity[material_at(px + dx * best, py + dy * best, road)]
                object_id[count] = 0
            r = best + rng.normal(0.0, sigma_r) if sigma_r > 0 else best
            value = 255.0 * reflectivity * cos_incidence + (rng.normal(0.0, sigma_i) if sigma_i > 0 else 0.0)
            intensity[count] = min(max(value, 0.0), 255.0)
            xyz[count, 0] = dirs_sensor[i, j, 0] * r
            xyz[count, 1] = dirs_sensor[i, j, 1] * r
            xyz[count, 2] = dirs_sensor[i, j, 2] * r
            column[count] = i
            beam[count] = j
            count += 1
    return xyz[:count], intensity[:count], column[:count], beam[:count], object_id[:count]
