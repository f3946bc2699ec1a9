"""EgoKinematics from IMU and odometry streams: low-pass filtered accelerations, yaw rate and jerk.

Raw IMU accelerations carry engine/road vibration and sensor noise (tenths of m/s^2 at 100 Hz) that would
trip any acceleration threshold and make a differentiated jerk meaningless; driver-induced accelerations
live below ~2 Hz. A causal Butterworth low-pass (``scipy.signal.butter`` as second-order sections, run
sample by sample with carried state, as ``sosfilt`` runs them) removes the noise at a small fixed delay
(~0.1 s at 2 Hz), and, because it is causal with explicit state, feeding samples one by one live gives
exactly the values a batch run over a bag gives. Jerk is the difference of the filtered longitudinal
acceleration, filtered again by the same low-pass. Gravity is not removed: on level road it lies along
base_link z, which the rules do not read (road grade adds g*sin(grade), ~0.5 m/s^2 at 5 %, below every
threshold).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from mmfusion_annotate.events.config import EgoFilterConfig
from mmfusion_annotate.events.model import EgoKinematics
from mmfusion_annotate.types import Stamp


class Lowpass:
    """One streaming Butterworth channel; the state starts at steady state for the first sample.

    Each sample runs the sections' transposed direct form II recurrence (``sosfilt``'s) on Python
    floats: a ``sosfilt`` call for one sample is mostly argument checking, paid four times per IMU sample
    while holding the GIL on the live pipeline thread (figures: bench/RESULTS.md, "Figures moved out of
    docstrings"). ``test_driving`` checks it against ``sosfilt`` over a whole series.
    """

    def __init__(self, sos: np.ndarray) -> None:
        self._sections = [tuple(float(c) for c in row) for row in np.asarray(sos, dtype=np.float64)]
        self._sos = sos
        self._state: list[list[float]] | None = None

    def __call__(self, value: float) -> float:
        x = float(value)
        if self._state is None:
            self._state = [[float(z) for z in zi] for zi in signal.sosfilt_zi(self._sos) * x]
        for (b0, b1, b2, _a0, a1, a2), z in zip(self._sections, self._state, strict=True):
            y = b0 * x + z[0]
            z[0] = b1 * x - a1 * y + z[1]
            z[1] = b2 * x - a2 * y
            x = y
        return x


class EgoEstimator:
    """Streaming ``EgoKinematics`` source: feed odometry (speed) and IMU samples in time order.

    ``R_base_imu`` rotates IMU-frame vectors into ``base_link`` (identity when the IMU is mounted
    axis-aligned, as in the built-in rigs).
    """

    def __init__(self, config: EgoFilterConfig, R_base_imu: np.ndarray | None = None) -> None:
        sos = signal.butter(config.order, config.cutoff_hz, fs=config.sample_rate_hz, output="sos")
        self._R = np.eye(3) if R_base_imu is None else np.asarray(R_base_imu, dtype=np.float64)
        self._ax, self._ay, self._wz, self._jerk = (Lowpass(sos) for _ in range(4))
        self._speed = 0.0
        self._last: tuple[Stamp, float] | None = None

    def update_odometry(self, linear_velocity_base: np.ndarray) -> None:
        """Speed over ground from the odometry twist (base_link axes); negative when reversing."""
        vx, vy = float(linear_velocity_base[0]), float(linear_velocity_base[1])
        self._speed = float(np.copysign(np.hypot(vx, vy), vx))

    def update_imu(self, stamp: Stamp, accel: np.ndarray, gyro: np.ndarray) -> EgoKinematics:
        a = self._R @ np.asarray(accel, dtype=np.float64)
        w = self._R @ np.asarray(gyro, dtype=np.float64)
        ax, ay, wz = self._ax(a[0]), self._ay(a[1]), self._wz(w[2])
        jerk = None
        if self._last is not None and stamp > self._last[0]:
            jerk = self._jerk((ax - self._last[1]) / ((stamp - self._last[0]) * 1e-9))
        self._last = (stamp, ax)
        return EgoKinematics(stamp=stamp, speed=self._speed, accel_long=ax, accel_lat=ay, yaw_rate=wz,
                        jerk_long=jerk)
