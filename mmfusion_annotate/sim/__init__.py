"""Synthetic drives with known truth: world, ego, LiDAR/camera/radar/IMU/odometry, faults, scenarios.

``Drive(rig, scenario)`` yields time-ordered ``SensorSample``s (``.samples()``) or ROS messages
(``.messages()``) and records the truth in ``.truth``; ``write_bag`` writes it as a rosbag2 MCAP bag.
Everything here is ROS-free except the message conversion, which imports message types lazily.
"""

from mmfusion_annotate.sim.bag import write_bag
from mmfusion_annotate.sim.config import SimConfig
from mmfusion_annotate.sim.drive import Drive
from mmfusion_annotate.sim.scenario import Scenario, builtin_scenarios, load_scenario

__all__ = ["Drive", "Scenario", "SimConfig", "builtin_scenarios", "load_scenario", "write_bag"]
