"""Small bags for the bag-tool tests, written with the project's ``BagWriter`` (fixture: conftest.py).

``sample_bag`` is a 3 s drive at 10 Hz split every second: an IMU (sensor-data QoS), ``/tf_static``
and one camera's ``CameraInfo`` (repeated at every split by the writer, updated once mid-drive), and two
events on ``/events`` mirrored into the files' metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped, Vector3
from sensor_msgs.msg import CameraInfo, Imu
from std_msgs.msg import Header

from mmfusion_annotate.events.model import Category, Event, Severity
from mmfusion_annotate.outputs.labels import event_message
from mmfusion_annotate.recording import BagWriter, new_message, serialize

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
PERIOD = NS // 10
STEPS = 30


def header(ns: int, frame: str) -> Header:
    return Header(stamp=Time(sec=ns // NS, nanosec=ns % NS), frame_id=frame)


def camera_info(ns: int, fx: float) -> CameraInfo:
    return CameraInfo(header=header(ns, "cam_front_optical"), width=1600, height=900,
                      distortion_model="plumb_bob", d=[0.0] * 5,
                      k=[fx, 0.0, 800.0, 0.0, fx, 450.0, 0.0, 0.0, 1.0])  # fmt: skip


def tf_static() -> object:
    transform = TransformStamped(header=header(T0, "base_link"), child_frame_id="lidar_top")
    transform.transform.translation = Vector3(x=0.9, y=0.0, z=1.8)
    return new_message("tf2_msgs/msg/TFMessage", transforms=[transform])


EVENTS = (
    Event(id="ev-brake", type="hard_braking", category=Category.DRIVING, severity=Severity.CRITICAL,
          start=T0 + 12 * PERIOD, peak=T0 + 13 * PERIOD, end=T0 + 14 * PERIOD, detected=T0 + 13 * PERIOD,
          object_ids=(7,), evidence=(("peak_decel_mps2", -6.5),), rule="hard_braking", rule_version="1"),
    Event(id="ev-drop", type="sensor_dropout", category=Category.SENSOR_HEALTH, severity=Severity.WATCH,
          start=T0 + 22 * PERIOD, peak=T0 + 22 * PERIOD, end=T0 + 23 * PERIOD, detected=T0 + 23 * PERIOD,
          sensor="cam_front", rule="dropout", rule_version="1"),
)  # fmt: skip


@dataclass
class SampleBag:
    """What was written: the bag directory and every message as (topic, log time, CDR bytes)."""

    path: Path
    messages: list[tuple[str, int, bytes]] = field(default_factory=list)
    statics: dict[str, bytes] = field(default_factory=dict)


def write_sample_bag(bag_dir: Path, *, compression: str = "lz4", with_metadata: bool = True) -> SampleBag:
    bag = SampleBag(bag_dir)
    info_early, info_late = serialize("sensor_msgs/msg/CameraInfo", camera_info(T0, 1266.0)), None
    with BagWriter(bag_dir, compression=compression, split_duration_ns=NS) as writer:
        writer.add_topic("/tf_static", "tf2_msgs/msg/TFMessage", "latched")
        writer.add_topic("/cam_front/camera_info", "sensor_msgs/msg/CameraInfo", "reliable")
        writer.add_topic("/imu", "sensor_msgs/msg/Imu", "sensor_data")
        writer.add_topic("/events", "mmfusion_annotate/msg/Event", "reliable")
        tf = serialize("tf2_msgs/msg/TFMessage", tf_static())
        writer.set_static("/tf_static", tf, T0, replace=False)
        writer.set_static("/cam_front/camera_info", info_early, T0)
        bag.statics = {"/tf_static": tf, "/cam_front/camera_info": info_early}
        for step in range(STEPS):
            ns = T0 + step * PERIOD
            if step == 5:  # the camera is recalibrated: later clips must carry the new info
                info_late = serialize("sensor_msgs/msg/CameraInfo", camera_info(ns, 1300.0))
                writer.set_static("/cam_front/camera_info", info_late, ns)
                bag.statics["/cam_front/camera_info"] = info_late
            imu = serialize(
                "sensor_msgs/msg/Imu", Imu(header=header(ns, "imu"), linear_acceleration=Vector3(x=step))
            )
            writer.write("/imu", imu, ns)
            for event in EVENTS:
                if event.detected == ns:
                    writer.write(
                        "/events", serialize("mmfusion_annotate/msg/Event", event_message(event)), ns
                    )
                    if with_metadata:
                        writer.add_event_metadata(event.id, event.start, event.end, event.to_dict())
    # what the files hold, in order (statics repeated at each split), read back independently
    from rosbags.rosbag2 import Reader

    with Reader(bag_dir) as reader:
        bag.messages = [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]
    return bag
