"""What the recorder takes from the rig: each sensor's topic and type, and the static messages it owns.

``/tf_static`` is built from the rig's frame tree (a bag must carry it even when no
``static_transform_publisher`` runs, and ``tf2_msgs`` is a carried type here), and each camera's
``CameraInfo`` from its model (both by ``outputs.static``); both are repeated at the start of every split.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmfusion_annotate.interfaces.cdr import serialize
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, TF_MESSAGE
from mmfusion_annotate.outputs import static
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import Stamp

TF_STATIC = "/tf_static"


@dataclass(frozen=True)
class RigTopic:
    """A topic the rig says to record, with its type and the QoS profile name it is offered with."""

    topic: str
    msgtype: str
    qos: str
    static: bool = False


def rig_topics(rig: Rig) -> list[RigTopic]:
    """Every sensor topic, then every camera-info topic (static), in rig file order."""
    topics = [RigTopic(s.topic, s.msgtype, "sensor_data") for s in rig.sensors.values()]
    topics += [RigTopic(s.camera_info_topic, CAMERA_INFO, "reliable", static=True) for s in rig.cameras()]
    return topics


def tf_static_message(rig: Rig, stamp: Stamp) -> bytes:
    """CDR of the rig's frame tree as ``tf2_msgs/TFMessage`` (built by ``outputs.static``)."""
    return serialize(TF_MESSAGE, static.tf_static_message(rig, stamp))


def camera_info_messages(rig: Rig, stamp: Stamp) -> dict[str, bytes]:
    """Info topic -> CDR of the camera's ``CameraInfo`` from the rig's model."""
    return {
        topic: serialize(CAMERA_INFO, msg)
        for topic, msg in static.camera_info_messages(rig, stamp).items()
    }
