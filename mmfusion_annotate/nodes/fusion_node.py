"""``fusion_node``: the rig's sensor topics in, coloured cloud, pre-label markers, events and diagnostics out.

Threading: subscription callbacks (one mutually exclusive group per topic, so each topic's messages
stay in order) decode the message into a ``SensorSample`` (camera images lazily: only the pixels the
pipeline uses are ever decoded) and run the ``Annotator``'s cheap intake (synchronizer, ego coverage)
under a lock, in arrival order; the steps it yields (every sample, and each synced set once ready) go to
one ``BoundedWorker``, whose thread runs them (fusion -> pre-labels -> events) in order. What they
complete goes to a second worker, which builds the output messages, publishes them and hands them to
the listeners (the in-process recorder), so message building never delays the next
frame's pipeline. When the pipeline cannot keep up, whole frames go: beyond ``queue_depth`` waiting
sets the oldest set is dropped, counted and reported on ``/diagnostics`` (never an unbounded queue),
while the per-sample steps that keep ego motion and the event rules whole stay. The publishing queue
is bounded too (``PUBLISH_DEPTH`` results, each holding its frame's decoded images) but never drops:
a full one makes the pipeline thread wait, so its own queue fills and whole frames are dropped there,
before any work is spent on them, rather than computed results that the recorder would miss. Every
decision uses message stamps, never the wall clock, so ``use_sim_time`` and replay give the same results
(the same frames, when none was dropped).

Outputs come from ``outputs.OutputBuilder``, the one mapping ``bagtools.replay`` uses too. The installed
types among them go out over DDS (``/fusion/colored_cloud``, ``/prelabels/markers``). The carried ones
(``foxglove_msgs``: ``/prelabels/scene``, ``/prelabels/review``, ``<camera ns>/annotations``; the event
type: ``/events``) go out too where their package is installed with the same definition
(``interfaces.live``: ``foxglove_msgs`` from the distribution, ``mmfusion_annotate_msgs`` under colcon),
as the CDR bytes the bag gets; without it one info line says so at start. Either way they reach a bag
through an in-process listener (``add_listener``: the recorder in ``mmfusion run``, the ``vehicle``
entry point, ``mmfusion demo``) or through ``mmfusion replay``. Topic names are relative
(``outputs.topics.published_name``): a namespace moves them. Live, events are also published
as ``diagnostic_msgs/DiagnosticArray`` on ``/events/status`` (one status per event), which every ROS
tool shows; it is a different topic so the bag's ``/events`` keeps one type.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from functools import partial
from typing import TypedDict

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from pydantic import BaseModel, ConfigDict, Field
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from mmfusion_annotate.annotator import AnnotatedFrame, Annotator, AnnotatorOutput, Step
from mmfusion_annotate.config import load_pipeline_config
from mmfusion_annotate.errors import CodecError, MmfusionError
from mmfusion_annotate.fusion.overlay import depth_overlay
from mmfusion_annotate.interfaces.cdr import message_class, serialize
from mmfusion_annotate.interfaces.definitions import is_carried
from mmfusion_annotate.interfaces.live import live_type, to_installed
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO
from mmfusion_annotate.library_threads import limit_library_threads
from mmfusion_annotate.msgs.image import encode_image
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.nodes import diagnostics as diag
from mmfusion_annotate.nodes.composition import main_nodes
from mmfusion_annotate.nodes.lazy_sample import lazy_camera_sample
from mmfusion_annotate.nodes.params import declare_config
from mmfusion_annotate.nodes.qos import RELIABLE, SensorQos, sensor_qos
from mmfusion_annotate.nodes.worker import BoundedWorker
from mmfusion_annotate.outputs.builder import Output, OutputBuilder
from mmfusion_annotate.outputs.topics import output_topics, published_name
from mmfusion_annotate.prelabel.camera_detector import describe
from mmfusion_annotate.rig import Sensor, default_rig_path, load_rig
from mmfusion_annotate.types import NS_PER_S

EVENT_STATUS = "events/status"
DIAGNOSTICS = "/diagnostics"
LATENCY_WINDOW = 256
"""Frames the latency percentiles on /diagnostics are taken over."""
STEP_LIMIT = 4096
"""Queued steps of any kind at most (~3 s of the default rig's messages): past it the oldest goes."""
ARRIVALS_KEPT = 4096
"""Arrival times remembered for the latency of sets still forming."""
PUBLISH_DEPTH = 8
"""Results waiting to be published at most (~0.8 s of frames, ~30 MB each with their decoded images);
beyond it the pipeline thread waits (back-pressure)."""


def overlay_topic(camera: str) -> str:
    return f"fusion/{camera}/overlay"


class NodeStats(TypedDict):
    """What ``FusionNode.stats`` reports: one flat ``key -> value`` dict per /diagnostics status."""

    sensors: dict[str, float]
    sync: dict[str, float]
    pipeline: dict[str, float | str]
    drops: dict[str, int]


class FusionNodeConfig(BaseModel):
    """The node's own parameters (the pipeline's are in ``pipeline_file``)."""

    model_config = ConfigDict(extra="forbid")

    rig_file: str = Field(
        default_factory=lambda: str(default_rig_path()),
        description="rig YAML: sensors, topics, calibration (default: the shipped nuScenes-like rig)",
    )
    pipeline_file: str = Field(
        "", description="pipeline YAML with sync/fusion/prelabel sections and rules_file (empty: defaults)"
    )
    qos: SensorQos = Field(
        "sensor_data", description="QoS of the sensor subscriptions: sensor_data (best effort) or reliable"
    )
    queue_depth: int = Field(
        6, ge=1, le=100000,
        description="synced sets waiting for fusion; beyond it the oldest set (frame) is dropped and counted",
    )  # fmt: skip
    publish_overlays: bool = Field(False, description="publish per-camera depth overlays (costly)")
    overlay_rate_hz: float = Field(
        1.0, gt=0.0, le=30.0, description="overlays per camera per second of sensor time, at most"
    )
    diagnostics_period_s: float = Field(1.0, ge=0.05, le=60.0, description="period of /diagnostics, seconds")


def _message_type(sensor: Sensor) -> type:
    return message_class(sensor.msgtype)


class FusionNode(Node):
    """Live face of ``Annotator``; see the module docstring for threading and topics."""

    def __init__(self, node_name: str = "fusion_node", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.config = declare_config(self, FusionNodeConfig)
        self.rig = load_rig(self.config.rig_file)
        pipeline = load_pipeline_config(self.config.pipeline_file or None)
        self.annotator = Annotator(self.rig, pipeline)
        try:  # before subscribing: the first frames must not wait for the kernels
            warmed = f"kernels warmed up in {self.annotator.warm_up():.2f} s"
        except MmfusionError as exc:  # not fatal: the first real frame loads them instead
            warmed = f"kernel warm-up failed ({exc}); the first frame will load them"
        # the figures the worker and the publisher keep, vs /diagnostics: never held during heavy work, since
        # /diagnostics runs on the executor, which would stop taking messages while it waited
        self._lock = threading.Lock()
        self._processing = threading.Lock()  # the annotator's processing side: a step, or close()'s finish
        self._intake_lock = threading.Lock()  # guards the intake side; never held during heavy work
        self._received: Counter[str] = Counter()
        self._queue_drops: Counter[str] = Counter()
        self._frames_dropped = 0
        self._rates = {name: diag.RateMeter() for name in self.rig.sensors}
        self._arrivals: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._latency_ms: list[float] = []
        self._stage_ms: dict[str, list[float]] = {}
        self._events = 0
        self._last_overlay: dict[str, int] = {}
        self._listeners: list[Callable[[AnnotatorOutput, list[Output]], None]] = []
        self._outputs = OutputBuilder(self.rig, self.rig.base_frame)
        self._closed = False
        self._load_mark: tuple[float, float] | None = None  # (time, worker busy s) at the last /diagnostics
        self._reported = (0, 0)  # (frames dropped, messages refused) at the last /diagnostics
        self._worker: BoundedWorker[tuple[Step, float]] = BoundedWorker(
            "fusion", self._process, capacity=self.config.queue_depth, on_drop=self._count_drop,
            droppable=lambda item: item[0].kind == "set", limit=max(STEP_LIMIT, self.config.queue_depth),
        )  # fmt: skip
        self._publisher: BoundedWorker[tuple[AnnotatorOutput, float]] = BoundedWorker(
            "publish", self._publish_timed, capacity=PUBLISH_DEPTH
        )

        reliable = RELIABLE
        self._qos = {"reliable": reliable, "sensor_data": qos_profile_sensor_data}
        # the DDS-capable outputs, created up front so subscribers discover them early: installed types, and
        # carried ones whose package is installed alike (published as CDR bytes); camera infos are the
        # drivers' (or sim's) to publish, /tf_static the recorder's
        self._output_pubs: dict[str, Publisher] = {}
        caveats: dict[str, str] = {}  # topic -> why it is not on DDS as in the bag
        for t in output_topics(self.rig):
            if t.msgtype == CAMERA_INFO or t.qos not in self._qos:
                continue
            carried = live_type(t.msgtype) if is_carried(t.msgtype) else None
            if carried is not None and carried.reason:
                caveats[t.topic] = carried.reason
            if carried is not None and carried.cls is None:
                continue
            cls = message_class(t.msgtype) if carried is None else carried.cls
            self._output_pubs[t.topic] = self.create_publisher(cls, published_name(t.topic), self._qos[t.qos])
        on_dds = "; ".join(sorted(set(caveats.values()))) or "every output on DDS"
        self._events_pub = self.create_publisher(DiagnosticArray, EVENT_STATUS, reliable)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS, reliable)
        self._overlay_pubs = {}
        if self.config.publish_overlays:
            self._overlay_pubs = {
                c.name: self.create_publisher(Image, overlay_topic(c.name), qos_profile_sensor_data)
                for c in self.rig.cameras()
            }

        for sensor in self.rig.sensors.values():
            qos = sensor_qos(self.config.qos, rate_hz=sensor.rate_hz)
            # one mutually exclusive group per topic: its messages stay in order, while different topics
            # decode in parallel on a MultiThreadedExecutor (numpy releases the GIL while copying)
            self.create_subscription(
                _message_type(sensor), sensor.topic, partial(self._on_message, sensor), qos,
                callback_group=MutuallyExclusiveCallbackGroup(),
            )  # fmt: skip
        # Diagnostics are not a decision: a steady clock keeps them coming when /clock is paused or absent.
        self.create_timer(
            self.config.diagnostics_period_s, self.publish_diagnostics,
            callback_group=MutuallyExclusiveCallbackGroup(), clock=Clock(clock_type=ClockType.STEADY_TIME),
        )  # fmt: skip
        self.get_logger().info(
            f"rig '{self.rig.name}' ({len(self.rig.sensors)} sensors, {self.config.qos} QoS), "
            f"backend {self.annotator.fusion.backend.name}, {warmed}; "
            f"{describe(self.annotator.camera_detector)}; {on_dds}"
        )

    # ------------------------------------------------------------------ intake (executor threads)
    def _on_message(self, sensor: Sensor, msg: object) -> None:
        received = time.monotonic()  # latency counts from here: decoding is part of the pipeline's time
        with self._intake_lock:
            self._received[sensor.name] += 1
        try:
            decode = lazy_camera_sample if sensor.kind == "camera" else decode_sample
            sample = decode(sensor, msg)
        except CodecError as exc:
            self.annotator.drops.count(sensor.name, exc.reason)  # with the pipeline's own, per reason
            self.get_logger().warning(f"dropped: {exc}", throttle_duration_sec=5.0)
            return
        with self._intake_lock:  # in one order for the intake and the queue: the order replay uses
            if self._closed:
                return
            self._rates[sensor.name].add(sample.stamp)
            self._arrivals[(sensor.name, sample.stamp)] = received
            while len(self._arrivals) > ARRIVALS_KEPT:
                self._arrivals.popitem(last=False)
            for step in self.annotator.intake(sample):
                self._worker.submit((step, self._last_arrival(step, received)))

    def _last_arrival(self, step: Step, default: float) -> float:
        """When the last message of a set step's set was received (what its latency counts from)."""
        if step.synced is None:
            return default
        names = (spec.name for spec in self.annotator.inputs)
        keys = [(name, s) for name, s in zip(names, step.synced.stamps, strict=True) if s is not None]
        known = [self._arrivals[key] for key in keys if key in self._arrivals]
        return max(known, default=default)

    def _count_drop(self, item: tuple[Step, float]) -> None:
        step = item[0]  # called under the worker's queue lock: keep it this small
        if step.kind == "set":
            self._frames_dropped += 1
        elif step.sample is not None:
            self._queue_drops[step.sample.sensor] += 1

    # ------------------------------------------------------------------ pipeline (worker thread)
    def _process(self, item: tuple[Step, float]) -> None:
        step, arrived = item
        if step.kind == "set":
            queued = self._worker.next_pending()  # behind: decode its images while this one is fused
            if queued is not None:
                self.annotator.prefetch(queued[0])
        with self._processing:
            out = self.annotator.process(step)
        with self._lock:
            self._account(out, arrived)
        if out.frames or out.events:
            self._publisher.put((out, time.monotonic()))  # waits while PUBLISH_DEPTH results are queued

    def _account(self, out: AnnotatorOutput, arrived: float | None) -> None:
        """Latency of a frame: when it was produced minus when the last message of its set was received."""
        now = time.monotonic()
        for annotated in out.frames:
            if arrived is not None:
                self._latency_ms = (self._latency_ms + [(now - arrived) * 1e3])[-LATENCY_WINDOW:]
            for stage, ms in annotated.stage_ms.items():
                self._stage_ms[stage] = (self._stage_ms.get(stage, []) + [ms])[-LATENCY_WINDOW:]
        self._events += len(out.events)

    def _publish_timed(self, item: tuple[AnnotatorOutput, float]) -> None:
        """Publish one result; its frames' ``publish`` stage is the time from produced to published."""
        out, produced = item
        self._publish(out)
        if out.frames:
            ms = (time.monotonic() - produced) * 1e3
            with self._lock:
                self._stage_ms["publish"] = (self._stage_ms.get("publish", []) + [ms])[-LATENCY_WINDOW:]

    def _publish(self, out: AnnotatorOutput) -> None:
        outputs = [o for annotated in out.frames for o in self._outputs.frame(annotated)]
        outputs += self._outputs.events(out.events)
        for output in outputs:
            pub = self._output_pubs.get(output.topic)
            if pub is None:
                continue
            try:
                live = self._live_message(output)
            except (AssertionError, AttributeError, TypeError, ValueError) as exc:  # a field of another type
                del self._output_pubs[output.topic]  # the bag (listeners) still gets it: only DDS stops
                self.get_logger().warning(f"{output.topic}: no longer published over DDS ({exc!r})")
                continue
            pub.publish(live)
        for annotated in out.frames:
            self._publish_overlays(annotated)
        if out.events:
            stamp = max(e.peak for e in out.events)
            self._events_pub.publish(diag.diagnostic_array(stamp, (diag.event_status(e) for e in out.events)))
        for listener in self._listeners:
            listener(out, outputs)

    def _live_message(self, output: Output) -> object:
        """What goes on DDS: installed types as they are; a carried type as its bag's CDR bytes when the
        installed definition is the same, else converted field by field (``interfaces.live``)."""
        if not is_carried(output.msgtype):
            return output.msg
        live = live_type(output.msgtype)
        if live.convert and live.cls is not None:
            return to_installed(output.msg, live.cls)
        return serialize(output.msgtype, output.msg)

    def _publish_overlays(self, annotated: AnnotatedFrame) -> None:
        period_ns = int(NS_PER_S / self.config.overlay_rate_hz)
        for name, view in annotated.frame.cameras.items():
            pub = self._overlay_pubs.get(name)
            last = self._last_overlay.get(name)
            stamp = annotated.header_stamps.get(name, annotated.frame.stamp)
            if pub is None or (last is not None and 0 <= stamp - last < period_ns):
                continue
            self._last_overlay[name] = stamp
            pub.publish(encode_image(depth_overlay(view), "rgb8", self.rig.sensor(name).frame_id, stamp))

    # ------------------------------------------------------------------ public
    def add_listener(self, listener: Callable[[AnnotatorOutput, list[Output]], None]) -> None:
        """Call ``listener(out, outputs)`` on the publishing thread for every result with frames or events.

        ``out`` holds the frames and events themselves (summaries, tests); ``outputs`` every message they
        map to, carried types included (``Output.dds`` False), for an in-process recorder. Often empty.
        """
        self._listeners.append(listener)

    def idle(self) -> bool:
        """True when no step is queued or being processed, and no result waits to be published."""
        return self._worker.drain(timeout=0) and self._publisher.drain(timeout=0)

    def stats(self) -> NodeStats:
        """Everything /diagnostics reports, as flat dicts per status (also what tests read)."""
        worker, publisher = self._worker.stats(), self._publisher.stats()
        with self._intake_lock:
            sensors: dict[str, float] = {}
            for name in self.rig.sensors:
                sensors[f"{name}.rate_hz"] = self._rates[name].rate_hz()
                sensors[f"{name}.received"] = self._received[name]
                sensors[f"{name}.dropped"] = self.annotator.drops.total(source=name)
                sensors[f"{name}.queue_drops"] = self._queue_drops[name]
            sync = dict(self.annotator.sync.stats.snapshot())
        drops = self.annotator.drops.snapshot()
        with self._lock:
            counters = self.annotator.counters
            pipeline: dict[str, float | str] = {
                "backend": self.annotator.fusion.backend.name,
                "frames": counters.frames,
                "frames_dropped": self._frames_dropped,
                "failed_frames": counters.failed_frames,
                "failed_detections": counters.failed_detections,
                "ignored_samples": counters.ignored_samples,
                "undecodable_samples": counters.undecodable_samples,
                "events": self._events,
                "queue_depth": worker.depth,
                "queue_capacity": worker.capacity,
                "queue_dropped": worker.dropped_oldest,
                "worker_failed": worker.failed,
                "publish_queue": publisher.depth,
                "publish_failed": publisher.failed,
                "worker_busy_s": worker.busy_s,
                "publish_busy_s": publisher.busy_s,
            }
            series = {"latency_ms": self._latency_ms, **{f"{k}_ms": v for k, v in self._stage_ms.items()}}
            for key, values in series.items():
                if values:
                    p50, p99 = np.percentile(values, [50, 99])
                    pipeline[f"{key}.p50"], pipeline[f"{key}.p99"] = float(p50), float(p99)
        return NodeStats(sensors=sensors, sync=sync, pipeline=pipeline, drops=drops)

    def publish_diagnostics(self) -> None:
        stats = self.stats()
        pipeline, sensors = stats["pipeline"], stats["sensors"]
        now, busy = time.monotonic(), float(pipeline["worker_busy_s"])
        if self._load_mark is not None:  # share of the last period the pipeline thread was working
            pipeline["worker_load"] = (busy - self._load_mark[1]) / max(now - self._load_mark[0], 1e-9)
        self._load_mark = (now, busy)
        drops = sum(int(pipeline[k]) for k in ("queue_dropped", "failed_frames", "publish_failed"))
        errors = sum(int(v) for v in stats["drops"].values())
        # WARN while it happens (since the last report), OK again once it stops: one drop is no lasting fault
        new_drops, new_errors = drops > self._reported[0], errors > self._reported[1]
        self._reported = (drops, errors)
        message = f"{pipeline['frames']} frames, {drops} dropped, {errors} messages refused (since start)"
        name, hardware = self.get_name(), self.rig.name  # diagnostic_updater's "<node>: <task>" names
        warn_pipeline = diag.WARN if new_drops or new_errors else diag.OK
        statuses = [
            diag.status(f"{name}: pipeline", pipeline, level=warn_pipeline, message=message,
                        hardware_id=hardware),
            diag.status(f"{name}: sensors", sensors, level=diag.WARN if new_errors else diag.OK,
                        hardware_id=hardware),
            diag.status(f"{name}: sync", stats["sync"], hardware_id=hardware),
            diag.status(f"{name}: drops", stats["drops"], level=diag.WARN if new_errors else diag.OK,
                        message="refused messages by reason.sensor, since start", hardware_id=hardware),
        ]  # fmt: skip
        self._diagnostics_pub.publish(diag.diagnostic_array(self.get_clock().now().nanoseconds, statuses))

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish queued steps, flush the synchronizer and close open events, publishing the results."""
        with self._intake_lock:
            if self._closed:
                return
            self._closed = True  # from here on callbacks leave the annotator alone
        self._worker.stop(timeout_s)
        with self._processing:  # a step still running past the timeout finishes first
            out = self.annotator.finish()
        with self._lock:
            self._account(out, None)
        self._publisher.put((out, time.monotonic()), timeout_s)
        self._publisher.stop(timeout_s)
        self.publish_diagnostics()


def apply_process_threads(node: FusionNode) -> FusionNode:
    """Entry points only: size the process's library thread pools by the node's ``fusion.cpu_threads``."""
    limit_library_threads(node.annotator.config.fusion.cpu_threads)
    return node


def main(args: list[str] | None = None) -> int:
    """``ros2 run mmfusion_annotate fusion_node``; exit code 2 with one line on a bad parameter or rig."""
    return main_nodes(
        [lambda ctx: apply_process_threads(FusionNode(context=ctx))], args, program="fusion_node"
    )


if __name__ == "__main__":
    sys.exit(main())
