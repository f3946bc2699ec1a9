"""The ROS-free chain sync -> fusion -> pre-labels -> events, fed one sensor sample at a time.

``fusion_node`` feeds it live and ``bagtools.replay`` feeds it from a bag; since both go through this
one object with message stamps only (no wall clock), the same messages give the same frames, labels
and events live or offline (deterministic replay).

Two phases, so a live node can shed load a whole frame at a time: ``intake`` (cheap, in arrival order:
the stamp rule (``sync.stamp_gate``: one sensor's wild stamp rejected, a jump of the whole clock
followed), the synchronizer, waiting for the ego motion that covers a set) turns each sample
into ``Step``s, an ordered stream of the sample itself (ego motion and event observations) and of the
synced sets now ready to fuse; ``process`` runs one step (fusion, pre-labels, events: the heavy part).
``feed`` is both at once. Processing every step in order gives the same results however far intake runs
ahead; a node that cannot keep up drops set steps (whole frames), never sample steps.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Literal

import numpy as np

from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.deferred import helper_executor, run_job
from mmfusion_annotate.drops import DropCounts
from mmfusion_annotate.errors import ConfigError, MmfusionError
from mmfusion_annotate.events.config import load_rules
from mmfusion_annotate.events.feed import SampleFeed, box_offsets, review_counts, track_frame
from mmfusion_annotate.events.model import Event
from mmfusion_annotate.events.tagger import EventTagger
from mmfusion_annotate.fusion import EgoMotion, FusedFrame, FusionPipeline
from mmfusion_annotate.prelabel.camera_detector import ImageDetections, describe, load_camera_detector
from mmfusion_annotate.prelabel.detect import detect
from mmfusion_annotate.prelabel.evidence import ImageEvidence
from mmfusion_annotate.prelabel.model import PrelabelResult
from mmfusion_annotate.prelabel.prelabeler import Prelabeler
from mmfusion_annotate.set_decoder import SetDecoder
from mmfusion_annotate.sync import InputSpec, SyncCore, SyncedSet
from mmfusion_annotate.sync.config import shrunk_period_ns
from mmfusion_annotate.sync.stamp_gate import StampGate
from mmfusion_annotate.types import NS_PER_S, SensorSample, Stamp

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

_log = logging.getLogger(__name__)
SYNCED_KINDS = ("lidar", "camera", "radar")


@dataclass(frozen=True)
class AnnotatedFrame:
    """One fused frame with its pre-labels and the synchronizer's metadata for it."""

    frame: FusedFrame
    labels: PrelabelResult
    synced: SyncedSet
    header_stamps: dict[str, Stamp]  # sensor -> header stamp of the message used (ImageAnnotations need it)
    stage_ms: dict[str, float]


@dataclass
class AnnotatorOutput:
    """What one ``feed`` produced: frames completed and events closed (both often empty), to be handed
    on in that order."""

    frames: list[AnnotatedFrame] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass
class AnnotatorCounters:
    frames: int = 0
    failed_frames: int = 0
    ignored_samples: int = 0
    undecodable_samples: int = 0  # lazily decoded payloads found broken when first needed
    failed_detections: int = 0  # images the camera detector raised on (their frames went on LiDAR-only)


@dataclass(frozen=True)
class Step:
    """One unit of the ordered stream from ``intake`` to ``process``.

    ``sample``: one arrival (ego motion, event observations; cheap, never to be dropped); ``set``: a
    synced set ready to fuse (the heavy work: the unit a live node drops when overloaded); ``restart``:
    time went back, close the events and start the stream state afresh.
    """

    kind: Literal["sample", "set", "restart"]
    sample: SensorSample | None = None
    synced: SyncedSet | None = None


class Annotator:
    """Stateful pipeline for one rig; call ``feed`` with samples in arrival order, ``finish`` at the end."""

    def __init__(self, rig: Rig, config: PipelineConfig | None = None) -> None:
        self.rig = rig
        self.config = config or PipelineConfig()
        self._rules = load_rules(self.config.rules_file)
        self.inputs = sync_inputs(rig, self.config)
        self._lane = {spec.name: i for i, spec in enumerate(self.inputs)}
        self.fusion = FusionPipeline(rig, self.config.fusion)  # before the sync: it picks the reference LiDAR
        self._lidar_period = int(NS_PER_S / rig.sensor(self.fusion.lidar).rate_hz)
        self.counters = AnnotatorCounters()
        self.drops = DropCounts()  # per reason and sensor; nodes and replay count decode errors here too
        self.resets = 0
        # a stamp more than time_jump ahead of the stream clock, or more than time_jump + ego_wait (the
        # longest a topic may lag) behind it, is one input's glitch unless another input confirms it
        self._gate: StampGate[SensorSample] = StampGate(
            self.config.time_jump_ns, self.config.time_jump_ns + self.config.ego_wait_ns,
            on_reject=lambda sensor, reason: self.drops.count(sensor, reason),
        )  # fmt: skip
        self.camera_detector = load_camera_detector(self.config.prelabel.camera.detector)
        _log.info(describe(self.camera_detector))
        # one thread for the edge checks (in order: they share the drift state), one for the camera
        # detector, at the pipeline's own priority: its frame waits for it (a niced thread would make the
        # pipeline wait on a starved helper whenever the machine is busy)
        threaded = self.config.background_checks
        self._edges = helper_executor("mmfusion-edges") if threaded else None
        self._detector = (
            ThreadPoolExecutor(1, thread_name_prefix="mmfusion-detector")
            if threaded and self.camera_detector is not None
            else None
        )
        self._decoder = SetDecoder(self.config.decode_threads)
        self._start()

    def _start(self) -> None:
        """(Re)create everything that keeps stream time, on both sides of the step stream."""
        self._start_intake()
        self._start_processing()

    def _start_intake(self) -> None:
        self.sync = SyncCore(self.inputs, self._sync_config(), policy="optimal")
        self._waiting: list[SyncedSet] = []
        self._latest: Stamp = -(2**62)
        self._ego_until: Stamp = -(2**62)

    def _start_processing(self) -> None:
        self.ego = EgoMotion()
        self.prelabeler = Prelabeler(self.rig, self.config.prelabel, self.camera_detector)
        self.tagger = EventTagger.for_rig(self.rig, self._rules, self._edges)
        self._observations = SampleFeed(
            self.rig, self._rules, alignment_cameras=self._alignment_cameras(),
            alignment_every=self.config.alignment_every,
        )  # fmt: skip

    def _alignment_cameras(self) -> list[str]:
        names = self.config.alignment_cameras
        if names is None:
            return [c.name for c in self.rig.cameras()]
        for name in names:
            if name not in self.rig.sensors or self.rig.sensor(name).kind != "camera":
                raise ConfigError(f"'{name}' is not a camera of rig '{self.rig.name}'",
                                  key="alignment_cameras")
        return list(names)

    def _sync_config(self):
        lidar_period = int(NS_PER_S / self.rig.sensor(self.fusion.lidar).rate_hz)
        cfg = self.config.sync
        # time jumps are the stamp gate's to judge (a restart makes a new synchronizer): one input's stamp
        # going back within the gate's bounds is that message out of order, not a reason to clear the sync
        updates: dict[str, object] = {"reference": self.fusion.lidar, "time_jump_ns": None}
        if cfg.max_interval_ns is None:
            updates["max_interval_ns"] = int(lidar_period * self.config.sync_slack_periods)
        return cfg.model_copy(update=updates)

    def warm_up(self) -> float:
        """Fuse and detect objects in a synthetic sweep, on no stream state; returns the seconds it took.

        The first real frame would otherwise load the numba kernels from their cache (compile them, right
        after installing, unless ``scripts/setup.sh`` did) and compute each camera's projection bounds, many
        times the cost of a later frame (bench/RESULTS.md, "First demo after set-up"). A small box's camera
        evidence is scored too: OpenCV builds its Lab tables at the first conversion, and the camera
        detector runs once (onnxruntime sets up its buffers at the first run).
        A live node calls this before it subscribes, so its first frames do not queue behind it.
        """
        started = perf_counter()
        azimuth = np.linspace(-np.pi, np.pi, 720, endpoint=False)
        ring = np.stack([10 * np.cos(azimuth), 10 * np.sin(azimuth), np.full_like(azimuth, -1.0)], axis=1)
        box = ring[:40] * 0.8 + np.array([0.0, 0.0, 1.5])  # something above the ground to cluster and fit
        xyz = np.concatenate([ring, box]).astype(np.float32)
        lidar = SensorSample(self.fusion.lidar, 0, {"xyz": xyz, "t_ns": np.zeros(len(xyz), np.int64)})
        cameras = {c.name: SensorSample(c.name, 0, {}) for c in self.rig.cameras()}  # views, no pixels
        frame = self.fusion.fuse({self.fusion.lidar: lidar, **cameras}, None)
        detect(frame.sweep.xyz_deskewed, self.config.prelabel, capture_xyz=frame.sweep.xyz)
        ImageEvidence(np.zeros((32, 32, 3), np.uint8)).score((8.0, 8.0, 24.0, 24.0))
        if self.camera_detector is not None:
            self.camera_detector.detect(np.zeros((64, 64, 3), np.uint8))
        return perf_counter() - started

    def feed(self, sample: SensorSample) -> AnnotatorOutput:
        """Add one decoded sample; returns the frames and events it completed (``intake`` + ``process``)."""
        return self._run(self.intake(sample))

    def finish(self) -> AnnotatorOutput:
        """Flush the synchronizer and close every open event (end of bag or shutdown)."""
        self.counters.ignored_samples += len(self._gate.finish())  # far stamps never confirmed: rejected
        out = self._run(self.flush())
        out.events += self.tagger.finish()
        return out

    def _run(self, steps: list[Step]) -> AnnotatorOutput:
        out = AnnotatorOutput()
        for step in steps:
            self.process(step, out)
        return out

    # ------------------------------------------------------------------ intake: cheap, arrival order
    def intake(self, sample: SensorSample) -> list[Step]:
        """Take one sample (only its sensor and stamp are read); returns the steps it makes due, in order.

        Its stamp goes through the ``StampGate`` first: a far one is held until another input confirms
        the clock moved (a jump back restarts the stream), or rejected and counted in ``drops``.
        """
        if sample.sensor not in self.rig.sensors:
            self.counters.ignored_samples += 1
            self.drops.count(sample.sensor, "unknown_sensor")
            return []
        verdict = self._gate.offer(sample.sensor, sample.stamp, sample)
        self.counters.ignored_samples += len(verdict.rejected)
        steps: list[Step] = []
        if verdict.restart:  # every input's clock went back together: a looped bag, a restarted simulation
            _log.warning("annotator: time jumped back %.3f s; finishing the stream and starting again",
                         (self._latest - verdict.released[0][1]) / NS_PER_S)
            steps += self.flush() + [Step("restart")]
            self.resets += 1
            self._start_intake()
        for _, _, released in verdict.released:
            steps += self._take(released)
        return steps

    def _take(self, sample: SensorSample) -> list[Step]:
        """An accepted sample into the stream: its own step, then the synced sets it makes ready."""
        self._latest = max(self._latest, sample.stamp)
        if self.rig.sensor(sample.sensor).kind == "odometry":
            self._ego_until = max(self._ego_until, sample.stamp)
        steps = [Step("sample", sample=sample)]
        lane = self._lane.get(sample.sensor)
        if lane is not None:
            self._waiting += self.sync.feed(lane, sample.stamp, sample)
        return steps + self._ready(flush=False)

    def flush(self) -> list[Step]:
        """The sets still in the synchronizer or waiting for ego motion (end of stream)."""
        self._waiting += self.sync.flush()
        return self._ready(flush=True)

    def _ready(self, *, flush: bool) -> list[Step]:
        """The waiting sets whose ego motion has arrived (odometry past the set's last instant).

        Topics arrive in any order live, so a set can complete before the odometry covering its sweep;
        waiting for it (at most ``ego_wait_ns`` of stream time) keeps live results equal to replay ones.
        """
        ready = []
        while self._waiting:
            needed = self._needed_until(self._waiting[0])
            if not (flush or needed <= self._ego_until or self._latest - needed > self.config.ego_wait_ns):
                break
            ready.append(Step("set", synced=self._waiting.pop(0)))
        return ready

    def _needed_until(self, synced: SyncedSet) -> Stamp:
        """The set's last instant: the end of the sweep (stamp + one period) or a later image/scan."""
        lidar_stamp = synced.stamps[self._lane[self.fusion.lidar]]
        assert lidar_stamp is not None, "the reference LiDAR's input is required (sync_inputs)"
        return max(lidar_stamp + self._lidar_period, *(s for s in synced.stamps if s is not None))

    # ------------------------------------------------------------------ processing: heavy, step order
    def process(self, step: Step, out: AnnotatorOutput | None = None) -> AnnotatorOutput:
        """Run one step of ``intake``'s stream (steps in their order; set steps may be left out)."""
        out = out if out is not None else AnnotatorOutput()
        if step.kind == "restart":
            out.events += self.tagger.finish()
            self._start_processing()
            return out
        try:
            if step.sample is not None:
                self._observe(step.sample, out)
            elif step.synced is not None:
                self._process(step.synced, out)
        except Exception:  # a bug, not bad data (decode refuses that): log it whole, count it, keep going
            _log.exception("annotator: a %s step failed", step.kind)
            self.drops.count(step.sample.sensor if step.sample is not None else self.fusion.lidar,
                             "processing_error")
        return out

    def prefetch(self, step: Step) -> None:
        """Start decoding a queued set step's images beside the step at hand (a node that fell behind)."""
        if step.synced is not None:
            self._decoder.prefetch(self._slots(step.synced))

    def _slots(self, synced: SyncedSet) -> dict[str, SensorSample | None]:
        """A synced set's samples by input name (None: that input has none in the set)."""
        return {spec.name: s for spec, s in zip(self.inputs, synced.slots, strict=True)}

    def _observe(self, sample: SensorSample, out: AnnotatorOutput) -> None:
        kind = self.rig.sensor(sample.sensor).kind
        if kind in ("odometry", "imu"):
            self.ego.feed(sample)
        undecodable = self._observations.undecodable
        observations = self._observations.feed(sample)
        self.counters.undecodable_samples += self._observations.undecodable - undecodable  # edge-check images
        for observation in observations:
            out.events += self.tagger.update(observation)

    def _decoded(self, slots: dict[str, SensorSample | None]) -> dict[str, SensorSample | None]:
        """The set's samples with their payloads usable; one whose lazy payload cannot be decoded is left
        out (None) and counted."""
        failed = self._decoder.decode(slots)
        for name in (name for name in slots if name in failed):  # in the set's order, whichever thread failed
            self.counters.undecodable_samples += 1
            self.drops.count(name, failed[name].reason)
            _log.warning("annotator: %s", failed[name])
        return {name: None if name in failed else sample for name, sample in slots.items()}

    def _process(self, synced: SyncedSet, out: AnnotatorOutput) -> None:
        slots = self._slots(synced)
        samples = self._decoded(slots)
        cameras = self._start_detector(samples)
        timings: dict[str, float] = {}
        failures = self.prelabeler.detector_failures
        try:
            t0 = perf_counter()
            frame = self.fusion.fuse(samples, self.ego)
            t1 = perf_counter()
            labels = self.prelabeler.process(frame, cameras)
            t2 = perf_counter()
        except MmfusionError as exc:  # one bad set must not stop the pipeline
            self.counters.failed_frames += 1
            _log.warning("frame at %d dropped: %s", synced.reference_stamp, exc)
            return
        finally:
            self.counters.failed_detections += self.prelabeler.detector_failures - failures
        timings = {"fusion": (t1 - t0) * 1e3, "prelabel": (t2 - t1) * 1e3}
        out.events += self.tagger.update(track_frame(labels))
        out.events += self.tagger.update(review_counts(labels))
        for offsets in box_offsets(labels, self.rig):
            out.events += self.tagger.update(offsets)
        timings["events"] = (perf_counter() - t2) * 1e3
        stamps = {name: s.stamp for name, s in samples.items() if s is not None}
        out.frames.append(AnnotatedFrame(frame, labels, synced, stamps, timings))
        self.counters.frames += 1

    def _start_detector(
        self, samples: dict[str, SensorSample | None]
    ) -> Future[list[ImageDetections]] | None:
        """This frame's camera detector, started before the set is fused: it runs beside fusion and the
        LiDAR steps, and the pre-labeller takes its result before tracking, in this same frame.

        Its images are decoded by then, on this thread (the pipeline needs the same images). An image that
        could not be decoded leaves its camera without a view, and that camera is not looked at.
        """
        scheduled = self.prelabeler.detector_cameras()
        if not scheduled:
            return None
        images = {name: s.payload["image"] for name in scheduled if (s := samples.get(name)) is not None}
        return run_job(self._detector, lambda: self.prelabeler.detect_cameras(images))


def sync_inputs(rig: Rig, config: PipelineConfig) -> list[InputSpec]:
    """One sync input per LiDAR, camera and radar of the rig; the first LiDAR is required.

    A sensor's own ``rate_tolerance`` (rig file) sets its inter-message lower bound (the period shrunk by
    it); without one the sync config's ``rate_tolerance`` applies.
    """
    specs: list[InputSpec] = []
    for sensor in rig.sensors.values():
        if sensor.kind not in SYNCED_KINDS:
            continue
        optional = sensor.optional or sensor.kind == "radar"
        if sensor.kind == "camera" and not config.cameras_required:
            optional = True
        if sensor.kind == "lidar" and not specs:
            optional = False
        period_ns = int(NS_PER_S / sensor.rate_hz)
        tolerance = sensor.rate_tolerance
        specs.append(
            InputSpec(
                name=sensor.name,
                optional=optional,
                period_ns=period_ns,
                offset_ns=-sensor.time_offset_ns,
                lower_bound_ns=None if tolerance is None else shrunk_period_ns(period_ns, tolerance),
            )
        )
    lidars = [i for i, s in enumerate(specs) if rig.sensor(s.name).kind == "lidar"]
    if not lidars:
        raise MmfusionError(f"rig '{rig.name}' has no LiDAR: nothing to fuse")
    return specs
