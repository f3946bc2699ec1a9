"""``sim_node``: a synthetic drive (``mmfusion_annotate.sim``) published live on the rig's topics.

For demos and DDS tests: every sensor topic of the rig (sensor-data QoS), each camera's
``camera_info`` after its image (reliable), and ``/clock`` so that the other nodes can run with
``use_sim_time``. Two threads keep the executor free: a producer generates the drive and builds its
messages into a bounded queue (it waits when the queue is full, so nothing is dropped and memory stays
bounded), and a publisher paces them at ``rate`` x real time (``rate: 0``: as fast as they are
generated). The node itself runs on the wall clock (it is the clock source). Like a car's driver, it
publishes each LiDAR sweep once its last point is captured (the header stamp stays the sweep's start).

Stamps (``stamps: sim``): drive time + ``epoch_s`` (a fixed, whole-second epoch, default
2023-11-14T22:13:20Z), so the same seed gives the same stamps on every run and a zero ROS time never
appears; ``/clock`` follows the publish times, published before the message that advances it by at least
``1 / clock_hz``. With ``loop`` the drive restarts at its end and time keeps increasing by one drive
duration per pass. ``stamps: wall``: the wall-clock time of the first message + drive time, no
``/clock``.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock

from mmfusion_annotate.interfaces.cdr import message_class
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO
from mmfusion_annotate.msgs.time import to_ros_time
from mmfusion_annotate.nodes.composition import main_nodes
from mmfusion_annotate.nodes.discovery import unmatched_warning, wait_for_subscribers
from mmfusion_annotate.nodes.params import declare_config
from mmfusion_annotate.nodes.qos import RELIABLE, SensorQos, sensor_qos
from mmfusion_annotate.recording.publish_order import in_publish_order
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sim import Drive
from mmfusion_annotate.sim.messages import camera_topic, publish_ns, sample_messages
from mmfusion_annotate.sim.scenario import load_scenario
from mmfusion_annotate.types import NS_PER_S, Stamp

CLOCK_TOPIC = "/clock"
_CLOCK_QOS = RELIABLE
_LATE_S = 0.05


class _End:
    """The end of the drive, queued after its last message."""


_END = _End()
_Queued = tuple[str, Any, Stamp, Stamp] | _End  # topic, message, stamp, publish time; or the end


class SimNodeConfig(BaseModel):
    """The node's parameters."""

    model_config = ConfigDict(extra="forbid")

    rig_file: str = Field(
        default_factory=lambda: str(default_rig_path()),
        description="rig YAML whose sensors are simulated (default: the shipped nuScenes-like rig)",
    )
    scenario: str = Field(
        "cut_in",
        description="built-in scenario (calm, hard_braking, cut_in, pedestrian_crossing, cyclist_passing) "
        "or a scenario YAML path",
    )
    seed: int = Field(-1, ge=-1, description="random seed; -1: the scenario's own")
    duration_s: float = Field(0.0, ge=0.0, description="seconds of drive; 0: the scenario's duration")
    rate: float = Field(
        1.0, ge=0.0, le=100.0, description="speed vs real time; 0: as fast as the drive is generated"
    )
    image_format: Literal["jpeg", "raw"] = Field(
        "jpeg", description="cameras as JPEG CompressedImage (<topic>/compressed) or raw Image"
    )
    loop: bool = Field(False, description="start the drive again at its end (time keeps increasing)")
    start_delay_s: float = Field(
        0.0, ge=0.0, le=3600.0, description="wall seconds to wait before the first message"
    )
    wait_for_subscribers_s: float = Field(
        2.0, ge=0.0, le=3600.0,
        description="before the first message, wait up to this long for every sensor topic to be subscribed",
    )  # fmt: skip
    stamps: Literal["sim", "wall"] = Field(
        "sim", description="sim: epoch_s + drive time, with /clock; wall: wall time at start + drive time"
    )
    epoch_s: int = Field(
        1_700_000_000, ge=1, le=4_000_000_000, description="sim stamps start at this time (whole seconds)"
    )
    qos: SensorQos = Field(
        "sensor_data", description="sensor topics: sensor_data (best effort, as drivers) or reliable"
    )
    clock_hz: float = Field(100.0, gt=0.0, le=10000.0, description="most /clock messages per sim second")
    queue_depth: int = Field(
        16, ge=1, le=10000, description="messages generated ahead of publishing (bounds memory)"
    )


class SimNode(Node):
    """Publishes a synthetic drive; ``finished`` is set once the drive (not looping) has been published."""

    def __init__(self, node_name: str = "sim_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.config = cfg = declare_config(self, SimNodeConfig)
        rig = load_rig(cfg.rig_file)
        scenario = load_scenario(cfg.scenario)
        if cfg.duration_s > 0:
            scenario = scenario.model_copy(update={"duration_s": cfg.duration_s})
        self.drive = Drive(
            rig, scenario, seed=None if cfg.seed < 0 else cfg.seed, image_format=cfg.image_format
        )
        self.epoch_ns: Stamp = cfg.epoch_s * NS_PER_S
        """Sim stamps (and /clock) are ``epoch_ns`` + drive time."""
        self.published: Counter[str] = Counter()
        self.late = 0
        """Messages published more than 50 ms behind their schedule (the generator fell behind)."""
        self.finished = threading.Event()
        self._topic_pubs = {
            topic: self.create_publisher(message_class(msgtype), topic, qos)
            for topic, (msgtype, qos) in _topics(self.drive, cfg.qos).items()
        }
        self._clock_pub = (
            self.create_publisher(Clock, CLOCK_TOPIC, _CLOCK_QOS) if cfg.stamps == "sim" else None
        )
        self._warm_up()
        self._queue: queue.Queue[_Queued] = queue.Queue(maxsize=cfg.queue_depth)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._produce, name="sim-produce", daemon=True),
            threading.Thread(target=self._publish, name="sim-publish", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.get_logger().info(
            f"simulating '{scenario.name}' ({scenario.duration_s:.1f} s, seed {self.drive.seed}) on rig "
            f"'{rig.name}': {len(self._topic_pubs)} topics at rate {cfg.rate:g}"
            + (f", sim stamps from {cfg.epoch_s} s" if cfg.stamps == "sim" else ", wall stamps")
        )

    def close(self) -> None:
        """Stop generating and publishing (what is queued is dropped)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(5.0)

    def _warm_up(self) -> None:
        """Generate one frame of each sensor kind once, so that loading the compiled kernels and the
        message types does not make the first frames late."""
        drive, kinds = self.drive, set()
        for tick in drive.ticks:
            kind = drive.sensors[tick.sensor].kind
            if kind not in kinds:
                kinds.add(kind)
                for _ in sample_messages(drive, drive.sample(tick)):
                    pass
        drive.truth.frames.clear()

    # ------------------------------------------------------------------ threads
    def _produce(self) -> None:
        """Generate the drive (again and again with ``loop``) into the bounded queue."""
        drive = self.drive

        def stamped():
            offset = 0
            while not self._stop.is_set():
                for sample in drive.samples():
                    publish = publish_ns(drive, sample) + offset
                    for topic, _, msg, _ in sample_messages(drive, sample):
                        yield sample.stamp + offset, publish, (topic, msg, sample.stamp + offset)
                    drive.truth.frames.clear()  # per-frame truth is for bags; live, it would only grow
                    if self._stop.is_set():
                        return
                if not self.config.loop:
                    return
                offset += drive.duration_ns

        try:  # each LiDAR sweep goes out once its last point is captured, as a driver sends it
            for publish, (topic, msg, stamp) in in_publish_order(stamped()):
                if not self._put((topic, msg, stamp, publish)):
                    return
        except Exception as exc:  # noqa: BLE001 - report on the node's log, end the drive cleanly
            self.get_logger().error(f"generation failed: {exc.__class__.__name__}: {exc}")
        self._put(_END)

    def _put(self, item: _Queued) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _publish(self) -> None:
        """Pace the queued messages at ``rate`` and publish them (with /clock)."""
        cfg = self.config
        unmatched = wait_for_subscribers(self._topic_pubs.values(), cfg.wait_for_subscribers_s, self._stop)
        warning = unmatched_warning(unmatched, cfg.wait_for_subscribers_s)
        if warning is not None and not self._stop.is_set():
            self.get_logger().warning(warning)
        if self._stop.wait(cfg.start_delay_s):
            return
        first: Stamp | None = None
        started, wall_base = 0.0, 0
        last_clock: Stamp | None = None
        clock_period = int(NS_PER_S / cfg.clock_hz)
        while True:
            item = self._take()
            if item is None:
                return  # stopped
            if isinstance(item, _End):
                break
            topic, msg, stamp, publish = item
            if first is None:
                first, started, wall_base = publish, time.monotonic(), time.time_ns()
            if cfg.rate > 0:
                delay = started + (publish - first) / NS_PER_S / cfg.rate - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                self.late += delay < -_LATE_S
            base = self.epoch_ns if cfg.stamps == "sim" else wall_base - first
            now = base + publish
            if self._clock_pub is not None and (last_clock is None or now - last_clock >= clock_period):
                self._clock_pub.publish(Clock(clock=to_ros_time(now)))
                last_clock = now
            msg.header.stamp = to_ros_time(base + stamp)
            self._topic_pubs[topic].publish(msg)
            self.published[topic] += 1
        self.get_logger().info(
            f"published {sum(self.published.values())} messages on {len(self.published)} topics in "
            f"{time.monotonic() - started:.1f} s ({self.late} more than {_LATE_S * 1e3:.0f} ms late)"
        )
        self.finished.set()

    def _take(self) -> _Queued | None:
        """The next queued item, or None once the node is stopping."""
        while not self._stop.is_set():
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        return None


def _topics(drive: Drive, qos: SensorQos) -> dict[str, tuple[str, QoSProfile]]:
    """Topic -> (message type, QoS) of everything the drive publishes."""
    topics: dict[str, tuple[str, QoSProfile]] = {}
    for name, sensor in drive.sensors.items():
        sensor_profile = sensor_qos(qos, rate_hz=sensor.rate_hz)
        if sensor.kind == "camera":
            topic, msgtype = camera_topic(drive, name)
            topics[topic] = (msgtype, sensor_profile)
            topics[sensor.camera_info_topic] = (CAMERA_INFO, RELIABLE)
        else:
            topics[sensor.topic] = (sensor.msgtype, sensor_profile)
    return topics


def main(args: list[str] | None = None) -> int:
    """``ros2 run mmfusion_annotate sim_node``; exit code 2 with one line on a bad parameter, rig or
    scenario. Ends by itself once a non-looping drive has been published."""
    holder: list[SimNode] = []

    def build(context) -> SimNode:
        holder.append(SimNode(context=context))
        return holder[0]

    return main_nodes(
        [build], args, program="sim_node", until=lambda: bool(holder) and holder[0].finished.is_set()
    )


if __name__ == "__main__":
    sys.exit(main())
