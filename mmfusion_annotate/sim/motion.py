"""Planar trajectories from manoeuvres, sampled on a fine uniform grid and interpolated.

One model drives the ego and every actor: a longitudinal speed profile (piecewise-constant
acceleration), lateral offsets (raised-cosine lane changes) and yaw-rate segments (turns). Sampling
at 1 ms and interpolating linearly keeps queries for thousands of LiDAR columns cheap and exact to
well below a millimetre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mmfusion_annotate.sim.scenario import LaneChange, MotionSpec, SpeedChange, Turn
from mmfusion_annotate.types import NS_PER_S

GRID_STEP_NS = 1_000_000
_HEADING_MIN_SPEED = 0.3


def _speed_breakpoints(spec: MotionSpec, end_s: float) -> tuple[list[float], list[float]]:
    """(t, v) breakpoints of the piecewise-linear speed profile; a later manoeuvre overrides an earlier."""
    changes = sorted((m for m in spec.maneuvers if isinstance(m, SpeedChange)), key=lambda m: m.t_s)
    times, speeds = [0.0], [spec.speed_mps]
    for i, change in enumerate(changes):
        v0 = float(np.interp(change.t_s, times, speeds))  # constant after the last breakpoint
        times.append(change.t_s)
        speeds.append(v0)
        following = changes[i + 1].t_s if i + 1 < len(changes) else math.inf
        t_end = min(change.t_s + max((change.target_speed_mps - v0) / change.accel_mps2, 0.0), following)
        if t_end > change.t_s:  # a later manoeuvre cuts an unfinished one short
            times.append(t_end)
            speeds.append(v0 + change.accel_mps2 * (t_end - change.t_s))
    times.append(max(end_s, times[-1]) + 1.0)
    speeds.append(speeds[-1])
    return times, speeds


def _lateral(spec: MotionSpec, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lateral offset and its rate for all lane changes."""
    offset = np.zeros_like(t)
    rate = np.zeros_like(t)
    for m in spec.maneuvers:
        if isinstance(m, LaneChange):
            tau = np.clip((t - m.t_s) / m.duration_s, 0.0, 1.0)
            offset += m.offset_m * (tau - np.sin(2 * np.pi * tau) / (2 * np.pi))
            inside = (t >= m.t_s) & (t <= m.t_s + m.duration_s)
            rate += np.where(inside, m.offset_m / m.duration_s * (1 - np.cos(2 * np.pi * tau)), 0.0)
    return offset, rate


def _path_yaw_rate(spec: MotionSpec, t: np.ndarray) -> np.ndarray:
    rate = np.zeros_like(t)
    for m in spec.maneuvers:
        if isinstance(m, Turn):
            rate += np.where((t >= m.t_s) & (t < m.t_s + m.duration_s), math.radians(m.yaw_rate_dps), 0.0)
    return rate


def _cumtrapz(values: np.ndarray, dt: float) -> np.ndarray:
    out = np.zeros_like(values)
    out[..., 1:] = np.cumsum((values[..., 1:] + values[..., :-1]) * (dt / 2), axis=-1)
    return out


@dataclass(frozen=True)
class TrackStates:
    """States of K tracks at M times, arrays shaped (K, M)."""

    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    yaw_rate: np.ndarray


class Tracks:
    """K planar trajectories on a common 1 ms grid from t = 0 to the end of the drive (+1 s margin)."""

    def __init__(self, specs: list[MotionSpec], duration_s: float) -> None:
        n = int(math.ceil((duration_s + 1.0) * NS_PER_S / GRID_STEP_NS)) + 1
        t = np.arange(n) * (GRID_STEP_NS / NS_PER_S)
        dt = GRID_STEP_NS / NS_PER_S
        rows: dict[str, list[np.ndarray]] = {
            k: [] for k in ("x", "y", "yaw", "vx", "vy", "yaw_rate", "ax", "ay")
        }
        for spec in specs:
            bt, bv = _speed_breakpoints(spec, duration_s)
            v_long = np.interp(t, bt, bv)
            lat, lat_rate = _lateral(spec, t)
            path_yaw = math.radians(spec.start.yaw_deg) + _cumtrapz(_path_yaw_rate(spec, t), dt)
            c, s = np.cos(path_yaw), np.sin(path_yaw)
            vx = v_long * c - lat_rate * s
            vy = v_long * s + lat_rate * c
            x = spec.start.x_m + _cumtrapz(vx, dt)
            y = spec.start.y_m + _cumtrapz(vy, dt)
            slip = np.where(v_long > _HEADING_MIN_SPEED, np.arctan2(lat_rate, np.maximum(v_long, 1e-9)), 0.0)
            yaw = path_yaw + slip
            rows["x"].append(x)
            rows["y"].append(y)
            rows["yaw"].append(yaw)
            rows["vx"].append(vx)
            rows["vy"].append(vy)
            rows["yaw_rate"].append(np.gradient(yaw, dt))
            rows["ax"].append(np.gradient(vx, dt))
            rows["ay"].append(np.gradient(vy, dt))
        self._grid = {k: np.array(v).reshape(len(specs), n) for k, v in rows.items()}
        self.count = len(specs)

    def _weights(self, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.asarray(t_ns, dtype=np.int64)
        last = self._grid["x"].shape[1] - 2
        idx = np.clip(pos // GRID_STEP_NS, 0, last)
        frac = np.clip((pos - idx * GRID_STEP_NS) / GRID_STEP_NS, 0.0, 1.0)
        return idx, frac

    def _at(self, key: str, idx: np.ndarray, frac: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
        g = self._grid[key]
        r = rows if isinstance(rows, slice) else np.asarray(rows)[:, None]  # never copy whole tracks
        return g[r, idx] * (1.0 - frac) + g[r, idx + 1] * frac

    def states(self, t_ns: np.ndarray, rows: np.ndarray | slice = slice(None)) -> TrackStates:
        """States of the selected tracks at the given times (int ns), each (K, M)."""
        idx, frac = self._weights(np.atleast_1d(t_ns))
        return TrackStates(*(self._at(k, idx, frac, rows) for k in ("x", "y", "yaw", "vx", "vy", "yaw_rate")))

    def acceleration(
        self, t_ns: np.ndarray, rows: np.ndarray | slice = slice(None)
    ) -> tuple[np.ndarray, np.ndarray]:
        """World-frame acceleration (ax, ay), each (K, M)."""
        idx, frac = self._weights(np.atleast_1d(t_ns))
        return self._at("ax", idx, frac, rows), self._at("ay", idx, frac, rows)
