"""sim_node over real DDS: sensor topics and /clock arrive with increasing stamps at the requested rate."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from nav_msgs.msg import Odometry
from node_testing import spinning, wait_for
from rclpy import create_node
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rigs import write_small_rig
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Imu, PointCloud2

from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.nodes.sim_node import SimNode, SimNodeConfig
from mmfusion_annotate.types import NS_PER_S

BEST_EFFORT = QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT)
TOPICS = {
    "/lidar_top/points": PointCloud2,
    "/cam_front/image_raw/compressed": CompressedImage,
    "/cam_front/camera_info": CameraInfo,
    "/radar_front/detections": PointCloud2,
    "/imu/data": Imu,
    "/odom": Odometry,
    "/clock": Clock,
}


@pytest.mark.dds
@pytest.mark.slow
def test_publishes_the_drive_with_clock_at_real_time(context, tmp_path):
    duration, epoch = 1.5, SimNodeConfig().epoch_s * NS_PER_S
    received: dict[str, list[tuple[float, int]]] = {t: [] for t in TOPICS}
    lock = threading.Lock()
    listener = create_node("sim_listener", context=context)

    def keep(topic):
        def callback(msg):
            stamp = from_ros_time(msg.clock if topic == "/clock" else msg.header.stamp)
            with lock:
                received[topic].append((time.monotonic(), stamp))

        return callback

    for topic, cls in TOPICS.items():
        listener.create_subscription(cls, topic, keep(topic), BEST_EFFORT)
    sim = SimNode(
        context=context,
        parameter_overrides=[
            Parameter("rig_file", value=str(write_small_rig(tmp_path))),
            Parameter("scenario", value="calm"),
            Parameter("duration_s", value=duration),
        ],
    )
    # the listener spins on an executor of its own, as a subscriber in another process would: sharing the
    # sim's executor, its callbacks and the sim's publishing thread would take turns on the GIL
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(listener)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        with spinning([sim]):
            assert wait_for(sim.finished.is_set, 15.0), f"drive not published: {dict(sim.published)}"
            time.sleep(0.2)
    finally:
        executor.shutdown()
        spinner.join(5.0)
    with lock:
        counts = {t: len(v) for t, v in received.items()}
    # best effort on one host: nearly everything arrives; 100 Hz IMU and /clock, 10 Hz LiDAR, 12 Hz camera
    assert counts["/imu/data"] >= 0.9 * 100 * duration and counts["/clock"] >= 0.9 * 100 * duration
    assert counts["/lidar_top/points"] >= 12 and counts["/cam_front/image_raw/compressed"] >= 15
    assert counts["/cam_front/camera_info"] >= 15 and counts["/odom"] >= 130
    for topic, got in received.items():
        stamps = [s for _, s in got]
        assert stamps == sorted(stamps), f"{topic}: stamps go back"
        assert epoch <= stamps[0] and stamps[-1] < epoch + duration * NS_PER_S, topic
    # real time: the wall time between the first and last IMU message matches their stamp span
    (w0, s0), (w1, s1) = received["/imu/data"][0], received["/imu/data"][-1]
    assert (w1 - w0) == pytest.approx((s1 - s0) / NS_PER_S, abs=0.25)
    assert sim.late < 0.05 * sum(sim.published.values())
    listener.destroy_node()
    sim.destroy_node()


def test_bad_parameter_exits_2_with_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "mmfusion_annotate.nodes.sim_node", "--ros-args", "-p", "scenario:=nowhere"],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sim_node: ") and "nowhere" in lines[0]
