"""``recorder_node``: the ROS face of ``recording.Recorder``.

Subscribes raw (``raw=True``: callbacks get the serialized bytes, so a 4 MB image is never deserialized
in Python) to the rig's sensor and camera-info topics, plus topics matching ``recorder.include`` found
while running; writes ``/tf_static`` and the camera infos from the rig as static messages; publishes the
recorder's counters on ``/diagnostics`` once a second; and closes the bag within ``close_timeout_s`` on
SIGINT/SIGTERM. Parameters: ``rig_file`` (rig file), ``bag_dir`` (the folder the run's bag is created
in, default ``bags``), ``bag_name`` (default ``<rig name>_<UTC time>``; a name already taken gets the next
free ``_2``, ``_3``... so a restart never writes over a drive) and ``recorder.*`` (every field of
``RecorderConfig``). In one process with ``fusion_node`` (``mmfusion run``,
``mmfusion demo``), ``record_outputs`` takes the pre-labels and events directly, including the carried
types (foxglove_msgs, the event type) that rclpy cannot publish on this install.

Names: the bag keeps the names as resolved in the node's namespace (``/car1/prelabels/scene`` under
``-r __ns:=/car1``; a relative rig topic likewise), so two namespaced rigs record side by side without
mixing; ``recorder.include`` / ``exclude`` match the name as seen from inside the namespace
(``/prelabels/scene``), and discovery never takes another namespace's outputs.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

from mmfusion_annotate.interfaces.cdr import installed_message_class, serialize
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, TF_MESSAGE
from mmfusion_annotate.nodes.composition import main_nodes
from mmfusion_annotate.nodes.params import declare_config
from mmfusion_annotate.nodes.qos import RELIABLE_SENSOR_DEPTH, SensorQos, sensor_qos
from mmfusion_annotate.outputs.rig_topics import (
    TF_STATIC,
    camera_info_messages,
    rig_topics,
    tf_static_message,
)
from mmfusion_annotate.outputs.topics import published_name, within_namespace
from mmfusion_annotate.recording.bag_dir import new_bag_dir, timestamped_name
from mmfusion_annotate.recording.config import RecorderConfig
from mmfusion_annotate.recording.qos import (
    RELIABILITY_BEST_EFFORT,
    RELIABILITY_RELIABLE,
    TRANSIENT_LOCAL,
    VOLATILE,
    QosProfile,
    qos_profile,
)
from mmfusion_annotate.recording.recorder import Recorder
from mmfusion_annotate.rig import Sensor, default_rig_path, load_rig

if TYPE_CHECKING:  # the pipeline (and its heavy imports) is only a source of outputs here
    from mmfusion_annotate.events.model import Event
    from mmfusion_annotate.outputs.builder import Output

SENSOR_DEPTH = 100
"""A deep history absorbs bursts while the callbacks enqueue."""
SMALL_TOPIC_HISTORY_S = 5.0
"""Reliable history of the small, fast sensor topics (IMU, odometry, radar), in time. A keep-last history
overwrites what a busy executor has not taken yet, and for a recorder that is lost data; a few seconds of
these messages cost kilobytes, and the fraction of a second their shared default gave lost IMU and radar
messages at 3x speed (figures: bench/RESULTS.md, docstring figures). Large topics: see ``reliable_depth``."""
SMALL_KINDS = ("imu", "odometry", "radar")


def reliable_depth(kind: str | None, rate_hz: float | None) -> int | None:
    """The recorder's history depth for a reliable sensor subscription (None: the shared default).

    Large topics (LiDAR, cameras) get the most the shared default gives any topic, 50 messages (memory:
    at most 50 messages of that size, only while the executor lags), instead of 2 s at the nominal rate."""
    if kind is None or not rate_hz:
        return None
    if kind not in SMALL_KINDS:
        return RELIABLE_SENSOR_DEPTH
    return min(1000, max(RELIABLE_SENSOR_DEPTH, math.ceil(rate_hz * SMALL_TOPIC_HISTORY_S)))


def sensor_subscription_qos(name: SensorQos, sensor: Sensor | None) -> QoSProfile:
    """The QoS of the recorder's subscription to ``sensor``'s topic (None: a topic of no rig sensor).

    Best effort: a deep reader history absorbs bursts; reliable: see ``reliable_depth``."""
    kind, rate = (sensor.kind, sensor.rate_hz) if sensor is not None else (None, None)
    depth = SENSOR_DEPTH if name == "sensor_data" else reliable_depth(kind, rate)
    return sensor_qos(name, depth, rate_hz=rate)


class RecorderNode(Node):
    """Records the rig's topics (and discovered ones) into a rosbag2-compatible MCAP bag."""

    def __init__(self, node_name: str = "recorder_node", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.recording_complete = True
        # False after a close() that lost messages (I/O errors, or a full queue while the disk lagged):
        # main_nodes then exits 1, as every tool does after losses
        rig_path = self.declare_parameter("rig_file", str(default_rig_path())).value
        parent = self.declare_parameter("bag_dir", "bags").value or "bags"
        name = self.declare_parameter("bag_name", "").value
        self.config = declare_config(self, RecorderConfig, prefix="recorder.")
        self.rig = load_rig(rig_path)
        bag_dir = new_bag_dir(parent, name or timestamped_name(self.rig.name))
        self.recorder = Recorder(bag_dir, self.config)
        self._recorded: dict[str, object] = {}
        self._output_names: dict[str, str] = {}  # output topic -> its name in this namespace
        self._last_bytes, self._last_time = 0, time.monotonic()

        self._statics_lock = threading.Lock()
        self._statics_due = True
        self.recorder.add_topic(TF_STATIC, TF_MESSAGE, "latched")
        sensors = {s.topic: s for s in self.rig.sensors.values()}
        for entry in rig_topics(self.rig):
            topic = self.resolve_topic_name(entry.topic)
            if self._excluded(topic):
                continue
            self.recorder.add_topic(topic, entry.msgtype, entry.qos)
            qos = sensor_subscription_qos(self.config.sensor_qos, sensors.get(entry.topic))
            self._subscribe(topic, entry.msgtype, qos, static=entry.static)
        # a full ROS install: also keep other publishers' statics
        if installed_message_class(TF_MESSAGE) is not None:
            latched = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)
            self._subscribe(TF_STATIC, TF_MESSAGE, latched, static=True)

        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        if self.config.include:
            self.create_timer(self.config.discovery_period_s, self._discover)
        self.get_logger().info(f"recording {len(self._recorded)} topics into {bag_dir}")

    def _now_with_statics(self) -> int:
        """The node's time; the first time it is set, the rig's statics are written stamped with it.

        Deferred to the first message because under ``use_sim_time`` the clock reads 0 until ``/clock``
        arrives, and statics stamped 0 would stretch the bag back to 1970."""
        now = self.get_clock().now().nanoseconds
        if self._statics_due and now > 0:
            with self._statics_lock:
                if self._statics_due:
                    self._statics_due = False
                    self.recorder.set_static(TF_STATIC, TF_MESSAGE, tf_static_message(self.rig, now), now,
                                             replace=False)  # fmt: skip
                    for topic, data in camera_info_messages(self.rig, now).items():
                        topic = self.resolve_topic_name(topic)
                        if not self._excluded(topic):
                            self.recorder.set_static(topic, CAMERA_INFO, data, now)
        return now

    def record_outputs(self, outputs: Iterable[Output]) -> None:
        """Record pipeline outputs handed over in-process (serialized here, on the caller's thread)."""
        for out in outputs:
            topic = self._output_names.get(out.topic)
            if topic is None:  # first time: the name the publisher has in this namespace
                topic = self._output_names[out.topic] = self.resolve_topic_name(published_name(out.topic))
                self.recorder.add_topic(topic, out.msgtype, out.qos)
            data = serialize(out.msgtype, out.msg)
            self._now_with_statics()
            if out.static:
                self.recorder.set_static(topic, out.msgtype, data, out.stamp_ns)
            else:
                self.recorder.enqueue(topic, out.msgtype, data, out.stamp_ns)

    def record_events(self, events: Iterable[Event]) -> None:
        """Mirror closed events into the bag's ``mmfusion_events`` metadata record (as replay does), so
        ``mmfusion events`` lists a live bag's events without reading its messages."""
        for event in events:
            self.recorder.add_event(event.id, event.start, event.end, event.to_dict())

    def _excluded(self, topic: str) -> bool:
        """``recorder.exclude`` on the fully qualified ``topic`` as seen from inside the namespace."""
        return self.config.excluded(within_namespace(topic, self.get_namespace()))

    def _subscribe(self, topic: str, msgtype: str, qos: QoSProfile, *, static: bool = False) -> None:
        cls = installed_message_class(msgtype)
        if cls is None:
            self.get_logger().warning(f"{topic}: type {msgtype} is not installed, not recorded")
            return
        recorder = self.recorder
        replace = topic != TF_STATIC

        if static:

            def callback(data: bytes) -> None:
                now = self._now_with_statics()
                recorder.set_static(topic, msgtype, data, now, replace=replace)
        else:

            def callback(data: bytes) -> None:
                recorder.enqueue(topic, msgtype, data, self._now_with_statics())

        self._recorded[topic] = self.create_subscription(cls, topic, callback, qos, raw=True)

    def _discover(self) -> None:
        """Subscribe to new topics matching ``include``, with a QoS compatible with their publishers."""
        for topic, types in self.get_topic_names_and_types():
            namespace = self.get_namespace()
            inside = within_namespace(topic, namespace)
            foreign = namespace != "/" and inside == topic  # outside this recorder's namespace
            if topic in self._recorded or len(types) != 1 or foreign or not self.config.discovers(inside):
                continue
            offered = self._offered_qos(topic)
            if offered is None:
                continue
            self.recorder.add_topic(topic, types[0], offered)
            self._subscribe(topic, types[0], QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=max(10, offered.depth),
                reliability=ReliabilityPolicy.RELIABLE if offered.reliability == RELIABILITY_RELIABLE
                else ReliabilityPolicy.BEST_EFFORT,
                durability=DurabilityPolicy.TRANSIENT_LOCAL if offered.durability == TRANSIENT_LOCAL
                else DurabilityPolicy.VOLATILE,
            ))  # fmt: skip
            self.get_logger().info(f"discovered {topic} ({types[0]}), recording it")

    def _offered_qos(self, topic: str) -> QosProfile | None:
        """The strongest QoS every publisher of ``topic`` offers (reliable/latched only if all do)."""
        publishers = self.get_publishers_info_by_topic(topic)
        if not publishers:
            return None
        reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
        latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
        base = qos_profile("reliable")
        return QosProfile(
            history=base.history, depth=base.depth,
            reliability=RELIABILITY_RELIABLE if reliable else RELIABILITY_BEST_EFFORT,
            durability=TRANSIENT_LOCAL if latched else VOLATILE,
        )  # fmt: skip

    def _publish_diagnostics(self) -> None:
        stats = self.recorder.stats()
        now = time.monotonic()
        rate = (stats.bytes_written - self._last_bytes) / max(now - self._last_time, 1e-9) / 1e6
        self._last_bytes, self._last_time = stats.bytes_written, now
        level = DiagnosticStatus.OK
        message = "recording"
        if stats.dropped_total:
            level, message = DiagnosticStatus.WARN, f"{stats.dropped_total} messages dropped"
        if not stats.healthy:
            level, message = DiagnosticStatus.ERROR, f"disk error, retrying: {stats.last_error}"
        values = [
            KeyValue(key="written_messages", value=str(sum(stats.written.values()))),
            KeyValue(key="written_mb", value=f"{stats.bytes_written / 1e6:.1f}"),
            KeyValue(key="write_rate_mb_s", value=f"{rate:.1f}"),
            KeyValue(key="queue_mb", value=f"{stats.queue_bytes / 1e6:.1f}"),
            KeyValue(key="queue_peak_mb", value=f"{stats.queue_peak_bytes / 1e6:.1f}"),
            KeyValue(key="io_errors", value=str(stats.io_errors)),
            KeyValue(key="files", value=str(len(stats.files))),
        ]
        values += [KeyValue(key=f"dropped_queue {t}", value=str(n)) for t, n in stats.dropped_queue.items()]
        values += [KeyValue(key=f"dropped_io {t}", value=str(n)) for t, n in stats.dropped_io.items()]
        status = DiagnosticStatus(level=level, name="mmfusion recorder", message=message,
                                  hardware_id=str(self.recorder.bag_dir), values=values)  # fmt: skip
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def close(self) -> bool:
        """Stop recording: write what is queued, close the bag (bounded by ``close_timeout_s``)."""
        clean = self.recorder.close(self.config.close_timeout_s)
        stats = self.recorder.stats()
        self.recording_complete = clean and not stats.dropped_total
        if not stats.files and _remove_if_empty(self.recorder.bag_dir):
            self.get_logger().info(f"nothing recorded: removed the empty bag folder {self.recorder.bag_dir}")
            return clean
        self.get_logger().info(
            f"bag {self.recorder.bag_dir}: {sum(stats.written.values())} messages, "
            f"{stats.bytes_written / 1e6:.1f} MB, {stats.dropped_total} dropped, clean={clean}"
        )
        return clean


def _remove_if_empty(folder: Path) -> bool:
    """Give back a bag folder claimed at start that received nothing (``rmdir`` leaves any other)."""
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def main(args: list[str] | None = None) -> int:
    """``ros2 run mmfusion_annotate recorder_node``: records until SIGINT/SIGTERM, then closes the bag.

    Exit code 2 with one line on a bad parameter or rig (``composition.main_nodes``)."""
    return main_nodes([lambda ctx: RecorderNode(context=ctx)], args, program="recorder_node")


if __name__ == "__main__":
    sys.exit(main())
