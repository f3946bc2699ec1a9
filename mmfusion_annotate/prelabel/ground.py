"""Ground removal that follows slopes and steps over curbs: a polar-grid (ray) slope filter.

Per azimuth sector the cells are walked outward; a cell's lowest point is accepted as ground when it
continues the last ground cell within the slope limit (plus a step tolerance for curbs and bumps).
Cells with no acceptable lowest point (only object returns) inherit the last ground height, so an
object's points get a height above the *local* ground even on a ramp. A single RANSAC plane (the
baseline in ``bench/bench_prelabel.py``) cuts objects on hills in half; this filter does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from mmfusion_annotate.prelabel.config import GroundConfig

_MAX_GAP_M = 10.0  # an occluded stretch longer than this does not widen the slope allowance further


@dataclass(frozen=True)
class GroundResult:
    """Per point: ``is_ground`` and ``height`` above the local ground estimate (metres)."""

    is_ground: object
    height: object


def _cell_minimum(cell, z, n_cells: int, xp: ModuleType):
    """Lowest z per cell (inf where empty): numpy's unbuffered ``minimum.at`` (a few hundred times faster
    than sorting on the CPU), one lexsort elsewhere (CuPy has no ``minimum.at``)."""
    zmin = xp.full(n_cells, xp.inf, dtype=xp.float32)
    if cell.shape[0] == 0:
        return zmin
    if xp is np:
        np.minimum.at(zmin, cell, z)
        return zmin
    order = xp.lexsort(xp.stack([z, cell]))
    sorted_cell = cell[order]
    first = xp.ones(sorted_cell.shape[0], dtype=bool)
    first[1:] = sorted_cell[1:] != sorted_cell[:-1]
    zmin[sorted_cell[first]] = z[order][first]
    return zmin


def remove_ground(xyz, cfg: GroundConfig, max_range_m: float, xp: ModuleType = np) -> GroundResult:
    """Classify ``xyz`` (N,3, base_link, z up) into ground / non-ground and return heights above ground."""
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2].astype(xp.float32)
    n_sectors = int(math.ceil(360.0 / cfg.sector_deg))
    n_bins = int(math.ceil(max_range_m / cfg.bin_m)) + 1
    r = xp.sqrt(x * x + y * y)
    sector = ((xp.arctan2(y, x) + math.pi) / math.radians(cfg.sector_deg)).astype(xp.int64) % n_sectors
    rbin = xp.minimum((r / cfg.bin_m).astype(xp.int64), n_bins - 1)
    cell = sector * n_bins + rbin
    zmin = _cell_minimum(cell, z, n_sectors * n_bins, xp).reshape(n_sectors, n_bins)

    lo, hi = (int(v / cfg.bin_m) for v in cfg.seed_range_m)
    seed_min = zmin[:, lo : hi + 1].min(axis=1)
    seeded = xp.isfinite(seed_min)
    ground0 = float(xp.median(seed_min[seeded])) if bool(seeded.any()) else 0.0

    slope = math.tan(math.radians(cfg.max_slope_deg))
    ground = xp.full(n_sectors, ground0, dtype=xp.float32)
    # the seed level was measured from the inner edge of the seed annulus on: the slope allowance grows
    # from there, so the low flank of a car beside the ego is not taken for a ramp
    last_r = xp.full(n_sectors, cfg.seed_range_m[0], dtype=xp.float32)
    ground_cells = xp.empty((n_sectors, n_bins), dtype=xp.float32)
    for b in range(n_bins):
        rc = (b + 0.5) * cfg.bin_m
        zc = zmin[:, b]
        allowed = slope * xp.minimum(rc - last_r, _MAX_GAP_M) + cfg.step_tolerance_m
        ok = xp.abs(zc - ground) <= allowed  # False for empty cells (inf)
        ground = xp.where(ok, zc, ground)
        last_r = xp.where(ok, xp.float32(rc), last_r)
        ground_cells[:, b] = ground
    height = z - ground_cells.reshape(-1)[cell]
    return GroundResult(is_ground=height < cfg.point_tolerance_m, height=height)
