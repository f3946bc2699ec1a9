"""Which ends of a cluster are hidden behind something nearer: the sweep's range profile by azimuth.

Why: on a real street most parked cars are seen only in part, cut off by the car in front of them, a
tree or a post. A cluster that ends where a nearer object starts (in azimuth, seen from the sensor) does
not end there in truth: its length is only a lower bound (``classify.size_scores(occluded=True)``). A
cluster whose ends border open space or farther returns is seen whole along that direction (only its
far side is self-occluded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AZIMUTH_BIN_DEG = 0.25
"""Resolution of the range profile: about one azimuth step of a 64-beam spinning LiDAR at 10 Hz."""
LOOK_BINS = 4
"""How far beyond a cluster's azimuth end the profile is searched for an occluder (bins)."""
NEARER_M = 0.5
"""An occluder is this much nearer than the cluster's end."""

_BINS = int(round(360.0 / AZIMUTH_BIN_DEG))


@dataclass(frozen=True)
class RangeProfile:
    """Nearest obstacle range per azimuth bin around the sensor (inf where nothing was returned), with the
    bin and range of each obstacle point (-1 and inf for the other points), computed once per sweep."""

    bins: np.ndarray
    ranges: np.ndarray
    nearest: np.ndarray

    @classmethod
    def of(cls, xy: np.ndarray, obstacle: np.ndarray, sensor_xy: tuple[float, float]) -> RangeProfile:
        """Profile of a sweep's points ``xy`` (N,2, base_link) of which ``obstacle`` (N,) are above ground."""
        sensor = np.asarray(sensor_xy, dtype=xy.dtype)
        # one column at a time: a mask over the rows of an (N, 2) view copies far slower
        rx, ry = (xy[:, k][obstacle] - sensor[k] for k in range(2))
        bins = np.full(xy.shape[0], -1, np.int64)
        ranges = np.full(xy.shape[0], np.inf, np.float32)
        azimuth = np.degrees(np.arctan2(ry, rx)) % 360.0
        bins[obstacle] = (azimuth / AZIMUTH_BIN_DEG).astype(np.int64) % _BINS
        ranges[obstacle] = np.hypot(rx, ry)
        nearest = np.full(_BINS, np.inf, np.float32)
        np.minimum.at(nearest, bins[obstacle], ranges[obstacle])
        return cls(bins, ranges, nearest)

    def hidden_ends(self, order: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Per cluster k (obstacle points ``order[bounds[k]:bounds[k + 1]]``, none empty): how many of its
        two azimuth ends (0, 1, 2) border a nearer obstacle, i.e. where the object may go on unseen.
        Vectorized over the clusters."""
        sizes = np.diff(bounds)
        cluster = np.repeat(np.arange(sizes.size), sizes)
        bins = self.bins[order]
        offset = (bins - np.repeat(bins[bounds[:-1]], sizes) + _BINS // 2) % _BINS - _BINS // 2  # no wrap
        # by cluster, then offset: one stable sort of a combined key orders as lexsort does, in less time
        by_offset = np.argsort(cluster * _BINS + (offset + _BINS // 2), kind="stable")
        ends = np.stack([order[by_offset[bounds[:-1]]], order[by_offset[bounds[1:] - 1]]], axis=1)  # (K, 2)
        look = np.array([-1, 1])[:, None] * np.arange(1, LOOK_BINS + 1)  # (2, LOOK_BINS)
        beside = (self.bins[ends][:, :, None] + look) % _BINS
        hidden = (self.nearest[beside] < (self.ranges[ends] - NEARER_M)[:, :, None]).any(axis=2)
        return hidden.sum(axis=1)
