"""When each sensor measures: free-running clocks with random phase and jitter, or cameras triggered
as the LiDAR beam sweeps past them.

The schedule is decided up front from the seed, so the whole drive's timing (and the faults that
bend it) is known before a single frame is rendered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mmfusion_annotate.sim.config import TimingConfig
from mmfusion_annotate.sim.ego import rng_for
from mmfusion_annotate.types import NS_PER_S, Stamp


@dataclass(frozen=True)
class Tick:
    """One measurement: ``true_ns`` is when it happened, ``stamp`` what its header says."""

    stamp: Stamp
    true_ns: Stamp
    sensor: str
    index: int
    order: int
    """Position of the sensor in the rig (ties between equal stamps break on it)."""


def lidar_sweep_starts(
    rate_hz: float, duration_ns: int, jitter_ms: float, seed: int, name: str
) -> np.ndarray:
    """Start times of complete sweeps inside the drive."""
    period = NS_PER_S / rate_hz
    count = int(math.floor(duration_ns / period))
    jitter = rng_for(seed, name, "clock").normal(0.0, jitter_ms * 1e6, count)
    starts = np.round(np.arange(count) * period + np.abs(jitter)).astype(np.int64)
    return starts[starts + int(period) <= duration_ns]


def free_running(
    rate_hz: float, duration_ns: int, jitter_ms: float, seed: int, name: str, phase: bool
) -> np.ndarray:
    """Measurement times of a free-running sensor: random phase (if ``phase``) plus per-frame jitter."""
    period = NS_PER_S / rate_hz
    rng = rng_for(seed, name, "clock")
    start = rng.uniform(0.0, period) if phase else 0.0
    count = int(math.floor((duration_ns - start) / period)) + 1
    times = start + np.arange(count) * period + rng.normal(0.0, jitter_ms * 1e6, count)
    times = np.round(times).astype(np.int64)
    return np.sort(times[(times >= 0) & (times < duration_ns)])


def triggered(
    sweep_starts: np.ndarray, sweep_ns: int, fraction: float, jitter_ms: float, seed: int, name: str
):
    """Camera times when the LiDAR beam passes the camera's azimuth (``fraction`` of the sweep)."""
    rng = rng_for(seed, name, "clock")
    times = (
        sweep_starts
        + round(fraction * sweep_ns)
        + np.round(rng.normal(0.0, jitter_ms * 1e6, len(sweep_starts)))
    )
    return times.astype(np.int64)


def sweep_fraction_at(azimuth_lidar: float, timing: TimingConfig) -> float:
    """Fraction of a clockwise sweep at which the beam points at ``azimuth_lidar`` (radians)."""
    start = math.radians(timing.lidar_start_azimuth_deg)
    return ((start - azimuth_lidar) % (2 * math.pi)) / (2 * math.pi)
