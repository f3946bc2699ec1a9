"""Sync drift and calibration drift judged from the data, not the stamps.

Both read the edge-alignment score of ``alignment``:
- *sync drift*: while the vehicle moves, re-projecting the sweep with the motion compensation shifted by
  dt moves its depth edges across the image; the score over dt peaks where the camera really exposed. A
  camera whose clock runs 40 ms off is therefore found even when its stamps look perfectly regular. The
  reported ``offset_ms`` is (true exposure - stamped time): positive when the stamp is early. Driving
  forward, a pan (yaw) error of a camera also shifts edges sideways and can pose as a time offset, so dt
  is searched jointly with small pans and the offset is the peak of the profile (best pan per dt):
  time moves edges by their depth, a rotation moves them all alike, and the data choose.
- *calibration drift*: with the right extrinsic the score is a local maximum among small rotations of the
  camera (Levinson & Thrun's criterion); when a neighbour scores higher over a window of frames the
  extrinsic has moved. Only low yaw-rate frames count, and the rotations are scored at the camera's
  current time-offset estimate, so that a clock error (which moves edges while driving) does not pose
  as a rotation.
Moving objects break the static-world motion compensation; cameras that see mostly traffic and little
static structure (e.g. a rear camera at the start of a drive) give biased estimates, so the rule file
can restrict both checks to chosen cameras.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mmfusion_annotate.events.alignment import (
    alignment_scores,
    depth_edges,
    image_edge_map,
    perturbations,
    perturbations_about,
    strongest,
)
from mmfusion_annotate.events.config import EdgeConfig, EventRules
from mmfusion_annotate.events.episodes import Episode, identity
from mmfusion_annotate.events.model import AlignmentFrame, Category, Event
from mmfusion_annotate.types import Stamp, seconds_to_ns

_NEIGHBOURS = 27  # identity + the 26 neighbours of the 3x3x3 rotation grid
_SCAN_STEPS = 4


@dataclass(frozen=True)
class PreparedFrame:
    """The parts of an ``AlignmentFrame`` every hypothesis reuses: edge map and depth edges in view.

    The edge map (the costly part) is made on first use, so frames every check skips (vehicle too slow,
    turning, too few static edges in view) never pay for it.
    """

    frame: AlignmentFrame
    config: EdgeConfig
    points: np.ndarray
    dt_s: np.ndarray
    weights: np.ndarray

    @cached_property
    def edge_map(self) -> np.ndarray:
        return image_edge_map(self.frame.image, self.config)

    @property
    def speed(self) -> float:
        return float(np.hypot(*self.frame.ego_velocity))

    def scores(self, shifts_s: np.ndarray, rotations: np.ndarray) -> np.ndarray:
        f = self.frame
        return alignment_scores(self.edge_map, self.points, self.dt_s, self.weights, shifts_s, rotations,
                                f.T_cam_base, f.model, f.ego_velocity, f.yaw_rate)


def prepare(frame: AlignmentFrame, config: EdgeConfig, movers: np.ndarray | None = None,
            edges: tuple[np.ndarray, np.ndarray] | None = None) -> PreparedFrame:
    """Edge map of the image and the strongest depth edges that fall in the camera's view.

    ``movers`` (K, 3) are discs (x, y, radius in base_link) around tracked moving objects: their points
    break the static-world motion compensation, so their depth edges are left out. A frame with fewer
    than ``config.min_points`` edges left keeps no points (and is skipped by the checks). ``edges`` are the
    sweep's ``depth_edges`` when already computed for another camera.
    """
    if edges is None:
        edges = depth_edges(frame.points_base, frame.ring, np.asarray(frame.lidar_origin), config)
    idx, weights = edges
    pts = np.asarray(frame.points_base, dtype=np.float64)[idx]
    cam = pts @ frame.T_cam_base[:3, :3].T + frame.T_cam_base[:3, 3]
    _, _, valid = frame.model.project(cam, np)
    if movers is not None and len(movers):
        d2 = (pts[:, None, 0] - movers[None, :, 0]) ** 2 + (pts[:, None, 1] - movers[None, :, 1]) ** 2
        valid &= ~np.any(d2 <= movers[None, :, 2] ** 2, axis=1)
    if np.count_nonzero(valid) < config.min_points:
        valid[:] = False
    idx, weights = strongest(idx[valid], weights[valid], config.max_points)
    dt_s = (frame.stamp - np.asarray(frame.point_stamps, dtype=np.int64)[idx]) * 1e-9
    points = np.asarray(frame.points_base, dtype=np.float64)[idx]
    return PreparedFrame(frame, config, points, dt_s, weights)


def refine_peak(xs: np.ndarray, ys: np.ndarray) -> float:
    """Argmax of a sampled curve refined by the parabola through it and its neighbours."""
    i = int(np.argmax(ys))
    if 0 < i < len(ys) - 1:
        denom = ys[i - 1] - 2 * ys[i] + ys[i + 1]
        if denom < 0:
            return float(xs[i] + 0.5 * (ys[i - 1] - ys[i + 1]) / denom * (xs[1] - xs[0]))
    return float(xs[i])


class SyncDriftCheck:
    """Per camera: the time shift that best aligns LiDAR and image edges, over a sliding window."""

    def __init__(self, rules: EventRules, camera: str) -> None:
        rule = self.rule = rules.sync_drift
        self.camera = camera
        half = int(round(rule.search_ms / rule.step_ms))
        self._shifts_ms = np.arange(-half, half + 1) * rule.step_ms
        pans = np.arange(-rule.pan_steps, rule.pan_steps + 1) * rules.calibration_drift.step_deg
        self._pans = perturbations_about(1, pans)
        self._expected = rule.expected_offset_ms.get(camera, 0.0)
        self._window: deque[tuple[Stamp, np.ndarray, float, float]] = deque()  # stamp, profile, peak, tol
        self._span = seconds_to_ns(rule.window_s)
        self.offset_ms: float | None = None
        """The current windowed estimate (true exposure - stamp), once ``min_frames`` frames were seen."""
        self._episode = Episode(identity("sync_drift", Category.SENSOR_HEALTH, rules.version_of("sync_drift"),
                                         rule.min_duration_s, rule.merge_gap_s, lower_is_worse=False,
                                         severity=lambda _: rule.severity), camera, sensor=camera)

    def on_frame(self, prepared: PreparedFrame) -> list[Event]:
        stamp = prepared.frame.stamp
        if prepared.speed < self.rule.min_speed_mps or len(prepared.points) == 0:
            return []
        scores = prepared.scores(self._shifts_ms * 1e-3, self._pans)
        if scores.max() <= 0:
            return []
        scores = scores / scores.max()
        group = self.rule.frame_group - 1
        recent = [s for _, s, _, _ in list(self._window)[len(self._window) - group:]] if group else []
        own = self._peak(np.sum([*recent, scores], axis=0))
        self._window.append((stamp, scores, own, self.tolerance_ms(prepared.speed)))
        while self._window[0][0] <= stamp - self._span:
            self._window.popleft()
        offset = self._peak(np.sum([s for _, s, _, _ in self._window], axis=0))
        enough = len(self._window) >= self.rule.min_frames
        self.offset_ms = offset if enough else None
        off = float(np.mean([abs(e - self._expected) > t for _, _, e, t in self._window]))
        error = abs(offset - self._expected)
        tolerance = float(np.mean([t for *_, t in self._window]))
        bad = enough and off > self.rule.max_off_fraction and error > tolerance
        event = self._episode.step(stamp, bad, bad, error, {"offset_ms": offset, "off_fraction": off,
                                                            "frames": float(len(self._window))})
        return [event] if event is not None else []

    def tolerance_ms(self, speed_mps: float) -> float:
        """The offset (ms) an estimate at ``speed_mps`` may be off by: the rule's tolerance, or the time the
        ego takes to move ``min_shift_m`` where that is longer. Edge alignment resolves a displacement, not
        a time: a few centimetres of edge bias read as a few ms at highway speed but tens of ms in slow
        traffic."""
        return max(self.rule.tolerance_ms, 1000.0 * self.rule.min_shift_m / max(speed_mps, 1e-3))

    def _peak(self, scores: np.ndarray) -> float:
        """Offset (ms) at the peak of the profile: each time shift with its best pan."""
        return refine_peak(self._shifts_ms, scores.max(axis=1))

    def flush(self) -> list[Event]:
        event = self._episode.flush()
        return [event] if event is not None else []


class CalibrationDriftCheck:
    """Per camera: is the extrinsic still a local maximum of the edge score among small rotations?"""

    def __init__(self, rules: EventRules, camera: str) -> None:
        rule = self.rule = rules.calibration_drift
        self.camera = camera
        self._rotvecs, self._rotations = perturbations(rule.step_deg, scan_steps=_SCAN_STEPS)
        self._window: deque[np.ndarray] = deque(maxlen=rule.window_frames)
        self._episode = Episode(identity("calibration_drift", Category.SENSOR_HEALTH,
                                         rules.version_of("calibration_drift"), rule.min_duration_s,
                                         rule.merge_gap_s, lower_is_worse=False,
                                         severity=lambda _: rule.severity), camera, sensor=camera)

    def on_frame(self, prepared: PreparedFrame, offset_ms: float | None = None) -> list[Event]:
        """Score the rotations of one frame (at ``offset_ms``, the camera's estimated time offset)."""
        f = prepared.frame
        turning = abs(np.degrees(f.yaw_rate)) > self.rule.max_yaw_rate_dps
        if turning or prepared.speed < self.rule.min_speed_mps or len(prepared.points) == 0:
            return []
        shift = np.array([0.0 if offset_ms is None else offset_ms * 1e-3])
        self._window.append(prepared.scores(shift, self._rotations)[0])
        if len(self._window) < self.rule.window_frames:
            return []
        total = np.sum(self._window, axis=0)
        current, neighbours = total[0], total[1:_NEIGHBOURS]
        gain = float(neighbours.max() / current - 1.0) if current > 0 else 0.0
        bad = gain > self.rule.margin
        evidence = {"score_gain": gain, "fraction_lower": float(np.mean(neighbours < current)),
                    **self._correction(total)}
        event = self._episode.step(f.stamp, bad, bad, gain, evidence)
        return [event] if event is not None else []

    def _correction(self, total: np.ndarray) -> dict[str, float]:
        """Per optical axis, the rotation (deg) that maximises the score along that axis' scan line."""
        out = {}
        for axis, name in enumerate(("rx", "ry", "rz")):
            on_axis = np.flatnonzero(np.all(np.delete(self._rotvecs, axis, axis=1) == 0, axis=1))
            order = on_axis[np.argsort(self._rotvecs[on_axis, axis])]
            out[f"correction_{name}_deg"] = refine_peak(self._rotvecs[order, axis], total[order])
        return out

    def flush(self) -> list[Event]:
        event = self._episode.flush()
        return [event] if event is not None else []
