"""The topics the suite publishes and records its results on, with their types and QoS.

``OUTPUT_TOPICS`` lists the fixed ones; ``output_topics(rig)`` adds the per-camera ones
(``<camera ns>/annotations`` next to the image, and each camera's info topic). The nodes publish and the
recorder records exactly these, so a review tool finds the same topics live and in a bag. Carried types
(``interfaces.definitions.is_carried``: ``foxglove_msgs``, ``tf2_msgs``, the project's ``Event``) have no
compiled type support, so rclpy cannot publish them live: the recorder and ``mmfusion replay`` write them
into bags as CDR (``recording.serialize``).

Names: the suite's own outputs are published under relative names (``published_name``), so
``--ros-args -r __ns:=/car1`` moves them (``/car1/prelabels/scene``) and two rigs run side by side; the
topics ROS expects global (``GLOBAL_TOPICS``) and the rig's sensor topics given absolute stay as they are.
The names here are those of the root namespace, the names a bag of an un-namespaced run holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, POINTCLOUD2, TF_MESSAGE
from mmfusion_annotate.rig import Rig, Sensor
from mmfusion_annotate.rig.rig import default_info_topic


@dataclass(frozen=True)
class OutputTopic:
    """One output topic: type, QoS profile name (``recording.qos``) and what renders it."""

    topic: str
    msgtype: str
    qos: str
    renders_in: str


OUTPUT_TOPICS: tuple[OutputTopic, ...] = (
    OutputTopic("/prelabels/scene", "foxglove_msgs/msg/SceneUpdate", "reliable",
                "Foxglove 3D panel: cuboids, labels, radar-only candidates; metadata per entity"),
    OutputTopic("/prelabels/markers", "visualization_msgs/msg/MarkerArray", "reliable",
                "RViz MarkerArray display (and Foxglove 3D)"),
    OutputTopic("/prelabels/review", "foxglove_msgs/msg/SceneUpdate", "reliable",
                "Foxglove 3D panel: review outlines; metadata = the review queue"),
    OutputTopic("/events", "mmfusion_annotate/msg/Event", "reliable",
                "Foxglove Raw Messages / plots; also listed by `mmfusion events`"),
    OutputTopic("/fusion/colored_cloud", POINTCLOUD2, "sensor_data",
                "RViz PointCloud2 (colour transformer RGB8), Foxglove 3D (colour field rgb)"),
    OutputTopic("/tf_static", TF_MESSAGE, "latched", "frame tree for RViz and Foxglove"),
)  # fmt: skip
"""The fixed output topics (see the README's topics table)."""

ANNOTATIONS_TYPE = "foxglove_msgs/msg/ImageAnnotations"
GLOBAL_TOPICS = frozenset({"/tf", "/tf_static", "/clock", "/diagnostics"})
"""Topics that stay in the root namespace whatever the node's namespace (as tf2, rclpy and rqt expect)."""


def published_name(topic: str) -> str:
    """The name a node creates the suite's output ``topic`` under: relative (the namespace prefixes it)
    unless it is one of ``GLOBAL_TOPICS``."""
    return topic if topic in GLOBAL_TOPICS else topic.lstrip("/")


def within_namespace(topic: str, namespace: str) -> str:
    """A fully qualified ``topic`` as seen from inside ``namespace``: ``/car1/prelabels/scene`` ->
    ``/prelabels/scene`` in ``/car1``; a topic outside the namespace is returned unchanged."""
    prefix = namespace.rstrip("/") + "/"
    return "/" + topic[len(prefix):] if prefix != "/" and topic.startswith(prefix) else topic


def annotations_topic(camera: Sensor) -> str:
    """``<camera ns>/annotations``: next to the image and its camera_info, where Foxglove offers it."""
    return default_info_topic(camera.topic).removesuffix("camera_info") + "annotations"


def output_topics(rig: Rig) -> tuple[OutputTopic, ...]:
    """Fixed topics, then each camera's annotations, then each camera's info topic (rig order)."""
    cameras = rig.cameras()
    annotations = tuple(
        OutputTopic(annotations_topic(c), ANNOTATIONS_TYPE, "reliable", f"Foxglove Image panel on {c.topic}")
        for c in cameras
    )
    infos = tuple(
        OutputTopic(c.camera_info_topic, CAMERA_INFO, "reliable", "camera model: RViz Camera, Foxglove Image")
        for c in cameras
        if c.camera is not None
    )
    return OUTPUT_TOPICS + annotations + infos
