"""``player_node``'s QoS override: volatile topics offered with the chosen sensor QoS, latched ones kept."""

import rclpy
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from mmfusion_annotate.bagtools.source import Channel
from mmfusion_annotate.nodes.player_args import QOS_CHOICES
from mmfusion_annotate.nodes.player_node import _publishers
from mmfusion_annotate.nodes.qos import SENSOR_QOS_NAMES
from mmfusion_annotate.recording.qos import qos_profile

CHANNELS = [
    Channel("/lidar_top", "sensor_msgs/msg/PointCloud2", qos_profile("sensor_data").to_yaml(), ""),
    Channel("/cam_front/camera_info", "sensor_msgs/msg/CameraInfo", qos_profile("latched").to_yaml(), ""),
    # recorded volatile (as the recorder offers camera info): still latched on playback, for late subscribers
    Channel("/cam_back/camera_info", "sensor_msgs/msg/CameraInfo", qos_profile("reliable").to_yaml(), ""),
]


def _offered(context, qos):
    node = rclpy.create_node("player_qos_test", context=context)
    try:
        publishers, skipped = _publishers(node, CHANNELS, qos)
        assert not skipped
        return {topic: pub.qos_profile for topic, pub in publishers.items()}
    finally:
        node.destroy_node()


def test_recorded_qos_by_default_and_reliable_on_request(context):
    recorded = _offered(context, None)
    assert recorded["/lidar_top"].reliability == ReliabilityPolicy.BEST_EFFORT
    reliable = _offered(context, "reliable")
    assert reliable["/lidar_top"].reliability == ReliabilityPolicy.RELIABLE
    for offered in (recorded, reliable):  # static topics are offered transient-local
        assert offered["/cam_front/camera_info"].durability == DurabilityPolicy.TRANSIENT_LOCAL
        assert offered["/cam_back/camera_info"].durability == DurabilityPolicy.TRANSIENT_LOCAL
        assert offered["/cam_back/camera_info"].reliability == ReliabilityPolicy.RELIABLE


def test_the_command_line_offers_every_sensor_qos():
    assert QOS_CHOICES == SENSOR_QOS_NAMES
