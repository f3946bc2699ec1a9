"""Multi-object tracker: constant-velocity Kalman filter per object, Hungarian assignment, hysteresis.

Tracks live in a fixed frame (``odom``/world when the ego pose is known, so parked cars stand still;
``base_link`` otherwise). A track is *confirmed* after ``birth_hits`` hits and retired after
``retire_misses`` consecutive misses, so one spurious cluster neither creates nor kills an object. Ids
are never reused. Heading follows the smoothed velocity above ``heading_speed_mps`` and the box
axis (resolved against the previous heading) below it; the class is a vote that changes only after
``class_flip_votes`` consecutive frames disagree, and every change is reported as a class flip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from mmfusion_annotate.prelabel.config import TrackerConfig
from mmfusion_annotate.prelabel.model import ObjectClass

_UNASSIGNED_COST = 1e6


@dataclass(frozen=True)
class Measurement:
    """One detection as the tracker sees it: centre and box axis in the tracking frame, and its class.

    A partly seen object's centre depends on the class its box was completed with (a car's rear face
    grows 4.5 m away from the sensor, a cyclist's 1.8 m); ``by_class`` gives the centre for other
    classes, and a track is compared with (and updated by) the centre for *its* class, so a class guess
    that flickers for one frame moves neither the track nor its id.
    """

    xy: tuple[float, float]
    yaw: float
    label: ObjectClass
    by_class: tuple[tuple[ObjectClass, tuple[float, float]], ...] = ()

    def centre_for(self, label: ObjectClass) -> tuple[float, float]:
        for cls, xy in self.by_class:
            if cls is label:
                return xy
        return self.xy


@dataclass
class _TrackState:
    object_id: int
    x: np.ndarray  # [x, y, vx, vy]
    P: np.ndarray
    label: ObjectClass
    heading: float
    hits: int = 1
    misses: int = 0
    age: int = 1
    confirmed: bool = False
    pending_label: ObjectClass | None = None
    pending_votes: int = 0


@dataclass(frozen=True)
class TrackUpdate:
    """Result of one step: track id per measurement, and the class flips that happened."""

    ids: tuple[int, ...]
    class_flips: tuple[tuple[int, ObjectClass, ObjectClass], ...]
    retired: tuple[int, ...]


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _closest_axis(axis_yaw: float, reference: float) -> float:
    """``axis_yaw`` or ``axis_yaw + pi``, whichever is nearer ``reference`` (a box has no known front)."""
    a = _wrap(axis_yaw)
    b = _wrap(axis_yaw + math.pi)
    return a if abs(_wrap(a - reference)) <= abs(_wrap(b - reference)) else b


class Tracker:
    """Deterministic: the same measurement sequence always gives the same ids."""

    def __init__(self, cfg: TrackerConfig) -> None:
        self.cfg = cfg
        self._tracks: list[_TrackState] = []
        self._next_id = 1
        self._last_t: float | None = None

    @property
    def tracks(self) -> list[_TrackState]:
        return list(self._tracks)

    def _predict(self, dt: float) -> None:
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt
        q = self.cfg.process_noise**2
        G = np.array([[dt * dt / 2, 0], [0, dt * dt / 2], [dt, 0], [0, dt]])
        Q = G @ G.T * q
        for t in self._tracks:
            t.x = F @ t.x
            t.P = F @ t.P @ F.T + Q

    def predicted(self, t_s: float) -> list[tuple[ObjectClass, np.ndarray, np.ndarray, int]]:
        """(label, position, velocity, hits) of every track predicted to ``t_s``; changes nothing."""
        dt = 0.0 if self._last_t is None else max(t_s - self._last_t, 0.0)
        return [(t.label, t.x[:2] + dt * t.x[2:], t.x[2:].copy(), t.hits) for t in self._tracks]

    def step(self, t_s: float, measurements: list[Measurement]) -> TrackUpdate:
        """Predict all tracks to ``t_s``, assign measurements, update, give birth and retire."""
        dt = 0.0 if self._last_t is None else max(t_s - self._last_t, 0.0)
        self._last_t = t_s
        self._predict(dt)
        n, m = len(self._tracks), len(measurements)
        assigned = np.full(m, -1)
        if n and m:
            pred = np.array([t.x[:2] for t in self._tracks])
            meas = np.array([[mm.centre_for(t.label) for mm in measurements] for t in self._tracks])
            dist = np.linalg.norm(pred[:, None, :] - meas, axis=2)
            cost = np.where(dist <= self.cfg.gate_m, dist, _UNASSIGNED_COST)
            rows, cols = linear_sum_assignment(cost)
            for matched, c in zip(rows, cols, strict=True):
                if cost[matched, c] < _UNASSIGNED_COST:
                    assigned[c] = matched
        hit = np.zeros(n, dtype=bool)
        flips = []
        R = np.eye(2) * self.cfg.measurement_noise_m**2
        H = np.eye(2, 4)
        for j, mm in enumerate(measurements):
            row = assigned[j]
            if row < 0:
                continue
            t = self._tracks[row]
            hit[row] = True
            S = H @ t.P @ H.T + R
            K = t.P @ H.T @ np.linalg.inv(S)
            t.x = t.x + K @ (np.asarray(mm.centre_for(t.label)) - H @ t.x)
            t.P = (np.eye(4) - K @ H) @ t.P
            t.hits += 1
            t.age += 1
            t.misses = 0
            t.confirmed = t.confirmed or t.hits >= self.cfg.birth_hits
            speed = float(np.hypot(t.x[2], t.x[3]))
            if speed >= self.cfg.heading_speed_mps and t.hits >= 3:
                t.heading = _closest_axis(mm.yaw, math.atan2(t.x[3], t.x[2]))
            else:
                t.heading = _closest_axis(mm.yaw, t.heading)
            flip = self._vote(t, mm.label)
            if flip is not None:
                flips.append(flip)
        row_ids = [t.object_id for t in self._tracks]
        retired = []
        for r, t in enumerate(self._tracks):
            if not hit[r]:
                t.misses += 1
                t.age += 1
        keep = []
        for t in self._tracks:
            limit = self.cfg.retire_misses if t.confirmed else 1
            (retired.append(t.object_id) if t.misses >= limit else keep.append(t))
        self._tracks = keep
        ids = [
            row_ids[assigned[j]] if assigned[j] >= 0 else self._birth(mm) for j, mm in enumerate(measurements)
        ]
        return TrackUpdate(tuple(ids), tuple(flips), tuple(retired))

    def _birth(self, mm: Measurement) -> int:
        P = np.diag([self.cfg.measurement_noise_m**2] * 2 + [10.0**2] * 2)
        t = _TrackState(self._next_id, np.array([mm.xy[0], mm.xy[1], 0.0, 0.0]), P, mm.label, _wrap(mm.yaw))
        t.confirmed = self.cfg.birth_hits <= 1
        self._next_id += 1
        self._tracks.append(t)
        return t.object_id

    def _vote(self, t: _TrackState, label: ObjectClass) -> tuple[int, ObjectClass, ObjectClass] | None:
        if label is t.label:
            t.pending_label, t.pending_votes = None, 0
            return None
        if label is t.pending_label:
            t.pending_votes += 1
        else:
            t.pending_label, t.pending_votes = label, 1
        if t.pending_votes >= self.cfg.class_flip_votes or t.hits <= self.cfg.class_flip_votes:
            old = t.label
            t.label, t.pending_label, t.pending_votes = label, None, 0
            return (t.object_id, old, label) if t.confirmed else None
        return None
