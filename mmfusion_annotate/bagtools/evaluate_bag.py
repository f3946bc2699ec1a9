"""Score the pre-labels of a replayed bag against the truth topics it carries.

Why from a bag: the synthetic drive (``mmfusion sim``) and imported real sequences (``mmfusion import``) both
put their human or simulated truth on ``/truth/objects`` beside the sensor topics, and ``mmfusion replay``
copies it next to the pre-labels it derives. So one command scores any drive the way annotators meet it:
the cuboids on ``/prelabels/scene`` and the boxes on ``<camera>/annotations``, nothing re-computed.

- 3D: each ``/prelabels/scene`` frame against the truth frame of the same stamp, per class group and range,
  under ``BEV_IOU_RULE`` and ``CENTRE_RULE`` (``prelabel.metrics``), with heading and size errors, id
  switches, MOTA and IDF1. Truth objects with fewer than ``min_points`` LiDAR returns inside (counted in
  the bag's own sweeps) cannot be pre-labelled from LiDAR and are marked ignore, as nuScenes does.
- 2D: every image's annotation boxes against the truth cuboids projected into that image at its own
  exposure time (ego motion from the odometry topic, objects moved between truth frames by their ids).
- Review items (``/prelabels/review``) and events (``/events``), each judged true or false against the
  truth frames and, for a synthetic drive, its scripted events and injected faults (``trust_eval``; the
  simulator's record in ``metadata.yaml``, of this bag or of the bag it was replayed from).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mmfusion_annotate import drawing
from mmfusion_annotate.bagtools.source import channels, open_bag, read_messages
from mmfusion_annotate.bagtools.trust import read_sim_truth, review_records, trust_report
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.fusion.ego import EgoMotion
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.msgs.pointcloud2 import decode, points_xyz
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.outputs.labels import FOXGLOVE_PIXEL_OFFSET, class_color_rgb8
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, SCENE_TOPIC, annotations_topic, find_output_topic
from mmfusion_annotate.prelabel.boxes2d import box_iou, cuboid_corners, transform_points
from mmfusion_annotate.prelabel.metrics import (
    BEV_IOU_RULE,
    CENTRE_RULE,
    RANGES_M,
    Evaluator,
    GtObject,
    format_metrics,
)
from mmfusion_annotate.prelabel.model import Cuboid, ObjectClass, Provenance
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.trust_eval import TrustEvaluator, format_trust, within
from mmfusion_annotate.types import NS_PER_S, Stamp

TRUTH_TOPIC = "/truth/objects"
STAMP_TOLERANCE_NS = 20_000_000
"""A pre-label frame and a truth frame are the same instant when their stamps differ by less than this."""
IMAGE_TOLERANCE_NS = 150_000_000
"""An image belongs to the scored frame nearest its stamp within this (cameras fire during the sweep)."""
BOX2D_MATCH_IOU = 0.3
"""2D pairs are matched one-to-one at this IoU; the mean IoU is taken over the matched pairs."""
MIN_BOX_AREA_PX = 64.0
"""Projected truth boxes smaller than this (in the image) are not expected to be pre-labelled."""
POINTS_MARGIN_M = 0.2
"""A return this close outside a truth cuboid still counts as its (the sweep is not motion-compensated)."""
_LABEL = re.compile(r"^(\w+) (?:#(\d+)|\(camera\)) ")


@dataclass(frozen=True)
class SceneBox:
    """One cuboid of a SceneUpdate, as read back from the bag (truth or pre-label)."""

    object_id: int
    label: ObjectClass
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    confidence: float
    velocity: tuple[float, float] = (0.0, 0.0)


@dataclass
class Box2DCounts:
    """2D boxes of one camera: matched pairs' IoUs, pre-label boxes and visible truth boxes."""

    ious: list[float] = field(default_factory=list)
    predicted: int = 0
    truth: int = 0

    def as_dict(self) -> dict:
        n = len(self.ious)
        return {
            "iou_mean": float(np.mean(self.ious)) if n else None,
            "pairs": n,
            "precision": n / self.predicted if self.predicted else None,
            "recall": n / self.truth if self.truth else None,
            "predicted": self.predicted,
            "truth": self.truth,
        }


@dataclass(frozen=True)
class BagEvaluation:
    """What ``mmfusion evaluate BAG`` prints: 3D figures under two match rules, 2D figures per camera."""

    bag: str
    frames: int
    ignored_truth: int
    bev_iou: dict
    centre: dict
    boxes2d: dict
    trust: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "bag": self.bag,
            "frames": self.frames,
            "truth_ignored_too_few_points": self.ignored_truth,
            "bev_iou": self.bev_iou,
            "centre_distance": self.centre,
            "boxes2d": self.boxes2d,
            "review_items_and_events": self.trust,
        }


def _meta(entity) -> dict[str, str]:
    return {kv.key: kv.value for kv in entity.metadata}


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def scene_boxes(msg, *, truth: bool) -> tuple[Stamp | None, list[SceneBox]]:
    """(stamp of its entities, cuboids) of a SceneUpdate; pre-label frames keep only ``kind=cuboid``.

    Truth objects of classes the pre-labeller does not label (poles, cones) are left out: a pre-label on
    one of them is a false positive like any other.
    """
    boxes, stamp = [], None
    labels = {c.value for c in ObjectClass} - {ObjectClass.UNKNOWN.value}
    for entity in msg.entities:
        meta = _meta(entity)
        if entity.cubes:
            stamp = from_ros_time(entity.timestamp)
        if not entity.cubes or (not truth and meta.get("kind") != "cuboid"):
            continue
        if truth and meta.get("class") not in labels:
            continue
        cube = entity.cubes[0]
        p, s = cube.pose.position, cube.size
        object_id = int(meta["track_id"]) if not truth else int(entity.id)
        if truth:  # the truth's velocity over ground in base_link axes, "vx vy vz"
            vx, vy = (float(v) for v in meta.get("velocity_base", "0 0").split()[:2])
        else:
            vx, vy = float(meta.get("velocity_x", 0.0)), float(meta.get("velocity_y", 0.0))
        boxes.append(
            SceneBox(
                object_id,
                ObjectClass(meta.get("class", "unknown")),
                (p.x, p.y, p.z),
                (s.x, s.y, s.z),
                _yaw(cube.pose.orientation),
                float(meta.get("confidence", 1.0)),
                (vx, vy),
            )
        )
    return stamp, boxes


def annotation_boxes(msg) -> list[tuple[int, tuple[float, float, float, float]]]:
    """(track id, -1 for camera-only, box) of each outline in an ImageAnnotations of ``/annotations``."""
    labels = [m for m in (_LABEL.match(t.text) for t in msg.texts) if m]
    out = []
    for outline, label in zip(msg.points, labels, strict=False):
        xs = [pt.x - FOXGLOVE_PIXEL_OFFSET for pt in outline.points]
        ys = [pt.y - FOXGLOVE_PIXEL_OFFSET for pt in outline.points]
        out.append((int(label.group(2)) if label.group(2) else -1, (min(xs), min(ys), max(xs), max(ys))))
    return out


def points_inside(points: np.ndarray, box: SceneBox, margin: float = POINTS_MARGIN_M) -> int:
    """LiDAR returns (base_link) inside a cuboid grown by ``margin``."""
    d = points - np.asarray(box.center)
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    along, across = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
    half = np.asarray(box.size) / 2 + margin
    inside = (np.abs(along) <= half[0]) & (np.abs(across) <= half[1]) & (np.abs(d[:, 2]) <= half[2])
    return int(inside.sum())


def _as_cuboid(box: SceneBox, stamp: Stamp) -> Cuboid:
    return Cuboid(
        box.object_id, stamp, box.center, box.size, box.yaw, box.label, 0,
        Provenance("bag", "", box.confidence), box.velocity,
    )  # fmt: skip


def _as_truth(box: SceneBox, ignore: bool) -> GtObject:
    return GtObject(box.object_id, box.label, box.center, box.size, box.yaw, box.velocity, ignore=ignore)


def _nearest(stamps: Sequence[Stamp], stamp: Stamp) -> int | None:
    if not stamps:
        return None
    i = int(np.searchsorted(stamps, stamp))
    best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)), key=lambda j: abs(stamps[j] - stamp))
    return best


class _TruthTrack:
    """Truth frames in the world frame, to place every object at any instant (by its id, linearly)."""

    def __init__(self, frames: dict[Stamp, list[SceneBox]], ego: EgoMotion) -> None:
        self.stamps = sorted(frames)
        self.world: list[dict[int, tuple[np.ndarray, float, SceneBox]]] = []
        for stamp in self.stamps:
            T = ego.pose(stamp)
            yaw0 = math.atan2(T[1, 0], T[0, 0])
            self.world.append({
                b.object_id: (transform_points(T, np.array([b.center]))[0], b.yaw + yaw0, b)
                for b in frames[stamp]
            })  # fmt: skip

    def at(self, stamp: Stamp, ids: Iterable[int]) -> list[tuple[np.ndarray, float, SceneBox]]:
        i = int(np.searchsorted(self.stamps, stamp))
        lo, hi = max(0, i - 1), min(len(self.stamps) - 1, i)
        t0, t1 = self.stamps[lo], self.stamps[hi]
        w = 0.0 if t1 == t0 else float(np.clip((stamp - t0) / (t1 - t0), 0.0, 1.0))
        out = []
        for oid in ids:
            a, b = self.world[lo].get(oid), self.world[hi].get(oid)
            if a is None and b is None:
                continue
            a, b = a or b, b or a
            assert a is not None and b is not None
            centre = (1 - w) * a[0] + w * b[0]
            dyaw = math.atan2(math.sin(b[1] - a[1]), math.cos(b[1] - a[1]))
            out.append((centre, a[1] + w * dyaw, a[2]))
        return out


def _truth_box_in_image(
    rig: Rig, camera: str, ego: EgoMotion, centre_world, yaw_world: float, box: SceneBox, stamp: Stamp
) -> tuple[float, float, float, float] | None:
    sensor = rig.sensor(camera)
    T_world_base = ego.pose(stamp)
    centre = transform_points(np.linalg.inv(T_world_base), np.asarray([centre_world]))[0]
    yaw = yaw_world - math.atan2(T_world_base[1, 0], T_world_base[0, 0])
    corners = transform_points(
        rig.transform(sensor.frame_id, rig.base_frame), cuboid_corners(centre, box.size, yaw)
    )
    if (corners[:, 2] < 0.2).any():
        return None
    uv, _, _ = sensor.camera_model.project(corners)
    if not np.isfinite(uv).all():
        return None
    width, height = sensor.camera_model.width, sensor.camera_model.height
    x1, y1 = np.clip(uv.min(axis=0), 0, (width, height))
    x2, y2 = np.clip(uv.max(axis=0), 0, (width, height))
    if (x2 - x1) * (y2 - y1) < MIN_BOX_AREA_PX:
        return None
    return float(x1), float(y1), float(x2), float(y2)


def _match_boxes(predicted: list, truth: list, counts: Box2DCounts) -> None:
    pairs = sorted(
        ((box_iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)), reverse=True
    )
    used_p, used_t = set(), set()
    for iou, i, j in pairs:
        if iou < BOX2D_MATCH_IOU:
            break
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            counts.ious.append(iou)
    counts.predicted += len(predicted)
    counts.truth += len(truth)


def _sweep_points(rig: Rig, topic: str, msg) -> np.ndarray:
    sensor = next(s for s in rig.lidars() if s.topic == topic)
    xyz = points_xyz(decode(msg, drop_nan=True))
    return transform_points(rig.sensor_to_base(sensor.name), xyz.astype(float))


@dataclass
class _BagContent:
    """What scoring needs from a bag, read in one pass (sweeps kept serialized until used)."""

    truth: dict[Stamp, list[SceneBox]] = field(default_factory=dict)
    preds: dict[Stamp, list[SceneBox]] = field(default_factory=dict)
    annotations: list[tuple[str, Stamp, list]] = field(default_factory=list)
    reviews: dict[Stamp, list] = field(default_factory=dict)
    """Review items (``trust_eval.ItemRecord``) per pre-label stamp."""
    ego_samples: list = field(default_factory=list)
    """IMU and odometry samples in log order (the ego states the truth tagger reads)."""
    sweeps: dict[str, tuple[list[Stamp], list]] = field(default_factory=dict)
    """Per LiDAR topic: the sweeps' header stamps (where the pre-labels stand; a driver logs a sweep
    only once it is complete) and the decoded messages, in log order."""
    ego: EgoMotion = field(
        default_factory=lambda: EgoMotion(max_history_ns=2**62, max_extrapolation_ns=NS_PER_S)
    )


def _read(bag: str | os.PathLike, rig: Rig, progress: bool) -> _BagContent:
    lidar_topics = {s.topic for s in rig.lidars()}
    odometry = {s.topic: s for s in rig.of_kind("odometry")}
    imus = {s.topic: s for s in rig.of_kind("imu")}
    files = open_bag(bag)
    names = list(channels(files))
    scene, review = (find_output_topic(names, t, bag) or t for t in (SCENE_TOPIC, REVIEW_TOPIC))
    cameras = {find_output_topic(names, annotations_topic(s), bag) or annotations_topic(s): s.name
               for s in rig.cameras()}  # fmt: skip
    content = _BagContent()
    messages = read_messages(
        files, topics={TRUTH_TOPIC, scene, review, *lidar_topics, *odometry, *imus, *cameras}
    )
    for message in tqdm(messages, desc="evaluate", unit="msg", disable=not progress):
        msg = deserialize(message.msgtype, message.data)
        if message.topic in lidar_topics:
            stamps, sweeps = content.sweeps.setdefault(message.topic, ([], []))
            stamps.append(from_ros_time(msg.header.stamp))
            sweeps.append(msg)
        elif message.topic in (TRUTH_TOPIC, scene):
            truth = message.topic == TRUTH_TOPIC
            stamp, boxes = scene_boxes(msg, truth=truth)
            (content.truth if truth else content.preds)[stamp or message.log_time_ns] = boxes
        elif message.topic == review:
            for item in review_records(msg, message.log_time_ns):
                content.reviews.setdefault(item.stamp, []).append(item)
        elif message.topic in odometry:
            sample = decode_sample(odometry[message.topic], msg)
            content.ego.feed(sample)
            content.ego_samples.append(sample)
        elif message.topic in imus:
            content.ego_samples.append(decode_sample(imus[message.topic], msg))
        else:
            image_stamp = from_ros_time(msg.texts[0].timestamp) if msg.texts else message.log_time_ns
            content.annotations.append((cameras[message.topic], image_stamp, annotation_boxes(msg)))
    for topic, (stamps, sweeps) in content.sweeps.items():  # by stamp: _nearest bisects
        order = np.argsort(stamps, kind="stable")
        content.sweeps[topic] = ([stamps[i] for i in order], [sweeps[i] for i in order])
    if not content.truth:
        raise BagError(f"{bag}: no {TRUTH_TOPIC} messages: nothing to score against (import or sim a drive)")
    if not content.preds:
        raise BagError(f"{bag}: no {SCENE_TOPIC} messages: run 'mmfusion replay' on it first")
    return content


def _truth_objects(content: _BagContent, rig: Rig, stamp: Stamp, min_points: int) -> list[GtObject]:
    """The truth frame at ``stamp``, each object ignored when the sweeps of that instant put fewer than
    ``min_points`` returns inside it."""
    points = [
        _sweep_points(rig, topic, sweeps[j])
        for topic, (stamps, sweeps) in content.sweeps.items()
        if (j := _nearest(stamps, stamp)) is not None and abs(stamps[j] - stamp) <= STAMP_TOLERANCE_NS
    ]
    cloud = np.vstack(points) if points else np.zeros((0, 3))
    return [
        _as_truth(b, min_points > 0 and points_inside(cloud, b) < min_points) for b in content.truth[stamp]
    ]


def _score_2d(content: _BagContent, rig: Rig, visible: dict[Stamp, set[int]]) -> dict[str, Box2DCounts]:
    """Each image's boxes against the visible truth of its frame, projected at its exposure."""
    boxes2d: dict[str, Box2DCounts] = {}
    track = _TruthTrack(content.truth, content.ego)
    stamps = sorted(visible)
    for camera, image_stamp, predicted in content.annotations:
        k = _nearest(stamps, image_stamp)
        if k is None or abs(stamps[k] - image_stamp) > IMAGE_TOLERANCE_NS:
            continue
        exposure = image_stamp + rig.sensor(camera).time_offset_ns
        projected = [
            _truth_box_in_image(rig, camera, content.ego, centre, yaw, box, exposure)
            for centre, yaw, box in track.at(exposure, visible[stamps[k]])
        ]
        _match_boxes([b for _, b in predicted], [b for b in projected if b is not None],
                     boxes2d.setdefault(camera, Box2DCounts()))  # fmt: skip
    return boxes2d


def evaluate_bag(
    bag: str | os.PathLike,
    rig: Rig,
    *,
    ranges: Sequence[float] = RANGES_M,
    min_points: int = 1,
    skip_s: float = 0.0,
    images_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> BagEvaluation:
    """Score ``bag``'s pre-labels against its truth topics (see module docstring).

    ``skip_s``: truth frames less than this after the first are not scored (the tracker's warm-up, or
    frames a learned part was trained on).
    """
    content = _read(bag, rig, progress)
    pred_stamps = sorted(content.preds)
    first = min(content.truth)
    evaluators = (Evaluator(ranges, rule=BEV_IOU_RULE), Evaluator(ranges, rule=CENTRE_RULE))
    ignored, visible = 0, {}
    judge = TrustEvaluator(**within(read_sim_truth(bag) or ([], []), first, max(content.truth)))
    out_dir = Path(images_dir) if images_dir is not None else None
    for stamp in sorted(content.truth):
        k = _nearest(pred_stamps, stamp)
        if stamp - first < skip_s * NS_PER_S or k is None or abs(pred_stamps[k] - stamp) > STAMP_TOLERANCE_NS:
            continue
        gts = _truth_objects(content, rig, stamp, min_points)
        ignored += sum(g.ignore for g in gts)
        visible[stamp] = {g.object_id for g in gts if not g.ignore}
        cuboids = [_as_cuboid(b, stamp) for b in content.preds[pred_stamps[k]]]
        judge.add_frame(stamp, gts, cuboids, content.reviews.get(pred_stamps[k], []))
        for evaluator in evaluators:
            evaluator.add_frame(gts, cuboids)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            image = cv2.cvtColor(bev_side_by_side(gts, cuboids), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(out_dir / f"{stamp}.png"), image)
    boxes2d = _score_2d(content, rig, visible)
    total = Box2DCounts()
    for counts in boxes2d.values():
        total.ious += counts.ious
        total.predicted += counts.predicted
        total.truth += counts.truth
    return BagEvaluation(
        str(bag),
        len(visible),
        ignored,
        evaluators[0].report(),
        evaluators[1].report(),
        {"all": total.as_dict(), **{c: v.as_dict() for c, v in sorted(boxes2d.items())}},
        trust_report(judge, bag, rig, content.truth, content.ego_samples),
    )


BEV_RANGE_M = 50.0
BEV_PX = 600


def bev_side_by_side(gts: Sequence[GtObject], preds: Sequence[Cuboid]) -> np.ndarray:
    """RGB bird's-eye views (``drawing``), x forward up: truth (left; ignored objects grey) and pre-labels
    (right), each box with its track id."""

    def view(boxes: Iterable[tuple[GtObject | Cuboid, drawing.Color]], title: str) -> np.ndarray:
        tops = [drawing.TopBox(o.center, o.size, o.yaw, c, f"#{o.object_id}") for o, c in boxes]
        return drawing.top_view(None, tops, size_px=BEV_PX, range_m=BEV_RANGE_M, title=title)

    left = view(((g, (90, 90, 90) if g.ignore else class_color_rgb8(g.label)) for g in gts), "truth")
    right = view(((p, class_color_rgb8(p.label)) for p in preds), "pre-labels")
    return np.hstack([left, right])


def format_bag_evaluation(result: BagEvaluation) -> str:
    """The text ``mmfusion evaluate BAG`` prints."""
    lines = [
        f"bag: {result.bag}   frames scored: {result.frames}   "
        f"truth objects ignored (too few LiDAR points): {result.ignored_truth}",
        "",
        "3D, matched by BEV IoU (vehicles 0.5, people 0.3):",
        format_metrics(result.bev_iou),
        "",
        "3D, matched by centre distance (vehicles 2 m, people 1 m):",
        format_metrics(result.centre),
        "",
        f"2D boxes against projected truth (pairs at IoU >= {BOX2D_MATCH_IOU}):",
        "camera                  IoU   precision recall pairs",
    ]
    for camera, c in result.boxes2d.items():
        iou = "  -  " if c["iou_mean"] is None else f"{c['iou_mean']:.2f}"
        p = "  -  " if c["precision"] is None else f"{c['precision']:.2f}"
        r = "  -  " if c["recall"] is None else f"{c['recall']:.2f}"
        lines.append(f"{camera:<22} {iou}   {p}     {r}  {c['pairs']:5d}")
    if result.trust:
        lines += ["", "Review items and events judged against the truth (TP: what it says is true):",
                  format_trust(result.trust)]
    return "\n".join(lines)
