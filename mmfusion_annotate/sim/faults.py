"""Sensor faults: what they do to a sensor's clock, frames and mount, and the record of each.

Faults act on the schedule (which frames exist, what their stamps say) and on the true mount used
to render; the rig file is never touched, so a calibration fault is visible only in the data, as
in a real car.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.sim.config import CalibrationFault, ClockDrift, ClockOffset, Fault, FrameDrop, Silent
from mmfusion_annotate.sim.ego import rng_for
from mmfusion_annotate.types import NS_PER_S, Stamp, seconds_to_ns

_DROP_TOLERANCE_NS = 5_000_000


@dataclass(frozen=True)
class FaultTruth:
    """A configured fault as it happened: where, when, its parameters, and the frames it removed
    (their true measurement times)."""

    type: str
    sensor: str
    start_ns: Stamp
    end_ns: Stamp | None
    params: dict[str, Any]
    removed_ns: tuple[Stamp, ...] = field(default=())


def check_sensors(faults: tuple[Fault, ...], known: set[str]) -> None:
    for i, fault in enumerate(faults):
        if fault.sensor not in known:
            raise ConfigError(
                f"unknown sensor '{fault.sensor}' (simulated: {', '.join(sorted(known))})",
                key=f"faults[{i}].sensor",
            )


def mount_error(faults: tuple[Fault, ...], sensor: str) -> np.ndarray:
    """4x4 rotation (about the sensor origin, base_link axes) of the sensor's true mount vs the rig file."""
    T = np.eye(4)
    for fault in faults:
        if isinstance(fault, CalibrationFault) and fault.sensor == sensor:
            T[:3, :3] = (
                Rotation.from_euler(
                    "xyz", [fault.roll_deg, fault.pitch_deg, fault.yaw_deg], degrees=True
                ).as_matrix()
                @ T[:3, :3]
            )
    return T


def true_mount(T_base_sensor: np.ndarray, faults: tuple[Fault, ...], sensor: str) -> np.ndarray:
    """The sensor's real pose in base_link: the rig pose turned by any calibration fault."""
    T = T_base_sensor.copy()
    T[:3, :3] = mount_error(faults, sensor)[:3, :3] @ T[:3, :3]
    return T


def clock_error_ns(faults: tuple[Fault, ...], sensor: str, true_ns: np.ndarray) -> np.ndarray:
    """How far the sensor's stamps run ahead of the true time (offsets and drifts summed)."""
    error = np.zeros(len(true_ns), dtype=np.float64)
    for fault in faults:
        if fault.sensor != sensor:
            continue
        start = seconds_to_ns(fault.start_s) if isinstance(fault, ClockOffset | ClockDrift) else 0
        after = true_ns >= start
        if isinstance(fault, ClockOffset):
            error += np.where(after, fault.offset_ms * 1e6, 0.0)
        elif isinstance(fault, ClockDrift):
            error += np.where(after, (true_ns - start) * (fault.ms_per_s * 1e-3), 0.0)
    return np.round(error).astype(np.int64)


def removed_by(fault: Fault, index: int, true_ns: np.ndarray, seed: int) -> np.ndarray:
    """Mask of the sensor's frames that one fault removes (frame drops, silent periods)."""
    removed = np.zeros(len(true_ns), dtype=bool)
    if isinstance(fault, FrameDrop):
        removed |= rng_for(seed, fault.sensor, "drop", index).random(len(true_ns)) < fault.probability
        for at in fault.at_s:
            removed |= np.abs(true_ns - seconds_to_ns(at)) <= min(_DROP_TOLERANCE_NS, _half_gap(true_ns))
    elif isinstance(fault, Silent):
        end = np.inf if fault.end_s is None else fault.end_s * NS_PER_S
        removed |= (true_ns >= fault.start_s * NS_PER_S) & (true_ns < end)
    return removed


def _half_gap(times: np.ndarray) -> int:
    return int(np.min(np.diff(times)) // 2) if len(times) > 1 else _DROP_TOLERANCE_NS


def fault_truth(fault: Fault, duration_ns: int, removed_ns: np.ndarray) -> FaultTruth:
    params = fault.model_dump(exclude={"type", "sensor"})
    start = seconds_to_ns(getattr(fault, "start_s", 0.0))
    end = getattr(fault, "end_s", None)
    if isinstance(fault, FrameDrop):
        start = 0
    return FaultTruth(
        fault.type,
        fault.sensor,
        start,
        duration_ns if end is None else seconds_to_ns(end),
        params,
        tuple(int(t) for t in removed_ns),
    )
