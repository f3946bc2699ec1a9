"""Driving rules: ego kinematics (braking, acceleration, lateral, jerk) and the traffic around the ego.

Geometry is deliberately simple and stated: the ego path is the arc of the current curvature
(yaw rate / speed) through ``base_link``, approximated as ``y = k x^2 / 2``; an object is *in path* when
its footprint overlaps the ego corridor (ego half-width + object half-width from the arc); gaps are
measured from the ego front bumper to the object's near face; time-to-collision is the constant-velocity
TTC (gap / closing speed, Hayward 1972). Closing speeds use the tracked velocity, or the radar's
ego-compensated radial velocity where the track has one (in-path TTC only, where the line of sight is
nearly longitudinal). A cut-in is a vehicle whose centre crosses into the ego lane ahead while moving
towards the ego's path, rated by its lowest TTC; a lead vehicle's braking is differenced from its track
velocity. A VRU rule reads only pedestrians and cyclists labelled with at least its ``min_confidence``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from mmfusion_annotate.events.config import EventRules, TieredRule
from mmfusion_annotate.events.episodes import EpisodeSet, identity
from mmfusion_annotate.events.model import Category, EgoKinematics, Event, TrackedObject, TrackFrame
from mmfusion_annotate.types import Stamp, seconds_to_ns

EGO_KEY = "ego"


@dataclass(frozen=True)
class Relation:
    """An object seen from the ego path."""

    offset: float
    """lateral offset of the object's centre from the path arc (left positive)"""
    corridor_gap: float
    """lateral clearance between the object's footprint and the ego corridor (<= 0: in path)"""
    gap: float
    """longitudinal distance from the ego front bumper to the object's near face"""
    closing: float
    """longitudinal closing speed (positive: getting closer)"""
    alongside: bool
    """the object overlaps the ego body longitudinally"""

    @property
    def ttc(self) -> float:
        return self.gap / self.closing if self.closing > 0 and self.gap > 0 else math.inf


def relate(obj: TrackedObject, ego: EgoKinematics, rules: EventRules, *, use_radar: bool) -> Relation:
    geo = rules.ego
    k = ego.yaw_rate / ego.speed if abs(ego.speed) > geo.min_speed_mps else 0.0
    x, y = obj.position
    length, width = obj.size
    offset = y - 0.5 * k * x * x
    corridor_gap = abs(offset) - geo.half_width_m - 0.5 * width
    gap = x - 0.5 * length - geo.front_m
    alongside = gap <= 0 and x + 0.5 * length >= -geo.rear_m
    if use_radar and obj.radial_velocity is not None and x > 0:
        cos_los = x / math.hypot(x, y)
        closing = ego.speed - obj.radial_velocity / cos_los
    else:
        closing = ego.speed - obj.velocity[0]
    return Relation(offset, corridor_gap, gap, closing, alongside)


def _kinematic(rule: TieredRule, type_: str, version: str) -> EpisodeSet:
    return EpisodeSet(identity(type_, Category.DRIVING, version, rule.min_duration_s, rule.merge_gap_s,
                               lower_is_worse=rule.direction == "below", severity=rule.severity))


class DrivingRules:
    """Streaming driving rules; track frames are judged against the latest ego state before them."""

    def __init__(self, rules: EventRules) -> None:
        self.rules = rules
        v = rules.version_of
        self._ego_sets = {
            name: _kinematic(getattr(rules, name), name, v(name))
            for name in ("hard_braking", "harsh_acceleration", "harsh_lateral", "high_jerk")
            if getattr(rules, name).enabled
        }
        self._track_sets = {
            name: _kinematic(getattr(rules, name), name, v(name))
            for name in ("low_ttc", "lead_braking", "short_headway", "vru_proximity")
            if getattr(rules, name).enabled
        }
        cut = rules.cut_in
        self._cut_in = EpisodeSet(identity("cut_in", Category.DRIVING, v("cut_in"), cut.min_duration_s,
                                           cut.merge_gap_s, lower_is_worse=True,
                                           severity=cut.severity_at)) if cut.enabled else None
        self._ego: EgoKinematics | None = None
        self._last_outside: dict[int, Stamp] = {}
        self._lead_speeds: dict[int, deque[tuple[Stamp, float]]] = {}

    def on_ego(self, ego: EgoKinematics) -> list[Event]:
        self._ego = ego
        signals = {
            "hard_braking": (ego.accel_long, "accel_long_mps2"),
            "harsh_acceleration": (ego.accel_long, "accel_long_mps2"),
            "harsh_lateral": (abs(ego.accel_lat), "accel_lat_abs_mps2"),
            "high_jerk": (None if ego.jerk_long is None else abs(ego.jerk_long), "jerk_abs_mps3"),
        }
        out: list[Event] = []
        for name, episodes in self._ego_sets.items():
            value, label = signals[name]
            if value is None:
                continue
            rule: TieredRule = getattr(self.rules, name)
            update = (rule.beyond(value, rule.enter), rule.beyond(value, rule.release), value,
                      {label: value, "speed_mps": ego.speed})
            out += episodes.step(ego.stamp, {EGO_KEY: update})
        return out

    def on_tracks(self, frame: TrackFrame) -> list[Event]:
        ego = self._ego
        if ego is None:
            return []
        out: list[Event] = []
        ids = {str(o.track_id): (o.track_id,) for o in frame.objects}
        if "low_ttc" in self._track_sets:
            out += self._track_sets["low_ttc"].step(frame.stamp, self._ttc(frame, ego), ids)
        if "lead_braking" in self._track_sets:
            out += self._track_sets["lead_braking"].step(frame.stamp, self._lead_braking(frame, ego), ids)
        if "short_headway" in self._track_sets:
            out += self._track_sets["short_headway"].step(frame.stamp, self._headway(frame, ego), ids)
        if "vru_proximity" in self._track_sets:
            out += self._track_sets["vru_proximity"].step(frame.stamp, self._vru(frame, ego), ids)
        if self._cut_in is not None:
            out += self._cut_in.step(frame.stamp, self._cut_ins(frame, ego), ids)
        return out

    def flush(self) -> list[Event]:
        sets = [*self._ego_sets.values(), *self._track_sets.values(), self._cut_in]
        return [e for s in sets if s is not None for e in s.flush()]

    def _ttc(self, frame: TrackFrame, ego: EgoKinematics) -> dict:
        rule = self.rules.low_ttc
        updates = {}
        for obj in frame.objects:
            rel = relate(obj, ego, self.rules, use_radar=True)
            if rel.corridor_gap > 0 or rel.closing < rule.min_closing_mps or rel.gap > rule.max_range_m:
                continue
            ttc = rel.ttc
            updates[str(obj.track_id)] = (rule.beyond(ttc, rule.enter), rule.beyond(ttc, rule.release), ttc,
                                          {"min_ttc_s": ttc, "gap_m": rel.gap, "closing_mps": rel.closing,
                                           "speed_mps": ego.speed})
        return updates

    def _lead(self, frame: TrackFrame, ego: EgoKinematics, classes: tuple[str, ...]
              ) -> tuple[float, TrackedObject] | None:
        """The nearest in-path object ahead of one of ``classes`` and its gap (ties by track id)."""
        leads = [(rel.gap, obj) for obj in frame.objects if obj.cls in classes
                 for rel in [relate(obj, ego, self.rules, use_radar=False)]
                 if rel.corridor_gap <= 0 and rel.gap > 0]
        return min(leads, key=lambda item: (item[0], item[1].track_id)) if leads else None

    def _lead_braking(self, frame: TrackFrame, ego: EgoKinematics) -> dict:
        rule = self.rules.lead_braking
        for obj in frame.objects:
            history = self._lead_speeds.setdefault(obj.track_id, deque())
            history.append((frame.stamp, obj.velocity[0]))
            while len(history) > 2 and frame.stamp - history[1][0] >= seconds_to_ns(rule.span_s):
                history.popleft()
        for gone in set(self._lead_speeds) - {o.track_id for o in frame.objects}:
            del self._lead_speeds[gone]
        found = self._lead(frame, ego, rule.classes)
        if found is None:
            return {}
        gap, lead = found
        (t0, v0), (t1, v1) = self._lead_speeds[lead.track_id][0], self._lead_speeds[lead.track_id][-1]
        if t1 - t0 < seconds_to_ns(rule.span_s):
            return {}
        accel = (v1 - v0) / ((t1 - t0) * 1e-9)
        evidence = {"lead_accel_mps2": accel, "gap_m": gap, "lead_speed_mps": v1, "speed_mps": ego.speed}
        return {str(lead.track_id): (rule.beyond(accel, rule.enter), rule.beyond(accel, rule.release), accel,
                                     evidence)}

    def _headway(self, frame: TrackFrame, ego: EgoKinematics) -> dict:
        rule = self.rules.short_headway
        found = self._lead(frame, ego, rule.classes) if ego.speed >= rule.min_speed_mps else None
        if found is None:
            return {}
        gap, lead = found
        headway = gap / ego.speed
        evidence = {"min_headway_s": headway, "gap_m": gap, "speed_mps": ego.speed}
        update = (rule.beyond(headway, rule.enter), rule.beyond(headway, rule.release), headway, evidence)
        return {str(lead.track_id): update}

    def _vru(self, frame: TrackFrame, ego: EgoKinematics) -> dict:
        rule = self.rules.vru_proximity
        updates = {}
        for obj in frame.objects:
            if obj.cls not in rule.classes or obj.confidence < rule.min_confidence:
                continue
            rel = relate(obj, ego, self.rules, use_radar=False)
            if rel.corridor_gap > rule.path_margin_m:
                continue
            ttc = rel.ttc if rel.closing >= rule.min_closing_mps else math.inf
            evidence = {"min_ttc_s": ttc, "path_distance_m": max(rel.corridor_gap, 0.0),
                        "speed_mps": ego.speed}
            updates[str(obj.track_id)] = (rule.beyond(ttc, rule.enter),
                                          rule.beyond(ttc, rule.release) or rel.alongside, ttc, evidence)
        return updates

    def _cut_ins(self, frame: TrackFrame, ego: EgoKinematics) -> dict:
        rule = self.rules.cut_in
        lane = self.rules.ego.lane_half_width_m
        window = seconds_to_ns(rule.entry_window_s)
        updates = {}
        seen = set()
        for obj in frame.objects:
            if obj.cls not in rule.classes:
                continue
            seen.add(obj.track_id)
            rel = relate(obj, ego, self.rules, use_radar=False)
            if abs(rel.offset) >= lane:
                self._last_outside[obj.track_id] = frame.stamp
                continue
            toward = -math.copysign(1.0, rel.offset) * obj.velocity[1]
            recent = frame.stamp - self._last_outside.get(obj.track_id, -window - 1) <= window
            ahead = 0 < rel.gap <= rule.max_gap_m
            ttc = rel.ttc  # the episode's peak is its lowest TTC: that rates the cut-in
            updates[str(obj.track_id)] = (
                ahead and recent and toward > rule.min_lateral_speed_mps,
                ahead and toward > rule.release_lateral_speed_mps,
                ttc,
                {"gap_m": rel.gap, "lateral_speed_mps": toward, "speed_mps": ego.speed, "min_ttc_s": ttc,
                 "headway_s": rel.gap / ego.speed if ego.speed > 0 else math.inf},
            )
        for gone in set(self._last_outside) - seen:
            del self._last_outside[gone]
        return updates
