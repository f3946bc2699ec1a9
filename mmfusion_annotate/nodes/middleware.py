"""Middleware defaults every node of the suite starts with: Fast DDS publishes asynchronously.

Why: with ``rmw_fastrtps``' synchronous publication (what these wheels do when
``RMW_FASTRTPS_PUBLICATION_MODE`` is unset), the default rig's reliable 100 Hz IMU and odometry reached a
subscriber 300 ms late at the 90th percentile (up to ~0.5 s) while the LiDAR and cameras flowed, even
with the subscriber idle; a set waits for the odometry that covers it, so every fused frame waited too.
With asynchronous publication the same topics arrive within 20 ms (p90) and the soak's median latency
fell from ~330 to ~100 ms (``bench/bench_soak.py``, README "Performance"). Other rmw implementations
ignore the variable, and a value already in the environment wins (set ``SYNCHRONOUS`` to compare).
"""

from __future__ import annotations

import os

PUBLICATION_MODE = "RMW_FASTRTPS_PUBLICATION_MODE"
DEFAULT_PUBLICATION_MODE = "ASYNCHRONOUS"


def apply_middleware_defaults() -> None:
    """Set the suite's middleware defaults in this process's environment, before ``rclpy.init`` reads it
    (child processes inherit them)."""
    os.environ.setdefault(PUBLICATION_MODE, DEFAULT_PUBLICATION_MODE)
