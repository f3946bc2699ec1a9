"""From the core's sensor samples and pre-labels to the tagger's observations.

``SampleFeed`` turns the time-ordered ``SensorSample`` stream (live from the nodes, or replayed from a
bag) into ``EgoKinematics`` (IMU + odometry through ``EgoEstimator``), ``Arrival`` (every camera, LiDAR and
radar message) and ``AlignmentFrame`` (a camera image paired with the LiDAR sweep that covers its stamp,
for the sync/calibration checks, on every ``alignment_every``-th image of the cameras in
``alignment_cameras``, counted from each camera's first image).

The pairing depends on stamps, not on arrival order. A sweep is published at its end, after the images
taken during it: pairing an image with the latest sweep *received* put up to two sweep periods between
image and points, which the motion compensation turned into a biased offset estimate that changed with
arrival timing (a false ``sync_drift`` in a fault-free ``mmfusion demo`` run; figures in
bench/RESULTS.md, docstring figures). So a picked image waits (at most ``PENDING_IMAGES`` of them)
for the sweep whose ``[stamp, stamp + period)`` holds its stamp; if a later sweep arrives first (the
covering one was lost), it pairs with the latest earlier sweep within two periods, or is skipped.
``track_frame`` / ``review_counts`` / ``box_offsets`` adapt one ``PrelabelResult``. Only this module knows
the payload keys.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.events.config import EventRules
from mmfusion_annotate.events.ego import EgoEstimator
from mmfusion_annotate.events.model import (
    AlignmentFrame,
    Arrival,
    BoxOffsets,
    Observation,
    ReviewCounts,
    TrackedObject,
    TrackFrame,
)
from mmfusion_annotate.prelabel.review import SENSOR_DISAGREEMENTS
from mmfusion_annotate.types import NS_PER_S, SensorSample

if TYPE_CHECKING:
    from mmfusion_annotate.prelabel.model import PrelabelResult
    from mmfusion_annotate.rig import Rig

_log = logging.getLogger(__name__)
PENDING_IMAGES = 16
"""Picked images waiting for their covering sweep at most (the oldest is skipped beyond it)."""
SWEEPS_KEPT = 3
"""Received sweeps an image may still be paired with."""


class _Sweep:
    """A received sweep and, once an image needs it, its points in base_link (shared by every camera)."""

    def __init__(self, sample: SensorSample) -> None:
        self.sample = sample
        self.points: np.ndarray | None = None


class SampleFeed:
    """Stateful adapter for one rig; ``feed(sample)`` returns the observations that sample yields."""

    def __init__(self, rig: Rig, rules: EventRules, *, alignment_cameras: Iterable[str] = (),
                 alignment_every: int = 1) -> None:
        self._rig = rig
        self._kind = {name: s.kind for name, s in rig.sensors.items()}
        imus = [n for n, k in self._kind.items() if k == "imu"]
        R_base_imu = rig.sensor_to_base(imus[0])[:3, :3] if imus else None
        self._ego = EgoEstimator(rules.ego_filter, R_base_imu)
        self._twist = (np.zeros(2), 0.0)
        self._cameras = set(alignment_cameras)
        self._every = max(1, int(alignment_every))
        self._sweep_period = {s.name: int(NS_PER_S / s.rate_hz) for s in rig.lidars()}
        self._sweeps: deque[_Sweep] = deque(maxlen=SWEEPS_KEPT)
        self._pending: deque[SensorSample] = deque(maxlen=PENDING_IMAGES)  # beyond it the oldest goes
        self._count: dict[str, int] = {}
        self.undecodable = 0
        """Edge-check images whose (lazily decoded) pixels turned out corrupt; they are skipped."""

    def feed(self, sample: SensorSample) -> list[Observation]:
        kind = self._kind.get(sample.sensor)
        p = sample.payload
        if kind == "odometry":
            self._ego.update_odometry(p["linear_velocity"])
            linear = np.asarray(p["linear_velocity"], dtype=np.float64)
            self._twist = (linear[:2], float(p["angular_velocity"][2]))
            return []
        if kind == "imu":
            return [self._ego.update_imu(sample.stamp, p["accel"], p["gyro"])]
        if kind not in ("camera", "lidar", "radar"):
            return []
        out: list[Observation] = [Arrival(sample.sensor, sample.stamp)]
        if kind == "lidar":
            self._sweeps.append(_Sweep(sample))  # moved to base_link when an image first needs it
        elif kind == "camera" and self._picked(sample):
            self._pending.append(sample)
        else:
            return out  # nothing a waiting image depends on changed
        return out + self._paired()

    def _picked(self, image: SensorSample) -> bool:
        """Every ``alignment_every``-th image of an edge-check camera, counted from its first one."""
        if image.sensor not in self._cameras:
            return False
        n = self._count[image.sensor] = self._count.get(image.sensor, -1) + 1
        return n % self._every == 0

    def _paired(self) -> list[AlignmentFrame]:
        """The waiting images whose sweep is now known, in arrival order (the rest keep waiting)."""
        frames: list[AlignmentFrame] = []
        waiting: deque[SensorSample] = deque(maxlen=PENDING_IMAGES)
        for image in self._pending:
            sweep = self._sweep_for(image)
            if sweep is None:
                waiting.append(image)
            elif sweep is not False:
                try:
                    frames.append(self._alignment(image, sweep))
                except CodecError as exc:  # a corrupt image: skipped and counted, the stream goes on
                    self.undecodable += 1
                    _log.warning("edge check: %s", exc)
        self._pending = waiting
        return frames

    def _sweep_for(self, image: SensorSample) -> _Sweep | None | Literal[False]:
        """The sweep covering the image's stamp; None: wait for it; False: it will not come (skip)."""
        if not self._sweeps:
            return None
        period = self._sweep_period[self._sweeps[-1].sample.sensor]
        earlier = [s for s in self._sweeps if s.sample.stamp <= image.stamp]
        if earlier and image.stamp - earlier[-1].sample.stamp < period:
            return earlier[-1]
        if self._sweeps[-1].sample.stamp <= image.stamp:
            return None  # the covering sweep is still being captured (published at its end)
        if earlier and image.stamp - earlier[-1].sample.stamp < 2 * period:
            return earlier[-1]  # the covering sweep was lost: the one before it
        return False

    def _alignment(self, image: SensorSample, entry: _Sweep) -> AlignmentFrame:
        sweep = entry.sample
        T = self._rig.sensor_to_base(sweep.sensor)
        if entry.points is None:  # once per sweep: every camera shares the array (and so its depth edges)
            entry.points = np.asarray(sweep.payload["xyz"], dtype=np.float64) @ T[:3, :3].T + T[:3, 3]
        points = entry.points
        origin = T[:3, 3].copy()
        sensor = self._rig.sensor(image.sensor)
        T_cam_base = np.linalg.inv(self._rig.sensor_to_base(image.sensor))
        velocity, yaw_rate = self._twist
        return AlignmentFrame(
            stamp=image.stamp, camera=image.sensor, image=image.payload["image"], model=sensor.camera_model,
            T_cam_base=T_cam_base, points_base=points, point_stamps=sweep.payload["t_ns"],
            ring=sweep.payload["ring"], lidar_origin=tuple(origin), ego_velocity=(velocity[0], velocity[1]),
            yaw_rate=yaw_rate,
        )


def track_frame(result: PrelabelResult) -> TrackFrame:
    """The cuboids of confirmed tracks in one ``prelabel.PrelabelResult``.

    Cuboids are in ``base_link`` at the sweep stamp with the tracker's velocity in base_link axes (the
    tracks themselves live in the world frame), so they are what the rules read.
    """
    confirmed = {t.object_id for t in result.tracks if t.confirmed}
    objects = tuple(
        TrackedObject(c.object_id, str(c.label.value), (c.center[0], c.center[1]), c.velocity,
                      (c.size[0], c.size[1]), c.radial_velocity,
                      c.provenance.confidence)
        for c in result.cuboids if c.object_id in confirmed
    )
    return TrackFrame(result.stamp, objects)


def review_counts(result: PrelabelResult) -> ReviewCounts:
    """Camera-LiDAR disagreements (``prelabel.review.SENSOR_DISAGREEMENTS``) and labelled objects of one
    ``PrelabelResult``: the review items a sensor fault multiplies, not those a clean drive has too."""
    items = [i for i in result.review_items if i.reason in SENSOR_DISAGREEMENTS]
    in_view: dict[str, set[int]] = {}
    for box in result.boxes2d:
        if box.object_id >= 0:
            in_view.setdefault(box.camera, set()).add(box.object_id)
    cameras = tuple((cam, sum(i.camera == cam for i in items), len(ids))
                    for cam, ids in sorted(in_view.items()))
    return ReviewCounts(result.stamp, len(items), len(result.cuboids), cameras)


def box_offsets(result: PrelabelResult, rig: Rig) -> list[BoxOffsets]:
    """Per camera with 2D boxes in one ``PrelabelResult``: the located ones' track ids, speeds over ground,
    offsets and image velocities (``prelabel.model.Box2D``), with the camera's focal lengths from ``rig``."""
    speed = {c.object_id: math.hypot(*c.velocity) for c in result.cuboids}
    located: dict[str, list[tuple[int, float, float, float, float, float]]] = {}
    for box in result.boxes2d:
        if box.object_id < 0:
            continue  # a camera-only detection: no cuboid to be off from
        rows = located.setdefault(box.camera, [])
        if box.image_offset is not None and box.image_velocity is not None:
            rows.append((box.object_id, speed.get(box.object_id, math.inf), *box.image_offset,
                         *box.image_velocity))
    out = []
    for camera, rows in sorted(located.items()):
        K = rig.sensor(camera).camera_model.K
        out.append(BoxOffsets(result.stamp, camera, (float(K[0, 0]), float(K[1, 1])), tuple(rows)))
    return out
