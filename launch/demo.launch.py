"""The synthetic drive through the suite: `ros2 launch mmfusion_annotate demo.launch.py scenario:=cut_in`.

Starts two processes: sim_node (the drive's sensor topics, /clock, /tf_static) and the `vehicle` entry
point (fusion_node and recorder_node composed as `mmfusion run` composes them, on sim time), so the bag
holds the sensor topics, pre-labels and events as `mmfusion run` records them.
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
    rig = LaunchConfiguration("rig")
    sensor_qos = LaunchConfiguration("sensor_qos")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "rig",
                default_value=os.path.join(config, "rig_nuscenes_like.yaml"),
                description="rig file the synthetic drive is generated for",
            ),
            DeclareLaunchArgument(
                "scenario", default_value="cut_in", description="built-in scenario or YAML"
            ),
            DeclareLaunchArgument(
                "sensor_qos", default_value="reliable", choices=["sensor_data", "reliable"],
                description="QoS of the sensor topics (fusion and recorder alike)",
            ),
            DeclareLaunchArgument("bag_dir", default_value="demo_bags", description=BAG_DIR_HELP),
            Node(
                package="mmfusion_annotate",
                executable="sim_node",
                output="screen",
                parameters=[
                    os.path.join(config, "sim_node.yaml"),
                    {"rig_file": rig, "scenario": LaunchConfiguration("scenario"), "qos": sensor_qos},
                ],
            ),
            Node(
                package="mmfusion_annotate",
                executable="vehicle",
                output="screen",
                parameters=[
                    os.path.join(config, "fusion_node.yaml"),
                    os.path.join(config, "recorder_node.yaml"),
                    {
                        "rig_file": rig,
                        "bag_dir": LaunchConfiguration("bag_dir"),
                        "use_sim_time": True,
                        "qos": sensor_qos,
                        "recorder.sensor_qos": sensor_qos,
                    },
                ],
            ),
        ]
    )
