"""Fusion + recorder for a real car: `ros2 launch mmfusion_annotate vehicle.launch.py rig:=/path/rig.yaml`."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

BAG_DIR_HELP = "folder in which each run creates a new bag (<rig>_<UTC time>; never an existing one)"


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("mmfusion_annotate")
    rig = LaunchConfiguration("rig")
    use_sim_time = LaunchConfiguration("use_sim_time")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "rig",
                default_value=os.path.join(share, "config", "rig_nuscenes_like.yaml"),
                description="rig file (sensors, topics, calibration)",
            ),
            DeclareLaunchArgument("bag_dir", default_value="recordings", description=BAG_DIR_HELP),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="follow /clock"),
            Node(
                package="mmfusion_annotate",
                executable="fusion_node",
                name="fusion_node",
                output="screen",
                parameters=[
                    os.path.join(share, "config", "fusion_node.yaml"),
                    {"rig_file": rig, "use_sim_time": use_sim_time},
                ],
            ),
            Node(
                package="mmfusion_annotate",
                executable="recorder_node",
                name="recorder_node",
                output="screen",
                parameters=[
                    os.path.join(share, "config", "recorder_node.yaml"),
                    {
                        "rig_file": rig,
                        "bag_dir": LaunchConfiguration("bag_dir"),
                        "use_sim_time": use_sim_time,
                    },
                ],
            ),
        ]
    )
