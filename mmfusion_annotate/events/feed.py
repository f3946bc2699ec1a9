"""From the core's sensor samples and pre-labels to the tagger's observations.

``SampleFeed`` turns the time-ordered ``SensorSample`` stream (live from the nodes, or replayed from a
bag) into ``EgoState`` (IMU + odometry through ``EgoEstimator``), ``Arrival`` (every camera, LiDAR and
radar message) and ``AlignmentFrame`` (each camera image paired with the latest LiDAR sweep, for the
sync/calibration checks, every ``alignment_every``-th image of the cameras in ``alignment_cameras``).
``track_frame`` / ``review_counts`` adapt one ``PrelabelResult``. Only this module knows the payload keys.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mmfusion_annotate.events.config import EventRules
from mmfusion_annotate.events.ego import EgoEstimator
from mmfusion_annotate.events.model import (
    AlignmentFrame,
    Arrival,
    Observation,
    ReviewCounts,
    TrackedObject,
    TrackFrame,
)
from mmfusion_annotate.types import SensorSample


class SampleFeed:
    """Stateful adapter for one rig; ``feed(sample)`` returns the observations that sample yields."""

    def __init__(self, rig: object, rules: EventRules, *, alignment_cameras: Iterable[str] = (),
                 alignment_every: int = 1) -> None:
        self._rig = rig
        self._kind = {name: s.kind for name, s in rig.sensors.items()}  # type: ignore[attr-defined]
        imus = [n for n, k in self._kind.items() if k == "imu"]
        R_base_imu = rig.sensor_to_base(imus[0])[:3, :3] if imus else None  # type: ignore[attr-defined]
        self._ego = EgoEstimator(rules.ego_filter, R_base_imu)
        self._twist = (np.zeros(2), 0.0)
        self._sweep: tuple[SensorSample, np.ndarray | None] | None = None
        self._cameras = set(alignment_cameras)
        self._every = max(1, int(alignment_every))
        self._count: dict[str, int] = {}

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
            self._sweep = (sample, None)  # moved to base_link when an image first needs it
        elif kind == "camera" and sample.sensor in self._cameras and self._sweep is not None:
            n = self._count[sample.sensor] = self._count.get(sample.sensor, -1) + 1
            if n % self._every == 0:
                out.append(self._alignment(sample))
        return out

    def _alignment(self, image: SensorSample) -> AlignmentFrame:
        sweep, points = self._sweep  # type: ignore[misc]
        T = self._rig.sensor_to_base(sweep.sensor)  # type: ignore[attr-defined]
        if points is None:  # once per sweep: every camera shares the array (and so its depth edges)
            points = np.asarray(sweep.payload["xyz"], dtype=np.float64) @ T[:3, :3].T + T[:3, 3]
            self._sweep = (sweep, points)
        origin = T[:3, 3].copy()
        sensor = self._rig.sensor(image.sensor)  # type: ignore[attr-defined]
        T_cam_base = np.linalg.inv(self._rig.sensor_to_base(image.sensor))  # type: ignore[attr-defined]
        velocity, yaw_rate = self._twist
        return AlignmentFrame(
            stamp=image.stamp, camera=image.sensor, image=image.payload["image"], model=sensor.camera,
            T_cam_base=T_cam_base, points_base=points, point_stamps=sweep.payload["t_ns"],
            ring=sweep.payload["ring"], lidar_origin=tuple(origin), ego_velocity=(velocity[0], velocity[1]),
            yaw_rate=yaw_rate,
        )


def track_frame(result: object) -> TrackFrame:
    """The cuboids of confirmed tracks in one ``prelabel.PrelabelResult``.

    Cuboids are in ``base_link`` at the sweep stamp with the tracker's velocity in base_link axes (the
    tracks themselves live in the world frame), so they are what the rules read.
    """
    confirmed = {t.object_id for t in result.tracks if t.confirmed}  # type: ignore[attr-defined]
    objects = tuple(
        TrackedObject(c.object_id, str(c.label.value), (c.center[0], c.center[1]), tuple(c.velocity),
                      (c.size[0], c.size[1]), c.radial_velocity)
        for c in result.cuboids if c.object_id in confirmed  # type: ignore[attr-defined]
    )
    return TrackFrame(result.stamp, objects)  # type: ignore[attr-defined]


def review_counts(result: object) -> ReviewCounts:
    """Review items and labelled objects of one ``PrelabelResult``."""
    return ReviewCounts(result.stamp, len(result.review_items), len(result.cuboids))  # type: ignore[attr-defined]
