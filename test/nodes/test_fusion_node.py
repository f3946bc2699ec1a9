import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from node_testing import spinning, wait_for
from rclpy import create_node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rigs import write_small_rig
from sensor_msgs.msg import PointCloud2, PointField
from visualization_msgs.msg import Marker, MarkerArray

from mmfusion_annotate.msgs import pointcloud2
from mmfusion_annotate.msgs.rgb import unpack_rgb
from mmfusion_annotate.msgs.time import make_header
from mmfusion_annotate.nodes.fusion_node import DIAGNOSTICS, EVENT_STATUS, FusionNode, FusionNodeConfig
from mmfusion_annotate.rig import load_rig
from mmfusion_annotate.sim import Drive, load_scenario

COLORED_CLOUD, MARKERS = "/fusion/colored_cloud", "/prelabels/markers"
REPO = Path(__file__).resolve().parents[2]
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)


def fusion_node(context, **params):
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    return FusionNode(context=context, parameter_overrides=overrides)


def test_starts_with_defaults_and_describes_parameters(context):
    node = fusion_node(context)
    try:
        assert node.config == FusionNodeConfig()
        assert node.rig.name == "nuscenes_like"
        for name in FusionNodeConfig.model_fields:
            assert node.describe_parameter(name).description, f"parameter {name} has no description"
        assert node.describe_parameter("queue_depth").integer_range[0].from_value == 1
        subscribed = {topic for topic, _ in node.get_topic_names_and_types()}
        assert {s.topic for s in node.rig.sensors.values()} <= subscribed
    finally:
        node.close()
        node.destroy_node()


def test_diagnostics_never_wait_for_the_step_being_processed(context):
    """/diagnostics runs on the executor: waiting there for a slow frame would stop every subscription."""
    import threading

    from mmfusion_annotate.annotator import AnnotatorOutput, Step

    node = fusion_node(context)
    inside, release = threading.Event(), threading.Event()

    def slow_process(step, out=None):
        inside.set()
        release.wait(10.0)
        return AnnotatorOutput()

    node.annotator.process = slow_process
    try:
        node._worker.submit((Step("restart"), time.monotonic()))
        assert inside.wait(5.0)
        started = time.monotonic()
        node.publish_diagnostics()
        assert time.monotonic() - started < 0.5  # the step holds the worker for up to 10 s
    finally:
        release.set()
        node.close()
        node.destroy_node()


def test_diagnostics_are_named_by_node_and_warn_only_while_messages_are_refused(context):
    """diagnostic_updater's "<node>: <task>" names with the rig as hardware_id; a refused message makes
    the next report WARN, and the one after is OK again (the totals stay in the values)."""
    node = fusion_node(context)
    published: list[DiagnosticArray] = []
    node._diagnostics_pub.publish = published.append
    try:
        node.publish_diagnostics()
        node.annotator.drops.count("lidar_top", "bad_value")
        node.publish_diagnostics()
        node.publish_diagnostics()
        levels = [{s.name: s.level for s in a.status} for a in published]
        tasks = ("pipeline", "sensors", "sync", "drops")
        assert set(levels[0]) == {f"fusion_node: {task}" for task in tasks}
        assert all(s.hardware_id == "nuscenes_like" for s in published[0].status)
        drops = [level["fusion_node: drops"] for level in levels]
        assert drops == [DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.OK]
        last = {kv.key: kv.value for kv in published[-1].status[3].values}
        assert last == {"bad_value.lidar_top": "1"}
    finally:
        node.close()
        node.destroy_node()


def test_a_failed_kernel_warm_up_does_not_stop_the_node(context, monkeypatch):
    from mmfusion_annotate.annotator import Annotator
    from mmfusion_annotate.errors import FusionError

    def broken(self):
        raise FusionError("synthetic sweep refused")

    monkeypatch.setattr(Annotator, "warm_up", broken)
    node = fusion_node(context)  # starts, says so in its start-up line, and serves as usual
    try:
        assert node.stats()["pipeline"]["frames"] == 0
    finally:
        node.close()
        node.destroy_node()


def test_a_set_queued_behind_the_one_at_hand_has_its_images_prefetched(context):
    """When the pipeline is behind, the next set's images decode while the current set is fused."""
    import threading

    from mmfusion_annotate.annotator import AnnotatorOutput, Step

    node = fusion_node(context)
    release, prefetched, processed = threading.Event(), [], []

    def process(step, out=None):
        release.wait(10.0)  # the first step holds the worker while the sets queue behind it
        processed.append(step)
        return AnnotatorOutput()

    node.annotator.process, node.annotator.prefetch = process, prefetched.append
    first, second = Step("set", synced="first"), Step("set", synced="second")
    try:
        for step in (Step("restart"), first, second):
            node._worker.submit((step, time.monotonic()))
        release.set()
        assert node._worker.drain(5.0)
        assert processed[1:] == [first, second]
        assert prefetched == [second]  # at the first set, the second waited; at the second, nothing did
    finally:
        node.close()
        node.destroy_node()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-p", "qos:=fast"], "qos"),
        (["-p", "queue_depth:=0"], "queue_depth"),
        (["-p", "rig_file:=/nonexistent/rig.yaml"], "/nonexistent/rig.yaml"),
    ],
)
def test_bad_parameter_stops_with_one_line_and_exit_code_2(args, named):
    proc = subprocess.run(
        [sys.executable, "-m", "mmfusion_annotate.nodes.fusion_node", "--ros-args", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fusion_node: ") and named in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr


def _malformed_cloud(stamp_ns: int) -> PointCloud2:
    """Fields say 12-byte points, 100 of them, but only 10 bytes of data follow."""
    msg = PointCloud2(header=make_header("lidar_top", stamp_ns), height=1, width=100, point_step=12,
                      row_step=1200, is_dense=True)  # fmt: skip
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, n in enumerate("xyz")]  # fmt: skip
    msg.data = bytes(10)
    return msg


@pytest.mark.dds
@pytest.mark.slow
def test_malformed_cloud_is_counted_and_node_keeps_running(context, tmp_path):
    rig_file = write_small_rig(tmp_path)
    node = fusion_node(context, rig_file=str(rig_file), qos="reliable", diagnostics_period_s=0.2)
    lidar = node.rig.sensor("lidar_top")
    peer = create_node("malformed_publisher", context=context)
    pub = peer.create_publisher(PointCloud2, lidar.topic, RELIABLE)
    diagnostics: list[DiagnosticArray] = []
    peer.create_subscription(DiagnosticArray, DIAGNOSTICS, diagnostics.append, RELIABLE)

    def reported() -> bool:
        for array in diagnostics:
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if values.get("undecodable.lidar_top") == "1":
                    return status.level == DiagnosticStatus.WARN
        return False

    try:
        with spinning([node, peer]):
            assert wait_for(lambda: pub.get_subscription_count() > 0, 10.0)
            pub.publish(_malformed_cloud(1_000_000_000))
            good = pointcloud2.encode_xyzirt(
                np.ones((5, 3), np.float32), np.zeros(5), np.zeros(5), np.full(5, 1_100_000_000), "lidar_top",
                1_100_000_000,
            )  # fmt: skip
            pub.publish(good)
            assert wait_for(lambda: node.stats()["sensors"]["lidar_top.received"] == 2, 10.0)
            assert node.stats()["sensors"]["lidar_top.dropped"] == 1
            assert node.stats()["drops"] == {"undecodable.lidar_top": 1}
            # the good cloud after the bad one still reaches the synchronizer
            assert wait_for(lambda: node.stats()["sync"]["lidar_top.received"] == 1, 10.0)
            assert wait_for(reported, 5.0), "decode error not reported on /diagnostics"
    finally:
        node.destroy_node()
        peer.destroy_node()


@pytest.mark.dds
@pytest.mark.slow
def test_synthetic_drive_end_to_end_through_dds(context, tmp_path):
    rig_file = write_small_rig(tmp_path)
    rig = load_rig(rig_file)
    scenario = load_scenario("cut_in").model_copy(update={"duration_s": 2.0})
    messages = list(Drive(rig, scenario).messages())
    # use_sim_time with no /clock at all: stamps come from the messages, diagnostics from a steady timer
    node = fusion_node(context, rig_file=str(rig_file), qos="reliable", queue_depth=5000, use_sim_time=True)
    peer = create_node("drive_player", context=context)
    topics = {s.topic: s for s in rig.sensors.values()}
    pubs = {}
    for topic, _, msg, _ in messages:
        if topic in topics and topic not in pubs:
            pubs[topic] = peer.create_publisher(type(msg), topic, RELIABLE)
    clouds: list[PointCloud2] = []
    markers: list[MarkerArray] = []
    diagnostics: list[DiagnosticArray] = []
    peer.create_subscription(PointCloud2, COLORED_CLOUD, clouds.append, BEST_EFFORT)  # offered best effort
    peer.create_subscription(MarkerArray, MARKERS, markers.append, RELIABLE)
    peer.create_subscription(DiagnosticArray, DIAGNOSTICS, diagnostics.append, RELIABLE)
    event_statuses: list[DiagnosticArray] = []
    peer.create_subscription(DiagnosticArray, EVENT_STATUS, event_statuses.append, RELIABLE)
    heard = {"events": [], "outputs": []}

    def listener(out, outputs) -> None:
        heard["events"] += out.events
        heard["outputs"] += outputs

    node.add_listener(listener)
    lidar_sweeps = sum(1 for topic, *_ in messages if topic == rig.sensor("lidar_top").topic)
    try:
        with spinning([node, peer]):
            assert wait_for(lambda: all(p.get_subscription_count() for p in pubs.values()), 10.0)
            start, first = time.monotonic(), messages[0][3]
            for topic, _, msg, stamp in messages:  # at the recorded pace (DDS history stays small)
                if topic in pubs:
                    time.sleep(max(0.0, (stamp - first) / 1e9 - (time.monotonic() - start)))
                    pubs[topic].publish(msg)
            # every sweep but the last (still waiting for its set) becomes a frame; a loaded machine is slower
            assert wait_for(lambda: node.stats()["pipeline"]["frames"] >= lidar_sweeps - 2, 60.0)
            # best-effort clouds may lose a fragment under load: most, not all, must arrive
            assert wait_for(lambda: len(clouds) >= lidar_sweeps // 2 and len(markers) >= lidar_sweeps - 2,
                            5.0)  # fmt: skip
            assert wait_for(lambda: diagnostics, 5.0)
            node.close()  # closes the open events and publishes them
            assert wait_for(lambda: len(event_statuses) >= 1 if heard["events"] else True, 5.0)
    finally:
        node.destroy_node()
        peer.destroy_node()
    stats = node.stats()
    assert stats["pipeline"]["queue_dropped"] == 0
    assert stats["pipeline"]["publish_failed"] == 0 and stats["pipeline"]["publish_queue"] == 0
    assert all(v == 0 for k, v in stats["sensors"].items() if k.endswith(".dropped")) and not stats["drops"]
    # coloured cloud: base frame, rgb field, some points coloured by the front camera (not all grey)
    cloud = clouds[-1]
    assert cloud.header.frame_id == rig.base_frame
    points = pointcloud2.decode(cloud)
    colours = unpack_rgb(points["rgb"])
    assert (colours != 128).any(axis=1).sum() > 100
    # pre-labels: the cut-in car is boxed in most frames
    cubes = [[m for m in array.markers if m.type == Marker.CUBE] for array in markers]
    assert sum(1 for c in cubes if c) >= len(cubes) // 2
    # diagnostics: sensor rates near the rig's, and the pipeline's latency figures
    names = {s.name: {kv.key: kv.value for kv in s.values} for s in diagnostics[-1].status}
    sensors = names["fusion_node: sensors"]
    assert float(sensors["lidar_top.rate_hz"]) == pytest.approx(rig.sensor("lidar_top").rate_hz, rel=0.2)
    assert {"fusion_ms.p50", "publish_ms.p99", "worker_load"} <= set(names["fusion_node: pipeline"])
    assert 0.0 <= float(names["fusion_node: pipeline"]["worker_load"]) <= 1.05
    assert "span_ns.p50" in names["fusion_node: sync"]
    # events: each one the pipeline closed went out on /events/status, and to in-process listeners as the
    # carried Event type (with the Foxglove scene), which a recorder in the same process writes to the bag
    live_ids = {s.hardware_id for array in event_statuses for s in array.status}
    assert live_ids == {e.id for e in heard["events"]}
    carried = {o.topic: o.msgtype for o in heard["outputs"] if not o.dds}
    assert carried["/prelabels/scene"] == "foxglove_msgs/msg/SceneUpdate"
    if heard["events"]:
        assert carried["/events"] == "mmfusion_annotate/msg/Event"
