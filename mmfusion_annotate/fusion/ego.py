"""Ego motion: where base_link was at any instant around a sweep.

A spinning LiDAR needs ~100 ms per sweep and every camera exposes at its own instant, so fusion asks
"where was the vehicle at t" for thousands of instants. ``EgoMotion`` keeps a bounded history of
odometry (and IMU) samples and answers with SE(3) interpolation (scipy ``Slerp`` for rotation, linear
translation); outside the odometry it extrapolates with constant velocity, turning with the IMU's
angular rate when IMU samples cover the gap. ``PoseTrack`` is the compact form handed to the
projection backends: poses at knot times, relative to the sweep's reference pose.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from mmfusion_annotate.errors import FusionError
from mmfusion_annotate.fusion.compensation import PoseTrack
from mmfusion_annotate.fusion.poses import exp_se3, invert_pose, log_se3, make_pose
from mmfusion_annotate.types import NS_PER_S, SensorSample, Stamp


class EgoMotionSource(Protocol):
    """What fusion needs from an ego-motion provider (EgoMotion, or the simulator's truth in tests)."""

    def pose(self, stamp: Stamp) -> np.ndarray:
        """T_world_base (4x4) at ``stamp``."""
        ...

    def twist(self, stamp: Stamp) -> tuple[np.ndarray, np.ndarray]:
        """(linear velocity, angular velocity) of base_link in base_link at ``stamp``."""
        ...

    def track(self, start: Stamp, end: Stamp) -> PoseTrack:
        """Poses covering [start, end] with knots dense enough for SE(3) interpolation."""
        ...


def sampled_track(source: EgoMotionSource, start: Stamp, end: Stamp, knot_ns: int) -> PoseTrack:
    """A track for a pose function without its own knots: poses every ``knot_ns`` plus both ends."""
    if end <= start:
        return PoseTrack.from_poses(np.array([start]), source.pose(start)[None])
    count = max(1, int(np.ceil((end - start) / knot_ns)))
    times = np.unique(np.linspace(start, end, count + 1).round().astype(np.int64))
    return PoseTrack.from_poses(times, np.stack([source.pose(int(t)) for t in times]))


@dataclass(frozen=True)
class _Odometry:
    stamp: Stamp
    pose: np.ndarray  # T_world_base
    linear_velocity: np.ndarray | None  # base frame
    angular_velocity: np.ndarray | None  # base frame


class EgoMotion:
    """Bounded history of odometry / IMU samples answering pose and twist queries at any stamp."""

    def __init__(self, *, max_history_ns: int = 2 * NS_PER_S, max_extrapolation_ns: int = 200_000_000):
        self._max_history_ns = max_history_ns
        self._max_extrapolation_ns = max_extrapolation_ns
        self._odometry: list[_Odometry] = []
        self._odometry_stamps: list[Stamp] = []
        self._imu: deque[tuple[Stamp, np.ndarray]] = deque()

    def add_odometry(
        self,
        stamp: Stamp,
        position: np.ndarray,
        orientation_xyzw: np.ndarray,
        linear_velocity: np.ndarray | None = None,
        angular_velocity: np.ndarray | None = None,
    ) -> None:
        """Insert an odometry sample (twist in base_link, as nav_msgs/Odometry's child frame)."""
        pose = make_pose(Rotation.from_quat(orientation_xyzw).as_matrix(), np.asarray(position, float))
        sample = _Odometry(
            int(stamp),
            pose,
            None if linear_velocity is None else np.asarray(linear_velocity, float),
            None if angular_velocity is None else np.asarray(angular_velocity, float),
        )
        index = bisect.bisect_right(self._odometry_stamps, sample.stamp)
        if index > 0 and self._odometry_stamps[index - 1] == sample.stamp:
            self._odometry[index - 1] = sample
        else:
            self._odometry.insert(index, sample)
            self._odometry_stamps.insert(index, sample.stamp)
        self._trim()

    def add_imu(self, stamp: Stamp, angular_velocity: np.ndarray) -> None:
        """Insert an IMU gyro sample (base_link axes), used to turn while extrapolating."""
        self._imu.append((int(stamp), np.asarray(angular_velocity, float)))
        if len(self._imu) > 1 and self._imu[-2][0] > self._imu[-1][0]:
            self._imu = deque(sorted(self._imu, key=lambda item: item[0]))
        self._trim()

    def feed(self, sample: SensorSample) -> None:
        """Take an odometry or IMU SensorSample as the synthetic drive and the codecs deliver them."""
        payload = sample.payload
        if "orientation" in payload and "position" in payload:
            self.add_odometry(
                sample.stamp,
                payload["position"],
                payload["orientation"],
                payload.get("linear_velocity"),
                payload.get("angular_velocity"),
            )
        elif "gyro" in payload:
            self.add_imu(sample.stamp, payload["gyro"])
        else:
            raise FusionError(f"{sample.sensor}: sample is neither odometry nor IMU (keys {sorted(payload)})")

    def _trim(self) -> None:
        newest = max(
            self._odometry_stamps[-1] if self._odometry_stamps else -(2**62),
            self._imu[-1][0] if self._imu else -(2**62),
        )
        horizon = newest - self._max_history_ns
        drop = bisect.bisect_left(self._odometry_stamps, horizon)
        if drop:
            del self._odometry[:drop]
            del self._odometry_stamps[:drop]
        while self._imu and self._imu[0][0] < horizon:
            self._imu.popleft()

    def _twist_of(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        sample = self._odometry[index]
        if sample.linear_velocity is not None and sample.angular_velocity is not None:
            return sample.linear_velocity, sample.angular_velocity
        if len(self._odometry) < 2:
            return np.zeros(3), np.zeros(3)
        first, second = (index - 1, index) if index > 0 else (0, 1)
        a, b = self._odometry[first], self._odometry[second]
        dt = (b.stamp - a.stamp) / NS_PER_S
        translation_step, rotation_step = log_se3(invert_pose(a.pose) @ b.pose)
        return translation_step / dt, rotation_step / dt

    def _nearest(self, stamp: Stamp) -> int:
        return 0 if stamp < self._odometry_stamps[0] else len(self._odometry) - 1

    def pose(self, stamp: Stamp) -> np.ndarray:
        """T_world_base at ``stamp``: interpolated inside the odometry, extrapolated (bounded) outside."""
        if not self._odometry:
            raise FusionError("ego motion: no odometry received yet")
        stamps = self._odometry_stamps
        if stamps[0] <= stamp <= stamps[-1]:
            k = min(bisect.bisect_right(stamps, stamp) - 1, len(stamps) - 2)
            if k < 0:  # a single odometry sample equal to stamp
                return self._odometry[0].pose.copy()
            a, b = self._odometry[k], self._odometry[k + 1]
            rotation = Slerp([a.stamp, b.stamp], Rotation.from_matrix([a.pose[:3, :3], b.pose[:3, :3]]))
            s = (stamp - a.stamp) / (b.stamp - a.stamp)
            translation = a.pose[:3, 3] + s * (b.pose[:3, 3] - a.pose[:3, 3])
            return make_pose(rotation([stamp]).as_matrix()[0], translation)
        index = self._nearest(stamp)
        anchor = self._odometry[index]
        gap = stamp - anchor.stamp
        if abs(gap) > self._max_extrapolation_ns:
            raise FusionError(
                f"ego motion: stamp {stamp} is {abs(gap) / 1e6:.0f} ms outside the odometry history "
                f"(limit {self._max_extrapolation_ns / 1e6:.0f} ms)"
            )
        velocity, omega = self._twist_of(index)
        low, high = sorted((anchor.stamp, stamp))
        gyros = [w for t, w in self._imu if low <= t <= high]
        if gyros:
            omega = np.mean(gyros, axis=0)
        dt = gap / NS_PER_S
        return anchor.pose @ exp_se3(velocity * dt, omega * dt)

    def twist(self, stamp: Stamp) -> tuple[np.ndarray, np.ndarray]:
        """Body twist from the odometry sample nearest to ``stamp``."""
        if not self._odometry:
            raise FusionError("ego motion: no odometry received yet")
        index = bisect.bisect_left(self._odometry_stamps, stamp)
        if index == len(self._odometry_stamps) or (
            index > 0 and stamp - self._odometry_stamps[index - 1] < self._odometry_stamps[index] - stamp
        ):
            index -= 1
        return self._twist_of(max(index, 0))

    def track(self, start: Stamp, end: Stamp) -> PoseTrack:
        """Knots at both ends and at every odometry stamp between them (interpolation is exact there).

        The inner knots are the odometry poses themselves; only the two ends are interpolated or
        extrapolated, so a sweep's track costs two ``pose`` calls whatever the odometry rate."""
        start, end = int(start), int(end)
        if end <= start:
            return PoseTrack.from_poses(np.array([start]), self.pose(start)[None])
        inner = self._odometry[
            bisect.bisect_right(self._odometry_stamps, start) : bisect.bisect_left(self._odometry_stamps, end)
        ]
        times = np.array([start, *(o.stamp for o in inner), end], dtype=np.int64)
        poses = np.stack([self.pose(start), *(o.pose for o in inner), self.pose(end)])
        return PoseTrack.from_poses(times, poses)
