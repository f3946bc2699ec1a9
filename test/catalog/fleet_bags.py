"""Small bags for the catalog tests: event bags written with ``BagWriter``, one from another tool (rosbags),
one cut off like a crash leaves it."""

from __future__ import annotations

import shutil
from pathlib import Path

from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped, Vector3
from sensor_msgs.msg import Imu
from std_msgs.msg import Header

from mmfusion_annotate.events.model import Category, Event, Severity
from mmfusion_annotate.outputs.labels import event_message
from mmfusion_annotate.recording import BagWriter, new_message, serialize

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
PERIOD = NS // 10
STEPS = 30


def events(t0: int) -> tuple[Event, ...]:
    """A critical hard braking at 1.2 s and a sensor dropout (watch) at 2.2 s after ``t0``."""
    return (
        Event(id="ev-brake", type="hard_braking", category=Category.DRIVING, severity=Severity.CRITICAL,
              start=t0 + 12 * PERIOD, peak=t0 + 13 * PERIOD, end=t0 + 14 * PERIOD, detected=t0 + 13 * PERIOD,
              object_ids=(7,), evidence=(("peak_decel_mps2", -6.5),), rule="hard_braking", rule_version="1"),
        Event(id="ev-drop", type="sensor_dropout", category=Category.SENSOR_HEALTH, severity=Severity.WATCH,
              start=t0 + 22 * PERIOD, peak=t0 + 22 * PERIOD, end=t0 + 23 * PERIOD, detected=t0 + 23 * PERIOD,
              sensor="cam_front", rule="dropout", rule_version="1"),
    )  # fmt: skip


def _header(ns: int, frame: str) -> Header:
    return Header(stamp=Time(sec=ns // NS, nanosec=ns % NS), frame_id=frame)


def write_event_bag(bag_dir: Path, *, t0: int = T0, steps: int = STEPS, compression: str = "lz4") -> Path:
    """``steps`` IMU messages at 10 Hz from ``t0``, ``/tf_static``, and ``events(t0)`` on ``/events`` and
    in the files' metadata; split every second."""
    tagged = events(t0)
    with BagWriter(bag_dir, compression=compression, split_duration_ns=NS) as writer:
        writer.add_topic("/tf_static", "tf2_msgs/msg/TFMessage", "latched")
        writer.add_topic("/imu", "sensor_msgs/msg/Imu", "sensor_data")
        writer.add_topic("/events", "mmfusion_annotate/msg/Event", "reliable")
        transform = TransformStamped(header=_header(t0, "base_link"), child_frame_id="imu")
        tf = new_message("tf2_msgs/msg/TFMessage", transforms=[transform])
        writer.set_static("/tf_static", serialize("tf2_msgs/msg/TFMessage", tf), t0, replace=False)
        for step in range(steps):
            ns = t0 + step * PERIOD
            imu = Imu(header=_header(ns, "imu"), linear_acceleration=Vector3(x=float(step)))
            writer.write("/imu", serialize("sensor_msgs/msg/Imu", imu), ns)
            for event in tagged:
                if event.detected == ns:
                    writer.write(
                        "/events", serialize("mmfusion_annotate/msg/Event", event_message(event)), ns
                    )
                    writer.add_event_metadata(event.id, event.start, event.end, event.to_dict())
    return bag_dir


def write_other_tool_bag(bag_dir: Path) -> Path:
    """A rosbag2 MCAP bag written by rosbags (no events, no mmfusion metadata): 20 IMU messages."""
    import numpy as np  # noqa: PLC0415
    from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: PLC0415
    from rosbags.typesys import Stores, get_typestore  # noqa: PLC0415

    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    with Writer(bag_dir, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=store)
        zero, cov = types["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0), np.zeros(9)
        for i in range(20):
            stamp = types["builtin_interfaces/msg/Time"](sec=1, nanosec=i * 10_000_000)
            msg = types["sensor_msgs/msg/Imu"](
                header=types["std_msgs/msg/Header"](stamp=stamp, frame_id="imu"),
                orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
                orientation_covariance=cov, angular_velocity=zero, angular_velocity_covariance=cov,
                linear_acceleration=zero, linear_acceleration_covariance=cov,
            )  # fmt: skip
            writer.write(connection, NS + i * 10_000_000, store.serialize_cdr(msg, "sensor_msgs/msg/Imu"))
    return bag_dir


def cut_off_copy(bag_dir: Path, target: Path) -> Path:
    """A copy of ``bag_dir`` whose last file is cut in half (no summary), as a crash leaves it."""
    shutil.copytree(bag_dir, target)
    last = sorted(target.glob("*.mcap"))[-1]
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    return target
