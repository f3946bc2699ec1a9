"""Pre-label quality against ground truth: precision/recall, heading/velocity error, id switches, 2D IoU.

Cars match by bird's-eye-view IoU >= 0.5 (rotated rectangles, ``cv2.rotatedRectangleIntersection``);
pedestrians and cyclists by centre distance <= 0.5 m (their boxes are too small for a stable IoU).
Matching is greedy, best pair first, one-to-one, class by class, within each evaluation range.
Ground-truth objects marked ``ignore`` (KITTI DontCare/Misc/Van-like) neither count as misses nor make
a matched prediction a false positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.model import Cuboid, ObjectClass

CAR_IOU = 0.5
VRU_DISTANCE_M = 0.5
RANGES_M = (20.0, 30.0, 50.0)
GROUPS = {
    "car": (ObjectClass.CAR,),
    "pedestrian": (ObjectClass.PEDESTRIAN,),
    "cyclist": (ObjectClass.CYCLIST,),
}


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


def _affinity(group: str, g: GtObject, p: Cuboid) -> float:
    """Higher is better; <= 0 means no match."""
    if group == "car":
        iou = bev_iou(g.center, g.size, g.yaw, p.center, p.size, p.yaw)
        return iou if iou >= CAR_IOU else 0.0
    d = math.hypot(g.center[0] - p.center[0], g.center[1] - p.center[1])
    return VRU_DISTANCE_M - d + 1e-9 if d <= VRU_DISTANCE_M else 0.0


def match(group: str, gts: Sequence[GtObject], preds: Sequence[Cuboid]) -> list[tuple[int, int]]:
    """Greedy one-to-one (gt index, pred index) pairs, best affinity first."""
    pairs = []
    for i, g in enumerate(gts):
        for j, p in enumerate(preds):
            a = _affinity(group, g, p)
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

    def __init__(self, ranges: Sequence[float] = RANGES_M, min_confidence: float = 0.0) -> None:
        self.ranges = tuple(ranges)
        self.min_confidence = min_confidence
        self.counts = {(g, r): _Counts() for g in GROUPS for r in self.ranges}
        self.heading_err: list[float] = []
        self.velocity_err: list[float] = []
        self.box_iou: dict[str, list[float]] = {}
        self._last_pred_for_gt: dict[int, int] = {}
        self.id_switches = 0
        self._tracked_gt: set[int] = set()
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
            pairs = match(group, g_all, p_all)
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
            for i, j in pairs:
                g, p = g_all[i], p_all[j]
                if g.ignore or not _in_range(g.center, widest):
                    continue
                self.heading_err.append(
                    math.degrees(min(_angle_diff(g.yaw, p.yaw), _angle_diff(g.yaw + math.pi, p.yaw)))
                )
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

        all_iou = [v for values in self.box_iou.values() for v in values]
        return {
            "frames": self.frames,
            "detection": {
                f"{g}@{int(r)}m": self.counts[(g, r)].as_dict() for g in GROUPS for r in self.ranges
            },
            "heading_error_deg": mean(self.heading_err),
            "velocity_error_mps": mean(self.velocity_err),
            "id_switches": self.id_switches,
            "id_switches_per_100_objects": 100.0 * self.id_switches / len(self._tracked_gt)
            if self._tracked_gt
            else None,
            "box2d_iou_mean": mean(all_iou),
            "box2d_pairs": len(all_iou),
            "box2d_iou_per_camera": {cam: mean(v) for cam, v in sorted(self.box_iou.items())},
        }


def format_metrics(report: dict) -> str:
    """Human-readable table of an ``Evaluator.report()``."""

    def f(v):
        return "  -  " if v is None else f"{v:5.2f}"

    lines = [f"frames: {report['frames']}", "class@range   precision recall  tp  fp  fn"]
    for key, c in report["detection"].items():
        lines.append(
            f"{key:<13} {f(c['precision'])}     {f(c['recall'])}  {c['tp']:3d} {c['fp']:3d} {c['fn']:3d}"
        )
    lines.append(f"heading error (deg, mod 180): {f(report['heading_error_deg'])}")
    lines.append(f"velocity error (m/s):         {f(report['velocity_error_mps'])}")
    lines.append(
        f"id switches: {report['id_switches']} ({f(report['id_switches_per_100_objects'])} per 100 objects)"
    )
    lines.append(f"2D box IoU (mean of {report['box2d_pairs']}): {f(report['box2d_iou_mean'])}")
    for cam, iou in report.get("box2d_iou_per_camera", {}).items():
        lines.append(f"  {cam:<20} {f(iou)}")
    return "\n".join(lines)
