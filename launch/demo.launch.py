"""Synthetic drive + fusion + recorder: `ros2 launch mmfusion_annotate demo.launch.py scenario:=cut_in`."""

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
    sim_time = {"use_sim_time": True}
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "rig",
                default_value=os.path.join(share, "config", "rig_nuscenes_like.yaml"),
                description="rig file the synthetic drive is generated for",
            ),
            DeclareLaunchArgument(
                "scenario", default_value="cut_in", description="built-in scenario or YAML"
            ),
            DeclareLaunchArgument("bag_dir", default_value="demo_bags", description=BAG_DIR_HELP),
            Node(
                package="mmfusion_annotate",
                executable="sim_node",
                name="sim_node",
                output="screen",
                parameters=[
                    os.path.join(share, "config", "sim_node.yaml"),
                    {"rig_file": rig, "scenario": LaunchConfiguration("scenario")},
                ],
            ),
            Node(
                package="mmfusion_annotate",
                executable="fusion_node",
                name="fusion_node",
                output="screen",
                parameters=[os.path.join(share, "config", "fusion_node.yaml"), {"rig_file": rig}, sim_time],
            ),
            Node(
                package="mmfusion_annotate",
                executable="recorder_node",
                name="recorder_node",
                output="screen",
                parameters=[
                    os.path.join(share, "config", "recorder_node.yaml"),
                    {"rig_file": rig, "bag_dir": LaunchConfiguration("bag_dir")},
                    sim_time,
                ],
            ),
        ]
    )
