"""The sensor-topic QoS choice shared by the nodes (``qos: sensor_data | reliable``).

``sensor_data`` (best effort, keep last 5) is what vehicle drivers publish and the default. ``reliable`` is
for hosts where DDS loses large best-effort samples, as the Fast DDS wheels on one host do with LiDAR
sweeps (figures: bench/RESULTS.md, docstring figures). A reliable
subscription does not match a best-effort publisher, so publisher and subscribers must agree.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

SensorQos = Literal["sensor_data", "reliable"]
SENSOR_QOS_NAMES: tuple[str, ...] = get_args(SensorQos)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
RELIABLE_HISTORY_S = 2.0
"""History of reliable sensor topics, in time: a keep-last writer overwrites what a busy reader has not
taken yet, so each topic keeps two seconds (200 IMU messages, 20 LiDAR sweeps: memory bounded by rate x
size). With half a second, most LiDAR sweeps never reached a busy fusion process in the soak (figures:
bench/RESULTS.md, docstring figures)."""
RELIABLE_SENSOR_DEPTH = 50
"""Depth when the topic's rate is not known, and the most any topic gets: a deeper history let the
100 Hz IMU and odometry fall seconds behind in the end-to-end run (bench/RESULTS.md, docstring figures)."""


def sensor_qos(name: SensorQos, depth: int | None = None, *, rate_hz: float | None = None) -> QoSProfile:
    """The profile for sensor topics; ``depth`` overrides the history depth (e.g. a recorder's buffer)."""
    base = qos_profile_sensor_data
    if name == "reliable":
        reliable_depth = RELIABLE_SENSOR_DEPTH
        if rate_hz:
            reliable_depth = min(RELIABLE_SENSOR_DEPTH, max(10, math.ceil(rate_hz * RELIABLE_HISTORY_S)))
        base = QoSProfile(depth=reliable_depth, reliability=ReliabilityPolicy.RELIABLE)
    if depth is None:
        return base
    return QoSProfile(
        history=base.history, depth=depth, reliability=base.reliability, durability=base.durability
    )
