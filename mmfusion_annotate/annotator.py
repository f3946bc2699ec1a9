"""The ROS-free chain sync -> fusion -> pre-labels -> events, fed one sensor sample at a time.

``fusion_node`` feeds it live and ``bagtools.replay`` feeds it from a bag; since both go through this
one object with message stamps only (no wall clock), the same messages give the same frames, labels
and events live or offline (deterministic replay).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from time import perf_counter

from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.errors import ConfigError, MmfusionError
from mmfusion_annotate.events.config import load_rules
from mmfusion_annotate.events.feed import SampleFeed, review_counts, track_frame
from mmfusion_annotate.events.model import Event
from mmfusion_annotate.events.tagger import EventTagger
from mmfusion_annotate.fusion import EgoMotion, FusedFrame, FusionPipeline
from mmfusion_annotate.prelabel.model import PrelabelResult
from mmfusion_annotate.prelabel.prelabeler import Prelabeler
from mmfusion_annotate.sync import InputSpec, SyncCore, SyncedSet
from mmfusion_annotate.types import NS_PER_S, SensorSample, Stamp

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
    """What one ``feed`` produced: frames completed and events closed (both often empty)."""

    frames: list[AnnotatedFrame] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass
class AnnotatorCounters:
    frames: int = 0
    failed_frames: int = 0
    ignored_samples: int = 0


class Annotator:
    """Stateful pipeline for one rig; call ``feed`` with samples in arrival order, ``finish`` at the end."""

    def __init__(self, rig, config: PipelineConfig | None = None) -> None:
        self.rig = rig
        self.config = config or PipelineConfig()
        self._rules = load_rules(self.config.rules_file)
        self.inputs = sync_inputs(rig, self.config)
        self._lane = {spec.name: i for i, spec in enumerate(self.inputs)}
        self.fusion = FusionPipeline(rig, self.config.fusion)  # before the sync: it picks the reference LiDAR
        self._lidar_period = int(NS_PER_S / rig.sensor(self.fusion.lidar).rate_hz)
        self.counters = AnnotatorCounters()
        self.resets = 0
        self._start()

    def _start(self) -> None:
        """(Re)create everything that keeps stream time: sync, ego motion, tracker, event rules."""
        self.sync = SyncCore(self.inputs, self._sync_config(), policy="optimal")
        self.ego = EgoMotion()
        self.prelabeler = Prelabeler(self.rig, self.config.prelabel)
        self.tagger = EventTagger.for_rig(self.rig, self._rules)
        self._observations = SampleFeed(
            self.rig, self._rules, alignment_cameras=self._alignment_cameras(),
            alignment_every=self.config.alignment_every,
        )  # fmt: skip
        self._waiting: list[SyncedSet] = []
        self._last_stamp: dict[str, Stamp] = {}
        self._latest: Stamp = -(2**62)
        self._ego_until: Stamp = -(2**62)

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
        updates = {"reference": self.fusion.lidar}
        if cfg.max_interval_ns is None:
            updates["max_interval_ns"] = int(lidar_period * self.config.sync_slack_periods)
        return cfg.model_copy(update=updates)

    def feed(self, sample: SensorSample) -> AnnotatorOutput:
        """Add one decoded sample; returns the frames and events it completed."""
        out = AnnotatorOutput()
        sensor = self.rig.sensors.get(sample.sensor)
        if sensor is None:
            self.counters.ignored_samples += 1
            return out
        previous = self._last_stamp.get(sample.sensor)
        if previous is not None and sample.stamp < previous - self.config.time_jump_ns:
            out = self._restart(previous - sample.stamp)  # its own sensor went back: not just a late message
        self._last_stamp[sample.sensor] = sample.stamp
        self._latest = max(self._latest, sample.stamp)
        if sensor.kind == "odometry":
            self._ego_until = max(self._ego_until, sample.stamp)
        if sensor.kind in ("odometry", "imu"):
            self.ego.feed(sample)
        for observation in self._observations.feed(sample):
            out.events += self.tagger.update(observation)
        lane = self._lane.get(sample.sensor)
        if lane is not None:
            self._waiting += self.sync.feed(lane, sample.stamp, sample)
        self._process_ready(out, flush=False)
        return out

    def finish(self) -> AnnotatorOutput:
        """Flush the synchronizer and close every open event (end of bag or shutdown)."""
        out = AnnotatorOutput()
        self._waiting += self.sync.flush()
        self._process_ready(out, flush=True)
        out.events += self.tagger.finish()
        return out

    def _restart(self, jump_ns: int) -> AnnotatorOutput:
        """Time went back (a looped bag, a restarted simulation): finish the old stream, start afresh."""
        _log.warning("annotator: time jumped back %.3f s; finishing the stream and starting again",
                     jump_ns / NS_PER_S)
        out = self.finish()
        self.resets += 1
        self._start()
        return out

    def _process_ready(self, out: AnnotatorOutput, *, flush: bool) -> None:
        """Fuse the waiting sets whose ego motion has arrived (odometry past the set's last instant).

        Topics arrive in any order live, so a set can complete before the odometry covering its sweep;
        waiting for it (at most ``ego_wait_ns`` of stream time) keeps live results equal to replay ones.
        """
        while self._waiting:
            needed = self._needed_until(self._waiting[0])
            if not (flush or needed <= self._ego_until or self._latest - needed > self.config.ego_wait_ns):
                return
            self._process(self._waiting.pop(0), out)

    def _needed_until(self, synced: SyncedSet) -> Stamp:
        """The set's last instant: the end of the sweep (stamp + one period) or a later image/scan."""
        sweep_end = synced.stamps[self._lane[self.fusion.lidar]] + self._lidar_period
        return max(sweep_end, *(s for s in synced.stamps if s is not None))

    def _process(self, synced: SyncedSet, out: AnnotatorOutput) -> None:
        samples = {spec.name: s for spec, s in zip(self.inputs, synced.slots, strict=True)}
        timings: dict[str, float] = {}
        try:
            t0 = perf_counter()
            frame = self.fusion.fuse(samples, self.ego)
            t1 = perf_counter()
            labels = self.prelabeler.process(frame)
            t2 = perf_counter()
        except MmfusionError as exc:  # one bad set must not stop the pipeline
            self.counters.failed_frames += 1
            _log.warning("frame at %d dropped: %s", synced.reference_stamp, exc)
            return
        timings = {"fusion": (t1 - t0) * 1e3, "prelabel": (t2 - t1) * 1e3}
        out.events += self.tagger.update(track_frame(labels))
        out.events += self.tagger.update(review_counts(labels))
        timings["events"] = (perf_counter() - t2) * 1e3
        stamps = {name: s.stamp for name, s in samples.items() if s is not None}
        out.frames.append(AnnotatedFrame(frame, labels, synced, stamps, timings))
        self.counters.frames += 1


def sync_inputs(rig, config: PipelineConfig) -> list[InputSpec]:
    """One sync input per LiDAR, camera and radar of the rig; the first LiDAR is required."""
    specs = []
    for sensor in rig.sensors.values():
        if sensor.kind not in SYNCED_KINDS:
            continue
        optional = sensor.optional or sensor.kind == "radar"
        if sensor.kind == "camera" and not config.cameras_required:
            optional = True
        if sensor.kind == "lidar" and not specs:
            optional = False
        specs.append(
            InputSpec(
                name=sensor.name,
                optional=optional,
                period_ns=int(NS_PER_S / sensor.rate_hz),
                offset_ns=-sensor.time_offset_ns,
            )
        )
    lidars = [i for i, s in enumerate(specs) if rig.sensor(s.name).kind == "lidar"]
    if not lidars:
        raise MmfusionError(f"rig '{rig.name}' has no LiDAR: nothing to fuse")
    return specs
