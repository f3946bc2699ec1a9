"""The ego vehicle: exact pose and twist at any time, and what its IMU and wheel odometry report.

The ego drives on flat ground (no pitch or roll), so base_link is the ground point under the rear axle
and its pose is (x, y, yaw). The IMU reports specific force (gravity included) and body rates with
white noise and a constant bias; odometry integrates noisy wheel speed and yaw rate, so its pose
drifts slowly as a real one does.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from mmfusion_annotate.sim.config import NoiseConfig
from mmfusion_annotate.sim.geometry import planar_pose, yaw_quaternion
from mmfusion_annotate.sim.motion import Tracks
from mmfusion_annotate.types import NS_PER_S, Stamp

GRAVITY = 9.80665


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent random stream per (seed, sensor, frame...) so output never depends on call order."""
    words = [seed & 0xFFFFFFFF] + [
        k & 0xFFFFFFFF if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys
    ]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass(frozen=True)
class ScenarioEgoStates:
    """Ego states at M times (world frame): position (M, 3), yaw (M,), velocity (M, 3), yaw rate (M,)."""

    position: np.ndarray
    yaw: np.ndarray
    velocity: np.ndarray
    yaw_rate: np.ndarray


class ScenarioEgo:
    """Exact ego motion from the scenario's ego track."""

    def __init__(self, tracks: Tracks) -> None:
        self._tracks = tracks

    def state(self, t_ns: np.ndarray | Stamp) -> ScenarioEgoStates:
        s = self._tracks.states(np.atleast_1d(np.asarray(t_ns, dtype=np.int64)))
        position = np.stack([s.x[0], s.y[0], np.zeros_like(s.x[0])], axis=-1)
        velocity = np.stack([s.vx[0], s.vy[0], np.zeros_like(s.vx[0])], axis=-1)
        return ScenarioEgoStates(position, s.yaw[0], velocity, s.yaw_rate[0])

    def pose(self, t_ns: Stamp) -> np.ndarray:
        """4x4 world <- base_link at ``t_ns``."""
        s = self.state(t_ns)
        return planar_pose(float(s.position[0, 0]), float(s.position[0, 1]), float(s.yaw[0]))

    def body_acceleration(self, t_ns: np.ndarray) -> np.ndarray:
        """Acceleration (M, 3) in base_link axes (without gravity)."""
        ax, ay = self._tracks.acceleration(np.atleast_1d(t_ns))
        yaw = self.state(t_ns).yaw
        c, s = np.cos(yaw), np.sin(yaw)
        return np.stack([c * ax[0] + s * ay[0], -s * ax[0] + c * ay[0], np.zeros_like(yaw)], axis=-1)


class ImuModel:
    """IMU readings in the IMU frame (specific force and body rates) with white noise and a constant bias,
    computed for all the IMU's measurement times at once."""

    def __init__(
        self,
        ego: ScenarioEgo,
        R_base_imu: np.ndarray,
        times_ns: np.ndarray,
        noise: NoiseConfig,
        seed: int,
        name: str,
    ) -> None:
        rng = rng_for(seed, name)
        accel_bias = rng.normal(0.0, noise.imu_accel_bias_mps2, 3)
        gyro_bias = rng.normal(0.0, noise.imu_gyro_bias_rps, 3)
        n = len(times_ns)
        accel_base = ego.body_acceleration(times_ns) + np.array([0.0, 0.0, GRAVITY])
        gyro_base = np.zeros((n, 3))
        gyro_base[:, 2] = ego.state(times_ns).yaw_rate
        self._accel = accel_base @ R_base_imu + accel_bias + rng.normal(0.0, noise.imu_accel_mps2, (n, 3))
        self._gyro = gyro_base @ R_base_imu + gyro_bias + rng.normal(0.0, noise.imu_gyro_rps, (n, 3))

    def read(self, index: int) -> dict[str, np.ndarray]:
        return {"accel": self._accel[index].copy(), "gyro": self._gyro[index].copy()}


class OdometryModel:
    """Wheel odometry: dead-reckoning from noisy speed and yaw rate at the given stamps (pre-integrated)."""

    def __init__(
        self, ego: ScenarioEgo, times_ns: np.ndarray, noise: NoiseConfig, seed: int, name: str
    ) -> None:
        rng = rng_for(seed, name)
        st = ego.state(times_ns)
        c, s = np.cos(st.yaw), np.sin(st.yaw)
        speed = c * st.velocity[:, 0] + s * st.velocity[:, 1]
        lateral = -s * st.velocity[:, 0] + c * st.velocity[:, 1]
        speed_m = speed + rng.normal(0.0, noise.odom_speed_mps, len(times_ns))
        rate_m = st.yaw_rate + rng.normal(0.0, noise.odom_yaw_rate_rps, len(times_ns))
        dt = np.diff(times_ns.astype(np.float64), prepend=float(times_ns[0])) / NS_PER_S
        yaw = st.yaw[0] + np.cumsum(rate_m * dt)
        x = st.position[0, 0] + np.cumsum(speed_m * np.cos(yaw) * dt)
        y = st.position[0, 1] + np.cumsum(speed_m * np.sin(yaw) * dt)
        self._times = times_ns
        self._pose = np.stack([x, y, np.zeros_like(x)], axis=-1)
        self._yaw = yaw
        self._twist = np.stack([speed_m, lateral, rate_m], axis=-1)

    def read(self, index: int) -> dict[str, np.ndarray]:
        vx, vy, wz = self._twist[index]
        return {
            "position": self._pose[index].copy(),
            "orientation": yaw_quaternion(self._yaw[index]),
            "linear_velocity": np.array([vx, vy, 0.0]),
            "angular_velocity": np.array([0.0, 0.0, wz]),
        }
