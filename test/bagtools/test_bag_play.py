"""Playback: pacing with a fake clock (no DDS), and a real DDS run where a subscriber gets every message."""

from __future__ import annotations

import threading
import time

import pytest
from bag_samples import PERIOD, STEPS, T0, write_sample_bag

from mmfusion_annotate.bagtools.play import Pacer, play_messages
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording.reader import BagMessage


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_messages_are_due_at_their_recorded_pace_divided_by_rate():
    fake = FakeTime()
    messages = [BagMessage("/a", "x/msg/A", bytes([i]), T0 + i * PERIOD) for i in range(5)]
    published: list[tuple[float, int]] = []
    ticks: list[int] = []
    pacer = Pacer(4.0, clock_period_s=0.01, now=lambda: fake.now, sleep=fake.sleep)
    stats = play_messages(lambda: messages, lambda m: published.append((fake.now, m.log_time_ns)), pacer,
                          clock=ticks.append)  # fmt: skip
    assert [t for _, t in published] == [m.log_time_ns for m in messages]
    walls = [w - published[0][0] for w, _ in published]
    assert walls == pytest.approx([i * 0.1 / 4.0 for i in range(5)])  # 10 Hz at rate 4: every 25 ms
    assert max(fake.slept) <= 0.01 + 1e-12  # the clock ticks at least every period while waiting
    assert ticks == sorted(ticks) and ticks[0] == T0 and ticks[-1] == messages[-1].log_time_ns
    assert stats.messages == 5 and stats.loops == 1 and stats.clock_ticks == len(ticks)


def test_loop_restarts_and_the_clock_jumps_back_until_stopped():
    fake = FakeTime()
    stop = threading.Event()
    messages = [BagMessage("/a", "x/msg/A", b"", T0 + i * PERIOD) for i in range(3)]
    seen: list[int] = []

    def publish(message: BagMessage) -> None:
        seen.append(message.log_time_ns)
        if len(seen) == 7:
            stop.set()

    ticks: list[int] = []
    pacer = Pacer(1.0, now=lambda: fake.now, sleep=fake.sleep)
    stats = play_messages(lambda: messages, publish, pacer, clock=ticks.append, loop=True, stop=stop)
    assert seen == [m.log_time_ns for m in messages] * 2 + [T0]
    assert stats.loops == 2 and stats.messages == 7
    jumps = [b for a, b in zip(ticks, ticks[1:], strict=False) if b < a]
    assert jumps == [T0, T0]


def test_rate_must_be_positive():
    with pytest.raises(BagError, match="rate must be positive"):
        Pacer(0.0)


@pytest.mark.dds
@pytest.mark.slow
def test_play_over_dds_delivers_every_message_in_order_with_clock(tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Imu

    from mmfusion_annotate.nodes.player_node import play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    expected_imu = [data for topic, _, data in bag.messages if topic == "/imu"]
    sub_context = rclpy.Context()
    rclpy.init(context=sub_context)
    play_context = rclpy.Context()
    rclpy.init(context=play_context)
    received: dict[str, list] = {"/imu": [], "/clock": [], "/cam_front/camera_info": []}
    node = rclpy.create_node("play_test_listener", context=sub_context)
    # the bag recorded /imu with sensor-data QoS (best effort): a reliable subscriber would not match
    sensor_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
    node.create_subscription(Imu, "/imu", lambda m: received["/imu"].append(m), sensor_qos, raw=True)
    infos = received["/cam_front/camera_info"]
    node.create_subscription(CameraInfo, "/cam_front/camera_info", infos.append, QoSProfile(depth=100))
    node.create_subscription(Clock, "/clock", lambda m: received["/clock"].append(m), QoSProfile(depth=1000))
    executor = SingleThreadedExecutor(context=sub_context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        started = time.monotonic()
        # the player matching us does not mean we matched it yet: best effort would drop the first message
        result = play_bag(bag.path, rate=5.0, context=play_context, wait_for_subscribers_s=10.0, delay_s=1.0)
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 5.0
        while len(received["/imu"]) < len(expected_imu) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=sub_context)
        rclpy.shutdown(context=play_context)
    assert received["/imu"] == expected_imu  # raw bytes, every one, in order
    assert result.per_topic["/imu"] == len(expected_imu)
    assert len(received["/cam_front/camera_info"]) == result.per_topic["/cam_front/camera_info"] == 4
    assert set(result.skipped) >= {"/events"}  # carried type, no rclpy type support here
    clock = [m.clock.sec * 1_000_000_000 + m.clock.nanosec for m in received["/clock"]]
    assert clock == sorted(clock) and clock[0] == T0 and clock[-1] == T0 + (STEPS - 1) * PERIOD
    assert len(clock) > 2 * STEPS  # ticks between messages too
    assert 2.9 / 5.0 - 0.05 < result.wall_s < elapsed < 2.9 / 5.0 + 10.0 + 1.0 + 2.0



@pytest.mark.dds
def test_play_warns_naming_the_topics_nobody_subscribed_to_after_the_wait(tmp_path, capfd):
    import rclpy

    from mmfusion_annotate.nodes.player_node import play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=87)  # a domain of its own: nothing subscribes there
    try:
        started = time.monotonic()
        result = play_bag(bag.path, rate=20.0, context=context, wait_for_subscribers_s=0.3, clock=False)
    finally:
        rclpy.shutdown(context=context)
    assert time.monotonic() - started >= 0.3
    assert result.per_topic["/imu"] > 0  # played anyway
    warning = next(line for line in capfd.readouterr().err.splitlines() if "no subscriber after" in line)
    assert "no subscriber after 0.3 s on " in warning and "/imu" in warning and "/clock" not in warning


def test_play_bag_rejects_a_negative_delay(tmp_path):
    from mmfusion_annotate.nodes.player_node import play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    with pytest.raises(BagError, match="waits must be >= 0 s"):
        play_bag(bag.path, delay_s=-1.0)
