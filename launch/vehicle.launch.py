"""The suite on a car: `ros2 launch mmfusion_annotate vehicle.launch.py rig:=/path/rig.yaml`.

Starts one process, the `vehicle` entry point: fusion_node and recorder_node composed as `mmfusion run`
composes them, so the bag holds the sensor topics, pre-labels and events exactly as `mmfusion run`
records them. Each node reads its section of config/fusion_node.yaml and config/recorder_node.yaml.
`namespace:=/car1` moves the suite's own topics and node names (the rig's absolute sensor topics, /tf,
/tf_static, /clock and /diagnostics stay global).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

BAG_DIR_HELP = "folder in which each run creates a new bag (<rig>_<UTC time>; never an existing one)"


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("mmfusion_annotate")
    config = os.path.join(share, "config")
    sensor_qos = LaunchConfiguration("sensor_qos")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "rig",
                default_value=os.path.join(config, "rig_nuscenes_like.yaml"),
                description="rig file (sensors, topics, calibration)",
            ),
            DeclareLaunchArgument(
                "sensor_qos", default_value="sensor_data", choices=["sensor_data", "reliable"],
                description="QoS of the sensor topics (fusion and recorder alike)",
            ),
            DeclareLaunchArgument("bag_dir", default_value="recordings", description=BAG_DIR_HELP),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="follow /clock"),
            DeclareLaunchArgument(
                "namespace", default_value="", description="namespace of the suite's nodes and topics"
            ),
            Node(
                package="mmfusion_annotate",
                executable="vehicle",
                namespace=LaunchConfiguration("namespace"),
                output="screen",
                parameters=[
                    os.path.join(config, "fusion_node.yaml"),
                    os.path.join(config, "recorder_node.yaml"),
                    {
                        "rig_file": LaunchConfiguration("rig"),
                        "bag_dir": LaunchConfiguration("bag_dir"),
                        "use_sim_time": LaunchConfiguration("use_sim_time"),
                        "qos": sensor_qos,
                        "recorder.sensor_qos": sensor_qos,
                    },
                ],
            ),
        ]
    )
