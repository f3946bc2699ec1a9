"""The shipped Fast DDS profile for large sensor samples (``config/fastdds_large_data.xml``), put into a
process's environment before its first participant starts.

Fast DDS reads the file named by ``FASTRTPS_DEFAULT_PROFILES_FILE`` (2.x, ROS 2 Jazzy) or
``FASTDDS_DEFAULT_PROFILES_FILE`` (3.x) when it creates its first participant, so the variable must be set
before ``rclpy.init``, in every process on the path: child processes inherit it. A variable the user set,
even to an empty value (Fast DDS's own defaults), is left alone. Other RMWs ignore both.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from mmfusion_annotate.rig.paths import config_dir

PROFILE_FILE = "fastdds_large_data.xml"
ENV_VARS = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")


def large_data_profile() -> Path:
    """Path of the shipped profile (64 MB shared-memory segment per participant)."""
    return config_dir() / PROFILE_FILE


def use_large_data_profile(env: MutableMapping[str, str] = os.environ) -> str | None:
    """Name the shipped profile in ``env`` unless a profile variable is already set there; returns the
    profile in effect (None: Fast DDS's defaults)."""
    for name in ENV_VARS:
        if name in env:
            return env[name] or None
    path = str(large_data_profile())
    for name in ENV_VARS:
        env[name] = path
    return path
