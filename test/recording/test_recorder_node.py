"""recorder_node over real DDS: raw subscriptions and statics from the rig, discovery, diagnostics."""

from __future__ import annotations

import random
import re
import time

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import String

from mmfusion_annotate.nodes.qos import RELIABLE_SENSOR_DEPTH
from mmfusion_annotate.nodes.recorder_node import SMALL_TOPIC_HISTORY_S, RecorderNode, reliable_depth
from mmfusion_annotate.recording import BagReader, deserialize


@pytest.mark.dds
@pytest.mark.slow
def test_node_records_rig_topics_statics_and_discovered_topics(tmp_path):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.Random().randint(120, 200))
    try:
        overrides = [
            Parameter("bag_dir", value=str(tmp_path)),
            Parameter("bag_name", value="bag"),
            Parameter("recorder.include", value="^/notes$"),
            Parameter("recorder.discovery_period_s", value=0.2),
        ]
        node = RecorderNode(context=context, parameter_overrides=overrides)
        source = rclpy.create_node("source", context=context)
        camera = source.create_publisher(CompressedImage, "/cam_front/image_raw/compressed", 10)
        notes = source.create_publisher(String, "/notes", 10)
        diagnostics = []
        source.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.add_node(source)
        deadline = time.monotonic() + 6.0
        sent = 0
        while time.monotonic() < deadline and (sent < 20 or not diagnostics):
            executor.spin_once(timeout_sec=0.05)
            if camera.get_subscription_count() and notes.get_subscription_count() and sent < 20:
                camera.publish(CompressedImage(format="jpeg", data=bytes([sent]) * 100))
                notes.publish(String(data=f"note {sent}"))
                sent += 1
        for _ in range(20):
            executor.spin_once(timeout_sec=0.02)
        assert node.close()
        executor.shutdown()
        node.destroy_node()
        source.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)

    by_topic: dict[str, list] = {}
    for message in BagReader(tmp_path / "bag"):
        by_topic.setdefault(message.topic, []).append(message)
    images = [deserialize(m.msgtype, m.data) for m in by_topic["/cam_front/image_raw/compressed"]]
    sequence = [bytes(i.data)[0] for i in images]  # best effort: a burst may lose one, never reorder
    assert sequence == sorted(set(sequence)) and len(sequence) >= 15
    assert len(by_topic["/notes"]) >= 10  # discovered after the first discovery period
    tf = deserialize("tf2_msgs/msg/TFMessage", by_topic["/tf_static"][0].data)
    assert {t.child_frame_id for t in tf.transforms} >= {"cam_front_optical", "lidar_top"}
    assert deserialize("sensor_msgs/msg/CameraInfo", by_topic["/cam_front/camera_info"][0].data).width == 1600
    assert diagnostics and diagnostics[-1].status[0].name == "mmfusion recorder"


def test_reliable_history_keeps_seconds_of_small_topics_and_the_cap_for_large_ones(tmp_path):
    assert reliable_depth("imu", 100.0) == round(100.0 * SMALL_TOPIC_HISTORY_S)
    assert reliable_depth("radar", 13.0) == max(RELIABLE_SENSOR_DEPTH, round(13.0 * SMALL_TOPIC_HISTORY_S))
    assert reliable_depth("imu", 1000.0) == 1000  # capped
    assert reliable_depth("lidar", 10.0) == reliable_depth("camera", 12.0) == RELIABLE_SENSOR_DEPTH
    assert reliable_depth(None, None) is None  # camera_info and other non-sensor topics
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.Random().randint(120, 200))
    try:
        overrides = [Parameter("bag_dir", value=str(tmp_path)),
                     Parameter("recorder.sensor_qos", value="reliable")]  # fmt: skip
        node = RecorderNode(context=context, parameter_overrides=overrides)
        depths = {s.topic_name: s.qos_profile.depth for s in node.subscriptions}
        node.close()
        node.destroy_node()
    finally:
        context.try_shutdown()
    assert depths["/imu/data"] == 500 and depths["/odom"] == 500
    assert depths["/lidar_top/points"] == depths["/cam_front/image_raw/compressed"] == RELIABLE_SENSOR_DEPTH


def _record_once(bag_parent, *, name: str = "") -> tuple[str, int]:
    """Start a recorder node, record one message directly, close it: (its bag folder, messages)."""
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.Random().randint(120, 200))
    try:
        overrides = [Parameter("bag_dir", value=str(bag_parent)), Parameter("bag_name", value=name)]
        node = RecorderNode(context=context, parameter_overrides=overrides)
        node.recorder.enqueue("/notes", "std_msgs/msg/String", b"\x00\x01\x00\x00\x02\x00\x00\x00a\x00", 1)
        assert node.close()
        bag = node.recorder.bag_dir
        node.destroy_node()
    finally:
        context.try_shutdown()
    return str(bag), sum(1 for _ in BagReader(bag))


def test_a_restarted_recorder_never_writes_into_the_previous_bag(tmp_path):
    first, count = _record_once(tmp_path, name="drive")
    before = {p.name: p.read_bytes() for p in (tmp_path / "drive").iterdir()}
    second, _ = _record_once(tmp_path, name="drive")
    assert first == str(tmp_path / "drive") and second == str(tmp_path / "drive_2")
    assert {p.name: p.read_bytes() for p in (tmp_path / "drive").iterdir()} == before
    assert sum(1 for _ in BagReader(first)) == count >= 1
    default, _ = _record_once(tmp_path)  # no name: <rig name>_<UTC time>
    assert re.fullmatch(re.escape(str(tmp_path)) + r"/nuscenes_like_\d{8}_\d{6}", default)


@pytest.fixture
def context():
    """An rclpy context on a random domain of its own, shut down after the test."""
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.Random().randint(120, 200))
    yield context
    rclpy.try_shutdown(context=context)


def bag_recorder(context, tmp_path, *extra: Parameter) -> RecorderNode:
    overrides = [Parameter("bag_dir", value=str(tmp_path)), Parameter("bag_name", value="bag"), *extra]
    return RecorderNode(context=context, parameter_overrides=overrides)


@pytest.mark.dds
def test_messages_dropped_from_a_full_queue_make_the_recording_incomplete(context, tmp_path):
    """A recorder that dropped messages lost data even when its files closed cleanly: main exits 1."""
    node = bag_recorder(context, tmp_path, Parameter("recorder.queue_limit_mb", value=1.0))
    topic = "/cam_front/image_raw/compressed"
    assert node.recorder.enqueue(topic, "sensor_msgs/msg/CompressedImage", bytes(1000), 1)
    assert not node.recorder.enqueue(topic, "sensor_msgs/msg/CompressedImage", bytes(2_000_000), 2)
    node.close()
    assert node.recorder.stats().dropped_total and not node.recording_complete
    node.destroy_node()


@pytest.mark.dds
def test_a_recorder_stopped_before_any_message_gives_its_folder_back(context, tmp_path):
    """A start stopped at once leaves no empty bag folder behind (nothing to mistake for a drive)."""
    node = bag_recorder(context, tmp_path)
    assert (tmp_path / "bag").is_dir()  # claimed at start, so no other recorder takes the name
    assert node.close() and node.recording_complete
    assert not (tmp_path / "bag").exists()
    node.destroy_node()


@pytest.mark.dds
@pytest.mark.slow
def test_a_namespaced_recorder_discovers_its_own_namespace_only(tmp_path):
    """``recorder.include`` matches names inside the namespace; another suite's outputs (a sibling
    namespace, the root) are never taken, and the bag keeps the resolved names."""
    context = rclpy.Context()
    rclpy.init(args=["rec", "--ros-args", "-r", "__ns:=/car1"], context=context,
               domain_id=random.Random().randint(120, 200))  # fmt: skip
    try:
        overrides = [
            Parameter("bag_dir", value=str(tmp_path)),
            Parameter("bag_name", value="bag"),
            Parameter("recorder.include", value="^/notes$"),
            Parameter("recorder.discovery_period_s", value=0.2),
        ]
        node = RecorderNode(context=context, parameter_overrides=overrides)
        source = rclpy.create_node("source", context=context, use_global_arguments=False)
        publishers = {topic: source.create_publisher(String, topic, 10)
                      for topic in ("/car1/notes", "/car2/notes", "/notes")}  # fmt: skip
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.add_node(source)
        deadline = time.monotonic() + 6.0
        sent = 0
        while time.monotonic() < deadline and sent < 20:
            executor.spin_once(timeout_sec=0.05)
            if publishers["/car1/notes"].get_subscription_count():
                for topic, publisher in publishers.items():
                    publisher.publish(String(data=f"{topic} {sent}"))
                sent += 1
        for _ in range(20):
            executor.spin_once(timeout_sec=0.02)
        assert node.get_namespace() == "/car1"
        subscribed = {t for t, _ in source.get_subscriber_names_and_types_by_node("recorder_node", "/car1")}
        assert node.close()
        executor.shutdown()
        node.destroy_node()
        source.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    topics = {message.topic for message in BagReader(tmp_path / "bag")}
    assert "/car1/notes" in topics and not {"/car2/notes", "/notes"} & topics, topics
    assert "/tf_static" in topics  # global
    assert "/cam_front/image_raw/compressed" in subscribed  # the rig's absolute topics stay absolute
