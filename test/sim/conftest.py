"""Shared fixtures for the simulator tests: the default rig, a lighter variant, noise-free config."""

from __future__ import annotations

import pytest

from mmfusion_annotate.rig import default_rig_path, load_rig, rig_from_dict, rig_to_dict
from mmfusion_annotate.sim import SimConfig
from mmfusion_annotate.sim.config import NoiseConfig


@pytest.fixture(scope="session")
def rig():
    return load_rig(default_rig_path())


@pytest.fixture(scope="session")
def light_rig(rig):
    """The default rig with a 32-beam, 0.4 deg LiDAR: same geometry, a quarter of the rays."""
    data = rig_to_dict(rig)
    for sensor in data["sensors"]:
        if sensor["kind"] == "lidar":
            sensor["lidar"] = {**sensor["lidar"], "beams": 32, "azimuth_resolution_deg": 0.4}
    return rig_from_dict(data)


@pytest.fixture(scope="session")
def exact():
    """Noise-free sensors (no dropouts, no false alarms, every scatterer detected)."""
    zero = {name: 0.0 for name in NoiseConfig.model_fields}
    zero["radar_detection_probability"] = 1.0
    return SimConfig(noise=NoiseConfig(**zero))
