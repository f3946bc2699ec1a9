"""Clustering of non-ground points: connected components of a bird's-eye-view occupancy grid.

Chosen over Open3D DBSCAN by measurement (``bench/bench_prelabel.py``): on a 64-beam sweep the grid
labelling takes a few milliseconds, DBSCAN tens to hundreds, with the same objects found. 8-connected
cells of ``cell_m`` bridge gaps up to about 1.5 cells, which keeps the sparse sides of distant cars
together while pedestrians half a metre apart stay separate.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from mmfusion_annotate.prelabel.config import ClusterConfig


def _ndimage(xp: ModuleType):
    if xp is np:
        import scipy.ndimage as ndimage  # noqa: PLC0415

        return ndimage
    import cupyx.scipy.ndimage as ndimage  # noqa: PLC0415

    return ndimage


def cluster_points(xyz, height, cfg: ClusterConfig, xp: ModuleType = np):
    """Cluster label per point (0..K-1), -1 for ground, too high/low, out-of-range or tiny clusters."""
    x, y = xyz[:, 0], xyz[:, 1]
    r2 = x * x + y * y
    keep = (
        (height >= cfg.min_height_m)
        & (height <= cfg.max_height_m)
        & (r2 <= cfg.max_range_m**2)
        & (r2 >= cfg.min_range_m**2)
    )
    labels = xp.full(xyz.shape[0], -1, dtype=xp.int64)
    idx = xp.nonzero(keep)[0]
    if idx.shape[0] == 0:
        return labels
    n = int(np.ceil(2 * cfg.max_range_m / cfg.cell_m)) + 1
    ix = ((x[idx] + cfg.max_range_m) / cfg.cell_m).astype(xp.int64)
    iy = ((y[idx] + cfg.max_range_m) / cfg.cell_m).astype(xp.int64)
    occupied = xp.zeros((n, n), dtype=bool)
    occupied[ix, iy] = True
    grid, _ = _ndimage(xp).label(occupied, structure=np.ones((3, 3), dtype=bool))
    point_label = grid[ix, iy] - 1
    counts = xp.bincount(point_label)
    big = counts >= cfg.min_points
    remap = xp.cumsum(big) - 1
    labels[idx] = xp.where(big[point_label], remap[point_label], -1)
    return labels
