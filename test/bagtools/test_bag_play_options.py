"""``mmfusion play`` options over real DDS: pause and step (with a late subscriber that still gets the
latched topics), start offset, topic selection and remapping, --clock HZ, --loop; bad arguments exit 2
with one line; the keyboard of a real terminal (a pseudo-terminal) resumes a paused player."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import rclpy
from bag_samples import NS, PERIOD, STEPS, T0, write_sample_bag
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Imu

from mmfusion_annotate.bagtools.play import PlaybackControl
from mmfusion_annotate.cli import main as cli_main
from mmfusion_annotate.interfaces.cdr import installed_message_class
from mmfusion_annotate.interfaces.msgtypes import TF_MESSAGE

pytestmark = pytest.mark.dds

BEST_EFFORT = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE = QoSProfile(depth=1000)
LATCHED = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)
TYPES = {"imu": Imu, "camera_info": CameraInfo, "clock": Clock}
_domains = iter(range(1000))


def _domain() -> int:
    return 150 + (os.getpid() * 7 + next(_domains)) % 50


class Listener:
    """Subscriptions in a context of their own, spun on a thread; raw bytes (clock decoded) per topic."""

    def __init__(self, domain: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("play_options_listener", context=self.context)
        self.got: dict[str, list] = {}
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def listen(self, topic: str, kind: str, qos: QoSProfile) -> list:
        received = self.got.setdefault(topic, [])
        if kind == "clock":
            callback = lambda m: received.append(m.clock.sec * NS + m.clock.nanosec)  # noqa: E731
            self.node.create_subscription(Clock, topic, callback, qos)
        else:
            cls = installed_message_class(TF_MESSAGE) if kind == "tf" else TYPES[kind]
            self.node.create_subscription(cls, topic, received.append, qos, raw=True)
        return received

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _until(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _player_context(domain: int) -> rclpy.Context:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    return context


def _recorded(bag, topic: str, since: int = 0) -> list[bytes]:
    return [data for name, t, data in bag.messages if name == topic and t >= since]


def test_paused_player_steps_and_a_late_subscriber_still_gets_the_latched_topics(tmp_path):
    from mmfusion_annotate.nodes.player_node import play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    domain = _domain()
    listener = Listener(domain)
    clock = listener.listen("/clock", "clock", RELIABLE)
    context = _player_context(domain)
    control = PlaybackControl(paused=True)
    results = []
    player = threading.Thread(target=lambda: results.append(
        play_bag(bag.path, rate=5.0, context=context, control=control, clock_hz=50.0)))  # fmt: skip
    tf_installed = installed_message_class(TF_MESSAGE) is not None
    try:
        player.start()
        assert _until(lambda: len(clock) >= 5)  # paused: the clock ticks, standing at the first stamp
        assert set(clock) == {T0}
        control.step()  # the first message (camera info at T0, /tf_static too where tf2_msgs is installed)
        control.step()
        time.sleep(0.3)
        # joins after they were published: transient-local durability hands them over
        infos = listener.listen("/cam_front/camera_info", "camera_info", LATCHED)
        statics = listener.listen("/tf_static", "tf", LATCHED) if tf_installed else None
        imu = listener.listen("/imu", "imu", BEST_EFFORT)
        assert _until(lambda: len(infos) >= 1)
        assert infos[0] == _recorded(bag, "/cam_front/camera_info")[0]
        if statics is not None:
            assert _until(lambda: statics == _recorded(bag, "/tf_static")[:1])
        time.sleep(0.5)  # discovery of the late /imu subscriber
        control.resume()
        player.join(20.0)
        _until(lambda: imu[-1:] == _recorded(bag, "/imu")[-1:], 3.0)
    finally:
        control.resume()
        player.join(20.0)
        listener.close()
        rclpy.try_shutdown(context=context)
    (result,) = results
    expected_imu = _recorded(bag, "/imu")
    assert imu == expected_imu[len(expected_imu) - len(imu) :]  # in order, to the end
    assert len(imu) >= STEPS - 3
    assert clock == sorted(clock) and clock[-1] == T0 + (STEPS - 1) * PERIOD
    assert result.not_played["/events"] == 2  # carried type: listed once at the start, counted here
    if not tf_installed:
        assert "/tf_static" in result.skipped
        assert result.not_played["/tf_static"] == len(_recorded(bag, "/tf_static"))


def test_start_offset_publishes_the_latched_state_first_then_from_the_offset(tmp_path):
    from mmfusion_annotate.nodes.player_node import play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    domain = _domain()
    listener = Listener(domain)
    imu = listener.listen("/imu", "imu", BEST_EFFORT)
    infos = listener.listen("/cam_front/camera_info", "camera_info", LATCHED)
    clock = listener.listen("/clock", "clock", RELIABLE)
    context = _player_context(domain)
    start = T0 + 1_550_000_000
    try:
        result = play_bag(bag.path, rate=5.0, context=context, start_offset_s=1.55,
                          wait_for_subscribers_s=10.0, delay_s=1.0)  # fmt: skip
        _until(lambda: imu[-1:] == _recorded(bag, "/imu")[-1:], 3.0)
    finally:
        listener.close()
        rclpy.try_shutdown(context=context)
    assert imu == _recorded(bag, "/imu", since=start)
    before = [data for topic, t, data in bag.messages if topic == "/cam_front/camera_info" and t < start]
    assert infos[0] == before[-1]  # the calibration in force at the offset, first
    assert infos[1:] == _recorded(bag, "/cam_front/camera_info", since=start)
    assert clock[0] == start and result.per_topic["/imu"] == len(imu)


def test_topics_exclude_and_remap(tmp_path):
    from mmfusion_annotate.nodes.player_node import format_play, play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    domain = _domain()
    listener = Listener(domain)
    remapped = listener.listen("/car1/imu", "imu", BEST_EFFORT)
    original = listener.listen("/imu", "imu", BEST_EFFORT)
    infos = listener.listen("/cam_front/camera_info", "camera_info", LATCHED)
    context = _player_context(domain)
    try:
        result = play_bag(bag.path, rate=10.0, context=context, clock=False,
                          topics=["/imu", "/cam_front/camera_info", "/events"], exclude=re.compile("^/cam"),
                          remap=[("/imu", "/car1/imu")], wait_for_subscribers_s=10.0,
                          delay_s=1.0)  # fmt: skip
        _until(lambda: len(remapped) == len(_recorded(bag, "/imu")), 3.0)
    finally:
        listener.close()
        rclpy.try_shutdown(context=context)
    assert remapped == _recorded(bag, "/imu") and original == [] and infos == []
    assert set(result.per_topic) == {"/imu"} and set(result.skipped) == {"/events"}
    assert result.remapped == {"/imu": "/car1/imu"}
    assert "remapped /imu -> /car1/imu" in format_play(result)
    skipped = "skipped /events: message type mmfusion_annotate/msg/Event is not installed"
    assert f"{skipped} (2 messages not played)" in format_play(result)


def test_clock_rate_sets_the_ticks_between_messages(tmp_path):
    from mmfusion_annotate.nodes.player_node import play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    domain = _domain()
    listener = Listener(domain)
    clock = listener.listen("/clock", "clock", RELIABLE)
    listener.listen("/cam_front/camera_info", "camera_info", LATCHED)
    context = _player_context(domain)
    try:  # camera info alone: gaps of up to 1 s of bag time, 0.25 s of wall time at rate 4
        result = play_bag(bag.path, rate=4.0, context=context, clock_hz=20.0,
                          topics=["/cam_front/camera_info"], wait_for_subscribers_s=10.0,
                          delay_s=0.5)  # fmt: skip
        _until(lambda: len(clock) == result.clock_messages, 3.0)
    finally:
        listener.close()
        rclpy.try_shutdown(context=context)
    steps = [b - a for a, b in zip(clock, clock[1:], strict=False)]
    assert len(clock) == result.clock_messages
    assert max(steps) <= 4 * NS // 20 + NS // 10  # a tick every 1/20 s of wall time (some oversleep)
    assert result.clock_messages < 2.0 * 20 / 4 + 10  # not the default 100 Hz (over 50 ticks)


def test_loop_replays_from_the_start_until_stopped(tmp_path):
    from mmfusion_annotate.nodes.player_node import play_bag

    bag = write_sample_bag(tmp_path / "drive", compression="none")
    expected = _recorded(bag, "/imu")
    domain = _domain()
    listener = Listener(domain)
    imu = listener.listen("/imu", "imu", RELIABLE)
    context = _player_context(domain)
    stop = threading.Event()
    results = []
    player = threading.Thread(target=lambda: results.append(
        play_bag(bag.path, rate=20.0, loop=True, stop=stop, context=context, clock=False, topics=["/imu"],
                 qos="reliable", wait_for_subscribers_s=10.0, delay_s=0.5)))  # fmt: skip
    try:
        player.start()
        assert _until(lambda: len(imu) >= 2 * len(expected) + 3)
    finally:
        stop.set()
        player.join(10.0)
        listener.close()
        rclpy.try_shutdown(context=context)
    assert imu[: 2 * len(expected)] == expected * 2
    assert results[0].loops >= 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--remap", "/imu"], "is not FROM:=TO"),
        (["--remap", "/imu:=/car 1/imu"], "is not a valid topic name"),
        (["--exclude", "("], "is not a regular expression"),
        (["--clock", "0"], "must be between 0.1 and 1000 Hz"),
        (["--start-offset", "-1"], "must be >= 0"),
        (["--start-offset", "99"], "--start-offset 99 s is past the bag's end (2.9 s)"),
        (["--remap", "/nope:=/x"], "the bag has no topic /nope"),
        (["--remap", "/imu:=/events"], "would both be published on /events"),
        (["--exclude", "."], "leaves no topic to play"),
        (["--start-paused"], "--start-paused needs a terminal on stdin"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, message):
    bag = write_sample_bag(tmp_path / "drive", compression="none")
    try:
        code = cli_main(["play", str(bag.path), *argv])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1]
    assert not any("Traceback" in line for line in err)


@pytest.mark.slow
def test_space_on_the_terminal_resumes_a_player_started_paused(tmp_path):
    bag = write_sample_bag(tmp_path / "drive", compression="none")
    master, slave = pty.openpty()
    env = {**os.environ, "ROS_DOMAIN_ID": str(_domain()), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    mmfusion = Path(sys.executable).with_name("mmfusion")
    process = subprocess.Popen([str(mmfusion), "play", str(bag.path), "--start-paused", "--rate", "10",
                                "--no-clock"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env)  # fmt: skip
    try:
        os.close(slave)
        assert _read_until(process.stderr, b"(paused)", 30.0), "no key help on stderr"
        time.sleep(1.0)  # the bag lasts 0.3 s at rate 10: still running means it is paused
        assert process.poll() is None
        os.write(master, b" ")
        out, err = process.communicate(timeout=20.0)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        os.close(master)
    assert process.returncode == 1, err  # 1: the carried topics were skipped
    playable = len(_recorded(bag, "/imu")) + len(_recorded(bag, "/cam_front/camera_info"))
    assert out.decode().startswith(f"played {playable} messages")
    assert b"playing" in err


def _read_until(stream, marker: bytes, timeout_s: float) -> bool:
    seen = b""
    deadline = time.monotonic() + timeout_s
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return marker in seen
