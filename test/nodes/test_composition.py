import gc
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from mmfusion_annotate.nodes.composition import EXECUTORS, StopReason, run_nodes

REPO = Path(__file__).resolve().parents[2]
QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class Sender(Node):
    """Publishes its last word on close, as the fusion node does with the events it closes at shutdown."""

    def __init__(self, context, log: list[str]) -> None:
        super().__init__("sender", context=context)
        self.pub = self.create_publisher(String, "/composition_test", QOS)
        self.log = log

    def close(self) -> None:
        self.log.append("sender closing")
        self.pub.publish(String(data="last word"))


class Receiver(Node):
    def __init__(self, context, log: list[str]) -> None:
        super().__init__("receiver", context=context)
        self.log = log
        self.create_subscription(String, "/composition_test", lambda m: log.append(f"got {m.data}"), QOS)

    def close(self) -> None:
        self.log.append("receiver closing")


@pytest.mark.dds
@pytest.mark.slow
@pytest.mark.parametrize("executor", EXECUTORS)
def test_closes_in_order_and_delivers_what_a_close_publishes(context, executor):
    log: list[str] = []
    sender, receiver = Sender(context, log), Receiver(context, log)
    try:
        reason = run_nodes([sender, receiver], until=lambda: sender.pub.get_subscription_count() > 0,
                           timeout_s=10.0, executor=executor)  # fmt: skip
    finally:
        sender.destroy_node()
        receiver.destroy_node()
    assert reason is StopReason.UNTIL
    assert log == ["sender closing", "got last word", "receiver closing"]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_stops_on_timeout_and_on_stop_event(context, executor):
    node = Node("idle", context=context)
    try:
        start = time.monotonic()
        assert run_nodes([node], timeout_s=0.3, executor=executor) is StopReason.TIMEOUT
        assert 0.3 <= time.monotonic() - start < 5.0
        stop = threading.Event()
        threading.Timer(0.2, stop.set).start()
        assert run_nodes([node], stop=stop, grace_s=0.0, executor=executor) is StopReason.SIGNAL
    finally:
        node.destroy_node()


def test_what_exists_when_spinning_starts_is_frozen_out_of_the_cyclic_gc(context):
    node = Node("frozen", context=context)
    gc.unfreeze()
    try:
        run_nodes([node], timeout_s=0.1)
        assert gc.get_freeze_count() > 0  # the node among them: full collections no longer scan it
    finally:
        gc.unfreeze()
        node.destroy_node()


def test_unknown_executor_is_refused(context):
    node = Node("idle", context=context)
    try:
        with pytest.raises(ValueError, match="unknown executor"):
            run_nodes([node], timeout_s=0.1, executor="single")  # type: ignore[arg-type]
    finally:
        node.destroy_node()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_fusion_node_exits_cleanly_on_signal(sig, domain_id):
    env = {**__import__("os").environ, "ROS_DOMAIN_ID": str(domain_id)}
    proc = subprocess.Popen([sys.executable, "-m", "mmfusion_annotate.nodes.fusion_node"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        started = proc.stderr.readline()  # the node logs one info line once it is up
        assert "fusion_node" in started and "rig" in started
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
