"""Tiny bags written by the tests themselves: IMU messages at 10 Hz, fast to write, play and replay."""

from __future__ import annotations

from pathlib import Path

from sensor_msgs.msg import Imu

from mmfusion_annotate.recording import serialize
from mmfusion_annotate.recording.writer import BagWriter
from mmfusion_annotate.types import NS_PER_S

IMU = "sensor_msgs/msg/Imu"
T0 = 1_700_000_000 * NS_PER_S


def imu_bytes(stamp_ns: int) -> bytes:
    msg = Imu()
    msg.header.frame_id = "imu"
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, NS_PER_S)
    msg.orientation.w = 1.0
    return serialize(IMU, msg)


def write_imu_bag(path: Path, seconds: float = 1.0, *, extra_stamps_ns: tuple[int, ...] = ()) -> Path:
    """``seconds`` of /imu/data at 10 Hz from ``T0``, then one message at each of ``extra_stamps_ns``."""
    stamps = [T0 + i * NS_PER_S // 10 for i in range(round(seconds * 10))] + list(extra_stamps_ns)
    with BagWriter(path) as writer:
        writer.add_topic("/imu/data", IMU, "sensor_data")
        for stamp in stamps:
            writer.write("/imu/data", imu_bytes(stamp), stamp)
    return path
