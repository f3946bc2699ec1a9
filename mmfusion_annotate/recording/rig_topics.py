"""What the recorder takes from the rig: each sensor's topic and type, and the static messages it owns.

``/tf_static`` is built from the rig's frame tree (a bag must carry it even when no
``static_transform_publisher`` runs, and ``tf2_msgs`` is a carried type here), and each camera's
``CameraInfo`` from its model (both by ``msgs.static``); both are repeated at the start of every split.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmfusion_annotate.msgs import static
from mmfusion_annotate.recording.cdr import serialize
from mmfusion_annotate.rig import Rig, Sensor
from mmfusion_annotate.types import Stamp

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


def tf_static_message(rig: Rig, stamp: Stamp) -> bytes:
    """CDR of the rig's frame tree as ``tf2_msgs/TFMessage`` (built by ``msgs.static``)."""
    return serialize(TF_TYPE, static.tf_static_message(rig, stamp))


def camera_info_messages(rig: Rig, stamp: Stamp) -> dict[str, bytes]:
    """Info topic -> CDR of the camera's ``CameraInfo`` from the rig's model."""
    return {
        topic: serialize(CAMERA_INFO_TYPE, msg)
        for topic, msg in static.camera_info_messages(rig, stamp).items()
    }
