"""EventTagger: one streaming entry point for every rule.

Feed observations (``EgoKinematics``, ``TrackFrame``, ``Arrival``, ``ReviewCounts``, ``BoxOffsets``,
``AlignmentFrame``) in time order; ``update`` returns the events that closed with it, ``finish`` closes the
rest. The tagger keeps no wall-clock time, so the same observation sequence gives the same events, ids
included, live or replayed from a bag.

The edge-alignment checks (sync and calibration drift: the costliest step per image) are ``Deferred``: an
``AlignmentFrame``'s check runs on ``executor`` (inline without one) and its events come out with the
``ALIGNMENT_IN_FLIGHT``-th checked ``AlignmentFrame`` after it or at ``finish``, fixed points of the
sequence, so threading never changes them. Only those jobs touch the drift checks' state, so
``executor`` must run them one at a time in order (one thread).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np

from mmfusion_annotate.deferred import Deferred
from mmfusion_annotate.events.alignment import depth_edges
from mmfusion_annotate.events.box_bias import BoxBias
from mmfusion_annotate.events.config import CalibrationDriftRule, EventRules, SyncDriftRule, load_rules
from mmfusion_annotate.events.drift import CalibrationDriftCheck, SyncDriftCheck, prepare
from mmfusion_annotate.events.driving import DrivingRules
from mmfusion_annotate.events.health import DisagreementHealth, StreamHealth
from mmfusion_annotate.events.model import (
    AlignmentFrame,
    Arrival,
    BoxOffsets,
    EgoKinematics,
    Event,
    Observation,
    ReviewCounts,
    TrackFrame,
)
from mmfusion_annotate.types import Stamp

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

ALIGNMENT_IN_FLIGHT = 8
"""Edge checks started before the oldest one's events are taken: ~1.1 s of images at the default
``alignment_every`` on six cameras. Cameras in phase bring their checks in bursts (six on one sweep), so
fewer than a burst and a bit makes the caller wait for the helper at every burst (figures with 4 and 1 in
bench/RESULTS.md, docstring figures)."""


def _ordered(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.type, e.id))


class EventTagger:
    """All rules of one rule file; ``nominal_rates_hz`` lists the sensors whose health is watched."""

    def __init__(
        self,
        rules: EventRules | None = None,
        *,
        nominal_rates_hz: Mapping[str, float] | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.rules = rules or load_rules()
        self._driving = DrivingRules(self.rules)
        self._streams = StreamHealth(self.rules, nominal_rates_hz or {})
        self._review = DisagreementHealth(self.rules)
        self._bias = BoxBias(self.rules)
        self._sync: dict[str, SyncDriftCheck] = {}
        self._calibration: dict[str, CalibrationDriftCheck] = {}
        self._clock: Stamp | None = None
        self._tracks: TrackFrame | None = None
        self._sweep_edges: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None = None
        self._alignment_jobs: Deferred[list[Event]] = Deferred(executor, ALIGNMENT_IN_FLIGHT)

    @classmethod
    def for_rig(cls, rig: Rig, rules: EventRules | None = None, executor: Executor | None = None
                ) -> EventTagger:
        """Watch every camera, LiDAR and radar of a ``rig.Rig`` at its nominal rate."""
        sensors = [*rig.cameras(), *rig.lidars(), *rig.radars()]
        return cls(rules, nominal_rates_hz={s.name: s.rate_hz for s in sensors}, executor=executor)

    def update(self, observation: Observation) -> list[Event]:
        """Feed one observation; returns the events it closed (sorted by start, type, id)."""
        stamp = observation.stamp
        self._clock = stamp if self._clock is None else max(self._clock, stamp)
        if isinstance(observation, Arrival):
            return _ordered(self._streams.on_arrival(observation))
        events = self._streams.on_clock(self._clock)
        if isinstance(observation, EgoKinematics):
            events += self._driving.on_ego(observation)
        elif isinstance(observation, TrackFrame):
            self._tracks = observation
            events += self._driving.on_tracks(observation)
        elif isinstance(observation, ReviewCounts):
            events += self._review.on_review(observation)
        elif isinstance(observation, BoxOffsets):
            events += self._bias.on_offsets(observation)
        elif isinstance(observation, AlignmentFrame):
            if self._wants_alignment(observation.camera):
                movers = self._movers(observation)  # the tracks as of now, not as of when the job runs
                for done in self._alignment_jobs.start(lambda: self._alignment(observation, movers)):
                    events += done
        else:
            raise TypeError(f"EventTagger cannot read {type(observation).__name__}")
        return _ordered(events)

    def finish(self) -> list[Event]:
        """Close every open episode (end of drive or bag); each ends at the last stamp it held."""
        events = [e for done in self._alignment_jobs.take_all() for e in done]
        events += self._driving.flush() + self._streams.flush()
        events += self._review.flush() + self._bias.flush()
        for checks in (self._sync, self._calibration):
            for check in checks.values():
                events += check.flush()
        return _ordered(events)

    def run(self, observations: Iterable[Observation]) -> list[Event]:
        """Offline convenience: every event of a whole observation sequence."""
        events = [e for obs in observations for e in self.update(obs)]
        return _ordered(events + self.finish())

    def _movers(self, frame: AlignmentFrame) -> np.ndarray | None:
        """Discs around the last tracked moving objects, moved to the frame's stamp (relative motion)."""
        if self._tracks is None:
            return None
        edges = self.rules.edges
        dt = (frame.stamp - self._tracks.stamp) * 1e-9
        vx, vy = frame.ego_velocity
        discs = [(o.position[0] + (o.velocity[0] - vx) * dt, o.position[1] + (o.velocity[1] - vy) * dt,
                  0.5 * float(np.hypot(*o.size)) + edges.mover_margin_m)
                 for o in self._tracks.objects if np.hypot(*o.velocity) > edges.mover_speed_mps]
        return np.array(discs, dtype=np.float64).reshape(-1, 3)

    @staticmethod
    def _wants(rule: SyncDriftRule | CalibrationDriftRule, camera: str) -> bool:
        return rule.enabled and (not rule.cameras or camera in rule.cameras)

    def _wants_alignment(self, camera: str) -> bool:
        return self._wants(self.rules.sync_drift, camera) or self._wants(self.rules.calibration_drift, camera)

    def _alignment(self, frame: AlignmentFrame, movers: np.ndarray | None) -> list[Event]:
        """The drift checks of one frame (the deferred job: the only code that touches their state)."""
        want_sync = self._wants(self.rules.sync_drift, frame.camera)
        want_calib = self._wants(self.rules.calibration_drift, frame.camera)
        if self._sweep_edges is None or self._sweep_edges[0] is not frame.points_base:
            # every camera paired with one sweep shares its depth edges (the sweep array is the same object)
            origin = np.asarray(frame.lidar_origin)
            self._sweep_edges = (frame.points_base, depth_edges(frame.points_base, frame.ring, origin,
                                                                self.rules.edges))
        prepared = prepare(frame, self.rules.edges, movers, self._sweep_edges[1])
        events = []
        if want_sync:
            if frame.camera not in self._sync:
                self._sync[frame.camera] = SyncDriftCheck(self.rules, frame.camera)
            events += self._sync[frame.camera].on_frame(prepared)
        if want_calib:
            if frame.camera not in self._calibration:
                self._calibration[frame.camera] = CalibrationDriftCheck(self.rules, frame.camera)
            sync = self._sync.get(frame.camera)
            offset = sync.offset_ms if sync is not None else None
            events += self._calibration[frame.camera].on_frame(prepared, offset)
        return events
