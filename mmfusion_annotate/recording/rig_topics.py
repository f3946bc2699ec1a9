"""What the recorder takes from the rig: each sensor's topic and type, and the static messages it owns.

``/tf_static`` is built from the rig's extrinsics (a bag must carry its frame tree even when no
``static_transform_publisher`` runs, and ``tf2_msgs`` is a carried type here), and each camera's
``CameraInfo`` from its model; both are repeated at the start of every split file.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmfusion_annotate.recording.cdr import new_message, serialize
from mmfusion_annotate.rig import Rig, Sensor
from mmfusion_annotate.types import NS_PER_S, Stamp

SENSOR_TYPES = {
    "lidar": "sensor_msgs/msg/PointCloud2",
    "radar": "sensor_msgs/msg/PointCloud2",
    "imu": "sensor_msgs/msg/Imu",
    "odometry": "nav_msgs/msg/Odometry",
}
TF_STATIC = "/tf_static"
TF_TYPE = "tf2_msgs/msg/TFMessage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


@dataclass(frozen=True)
class RigTopic:
    """A topic the rig says to record, with its type and the QoS profile name it is offered with."""

    topic: str
    msgtype: str
    qos: str
    static: bool = False


def sensor_msgtype(sensor: Sensor) -> str:
    """The message type a sensor publishes (cameras: Image, or CompressedImage when ``compressed``)."""
    if sensor.kind == "camera":
        return "sensor_msgs/msg/CompressedImage" if sensor.compressed else "sensor_msgs/msg/Image"
    return SENSOR_TYPES[sensor.kind]


def rig_topics(rig: Rig) -> list[RigTopic]:
    """Every sensor topic, then every camera-info topic (static), in rig file order."""
    topics = [RigTopic(s.topic, sensor_msgtype(s), "sensor_data") for s in rig.sensors.values()]
    topics += [RigTopic(s.info_topic, CAMERA_INFO_TYPE, "reliable", static=True) for s in rig.cameras()]
    return topics


def _time(stamp: Stamp) -> dict[str, int]:
    return {"sec": stamp // NS_PER_S, "nanosec": stamp % NS_PER_S}


def tf_static_message(rig: Rig, stamp: Stamp) -> bytes:
    """CDR of a ``tf2_msgs/TFMessage`` holding every sensor's ``parent_frame -> frame_id`` transform."""
    transforms = []
    for sensor in rig.sensors.values():
        x, y, z = sensor.translation
        qx, qy, qz, qw = sensor.rotation_xyzw
        transforms.append({
            "header": {"stamp": _time(stamp), "frame_id": sensor.parent_frame},
            "child_frame_id": sensor.frame_id,
            "transform": {"translation": {"x": x, "y": y, "z": z},
                          "rotation": {"x": qx, "y": qy, "z": qz, "w": qw}},
        })  # fmt: skip
    return serialize(TF_TYPE, new_message(TF_TYPE, transforms=transforms))


def camera_info_messages(rig: Rig, stamp: Stamp) -> dict[str, bytes]:
    """Info topic -> CDR of the camera's ``CameraInfo`` from the rig's model."""
    return {
        s.info_topic: serialize(CAMERA_INFO_TYPE, s.camera.to_camera_info(s.frame_id, stamp))
        for s in rig.cameras()
        if s.camera is not None
    }
