"""The live face of the carried types (``interfaces.live``) and the Event interface package.

What this machine allows: foxglove_msgs is not on PyPI and the interface package cannot be built here,
so the positive decision is taken with the installed side stood in; the hash it compares is checked
against rosidl's own output on installed types, and publishing carried CDR bytes through an installed
type's support is checked over real DDS.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import rclpy
import rclpy.executors
from geometry_msgs.msg import TransformStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy

from mmfusion_annotate.interfaces import live
from mmfusion_annotate.interfaces.definitions import installed_type_hash, msg_text
from mmfusion_annotate.interfaces.live import hash_as, live_type, to_installed
from mmfusion_annotate.interfaces.typestore import carried_typestore

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "interfaces" / "mmfusion_annotate_msgs"
EVENT, INSTALLED_EVENT = "mmfusion_annotate/msg/Event", "mmfusion_annotate_msgs/msg/Event"


def _fields(text: str) -> list[str]:
    """``type name`` of every field, comments and blank lines aside."""
    code = (line.split("#", 1)[0] for line in text.splitlines())
    return [" ".join(line.split()) for line in code if line.strip()]


def test_the_interface_package_defines_the_carried_event_type():
    package_xml = (PACKAGE / "package.xml").read_text(encoding="utf-8")
    assert re.search(r"<name>mmfusion_annotate_msgs</name>", package_xml)
    assert "<member_of_group>rosidl_interface_packages</member_of_group>" in package_xml
    assert '"msg/Event.msg"' in (PACKAGE / "CMakeLists.txt").read_text(encoding="utf-8")
    text = (PACKAGE / "msg" / "Event.msg").read_text(encoding="utf-8")
    assert _fields(text) == _fields(msg_text(EVENT))
    # what rosidl would hash for the package's type, and what live_type compares the installed hash with
    assert hash_as(EVENT, INSTALLED_EVENT, text) == hash_as(EVENT, INSTALLED_EVENT)
    changed = text.replace("int64[] track_ids", "int32[] track_ids")
    assert changed != text and hash_as(EVENT, INSTALLED_EVENT, changed) != hash_as(EVENT, INSTALLED_EVENT)


def test_hashing_under_another_name_reproduces_rosidl():
    """The renamed path of ``hash_as`` on a definition rosidl hashed here: std_msgs/Header (which the event
    type depends on, so its dependencies are at hand)."""
    header = "std_msgs/msg/Header"
    assert hash_as(EVENT, header, msg_text(header)) == installed_type_hash(header) != ""


def test_without_the_packages_everything_stays_bag_only():
    for carried in ("foxglove_msgs/msg/SceneUpdate", "foxglove_msgs/msg/ImageAnnotations", EVENT):
        decided = live_type(carried)
        assert decided.cls is None and "is not installed: bag only" in decided.reason, decided
    assert live_type(EVENT).installed == INSTALLED_EVENT


@pytest.fixture
def fresh_decisions():
    live_type.cache_clear()
    yield
    live_type.cache_clear()


def test_an_installed_package_goes_live_only_with_the_carried_definition(monkeypatch, fresh_decisions):
    stand_in = object  # the installed class: what the publisher is created with
    monkeypatch.setattr(live, "installed_message_class", lambda name: stand_in)
    text = (PACKAGE / "msg" / "Event.msg").read_text(encoding="utf-8")
    monkeypatch.setattr(live, "installed_type_hash", lambda name: hash_as(EVENT, name, text))
    assert live_type(EVENT).cls is stand_in
    live_type.cache_clear()
    older = text.replace("string rule_version\n", "")
    monkeypatch.setattr(live, "installed_type_hash", lambda name: hash_as(EVENT, name, older))
    decided = live_type(EVENT)
    assert decided.cls is stand_in and decided.convert and "converted field by field" in decided.reason


def _carried_like(msgtype: str, drop: str = ""):
    """A rosbags type store holding ``msgtype`` and its dependencies as installed here, minus any field
    line ``drop``: the carried side of a conversion, for a type that is also installed."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from mmfusion_annotate.interfaces.definitions import dependencies

    def text(name: str) -> str:
        lines = msg_text(name).splitlines()
        return "\n".join(line for line in lines if not drop or line.split("#")[0].strip() != drop)

    store = get_typestore(Stores.EMPTY)
    definitions = {}
    for name in (msgtype, *dependencies(msgtype)):
        definitions.update(get_types_from_msg(text(name), name))
    store.register(definitions)
    return store


def test_conversion_copies_every_field_the_installed_type_has():
    """Nested messages, sequences of messages and of numbers, fixed arrays (rosbags gives numpy arrays)."""
    from sensor_msgs.msg import CameraInfo

    store = _carried_like("sensor_msgs/msg/CameraInfo")
    types = store.types
    carried = types["sensor_msgs/msg/CameraInfo"](
        header=types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=3, nanosec=9),
                                            frame_id="cam_front_optical"),
        height=900, width=1600, distortion_model="plumb_bob", d=np.array([0.1, -0.2, 0.0, 0.0, 0.05]),
        k=np.arange(9, dtype=np.float64), r=np.eye(3).ravel(), p=np.arange(12, dtype=np.float64),
        binning_x=0, binning_y=0,
        roi=types["sensor_msgs/msg/RegionOfInterest"](x_offset=4, y_offset=5, height=6, width=7,
                                                      do_rectify=True),
    )  # fmt: skip
    out = to_installed(carried, CameraInfo)
    assert isinstance(out, CameraInfo)
    header = out.header
    assert (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (3, 9, "cam_front_optical")
    assert (out.height, out.width, out.distortion_model) == (900, 1600, "plumb_bob")
    assert list(out.d) == [0.1, -0.2, 0.0, 0.0, 0.05] and list(out.k) == list(range(9))
    assert list(out.p) == list(range(12)) and list(out.r) == list(np.eye(3).ravel())
    assert (out.roi.x_offset, out.roi.width, out.roi.do_rectify) == (4, 7, True)


def test_conversion_leaves_fields_the_carried_release_lacks_at_their_defaults():
    """An "older" carried DiagnosticStatus without hardware_id, in a sequence; byte and sequence fields."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    types = _carried_like("diagnostic_msgs/msg/DiagnosticArray", drop="string hardware_id").types
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=5, nanosec=6),
                                          frame_id="")  # fmt: skip
    status = types["diagnostic_msgs/msg/DiagnosticStatus"](
        level=1, name="fusion_node: pipeline", message="2 dropped",
        values=[types["diagnostic_msgs/msg/KeyValue"](key="frames", value="40")],
    )  # fmt: skip
    assert not hasattr(status, "hardware_id")
    carried = types["diagnostic_msgs/msg/DiagnosticArray"](header=header, status=[status])
    out = to_installed(carried, DiagnosticArray)
    (converted,) = out.status
    assert out.header.stamp.sec == 5 and converted.level == DiagnosticStatus.WARN
    assert (converted.name, converted.message) == ("fusion_node: pipeline", "2 dropped")
    assert [(kv.key, kv.value) for kv in converted.values] == [("frames", "40")]
    assert converted.hardware_id == ""  # not in the carried release: the installed default


@pytest.fixture
def context():
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")  # this host only
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=20 + os.getpid() % 80)  # a domain of this test process
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.mark.dds
def test_carried_cdr_bytes_publish_through_the_installed_type_support(context):
    """What a live carried type does: CDR encoded from the carried definitions (rosbags), published as
    bytes on a publisher of the installed type, arrives as that type, field by field."""
    store = carried_typestore()  # geometry_msgs/TransformStamped is a dependency of the carried TFMessage
    Time, Header = store.types["builtin_interfaces/msg/Time"], store.types["std_msgs/msg/Header"]
    T = store.types["geometry_msgs/msg/Transform"]
    V, Q = store.types["geometry_msgs/msg/Vector3"], store.types["geometry_msgs/msg/Quaternion"]
    carried = store.types["geometry_msgs/msg/TransformStamped"](
        header=Header(stamp=Time(sec=17, nanosec=42), frame_id="base_link"), child_frame_id="lidar_top",
        transform=T(translation=V(x=1.5, y=-0.25, z=1.8), rotation=Q(x=0.0, y=0.0, z=0.6, w=0.8)),
    )  # fmt: skip
    data = bytes(store.serialize_cdr(carried, "geometry_msgs/msg/TransformStamped"))
    node = rclpy.create_node("live_bytes", context=context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    got: list[TransformStamped] = []
    arrived = threading.Event()
    node.create_subscription(TransformStamped, "live_bytes", lambda m: (got.append(m), arrived.set()), qos)
    publisher = node.create_publisher(TransformStamped, "live_bytes", qos)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        for _ in range(100):
            if publisher.get_subscription_count():
                break
            executor.spin_once(timeout_sec=0.05)
        publisher.publish(data)
        for _ in range(100):
            if arrived.is_set():
                break
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        node.destroy_node()
    (msg,) = got
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (17, 42, "base_link")
    assert msg.child_frame_id == "lidar_top"
    t, r = msg.transform.translation, msg.transform.rotation
    assert (t.x, t.y, t.z, r.x, r.y, r.z, r.w) == (1.5, -0.25, 1.8, 0.0, 0.0, 0.6, 0.8)
