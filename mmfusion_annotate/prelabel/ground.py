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
from numba import njit

from mmfusion_annotate.prelabel.config import GroundConfig
from mmfusion_annotate.xp import array_module

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
    cell, z, zmin = polar_cells(xyz, cfg, max_range_m, xp)
    lo, hi = (int(v / cfg.bin_m) for v in cfg.seed_range_m)
    seed_min = zmin[:, lo : hi + 1].min(axis=1)
    seeded = xp.isfinite(seed_min)
    ground0 = float(xp.median(seed_min[seeded])) if bool(seeded.any()) else 0.0
    walk = _walk_bins_kernel if xp is np else _walk_bins
    ground_cells = walk(zmin, *walk_parameters(cfg, ground0))
    height = z - ground_cells.reshape(-1)[cell]
    return GroundResult(is_ground=height < cfg.point_tolerance_m, height=height)


def polar_cells(xyz, cfg: GroundConfig, max_range_m: float, xp: ModuleType = np):
    """(cell of each point, its z as float32, lowest z per cell as a (sectors, bins) grid: inf if empty)."""
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2].astype(xp.float32)
    n_sectors = int(math.ceil(360.0 / cfg.sector_deg))
    n_bins = int(math.ceil(max_range_m / cfg.bin_m)) + 1
    r = xp.sqrt(x * x + y * y)
    sector = ((xp.arctan2(y, x) + math.pi) / math.radians(cfg.sector_deg)).astype(xp.int64) % n_sectors
    rbin = xp.minimum((r / cfg.bin_m).astype(xp.int64), n_bins - 1)
    cell = sector * n_bins + rbin
    return cell, z, _cell_minimum(cell, z, n_sectors * n_bins, xp).reshape(n_sectors, n_bins)


def walk_parameters(cfg: GroundConfig, ground0: float) -> tuple[float, float, float, float, float]:
    """The arguments after ``zmin`` of both bin walks: seed level and radius, slope, step, bin size."""
    slope = math.tan(math.radians(cfg.max_slope_deg))
    return ground0, cfg.seed_range_m[0], slope, cfg.step_tolerance_m, cfg.bin_m


def _walk_bins(zmin, ground0: float, seed_r0: float, slope: float, step: float, bin_m: float):
    """Ground height per (sector, bin): every sector walked outward at once, one bin per step (CuPy).

    The seed level was measured from the inner edge of the seed annulus (``seed_r0``) on: the slope
    allowance grows from there, so the low flank of a car beside the ego is not taken for a ramp.
    """
    xp = array_module(zmin)
    n_sectors, n_bins = zmin.shape
    ground = xp.full(n_sectors, ground0, dtype=xp.float32)
    last_r = xp.full(n_sectors, seed_r0, dtype=xp.float32)
    ground_cells = xp.empty((n_sectors, n_bins), dtype=xp.float32)
    for b in range(n_bins):
        rc = (b + 0.5) * bin_m
        zc = zmin[:, b]
        allowed = slope * xp.minimum(rc - last_r, _MAX_GAP_M) + step
        ok = xp.abs(zc - ground) <= allowed  # False for empty cells (inf)
        ground = xp.where(ok, zc, ground)
        last_r = xp.where(ok, xp.float32(rc), last_r)
        ground_cells[:, b] = ground
    return ground_cells


@njit(cache=True, nogil=True)
def _walk_bins_kernel(zmin, ground0, seed_r0, slope, step, bin_m):  # pragma: no cover - compiled
    """``_walk_bins`` on the CPU, one sector at a time: the same float32 arithmetic in the same order
    (Python floats meet float32 arrays as float32 there), without the several numpy calls per bin that
    made most of ``remove_ground``'s time (figures: bench/RESULTS.md, docstring figures)."""
    n_sectors, n_bins = zmin.shape
    ground_cells = np.empty((n_sectors, n_bins), dtype=np.float32)
    slope32, step32, gap32 = np.float32(slope), np.float32(step), np.float32(_MAX_GAP_M)
    for s in range(n_sectors):
        ground = np.float32(ground0)
        last_r = np.float32(seed_r0)
        for b in range(n_bins):
            rc = np.float32((b + 0.5) * bin_m)
            zc = zmin[s, b]
            allowed = slope32 * min(rc - last_r, gap32) + step32
            if abs(zc - ground) <= allowed:  # False for empty cells (inf)
                ground = zc
                last_r = rc
            ground_cells[s, b] = ground
    return ground_cells


ROAD_SAMPLE_STEP = 4


@dataclass(frozen=True)
class RoadMap:
    """The road's height on a coarse grid: the lowest ground return of each ``cell_m`` cell, for telling
    the ground an object stands on from returns the ground filter took for ground on the object itself
    (the visible bottom of a pole behind a parked car)."""

    origin: tuple[float, float]
    cell_m: float
    lowest: np.ndarray
    """(nx, ny) lowest ground z per cell, NaN where no ground was seen."""

    @classmethod
    def of(cls, xyz: np.ndarray, is_ground: np.ndarray, cell_m: float) -> RoadMap:
        # every ROAD_SAMPLE_STEP-th ground return is plenty for cells of metres; the lowest per cell by
        # numpy's unbuffered minimum.at, one column at a time (reductions along the short axis of an
        # (N, 2) array and a sort of the cell indices cost several times more)
        g = np.asarray(xyz)[np.flatnonzero(np.asarray(is_ground))[::ROAD_SAMPLE_STEP]]
        if g.shape[0] == 0:
            return cls((0.0, 0.0), cell_m, np.full((1, 1), np.nan))
        x, y = g[:, 0], g[:, 1]
        lo = (x.min(), y.min())
        i = ((x - lo[0]) / cell_m).astype(np.int64)
        j = ((y - lo[1]) / cell_m).astype(np.int64)
        shape = (int(i.max()) + 1, int(j.max()) + 1)
        lowest = np.full(shape[0] * shape[1], np.inf)
        np.minimum.at(lowest, i * shape[1] + j, g[:, 2].astype(np.float64))
        lowest[lowest == np.inf] = np.nan  # no ground seen (a ground return is finite: its height is)
        return cls((float(lo[0]), float(lo[1])), cell_m, lowest.reshape(shape))

    def height_near(self, x: float, y: float) -> float:
        """Median of the lowest ground of the 3 x 3 cells around (x, y), NaN where none was seen (one
        low cell, a drain or a ditch, does not pull it down)."""
        i = int((x - self.origin[0]) // self.cell_m)
        j = int((y - self.origin[1]) // self.cell_m)
        nx, ny = self.lowest.shape
        block = self.lowest[max(i - 1, 0) : max(min(i + 2, nx), 0), max(j - 1, 0) : max(min(j + 2, ny), 0)]
        # at most nine values: Python's sort and float arithmetic give np.median's result without its
        # per-call overhead (the mean of the middle two is the same (a + b) / 2 in float64)
        seen = sorted(v for v in block.ravel().tolist() if math.isfinite(v))
        if not seen:
            return math.nan
        mid = len(seen) // 2
        return seen[mid] if len(seen) % 2 else (seen[mid - 1] + seen[mid]) / 2
