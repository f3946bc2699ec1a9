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

from collections.abc import Iterable
from dataclasses import dataclass

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, EVENT, POINTCLOUD2, TF_MESSAGE
from mmfusion_annotate.rig import Rig, Sensor
from mmfusion_annotate.rig.rig import default_info_topic


@dataclass(frozen=True)
class OutputTopic:
    """One output topic: type, QoS profile name (``recording.qos``) and what renders it."""

    topic: str
    msgtype: str
    qos: str
    renders_in: str


SCENE_TOPIC = "/prelabels/scene"
MARKERS_TOPIC = "/prelabels/markers"
REVIEW_TOPIC = "/prelabels/review"
EVENTS_TOPIC = "/events"
COLORED_CLOUD_TOPIC = "/fusion/colored_cloud"

OUTPUT_TOPICS: tuple[OutputTopic, ...] = (
    OutputTopic(SCENE_TOPIC, "foxglove_msgs/msg/SceneUpdate", "reliable",
                "Foxglove 3D panel: cuboids, labels, radar-only candidates; metadata per entity"),
    OutputTopic(MARKERS_TOPIC, "visualization_msgs/msg/MarkerArray", "reliable",
                "RViz MarkerArray display (and Foxglove 3D)"),
    OutputTopic(REVIEW_TOPIC, "foxglove_msgs/msg/SceneUpdate", "reliable",
                "Foxglove 3D panel: review outlines; metadata = the review queue"),
    OutputTopic(EVENTS_TOPIC, EVENT, "reliable",
                "Foxglove Raw Messages / plots; also listed by `mmfusion events`"),
    OutputTopic(COLORED_CLOUD_TOPIC, POINTCLOUD2, "sensor_data",
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


def namespaced_as(topic: str, name: str) -> bool:
    """Whether ``name`` is the root name ``topic`` itself or ``topic`` under some namespace
    (``/car1/prelabels/scene`` for ``/prelabels/scene``)."""
    return name == topic or (name.endswith(topic) and name.startswith("/") and len(name) > len(topic))


def find_output_topic(topics: Iterable[str], topic: str, bag: object = "") -> str | None:
    """The name the output ``topic`` (a root name) has among a bag's ``topics``, in whatever namespace
    the run was recorded under; None when the bag lacks it. BagError naming the namespaces when the bag
    holds it under several (two rigs in one bag: which one to read is the user's call)."""
    found = {name for name in topics if namespaced_as(topic, name)}
    if len(found) > 1:
        spaces = ", ".join(sorted(name.removesuffix(topic) or "/" for name in found))
        where = f"{bag}: " if bag else ""
        raise BagError(f"{where}{topic} is in several namespaces ({spaces}); record one rig per bag")
    return found.pop() if found else None


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
