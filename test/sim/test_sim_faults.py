"""Faults appear exactly where configured, and their truth is recorded."""

from __future__ import annotations

import numpy as np
import pytest

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.sim import Drive, SimConfig

CONFIG = SimConfig(sensors=("cam_front", "lidar_top", "radar_front", "imu"))


def _ticks(drive, sensor):
    return [t for t in drive.ticks if t.sensor == sensor]


def test_frame_drops_remove_exactly_the_listed_frames(rig):
    nominal = Drive(rig, "calm", config=CONFIG)
    cam = _ticks(nominal, "cam_front")
    at = [cam[5].true_ns / 1e9, cam[17].true_ns / 1e9]
    drive = Drive(
        rig, "calm", config=CONFIG, faults=[{"type": "frame_drop", "sensor": "cam_front", "at_s": at}]
    )
    assert [t.index for t in _ticks(drive, "cam_front")] == [t.index for t in cam if t.index not in (5, 17)]
    assert _ticks(drive, "lidar_top") == _ticks(nominal, "lidar_top")
    (fault,) = drive.truth.faults
    assert fault.type == "frame_drop" and fault.removed_ns == (cam[5].true_ns, cam[17].true_ns)


def test_random_frame_drops_match_probability(rig):
    drive = Drive(
        rig,
        "calm",
        config=CONFIG,
        faults=[{"type": "frame_drop", "sensor": "cam_front", "probability": 0.25}],
    )
    total = len(_ticks(Drive(rig, "calm", config=CONFIG), "cam_front"))
    dropped = len(drive.truth.faults[0].removed_ns)
    assert dropped + len(_ticks(drive, "cam_front")) == total
    assert 0.15 < dropped / total < 0.35


def test_clock_offset_and_drift(rig):
    faults = [
        {"type": "clock_offset", "sensor": "cam_front", "offset_ms": 40.0},
        {"type": "clock_drift", "sensor": "lidar_top", "ms_per_s": 2.0, "start_s": 5.0},
    ]
    drive = Drive(rig, "calm", config=CONFIG, faults=faults)
    for t in _ticks(drive, "cam_front"):
        assert t.stamp - t.true_ns == 40_000_000
    for t in _ticks(drive, "lidar_top"):
        expected = 0 if t.true_ns < 5e9 else round((t.true_ns - 5e9) * 2e-3)
        assert t.stamp - t.true_ns == expected
    assert _ticks(drive, "lidar_top")[-1].stamp - _ticks(drive, "lidar_top")[-1].true_ns > 25_000_000
    assert [f.type for f in drive.truth.faults] == ["clock_offset", "clock_drift"]
    stamps = [t.stamp for t in drive.ticks]
    assert stamps == sorted(stamps)  # output stays ordered by the (faulty) stamps


def test_silent_radar(rig):
    drive = Drive(
        rig,
        "calm",
        config=CONFIG,
        faults=[{"type": "silent", "sensor": "radar_front", "start_s": 6.0, "end_s": 9.5}],
    )
    radar = [t.true_ns for t in _ticks(drive, "radar_front")]
    assert not any(6e9 <= t < 9.5e9 for t in radar)
    assert any(t < 6e9 for t in radar) and any(t >= 9.5e9 for t in radar)
    (fault,) = drive.truth.faults
    assert (fault.start_ns, fault.end_ns) == (6_000_000_000, 9_500_000_000)
    assert len(fault.removed_ns) == pytest.approx(3.5 * 13, abs=2)


def test_fault_on_unknown_sensor_is_a_config_error(rig):
    with pytest.raises(ConfigError, match=r"faults\[0\].sensor"):
        Drive(rig, "calm", config=CONFIG, faults=[{"type": "silent", "sensor": "radar_back_left"}])


def test_timing_rates_and_jitter(rig):
    drive = Drive(
        rig, "calm", config=SimConfig(sensors=("cam_front", "cam_back", "lidar_top", "radar_front"))
    )
    lidar = np.array([t.true_ns for t in _ticks(drive, "lidar_top")])
    assert np.abs(np.diff(lidar) - 100_000_000).max() < 1_000_000
    front = np.array([t.true_ns for t in _ticks(drive, "cam_front")])
    back = np.array([t.true_ns for t in _ticks(drive, "cam_back")])
    period = 1e9 / 12
    assert np.diff(front).mean() == pytest.approx(period, rel=0.01)
    assert 0.5e6 < np.std(np.diff(front)) < 5e6  # jitter
    assert abs((front[0] - back[0]) % period) > 1e6  # not phase-locked to each other


def test_cameras_triggered_by_the_lidar_beam(rig):
    config = SimConfig(
        sensors=("cam_front", "cam_back", "lidar_top"),
        timing={"camera_trigger": "lidar", "camera_jitter_ms": 0.0},
    )
    drive = Drive(rig, "calm", config=config)
    sweeps = np.array([t.true_ns for t in _ticks(drive, "lidar_top")])
    front = np.array([t.true_ns for t in _ticks(drive, "cam_front")])
    back = np.array([t.true_ns for t in _ticks(drive, "cam_back")])
    # the sweep starts facing backwards and turns clockwise: front camera half-way, back camera at the start
    np.testing.assert_allclose((front - sweeps)[:10], 50_000_000, atol=1)
    np.testing.assert_allclose((back - sweeps)[:10] % 100_000_000, 0, atol=1)
