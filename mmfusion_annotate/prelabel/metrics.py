"""Pre-label quality against ground truth: precision/recall, heading/size/velocity error, tracking, 2D IoU.

A ``MatchRule`` says when a pre-label and a truth object of a class group are the same object: bird's-eye-
view IoU of the rotated rectangles (``cv2.rotatedRectangleIntersection``) above a threshold, or centre
distance below one. ``KITTI_RULE`` (the KITTI evaluation's): vehicles IoU 0.5, people 0.5 m; ``BEV_IOU_RULE``:
vehicles IoU 0.5, people IoU 0.3; ``CENTRE_RULE``: 2 m for vehicles, 1 m for people.
Matching is greedy, best pair first, one-to-one, class group by class group, within each evaluation range.
Tracking: id switches, CLEAR-MOT MOTA and the identity F1 (IDF1, Ristani et al. 2016: truth and
pre-label tracks paired one-to-one to maximise the frames they match: ``linear_sum_assignment``).
Ground-truth objects marked ``ignore`` (KITTI DontCare/Misc/Van-like) neither count as misses nor make
a matched prediction a false positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.model import Cuboid, ObjectClass
from mmfusion_annotate.types import vec3

RANGES_M = (20.0, 30.0, 50.0)
GROUPS = {
    "car": (ObjectClass.CAR,),
    "truck": (ObjectClass.TRUCK, ObjectClass.BUS),
    "pedestrian": (ObjectClass.PEDESTRIAN,),
    "cyclist": (ObjectClass.CYCLIST,),
}


@dataclass(frozen=True)
class MatchRule:
    """Per class group, ``("iou", minimum BEV IoU)`` or ``("distance", maximum centre distance in m)``."""

    name: str
    thresholds: dict[str, tuple[str, float]]


KITTI_RULE = MatchRule(
    "kitti",
    {"car": ("iou", 0.5), "truck": ("iou", 0.5), "pedestrian": ("distance", 0.5),
     "cyclist": ("distance", 0.5)},
)  # fmt: skip
BEV_IOU_RULE = MatchRule(
    "bev_iou",
    {"car": ("iou", 0.5), "truck": ("iou", 0.5), "pedestrian": ("iou", 0.3), "cyclist": ("iou", 0.3)},
)
CENTRE_RULE = MatchRule(
    "centre_distance",
    {"car": ("distance", 2.0), "truck": ("distance", 2.0), "pedestrian": ("distance", 1.0),
     "cyclist": ("distance", 1.0)},
)  # fmt: skip


@dataclass(frozen=True)
class GtObject:
    """A ground-truth object in base_link: same conventions as ``Cuboid`` (centre, (l, w, h), yaw)."""

    object_id: int
    label: ObjectClass
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    velocity: tuple[float, float] = (0.0, 0.0)
    boxes2d: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    ignore: bool = False


def bev_iou(a_center, a_size, a_yaw: float, b_center, b_size, b_yaw: float) -> float:
    """IoU of two rotated rectangles in the BEV."""
    ra = ((a_center[0], a_center[1]), (a_size[0], a_size[1]), math.degrees(a_yaw))
    rb = ((b_center[0], b_center[1]), (b_size[0], b_size[1]), math.degrees(b_yaw))
    status, pts = cv2.rotatedRectangleIntersection(ra, rb)
    if status == cv2.INTERSECT_NONE or pts is None:
        return 0.0
    inter = float(cv2.contourArea(cv2.convexHull(pts)))
    union = a_size[0] * a_size[1] + b_size[0] * b_size[1] - inter
    return inter / union if union > 0 else 0.0


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def affinity(rule: MatchRule, group: str, g: GtObject, p: Cuboid) -> float:
    """Higher is better; <= 0 means the two are not the same object under ``rule``."""
    kind, threshold = rule.thresholds[group]
    if kind == "iou":
        iou = bev_iou(g.center, g.size, g.yaw, p.center, p.size, p.yaw)
        return iou if iou >= threshold else 0.0
    d = math.hypot(g.center[0] - p.center[0], g.center[1] - p.center[1])
    return threshold - d + 1e-9 if d <= threshold else 0.0


def match(
    group: str, gts: Sequence[GtObject], preds: Sequence[Cuboid], rule: MatchRule = KITTI_RULE
) -> list[tuple[int, int]]:
    """Greedy one-to-one (gt index, pred index) pairs, best affinity first."""
    pairs = []
    for i, g in enumerate(gts):
        for j, p in enumerate(preds):
            a = affinity(rule, group, g, p)
            if a > 0:
                pairs.append((a, i, j))
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_g, used_p, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_g and j not in used_p:
            used_g.add(i)
            used_p.add(j)
            out.append((i, j))
    return out


def _in_range(center, limit: float) -> bool:
    return math.hypot(center[0], center[1]) <= limit


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def as_dict(self) -> dict:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        return {"precision": p, "recall": r, "tp": self.tp, "fp": self.fp, "fn": self.fn}


class Evaluator:
    """Accumulates frames (in time order for id switches); ``report()`` gives the figures as a dict."""

    def __init__(
        self, ranges: Sequence[float] = RANGES_M, min_confidence: float = 0.0, rule: MatchRule = KITTI_RULE
    ) -> None:
        self.ranges = tuple(ranges)
        self.min_confidence = min_confidence
        self.rule = rule
        self.counts = {(g, r): _Counts() for g in GROUPS for r in self.ranges}
        self.heading_err: list[float] = []
        self.size_err: list[tuple[float, float, float]] = []
        self.velocity_err: list[float] = []
        self.box_iou: dict[str, list[float]] = {}
        self._last_pred_for_gt: dict[int, int] = {}
        self.id_switches = 0
        self._tracked_gt: set[int] = set()
        self._identity = _IdentityCounts()
        self.frames = 0

    def add_frame(
        self,
        gts: Sequence[GtObject],
        preds: Sequence[Cuboid],
        boxes2d: Sequence = (),
    ) -> None:
        self.frames += 1
        preds = [p for p in preds if p.provenance.confidence >= self.min_confidence]
        widest = max(self.ranges)
        for group, classes in GROUPS.items():
            g_all = [g for g in gts if g.label in classes]
            p_all = [p for p in preds if p.label in classes]
            pairs = match(group, g_all, p_all, self.rule)
            for r in self.ranges:
                c = self.counts[(group, r)]
                matched_p = set()
                for i, j in pairs:
                    g = g_all[i]
                    matched_p.add(j)
                    if _in_range(g.center, r) and not g.ignore:
                        c.tp += 1
                matched_g = {i for i, _ in pairs}
                c.fn += sum(
                    1
                    for i, g in enumerate(g_all)
                    if i not in matched_g and not g.ignore and _in_range(g.center, r)
                )
                c.fp += sum(
                    1
                    for j, p in enumerate(p_all)
                    if j not in matched_p and _in_range(p.center, r) and not self._near_ignored(p, gts)
                )
            self._identity.add(
                self.rule,
                group,
                [g for g in g_all if not g.ignore and _in_range(g.center, widest)],
                [p for p in p_all if _in_range(p.center, widest) and not self._near_ignored(p, gts)],
            )
            for i, j in pairs:
                g, p = g_all[i], p_all[j]
                if g.ignore or not _in_range(g.center, widest):
                    continue
                self.heading_err.append(
                    math.degrees(min(_angle_diff(g.yaw, p.yaw), _angle_diff(g.yaw + math.pi, p.yaw)))
                )
                self.size_err.append(vec3(abs(a - b) for a, b in zip(g.size, p.size, strict=True)))
                self.velocity_err.append(
                    math.hypot(g.velocity[0] - p.velocity[0], g.velocity[1] - p.velocity[1])
                )
                self._tracked_gt.add(g.object_id)
                last = self._last_pred_for_gt.get(g.object_id)
                if last is not None and last != p.object_id:
                    self.id_switches += 1
                self._last_pred_for_gt[g.object_id] = p.object_id
                for b in boxes2d:
                    if b.object_id == p.object_id and b.camera in g.boxes2d:
                        self.box_iou.setdefault(b.camera, []).append(box_iou(b.box, g.boxes2d[b.camera]))

    @staticmethod
    def _near_ignored(p: Cuboid, gts: Sequence[GtObject]) -> bool:
        """A prediction on (or inside the footprint of) an ignored ground-truth object is no FP."""
        for g in gts:
            if g.ignore and math.hypot(g.center[0] - p.center[0], g.center[1] - p.center[1]) <= max(
                1.0, 0.5 * max(g.size[:2])
            ):
                return True
        return False

    def report(self) -> dict:
        def mean(v):
            return float(np.mean(v)) if v else None

        widest = max(self.ranges)
        errors = [self.counts[(g, widest)] for g in GROUPS]
        truth = sum(c.tp + c.fn for c in errors)
        misses_and_false = sum(c.fn + c.fp for c in errors)
        all_iou = [v for values in self.box_iou.values() for v in values]
        return {
            "frames": self.frames,
            "match_rule": self.rule.name,
            "detection": {
                f"{g}@{int(r)}m": self.counts[(g, r)].as_dict() for g in GROUPS for r in self.ranges
            },
            "heading_error_deg": mean(self.heading_err),
            "size_error_m": [float(v) for v in np.mean(self.size_err, axis=0)] if self.size_err else None,
            "velocity_error_mps": mean(self.velocity_err),
            "id_switches": self.id_switches,
            "id_switches_per_100_objects": 100.0 * self.id_switches / len(self._tracked_gt)
            if self._tracked_gt
            else None,
            "mota": 1.0 - (misses_and_false + self.id_switches) / truth if truth else None,
            "idf1": self._identity.idf1(),
            "box2d_iou_mean": mean(all_iou),
            "box2d_pairs": len(all_iou),
            "box2d_iou_per_camera": {cam: mean(v) for cam, v in sorted(self.box_iou.items())},
        }


class _IdentityCounts:
    """Frames in which each (truth id, pre-label id) pair matches, and each id's detections, for IDF1."""

    def __init__(self) -> None:
        self.pair_frames: dict[tuple[int, int], int] = {}
        self.truth_dets = 0
        self.pred_dets = 0

    def add(self, rule: MatchRule, group: str, gts: Sequence[GtObject], preds: Sequence[Cuboid]) -> None:
        self.truth_dets += len(gts)
        self.pred_dets += len(preds)
        for g in gts:
            for p in preds:
                if affinity(rule, group, g, p) > 0:
                    key = (g.object_id, p.object_id)
                    self.pair_frames[key] = self.pair_frames.get(key, 0) + 1

    def idf1(self) -> float | None:
        if not self.truth_dets and not self.pred_dets:
            return None
        truth_ids = sorted({t for t, _ in self.pair_frames})
        pred_ids = sorted({p for _, p in self.pair_frames})
        overlap = np.zeros((len(truth_ids), len(pred_ids)))
        for (t, p), n in self.pair_frames.items():
            overlap[truth_ids.index(t), pred_ids.index(p)] = n
        idtp = 0.0
        if overlap.size:
            rows, cols = linear_sum_assignment(overlap, maximize=True)
            idtp = float(overlap[rows, cols].sum())
        return 2 * idtp / (self.truth_dets + self.pred_dets)


def format_metrics(report: dict) -> str:
    """Human-readable table of an ``Evaluator.report()``."""

    def f(v):
        return "  -  " if v is None else f"{v:5.2f}"

    lines = [
        f"frames: {report['frames']}   match: {report.get('match_rule', KITTI_RULE.name)}",
        "class@range   precision recall  tp  fp  fn",
    ]
    for key, c in report["detection"].items():
        lines.append(
            f"{key:<13} {f(c['precision'])}     {f(c['recall'])}  {c['tp']:3d} {c['fp']:3d} {c['fn']:3d}"
        )
    lines.append(f"heading error (deg, mod 180): {f(report['heading_error_deg'])}")
    if report.get("size_error_m"):
        lines.append("size error (m, l/w/h):        " + " ".join(f(v) for v in report["size_error_m"]))
    lines.append(f"velocity error (m/s):         {f(report['velocity_error_mps'])}")
    lines.append(
        f"id switches: {report['id_switches']} ({f(report['id_switches_per_100_objects'])} per 100 objects)"
    )
    lines.append(f"MOTA: {f(report.get('mota'))}   IDF1: {f(report.get('idf1'))}")
    lines.append(f"2D box IoU (mean of {report['box2d_pairs']}): {f(report['box2d_iou_mean'])}")
    for cam, iou in report.get("box2d_iou_per_camera", {}).items():
        lines.append(f"  {cam:<20} {f(iou)}")
    return "\n".join(lines)
