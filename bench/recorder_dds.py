"""DDS mode of ``bench_recorder``: publisher process -> DDS -> ``RecorderNode`` in this process -> disk.

A separate process publishes the bench's pre-serialized messages raw (``publish(bytes)``) on the rig's
topics, paced (the rig mix at 3x real time) or as fast as it can (the raw mix), for a bounded time, on a
dedicated ``ROS_DOMAIN_ID`` with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``. This process runs the real
``RecorderNode`` (raw subscriptions, ``recorder.sensor_qos``) on the events executor, or, as the DDS
ceiling, a bare node whose raw subscriptions (with the recorder's QoS) only count. Drops are the
recorder's (queue, I/O) plus what was published but never received, per topic; CPU% is this process's
(the recorder's) over the case. The publisher keeps ``SMALL_MESSAGE_DEPTH`` messages of history for topics
of small messages (IMU, radar at 3x: 300 and 39 Hz), as a reliable driver must for a busy subscriber to
catch up: with the shared default of 50 (167 ms of a 300 Hz IMU) its keep-last history overwrote IMU
samples before they were acknowledged, which the bare subscriber lost as well.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import yaml
from bench_recorder import raw_mix, raw_topic, rig_mix
from rclpy.node import Node
from rclpy.parameter import Parameter

from mmfusion_annotate.interfaces.cdr import installed_message_class
from mmfusion_annotate.nodes.composition import init_context, make_executor
from mmfusion_annotate.nodes.qos import sensor_qos
from mmfusion_annotate.nodes.recorder_node import RecorderNode, sensor_subscription_qos
from mmfusion_annotate.rig import default_rig_path, load_rig

SMALL_MESSAGE_BYTES = 64 * 1024
SMALL_MESSAGE_DEPTH = 1000
"""Publisher history of the topics whose messages are at most SMALL_MESSAGE_BYTES (see the docstring)."""
MATCH_TIMEOUT_S = 20.0
DRAIN_IDLE_S = 3.0
"""After the publisher stops: wait while messages still arrive, give up after this long without one."""


def raw_rig_file(path: Path) -> Path:
    """The default rig with its cameras raw (``Image`` on ``.../image_raw``), for the raw mix."""
    rig = yaml.safe_load(default_rig_path().read_text())
    for sensor in rig["sensors"]:
        if sensor["kind"] == "camera":
            sensor["topic"] = raw_topic(sensor["topic"])
            sensor["camera"]["compressed"] = False
    path.write_text(yaml.safe_dump(rig))
    return path


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def publish(
    mix: str, seconds: float, speed: float | None, qos: str, domain: int, ready, go, done, out
) -> None:
    """Publisher process: match every topic, then publish for ``seconds`` and report per-topic counts."""
    rng = np.random.default_rng(0)
    if mix == "rig":
        messages = rig_mix(seconds * speed, rng)
    else:  # paced: the whole schedule; unpaced: one second of it, cycled
        messages = raw_mix(round(12 * seconds * speed) if speed else 12, rng)
    context = init_context([], domain_id=domain)
    node = Node("bench_publisher", context=context)
    largest: dict[str, int] = {}
    for topic, _, data, _ in messages:
        largest[topic] = max(largest.get(topic, 0), len(data))
    publishers = {
        topic: node.create_publisher(
            installed_message_class(msgtype), topic,
            sensor_qos(qos, SMALL_MESSAGE_DEPTH if largest[topic] <= SMALL_MESSAGE_BYTES else None),
        )  # fmt: skip
        for topic, msgtype, _, _ in messages
    }
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while any(p.get_subscription_count() == 0 for p in publishers.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    ready.set()
    go.wait()
    process = psutil.Process()
    cpu0, start = _cpu_seconds(process), time.perf_counter()
    counts: Counter[str] = Counter()
    sizes = 0
    if speed is not None:  # paced: the schedule once, at speed x real time
        for topic, _, data, stamp in messages:
            delay = start + stamp / 1e9 / speed - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            publishers[topic].publish(data)
            counts[topic] += 1
            sizes += len(data)
    else:  # unpaced: cycle through the mix until the time is up
        while time.perf_counter() - start < seconds:
            for topic, _, data, _ in messages:
                publishers[topic].publish(data)
                counts[topic] += 1
                sizes += len(data)
    wall = time.perf_counter() - start
    out.put({"counts": dict(counts), "bytes": sizes, "wall": wall,
             "cpu": 100.0 * (_cpu_seconds(process) - cpu0) / wall})  # fmt: skip
    done.wait(120)  # stay matched while reliable samples are still being delivered
    node.destroy_node()
    context.try_shutdown()


class CountingNode(Node):
    """The DDS ceiling: raw subscriptions (same QoS as the recorder's) that only count."""

    def __init__(self, topics: dict[str, str], qos: str, rig, **kwargs) -> None:
        super().__init__("bench_counter", **kwargs)
        self.received: Counter[str] = Counter()
        self.bytes = 0
        sensors = {s.topic: s for s in rig.sensors.values()}
        for topic, msgtype in topics.items():
            profile = sensor_subscription_qos(qos, sensors.get(topic))
            self.create_subscription(installed_message_class(msgtype), topic, self._counter(topic), profile,
                                     raw=True)  # fmt: skip

    def _counter(self, topic: str):
        def callback(data: bytes) -> None:
            self.received[topic] += 1
            self.bytes += len(data)

        return callback


def dds_case(
    mix: str,
    qos: str,
    compression: str | None,
    seconds: float,
    domain: int,
    root: Path,
    raw_speed: float | None,
) -> dict:
    """One case: ``compression`` None runs the counting node (DDS ceiling), else ``RecorderNode``.

    The rig mix is paced at 3x real time; the raw mix at ``raw_speed`` x real time (None: unpaced)."""
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    speed = 3.0 if mix == "rig" else raw_speed
    spawn = mp.get_context("spawn")
    ready, go, done, out = spawn.Event(), spawn.Event(), spawn.Event(), spawn.Queue()
    publisher = spawn.Process(target=publish, args=(mix, seconds, speed, qos, domain, ready, go, done, out))
    publisher.start()
    context = init_context([], domain_id=domain)
    rig_file = raw_rig_file(root / "raw_rig.yaml") if mix == "raw" else default_rig_path()
    if compression is None:
        rng = np.random.default_rng(0)
        messages = rig_mix(1.0, rng) if mix == "rig" else raw_mix(1, rng)
        node: Node = CountingNode({m[0]: m[1] for m in messages}, qos, load_rig(rig_file), context=context)
    else:
        node = RecorderNode(context=context, parameter_overrides=[
            Parameter("rig_file", value=str(rig_file)), Parameter("bag_dir", value=str(root / "bag")),
            Parameter("recorder.compression", value=compression), Parameter("recorder.sensor_qos", value=qos),
        ])  # fmt: skip
    executor = make_executor("events", context)
    executor.add_node(node)
    spinning = threading.Event()
    spinning.set()

    def spin() -> None:
        while spinning.is_set():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        if not ready.wait(MATCH_TIMEOUT_S + 30):
            raise RuntimeError("publisher did not start")
        process = psutil.Process()
        cpu0, start = _cpu_seconds(process), time.perf_counter()
        go.set()
        published = out.get(timeout=seconds * 2 + 120)

        def received() -> Counter[str]:
            if isinstance(node, CountingNode):
                return Counter(node.received)
            counts = node.recorder.stats().received
            return Counter({t: n for t, n in counts.items() if t in published["counts"]})

        total, idle_since = -1, time.monotonic()
        target = sum(published["counts"].values())
        while time.monotonic() - idle_since < DRAIN_IDLE_S:
            now = sum(received().values())
            if now >= target:
                break
            if now != total:
                total, idle_since = now, time.monotonic()
            time.sleep(0.05)
        if isinstance(node, RecorderNode):
            node.close()
        wall = time.perf_counter() - start
        cpu = 100.0 * (_cpu_seconds(process) - cpu0) / wall
        got = received()
        lost = {t: n - got.get(t, 0) for t, n in published["counts"].items() if n > got.get(t, 0)}
        if isinstance(node, CountingNode):
            written_bytes, written, queue_drops, peak = node.bytes, sum(got.values()), 0, 0.0
        else:
            stats = node.recorder.stats()
            written_bytes, written = stats.bytes_written, sum(stats.written.values())
            queue_drops, peak = stats.dropped_total, stats.queue_peak_bytes / 1e6
        return {
            "mb_s": written_bytes / wall / 1e6, "msg_s": written / wall,
            "drops": queue_drops + sum(lost.values()), "queue_drops": queue_drops, "lost": lost,
            "published": published, "cpu": cpu, "wall": wall, "queue_peak_mb": peak,
            "load": os.getloadavg()[0],
        }  # fmt: skip
    finally:
        done.set()
        spinning.clear()
        spinner.join()
        executor.remove_node(node)
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        publisher.join(30)
