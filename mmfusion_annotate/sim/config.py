"""Configuration of the simulator: sensor timing, noise, rendering, and switchable sensor faults.

The scenario says *what happens*; this says *how the sensors see it*. Every fault is data with the
sensor it hits and when, so the same record is both the switch and the recorded truth.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimingConfig(_Strict):
    """Sensor clocks: jitter (1-sigma, ms) per kind; cameras free-running or triggered by the LiDAR beam."""

    lidar_jitter_ms: Annotated[float, Field(ge=0)] = 0.05
    camera_jitter_ms: Annotated[float, Field(ge=0)] = 1.5
    radar_jitter_ms: Annotated[float, Field(ge=0)] = 3.0
    imu_jitter_ms: Annotated[float, Field(ge=0)] = 0.0
    camera_trigger: Literal["free", "lidar"] = "free"
    lidar_start_azimuth_deg: float = 180.0
    """Azimuth (lidar frame, +left of forward) of each sweep's first column; the sweep turns clockwise."""


class NoiseConfig(_Strict):
    """Measurement noise (1-sigma) and detection statistics."""

    lidar_range_m: Annotated[float, Field(ge=0)] = 0.02
    lidar_dropout: Annotated[float, Field(ge=0, le=1)] = 0.02
    lidar_intensity: Annotated[float, Field(ge=0)] = 2.0
    radar_range_m: Annotated[float, Field(ge=0)] = 0.15
    radar_azimuth_deg: Annotated[float, Field(ge=0)] = 0.3
    radar_elevation_deg: Annotated[float, Field(ge=0)] = 0.5
    radar_range_rate_mps: Annotated[float, Field(ge=0)] = 0.05
    radar_rcs_dbsm: Annotated[float, Field(ge=0)] = 1.5
    radar_detection_probability: Annotated[float, Field(ge=0, le=1)] = 0.9
    radar_false_alarms_per_scan: Annotated[float, Field(ge=0)] = 1.0
    imu_accel_mps2: Annotated[float, Field(ge=0)] = 0.05
    imu_gyro_rps: Annotated[float, Field(ge=0)] = 0.002
    imu_accel_bias_mps2: Annotated[float, Field(ge=0)] = 0.02
    imu_gyro_bias_rps: Annotated[float, Field(ge=0)] = 0.0005
    odom_speed_mps: Annotated[float, Field(ge=0)] = 0.05
    odom_yaw_rate_rps: Annotated[float, Field(ge=0)] = 0.002


class RenderConfig(_Strict):
    """Camera rendering: rays are cast at ``scale`` x the image size and upsampled to full size."""

    scale: Annotated[float, Field(gt=0, le=1)] = 0.25
    max_distance_m: Annotated[float, Field(gt=0)] = 200.0
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = 90


class FrameDrop(_Strict):
    """Frames of ``sensor`` vanish: at random with ``probability`` and/or at the listed times."""

    type: Literal["frame_drop"]
    sensor: str
    probability: Annotated[float, Field(ge=0, le=1)] = 0.0
    at_s: tuple[float, ...] = ()


class ClockOffset(_Strict):
    """``sensor`` stamps read ``offset_ms`` later than the true measurement time (from ``start_s``)."""

    type: Literal["clock_offset"]
    sensor: str
    offset_ms: float
    start_s: Annotated[float, Field(ge=0)] = 0.0


class ClockDrift(_Strict):
    """``sensor`` clock runs fast by ``ms_per_s`` from ``start_s``: the stamp error grows linearly."""

    type: Literal["clock_drift"]
    sensor: str
    ms_per_s: float
    start_s: Annotated[float, Field(ge=0)] = 0.0


class CalibrationFault(_Strict):
    """``sensor`` is mounted rotated by (roll, pitch, yaw) deg (base_link axes); the rig says nominal."""

    type: Literal["calibration_error"]
    sensor: str
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0


class Silent(_Strict):
    """``sensor`` publishes nothing from ``start_s`` until ``end_s`` (or the end of the drive)."""

    type: Literal["silent"]
    sensor: str
    start_s: Annotated[float, Field(ge=0)] = 0.0
    end_s: float | None = None


Fault = Annotated[
    FrameDrop | ClockOffset | ClockDrift | CalibrationFault | Silent, Field(discriminator="type")
]


class SimConfig(_Strict):
    """Everything about the simulated sensors that is not the scenario."""

    timing: TimingConfig = TimingConfig()
    noise: NoiseConfig = NoiseConfig()
    render: RenderConfig = RenderConfig()
    faults: tuple[Fault, ...] = ()
    sensors: tuple[str, ...] | None = None
    """Simulate only these rig sensors (all when None): short tests and quick looks."""
