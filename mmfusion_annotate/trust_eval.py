"""Are the events and review items true? Each one judged against the truth of its drive.

Both outputs exist to send a person to a moment worth their time, so each is scored by whether what it
says holds in the truth (the simulator's objects and ids, its scripted events and injected faults, or a
real sequence's human cuboids):

- a review item is right when its claim is true at its stamp: the flagged cuboid really is off from the
  truth object under it (or is on no real object), the object really lacks the modality (no LiDAR
  cuboid on the real object a radar target sits on; not visible in that camera), the track's velocity
  really disagrees with the truth, the class really was wrong on one side of a flip, the two tracks of an
  id switch really are one object; or, for an item the objects do not explain, a fault injected on its
  sensor was active then;
- an event is right when the scenario scripted it (the tagger rule ``SCRIPTED_RULE`` maps it to, at its
  time +-``TOLERANCE_S``), an injected fault explains it (``FAULT_EVENTS``, on that sensor, while the
  fault was active +-``TOLERANCE_S``), or the same rule fed with the truth tracks instead of the
  pre-labels raises the same type then (``truth_events``: a truth situation the scenario did not name,
  such as a short time-to-collision during a cut-in). A ``critical`` or ``severe`` event is a false
  alarm unless the truth gives at least that severity.

Recall is counted where the truth defines it: every scripted event and every injected fault should be
found by its event, and every injected sensor fault (calibration, clock) by a review item on that sensor.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mmfusion_annotate.events.model import Severity
from mmfusion_annotate.prelabel import review
from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.metrics import BEV_IOU_RULE, CENTRE_RULE, GROUPS, GtObject, bev_iou
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.types import Stamp, seconds_to_ns

TOLERANCE_S = 0.3
"""An event and the truth it is compared with may differ by this much in time (the issue's +-0.3 s)."""
SCRIPTED_RULE = {
    "hard_braking": ("hard_braking", "onset"),
    "lead_vehicle_braking": ("lead_braking", "onset"),
    "cut_in": ("cut_in", "onset"),
    "pedestrian_crossing": ("vru_proximity", "during"),
    "cyclist_close_pass": ("vru_proximity", "during"),
}
"""Scenario event type -> (tagger rule, how its time is compared): ``onset``: the event starts within the
tolerance of the scripted time; ``during``: the scripted time (a moment inside the situation) lies within
the event, +- the tolerance."""
FAULT_EVENTS = {
    "silent": ("dropout", "rate_drop"),
    "frame_drop": ("rate_drop", "dropout"),
    "clock_offset": ("sync_drift", "cross_modal_disagreement"),
    "clock_drift": ("sync_drift", "cross_modal_disagreement"),
    "calibration_error": ("calibration_drift", "sync_drift", "cross_modal_disagreement"),
}
"""Injected fault type -> the events it explains; the first is the one that must find it (recall)."""
SENSOR_FAULTS = ("calibration_error", "clock_offset", "clock_drift")
"""Faults that make the sensor's data disagree with the others: review items must point at them."""
RADAR_GATE_M = 1.0
"""A radar target belongs to a truth object when it lies within this of the object's footprint."""
SEVERE = {Severity.CRITICAL.value, Severity.SEVERE.value}
WHOLE_DRIVE_MIN_S = 10.0
"""Drives at least this long are checked for an event spanning all of it (a shorter one may, rightly)."""


@dataclass(frozen=True)
class FaultSpan:
    """An injected fault: its type, sensor and when it acted (``end_ns`` None: to the end)."""

    type: str
    sensor: str
    start_ns: Stamp
    end_ns: Stamp | None = None

    def active(self, stamp: Stamp) -> bool:
        return self.start_ns <= stamp and (self.end_ns is None or stamp <= self.end_ns)


@dataclass(frozen=True)
class ScriptedEvent:
    type: str
    t_ns: Stamp
    objects: tuple = ()


@dataclass(frozen=True)
class ItemRecord:
    """A review item as read back from a bag (``prelabel.model.ReviewItem`` has the same fields)."""

    reason: str
    stamp: Stamp
    object_ids: tuple[int, ...]
    camera: str | None
    detail: str
    evidence: tuple[tuple[str, float], ...] = ()


@dataclass
class Tally:
    """True and false positives, misses, and items that could not be judged (truth lacks what it needs)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    unjudged: int = 0
    false_severe: int = 0
    has_recall: bool = False
    """Truth defines what should have been found (scripted events, injected faults)."""

    def as_dict(self) -> dict:
        judged = self.tp + self.fp
        expected = self.tp + self.fn
        return {
            "count": judged + self.unjudged,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "unjudged": self.unjudged,
            "precision": self.tp / judged if judged else None,
            "recall": self.tp / expected if self.has_recall and expected else None,
            "false_critical_or_severe": self.false_severe,
        }


def _group(label: ObjectClass) -> str | None:
    return next((g for g, classes in GROUPS.items() if label in classes), None)


def _limit(rule, group: str) -> float:
    return rule.thresholds[group][1]


def _matched_limit(rule, truth: GtObject) -> float:
    """``rule``'s limit for a truth object ``associate`` paired, which only pairs objects of a group."""
    group = _group(truth.label)
    assert group is not None, "associate pairs only truth of a class group"
    return _limit(rule, group)


def associate(cuboids: Sequence, truth: Sequence[GtObject]) -> dict[int, tuple[GtObject, float]]:
    """Pre-label track id -> (truth object under it, BEV IoU), greedy by centre distance.

    Class-blind (a wrong class must still find its object) and gated by ``CENTRE_RULE`` of the truth's
    class group; ignored truth (too few LiDAR points) takes part, so a cuboid on it is not called empty.
    """
    pairs = []
    for j, g in enumerate(truth):
        group = _group(g.label)
        if group is None:
            continue
        gate = _limit(CENTRE_RULE, group)
        for i, c in enumerate(cuboids):
            d = math.hypot(g.center[0] - c.center[0], g.center[1] - c.center[1])
            if d <= gate:
                pairs.append((d, i, j))
    pairs.sort()
    used_c, used_g, out = set(), set(), {}
    for _, i, j in pairs:
        if i in used_c or j in used_g:
            continue
        used_c.add(i)
        used_g.add(j)
        c, g = cuboids[i], truth[j]
        out[c.object_id] = (g, bev_iou(g.center, g.size, g.yaw, c.center, c.size, c.yaw))
    return out


def _near_footprint(g: GtObject, x: float, y: float, margin: float) -> bool:
    dx, dy = x - g.center[0], y - g.center[1]
    c, s = math.cos(g.yaw), math.sin(g.yaw)
    along, across = c * dx + s * dy, -s * dx + c * dy
    return abs(along) <= g.size[0] / 2 + margin and abs(across) <= g.size[1] / 2 + margin


def _overlap(a: Mapping, b: Mapping, tol: int) -> bool:
    return int(b["start_ns"]) - tol <= int(a["end_ns"]) and int(a["start_ns"]) <= int(b["end_ns"]) + tol


def _flip_classes(detail: str) -> tuple[str, str] | None:
    old, sep, new = detail.partition(" -> ")
    return (old.strip(), new.strip()) if sep else None


def within(truth: tuple[Sequence[ScriptedEvent], Sequence[FaultSpan]], begin: Stamp, end: Stamp) -> dict:
    """``TrustEvaluator`` arguments for a window of a drive: the scripted events inside it (by more than
    the tolerance: nearer the edge an event cannot be confirmed) and the faults active in it."""
    tol = seconds_to_ns(TOLERANCE_S)
    scripted, faults = truth
    return {
        "scripted": [s for s in scripted if begin + tol <= s.t_ns <= end - tol],
        "faults": [FaultSpan(f.type, f.sensor, max(f.start_ns, begin), f.end_ns) for f in faults
                   if f.start_ns < end and (f.end_ns is None or f.end_ns > begin)],
    }


class TrustEvaluator:
    """Accumulates review items frame by frame and events once, then ``report`` gives the table."""

    def __init__(self, *, scripted: Iterable[ScriptedEvent] = (), faults: Iterable[FaultSpan] = ()) -> None:
        self.scripted = list(scripted)
        self.faults = list(faults)
        self.items: dict[str, Tally] = defaultdict(Tally)
        self.events: dict[str, Tally] = defaultdict(Tally)
        self._fault_found: set[int] = set()
        self._truth_of_track: dict[int, int] = {}
        self._tolerance = seconds_to_ns(TOLERANCE_S)
        self.whole_drive_events: list[dict] = []

    # ------------------------------------------------------------------ review items
    def _fault_on(self, sensor: str | None, stamp: Stamp, kinds: Sequence[str] = SENSOR_FAULTS) -> int | None:
        for k, f in enumerate(self.faults):
            if f.type in kinds and (sensor is None or f.sensor == sensor) and f.active(stamp):
                return k
        return None

    def add_frame(self, stamp: Stamp, truth: Sequence[GtObject], cuboids: Sequence, items: Iterable,
                  cameras_with_truth: Iterable[str] = ()) -> None:
        """One frame: its truth objects, its pre-label cuboids and its review items.

        ``cameras_with_truth``: cameras whose visible truth boxes are in ``GtObject.boxes2d`` this frame
        (the simulator knows occlusion; without them camera visibility cannot be judged).
        """
        matched = associate(cuboids, truth)
        cams = set(cameras_with_truth)
        for item in items:
            verdict, fault = self._judge(item, stamp, truth, matched, cams)
            tally = self.items[item.reason]
            if verdict is None:
                tally.unjudged += 1
            elif verdict:
                tally.tp += 1
            else:
                tally.fp += 1
            if fault is not None:
                self._fault_found.add(fault)
        for oid, (g, _) in matched.items():
            self._truth_of_track[oid] = g.object_id

    def _judge(self, item, stamp: Stamp, truth: Sequence[GtObject],
               matched: Mapping[int, tuple[GtObject, float]], cams: set[str]
               ) -> tuple[bool | None, int | None]:
        """(is the item's claim true, the index of the injected fault that alone makes it true).

        The truth's geometry is asked first; only an item it finds false (or cannot judge) is put down to
        a sensor fault active on the item's sensor then, so a fault is credited only with items the
        objects themselves do not explain."""
        verdict = self._geometry(item, truth, matched, cams)
        if verdict:
            return True, None
        sensor = item.camera
        if sensor is None and item.reason == review.RADAR_WITHOUT_LIDAR:
            sensor = item.detail.partition(":")[0]
        fault = self._fault_on(sensor, stamp) if sensor else None
        if fault is None and item.reason == review.RADAR_VELOCITY_MISMATCH:
            fault = next((k for k, f in enumerate(self.faults) if f.type in SENSOR_FAULTS
                          and f.sensor.startswith("radar") and f.active(stamp)), None)
        return (True, fault) if fault is not None else (verdict, None)

    def _geometry(self, item, truth: Sequence[GtObject], matched: Mapping[int, tuple[GtObject, float]],
                  cams: set[str]) -> bool | None:
        """Is the item's claim true of the truth objects (None: the truth at hand cannot tell)?"""
        evidence = dict(getattr(item, "evidence", ()) or ())
        reason = item.reason
        oid = item.object_ids[0] if item.object_ids else None
        pair = matched.get(oid) if oid is not None else None
        if reason == review.BOX_MISMATCH:
            if pair is None:
                return True
            g, iou = pair
            return iou < _matched_limit(BEV_IOU_RULE, g)
        if reason == review.NO_CAMERA_EVIDENCE:  # a misplaced cuboid cannot be confirmed by the image
            if pair is None or pair[1] < _matched_limit(BEV_IOU_RULE, pair[0]):
                return True
            if item.camera not in cams:
                return None
            return item.camera not in pair[0].boxes2d
        if reason == review.RADAR_WITHOUT_LIDAR:
            if "x_m" not in evidence:
                return None
            x, y = evidence["x_m"], evidence["y_m"]
            labelled = {g.object_id for g, _ in matched.values()}
            return any(_near_footprint(g, x, y, RADAR_GATE_M) and g.object_id not in labelled
                       for g in truth if _group(g.label))
        if reason == review.RADAR_VELOCITY_MISMATCH:
            if pair is None:
                return True
            g = pair[0]
            if "track_mps" not in evidence:
                return None
            rng = math.hypot(g.center[0], g.center[1]) or 1.0
            truth_radial = (g.velocity[0] * g.center[0] + g.velocity[1] * g.center[1]) / rng
            tolerance = evidence.get("tolerance_mps", 1.5)
            return abs(truth_radial - evidence["track_mps"]) > tolerance
        if reason == review.CLASS_FLIP:
            classes = _flip_classes(item.detail)
            if pair is None:
                return True
            if classes is None:
                return None
            truth_group = _group(pair[0].label)
            known = {c.value: c for c in ObjectClass}
            groups = [_group(known[c]) if c in known else None for c in classes]
            return any(gr != truth_group for gr in groups)
        if reason == review.ID_SWITCH:
            new = matched.get(item.object_ids[-1]) if item.object_ids else None
            old_truth = self._truth_of_track.get(item.object_ids[0]) if item.object_ids else None
            if new is None or old_truth is None:
                return None
            return old_truth == new[0].object_id
        if reason == review.CAMERA_WITHOUT_LIDAR:
            if item.camera not in cams or "x1_px" not in evidence:
                return None
            box = (evidence["x1_px"], evidence["y1_px"], evidence["x2_px"], evidence["y2_px"])
            labelled = {g.object_id for g, _ in matched.values()}
            return any(g.object_id not in labelled and item.camera in g.boxes2d
                       and box_iou(box, g.boxes2d[item.camera]) >= 0.3 for g in truth)
        return None

    # ------------------------------------------------------------------ events
    def add_events(self, events: Sequence[Mapping], truth_events: Sequence[Mapping] = (),
                   drive_span: tuple[Stamp, Stamp] | None = None) -> None:
        """Judge every event (``Event.to_dict`` form) once, against scripted events, faults and the truth
        tagger's ``truth_events``; count the scripted events and faults no event found."""
        tol = self._tolerance
        long_enough = drive_span and drive_span[1] - drive_span[0] >= seconds_to_ns(WHOLE_DRIVE_MIN_S)
        whole = drive_span if long_enough else None
        found_script: set[int] = set()
        found_fault: set[int] = set()
        for e in events:
            scripted = self._scripted_hits(e)
            faults = self._fault_hits(e)
            found_script |= scripted
            found_fault |= {k for k in faults if e["type"] == FAULT_EVENTS[self.faults[k].type][0]}
            truth_rank = max((Severity(t["severity"]).rank for t in truth_events
                              if t["type"] == e["type"] and _overlap(e, t, tol)), default=None)
            hit = bool(scripted or faults) or truth_rank is not None
            tally = self.events[e["type"]]
            tally.tp += hit
            tally.fp += not hit
            if e["severity"] in SEVERE:
                # only the truth tagger grades severity; a scripted or fault event's own figures decide
                graded = truth_rank if not (scripted or faults) else None
                if not hit or (graded is not None and graded < Severity(e["severity"]).rank):
                    tally.false_severe += 1
            if whole is not None and e["start_ns"] <= whole[0] + tol and e["end_ns"] >= whole[1] - tol:
                self.whole_drive_events.append(dict(e))
        for k, s in enumerate(self.scripted):
            tally = self.events[SCRIPTED_RULE.get(s.type, (s.type,))[0]]
            tally.has_recall = True
            tally.fn += k not in found_script
        for k, f in enumerate(self.faults):
            tally = self.events[FAULT_EVENTS.get(f.type, (f.type,))[0]]
            tally.has_recall = True
            tally.fn += k not in found_fault

    def _scripted_hits(self, e: Mapping) -> set[int]:
        tol, start, end = self._tolerance, int(e["start_ns"]), int(e["end_ns"])
        hits = set()
        for k, s in enumerate(self.scripted):
            rule, mode = SCRIPTED_RULE.get(s.type, (None, None))
            if rule != e["type"]:
                continue
            if abs(start - s.t_ns) <= tol if mode == "onset" else start - tol <= s.t_ns <= end + tol:
                hits.add(k)
        return hits

    def _fault_hits(self, e: Mapping) -> set[int]:
        """Faults that explain the event: of a type that raises it, on its sensor (any sensor for the
        cross-modal rate), active at some point of the event (+- the tolerance)."""
        tol, start, end = self._tolerance, int(e["start_ns"]), int(e["end_ns"])
        sensors = {e.get("sensor"), *(e.get("sensors") or ())}
        hits = set()
        for k, f in enumerate(self.faults):
            if e["type"] not in FAULT_EVENTS.get(f.type, ()):
                continue
            if e["type"] != "cross_modal_disagreement" and f.sensor not in sensors:
                continue
            if f.start_ns - tol <= end and (f.end_ns is None or start <= f.end_ns + tol):
                hits.add(k)
        return hits

    # ------------------------------------------------------------------ report
    def report(self) -> dict:
        items = {k: self.items[k] for k in sorted(self.items)}
        for k, f in enumerate(self.faults):
            if f.type not in SENSOR_FAULTS:
                continue
            tally = items.setdefault("injected_sensor_fault", Tally())
            tally.has_recall = True
            if k in self._fault_found:
                tally.tp += 1
            else:
                tally.fn += 1
        return {
            "review_items": {k: v.as_dict() for k, v in items.items()},
            "events": {k: self.events[k].as_dict() for k in sorted(self.events)},
            "events_spanning_whole_drive": len(self.whole_drive_events),
            "faults": [f.__dict__ for f in self.faults],
            "scripted_events": len(self.scripted),
        }


COUNTS = ("tp", "fp", "fn", "unjudged", "false_critical_or_severe")


def merge_reports(reports: Sequence[dict]) -> dict:
    """Sum the counts of several ``report`` results (bench: scenarios x seeds x faults)."""
    out: dict = {"review_items": {}, "events": {}, "events_spanning_whole_drive": 0}
    for section in ("review_items", "events"):
        sums: dict[str, Counter] = defaultdict(Counter)
        has_recall: set[str] = set()
        for rep in reports:
            for kind, row in rep[section].items():
                sums[kind].update({k: row[k] for k in COUNTS})
                if row["recall"] is not None:
                    has_recall.add(kind)
        for kind in sorted(sums):
            c = sums[kind]
            tally = Tally(c["tp"], c["fp"], c["fn"], c["unjudged"], c["false_critical_or_severe"],
                          kind in has_recall)
            out[section][kind] = tally.as_dict()
    out["events_spanning_whole_drive"] = sum(r["events_spanning_whole_drive"] for r in reports)
    return out


def format_trust(report: dict) -> str:
    """The table: kind or type, TP, FP, FN, precision, recall (and false critical/severe for events)."""

    def f(v):
        return "   -" if v is None else f"{v:4.2f}"

    lines = [f"{'review item':<42} {'n':>5} {'TP':>5} {'FP':>5} {'FN':>4} {'unjdg':>5}    P     R"]
    for kind, r in report["review_items"].items():
        lines.append(f"{kind:<42} {r['count']:5d} {r['tp']:5d} {r['fp']:5d} {r['fn']:4d} {r['unjudged']:5d}"
                     f"  {f(r['precision'])}  {f(r['recall'])}")
    lines += ["", f"{'event':<42} {'n':>5} {'TP':>5} {'FP':>5} {'FN':>4} {'false crit/sev':>14}    P     R"]
    for kind, r in report["events"].items():
        lines.append(f"{kind:<42} {r['count']:5d} {r['tp']:5d} {r['fp']:5d} {r['fn']:4d} "
                     f"{r['false_critical_or_severe']:14d}  {f(r['precision'])}  {f(r['recall'])}")
    lines.append(f"events spanning the whole drive: {report['events_spanning_whole_drive']}")
    return "\n".join(lines)
