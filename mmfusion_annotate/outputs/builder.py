"""What one annotated frame (and each closed event) becomes on the wire: the single output mapping.

``fusion_node`` publishes these live and ``bagtools.replay`` writes them into bags, both through
``OutputBuilder``, so a live recording and an offline replay carry the same topics, types and contents.
Types that rclpy cannot publish here (the carried ``foxglove_msgs``, ``tf2_msgs`` and the event type) are
marked ``dds=False``: live they reach the bag through the in-process recorder, never through DDS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mmfusion_annotate.annotator import AnnotatedFrame
from mmfusion_annotate.events.model import Event
from mmfusion_annotate.interfaces.definitions import is_carried
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, TF_MESSAGE
from mmfusion_annotate.outputs.labels import (
    colored_cloud,
    event_message,
    image_annotations,
    review_update,
    scene_update,
)
from mmfusion_annotate.outputs.markers import marker_array
from mmfusion_annotate.outputs.static import camera_info_messages, tf_static_message
from mmfusion_annotate.outputs.topics import (
    ANNOTATIONS_TYPE,
    COLORED_CLOUD_TOPIC,
    EVENTS_TOPIC,
    MARKERS_TOPIC,
    OUTPUT_TOPICS,
    REVIEW_TOPIC,
    SCENE_TOPIC,
    annotations_topic,
)
from mmfusion_annotate.prelabel.model import PrelabelResult
from mmfusion_annotate.types import Stamp

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

__all__ = ["OUTPUT_TOPICS", "Output", "OutputBuilder", "static_outputs"]
_TYPES = {t.topic: t for t in OUTPUT_TOPICS}


@dataclass(frozen=True)
class Output:
    """One message to publish or record: ``static`` ones are repeated at the start of every split."""

    topic: str
    msgtype: str
    msg: Any
    stamp_ns: Stamp
    qos: str = "reliable"
    static: bool = False

    @property
    def dds(self) -> bool:
        """False for carried types, which rclpy has no type support for on this install."""
        return not is_carried(self.msgtype)


def _fixed(topic: str, msg: Any, stamp_ns: Stamp) -> Output:
    spec = _TYPES[topic]
    return Output(topic, spec.msgtype, msg, stamp_ns, spec.qos)


def static_outputs(rig: Rig, stamp_ns: Stamp) -> list[Output]:
    """``/tf_static`` from the rig frame tree and each CameraInfo (latched, repeated per split)."""
    outputs = [Output("/tf_static", TF_MESSAGE, tf_static_message(rig, stamp_ns), stamp_ns, "latched", True)]
    outputs += [
        Output(topic, CAMERA_INFO, msg, stamp_ns, "latched", True)
        for topic, msg in camera_info_messages(rig, stamp_ns).items()
    ]
    return outputs


class OutputBuilder:
    """Turns annotated frames into outputs; keeps the previous result so retired tracks are deleted."""

    def __init__(self, rig: Rig, frame_id: str = "base_link", *, colored_cloud: bool = True) -> None:
        self._cameras = {c.name: c for c in rig.cameras()}
        self._frame_id = frame_id
        self._colored_cloud = colored_cloud
        self._previous: PrelabelResult | None = None

    def frame(self, annotated: AnnotatedFrame) -> list[Output]:
        labels, stamp = annotated.labels, annotated.frame.stamp
        outputs = [
            _fixed(
                SCENE_TOPIC,
                scene_update(labels, stamp, self._frame_id, previous=self._previous),
                stamp,
            ),
            _fixed(REVIEW_TOPIC, review_update(labels, stamp, self._frame_id), stamp),
            _fixed(MARKERS_TOPIC, marker_array(labels, stamp, self._frame_id), stamp),
        ]
        if self._colored_cloud:
            outputs.append(_fixed(COLORED_CLOUD_TOPIC, colored_cloud(annotated.frame), stamp))
        for name in annotated.frame.cameras:
            image_stamp = annotated.header_stamps[name]  # Foxglove pairs annotations by the exact image stamp
            outputs.append(self._annotations(labels, name, image_stamp))
        self._previous = labels
        return outputs

    def _annotations(self, labels: PrelabelResult, camera: str, image_stamp: Stamp) -> Output:
        return Output(annotations_topic(self._cameras[camera]), ANNOTATIONS_TYPE,
                      image_annotations(labels, camera, image_stamp), image_stamp)  # fmt: skip

    @staticmethod
    def events(events: Iterable[Event]) -> list[Output]:
        return [_fixed(EVENTS_TOPIC, event_message(e), e.peak) for e in events]
