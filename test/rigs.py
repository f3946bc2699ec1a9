"""Rigs for tests: the shipped default rig cut down to what a test needs (fast to simulate)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmfusion_annotate.rig import default_rig_path, dump_rig, load_rig, rig_from_dict, rig_to_dict

SMALL_RIG_SENSORS = ("lidar_top", "cam_front", "radar_front", "imu", "odometry")


def write_small_rig(directory: Path, sensors: Sequence[str] = SMALL_RIG_SENSORS) -> Path:
    """The default rig with only ``sensors`` (by default one LiDAR, camera, radar, IMU and odometry)."""
    doc = rig_to_dict(load_rig(default_rig_path()))
    doc["sensors"] = [s for s in doc["sensors"] if s["name"] in sensors]
    path = directory / "small_rig.yaml"
    dump_rig(rig_from_dict(doc), path)
    return path
