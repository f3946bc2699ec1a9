"""Shared fixtures of the reliability tests: the shipped rig and a short synthetic drive's samples."""

import pytest

from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sim import Drive, SimConfig, load_scenario


@pytest.fixture(scope="module")
def rig():
    return load_rig(default_rig_path())


@pytest.fixture(scope="module")
def drive_samples(rig):
    """4 s of the 'calm' drive, LiDAR + IMU + odometry (no camera: cheap to fuse, enough to track)."""
    scenario = load_scenario("calm").model_copy(update={"duration_s": 4.0})
    drive = Drive(rig, scenario, config=SimConfig(sensors=("lidar_top", "imu", "odometry")))
    return list(drive.samples())
