"""Camera detections fused with the LiDAR clusters of the same frame (frustum / ROI-cluster fusion).

Per camera the detector looked at, pure functions over the fused frame's projection of the sweep into
that camera (``CameraView``: which points land where, which are visible):

- ``camera_objects``: a person over a bicycle or motorcycle is one cyclist; a two-wheeler alone is no
  road user (a parked bicycle), and a person alone is a pedestrian.
- ``fuse_camera``: a box gives its class to the cluster whose visible points it holds (at least ``cover``
  of them) and that holds the most of the box's points: the object, not a pole in front of it. A
  vehicle's box never makes a pedestrian-sized cluster a vehicle: dominant in a car's box, it is a person
  in front of the car or a part of it (a mirror), and the car's own cluster is named by its own box. A
  pedestrian or cyclist cluster the camera sees (``min_visible`` of its points) and that is tall enough
  in the image to be detected, with no person box over it, is demoted (posts, bushes, mirrors) - but
  only in an image where the detector found some road user: its silence means something only on images
  it works on (it finds nothing in the synthetic drive's rendered boxes, where nothing is demoted). A box
  that gives its class to no cluster seeds one from the non-ground points in its frustum at their
  dominant depth; with too few points there it is a camera-only detection.

The LiDAR's size scores still choose between classes the camera cannot tell apart (a COCO "truck" may
be a pickup, a person on a bicycle the detector missed is still a cyclist), and a class the size rules
out only because the cluster is short is taken from the camera (a car seen only from its front); a
cluster too big for the box's class is not named by it (a person against a hedge, a truck box on a
building's corner).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from mmfusion_annotate.fusion.frame import CameraView
from mmfusion_annotate.prelabel.camera_detector import TWO_WHEELERS, CameraClass, Detection2D
from mmfusion_annotate.prelabel.classify import CLASSES, PRIORS, UNKNOWN_SCORE, size_scores
from mmfusion_annotate.prelabel.config import ClusterConfig, FitConfig
from mmfusion_annotate.prelabel.detect import Detection, complete
from mmfusion_annotate.prelabel.fit import fit_lshape
from mmfusion_annotate.prelabel.model import PERSON_CLASSES, VEHICLE_CLASSES, ObjectClass

# classes the camera's class leaves open, its own first: the LiDAR's size scores choose among them
COMPATIBLE: dict[ObjectClass, tuple[ObjectClass, ...]] = {
    ObjectClass.PEDESTRIAN: (ObjectClass.PEDESTRIAN, ObjectClass.CYCLIST),
    ObjectClass.CYCLIST: (ObjectClass.CYCLIST,),
    ObjectClass.CAR: (ObjectClass.CAR, ObjectClass.TRUCK),
    ObjectClass.TRUCK: (ObjectClass.TRUCK, ObjectClass.CAR, ObjectClass.BUS),
    ObjectClass.BUS: (ObjectClass.BUS, ObjectClass.TRUCK),
}
HEIGHT_TOLERANCE_M = 0.2  # the size rules' fall-off above a class's tallest
RIDER_OVERLAP = 0.5  # horizontal overlap (share of the narrower box) of a rider and a two-wheeler
DEPTH_BIN_M = 0.5  # histogram step of the dominant depth of a seed


@dataclass(frozen=True)
class CameraObject:
    """What one box (or a rider and a two-wheeler together) says about the object in it.

    ``label`` is the class it supports, None for a two-wheeler alone; ``person`` whether a person is in it.
    """

    box: tuple[float, float, float, float]
    label: ObjectClass | None
    person: bool
    score: float
    names: tuple[str, ...]  # the COCO names of its detections


@dataclass(frozen=True)
class Verdict:
    """The camera's word on one cluster: ``label`` UNKNOWN when it is no road user (a person or cyclist
    by size the detector should have seen and did not, or a two-wheeler alone); ``source`` is the box
    behind it (None for a demotion)."""

    label: ObjectClass
    score: float
    camera: str
    source: CameraObject | None

    @property
    def positive(self) -> bool:
        """True when a box names the object's class (not a demotion or a two-wheeler alone)."""
        return self.source is not None and self.source.label is not None


@dataclass(frozen=True)
class CameraFusion:
    """One camera's verdicts (by index into the frame's LiDAR detections), seeded detections (with the
    boxes behind them) and camera-only boxes."""

    verdicts: dict[int, Verdict]
    seeds: list[tuple[Detection, CameraObject]]
    camera_only: list[CameraObject]


def _horizontal_overlap(a, b) -> float:
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    return max(overlap, 0.0) / max(min(a[2] - a[0], b[2] - b[0]), 1e-9)


def _is_rider(person: Detection2D, wheels: Detection2D) -> bool:
    """A person over a two-wheeler: overlapping it sideways, feet within it, head above it."""
    p, w = person.box, wheels.box
    return (
        _horizontal_overlap(p, w) >= RIDER_OVERLAP
        and w[1] <= p[3] <= w[3] + 0.1 * (w[3] - w[1])
        and p[1] < w[1]
    )


def camera_objects(detections: Sequence[Detection2D]) -> list[CameraObject]:
    """Detections as evidence, riders paired with their two-wheelers (strongest pairs first)."""
    people = [d for d in detections if d.kind is CameraClass.PEDESTRIAN]
    wheels = [d for d in detections if d.kind in TWO_WHEELERS]
    pairs = sorted(
        ((p, w) for p in people for w in wheels if _is_rider(p, w)),
        key=lambda pw: -(pw[0].score + pw[1].score),
    )
    used: set[int] = set()
    out = []
    for p, w in pairs:
        if id(p) in used or id(w) in used:
            continue
        used |= {id(p), id(w)}
        box = (min(p.box[0], w.box[0]), p.box[1], max(p.box[2], w.box[2]), max(p.box[3], w.box[3]))
        out.append(
            CameraObject(box, ObjectClass.CYCLIST, True, min(p.score, w.score), (p.coco_name, w.coco_name))
        )
    for d in detections:
        if id(d) not in used:
            out.append(
                CameraObject(d.box, d.object_class, d.kind is CameraClass.PEDESTRIAN, d.score, (d.coco_name,))
            )
    return out


def _inside(uv: np.ndarray, box) -> np.ndarray:
    return (uv[:, 0] >= box[0]) & (uv[:, 0] <= box[2]) & (uv[:, 1] >= box[1]) & (uv[:, 1] <= box[3])


def not_too_big(label: ObjectClass, det: Detection) -> bool:
    """True when the cluster's measured extent could be (part of) an object of ``label``: no side longer
    and no top higher than the class allows (with the size rules' tolerance). A partial view is short,
    never long: a box over a person standing against a hedge, or a truck box on a building's corner,
    must not make the whole cluster that class."""
    p = PRIORS[label]
    m = det.measured
    height = det.z_top - det.z_bottom
    return (
        m.length <= p.length[1] * 1.05 + 0.1
        and m.width <= p.width[1] * 1.05 + 0.1
        and (det.height_cut or height <= p.height[1] + HEIGHT_TOLERANCE_M)
    )


def resolve(camera_label: ObjectClass, lidar_scores: np.ndarray) -> ObjectClass:
    """The class of a cluster a box names: among the classes the box leaves open, the one the LiDAR's
    size fits best; the camera's own when the size fits none of them."""
    allowed = COMPATIBLE[camera_label]
    best = max(allowed, key=lambda c: float(lidar_scores[CLASSES.index(c)]))
    return best if lidar_scores[CLASSES.index(best)] >= UNKNOWN_SCORE else camera_label


@dataclass(frozen=True)
class FramePoints:
    """What seeds need of the frame's sweep: points (base_link, deskewed), height above the local ground,
    the ground mask, and the points already in a labelled cluster (never taken again)."""

    xyz: np.ndarray
    height: np.ndarray
    is_ground: np.ndarray
    taken: np.ndarray


def verdicts_of(
    camera: str,
    objects: Sequence[CameraObject],
    view: CameraView,
    lidar: Sequence[Detection],
    *,
    cover: float,
    min_visible: float,
    detectable_height_px: float,
) -> tuple[dict[int, Verdict], set[int]]:
    """Verdicts on the LiDAR clusters one camera sees (by index into ``lidar``): the class of the box
    that holds each, or a demotion; clusters the camera says nothing about are left out. And the boxes
    (by index into ``objects``) whose object a cluster explains: the box named it, or a stronger box
    named the same cluster (a car and a truck box on one vehicle)."""
    pixels = []  # per cluster: uv of its visible points in this camera, and the share of its points visible
    for d in lidar:
        hit = view.hits_of(d.point_index)
        hit = hit[hit >= 0]
        hit = hit[view.visible[hit]]
        pixels.append((view.uv[hit], len(hit) / max(len(d.point_index), 1)))
    inside = np.array([[int(_inside(uv, o.box).sum()) for uv, _ in pixels] for o in objects], dtype=np.int64)
    inside = inside.reshape(len(objects), len(lidar))
    covered = inside / np.array([max(len(uv), 1) for uv, _ in pixels]) >= cover
    verdicts: dict[int, Verdict] = {}
    explained: set[int] = set()
    for k in sorted(range(len(objects)), key=lambda k: (-objects[k].score, k)):
        if not covered[k].any():
            continue
        c = int(np.argmax(np.where(covered[k], inside[k], -1)))  # the dominant cluster in the box
        o = objects[k]
        if c in verdicts or (o.label in VEHICLE_CLASSES and lidar[c].label is ObjectClass.PEDESTRIAN):
            explained.add(k)  # a stronger box named it already; or a person (or a mirror) by the car
            continue
        if o.label is not None and not not_too_big(o.label, lidar[c]):
            continue  # too big to be what this box holds: the box may still seed its own object
        label = ObjectClass.UNKNOWN if o.label is None else resolve(o.label, lidar[c].scores)
        verdicts[c] = Verdict(label, o.score, camera, o)
        explained.add(k)
    if not objects:
        return verdicts, explained  # a silent detector may not see this kind of image at all: no demotion
    person_boxes = [k for k, o in enumerate(objects) if o.person]
    for c, d in enumerate(lidar):
        uv, visible = pixels[c]
        if c in verdicts or d.label not in PERSON_CLASSES or visible < min_visible or len(uv) == 0:
            continue
        if float(uv[:, 1].max() - uv[:, 1].min()) < detectable_height_px:
            continue  # too small in this image for the detector's silence to mean anything
        if not any(covered[k, c] for k in person_boxes):
            verdicts[c] = Verdict(ObjectClass.UNKNOWN, 0.0, camera, None)
    return verdicts, explained


def _ground_depth(view: CameraView, is_ground: np.ndarray, box) -> float | None:
    """Median depth of the visible ground points at the bottom edge of a box (within a tenth of its
    height, middle half of its width), or None with fewer than 3 there (the foot hidden or off the ground)."""
    x1, y1, x2, y2 = box
    quarter, tenth = (x2 - x1) / 4, (y2 - y1) / 10
    at_foot = _inside(view.uv, (x1 + quarter, y2 - tenth, x2 - quarter, y2 + tenth)) & view.visible
    at_foot &= is_ground[view.index]
    return float(np.median(view.depth[at_foot])) if at_foot.sum() >= 3 else None


def seed(
    label: ObjectClass,
    box: tuple[float, float, float, float],
    score: float,
    view: CameraView,
    points: FramePoints,
    cluster: ClusterConfig,
    fit: FitConfig,
    sensor_xy: tuple[float, float],
) -> Detection | None:
    """A detection of class ``label`` from the visible, free, non-ground points in ``box`` at their
    dominant depth, or None when fewer than ``cluster.min_points`` are there or their extent does not fit
    the class.

    The dominant depth is the most populated depth bin in the middle half of the box, where the object
    hides what is behind it; the points kept lie within half the class's typical length plus a bin of
    it, so a person 2 m in front of a wall does not take the wall. Two tests keep a box whose object left
    no returns (dark, out of the LiDAR's reach) from seeding a cuboid on what is behind it: the points
    must fit the class's size, and where the ground shows at the box's bottom edge (the object's foot)
    it must lie at their depth.
    """
    in_box = _inside(view.uv, box) & view.visible
    idx, depth, u = view.index[in_box], view.depth[in_box], view.uv[in_box, 0]
    h = points.height[idx]
    keep = (
        ~points.is_ground[idx]
        & ~points.taken[idx]
        & (h >= cluster.min_height_m)
        & (h <= cluster.max_height_m)
    )
    idx, depth, u = idx[keep], depth[keep], u[keep]
    quarter = (box[2] - box[0]) / 4
    middle = (u >= box[0] + quarter) & (u <= box[2] - quarter)
    if middle.sum() < cluster.min_points:
        return None
    bins = np.floor(depth[middle] / DEPTH_BIN_M).astype(np.int64)
    mode = (bins.min() + int(np.argmax(np.bincount(bins - bins.min()))) + 0.5) * DEPTH_BIN_M
    window = max(PRIORS[label].typical[:2]) / 2 + DEPTH_BIN_M
    foot = _ground_depth(view, points.is_ground, box)
    if foot is not None and abs(foot - mode) > window + DEPTH_BIN_M:
        return None
    idx = np.sort(idx[np.abs(depth - mode) <= window])
    if len(idx) < cluster.min_points:
        return None
    p = points.xyz[idx]
    measured = fit_lshape(p[:, :2], fit.angle_step_deg, fit.max_fit_points, fit.min_size_m)
    z_bottom = float(np.median(p[:, 2] - points.height[idx]))
    fits = size_scores(measured.length, measured.width, float(p[:, 2].max()) - z_bottom)
    if fits[CLASSES.index(label)] < UNKNOWN_SCORE * PRIORS[label].prior:
        return None
    scores = np.zeros(len(CLASSES))
    scores[CLASSES.index(label)] = 1.0
    return Detection(
        idx,
        measured,
        complete(measured, label, sensor_xy),
        z_bottom,
        float(p[:, 2].max()),
        scores,
        label,
        score,
    )


def fuse_camera(
    camera: str,
    view: CameraView,
    detections: Sequence[Detection2D],
    lidar: Sequence[Detection],
    points: FramePoints,
    *,
    cover: float,
    min_visible: float,
    detectable_height_px: float,
    cluster: ClusterConfig,
    fit: FitConfig,
    sensor_xy: tuple[float, float],
) -> CameraFusion:
    """Everything one camera's detections say about the frame (see the module docstring).

    Seeds take no point of a cluster this camera named. ``points.taken`` is not changed: the caller
    marks the named clusters' and the seeds' points taken before fusing the next camera, so two cameras
    never seed the same points.
    """
    objects = camera_objects(detections)
    verdicts, explained = verdicts_of(
        camera,
        objects,
        view,
        lidar,
        cover=cover,
        min_visible=min_visible,
        detectable_height_px=detectable_height_px,
    )
    seeds, camera_only = [], []
    free = replace(points, taken=points.taken.copy())  # this camera's seeds never share points either
    for c in verdicts:
        free.taken[lidar[c].point_index] = True
    for k, o in enumerate(objects):
        if o.label is None or k in explained:
            continue
        found = seed(o.label, o.box, o.score, view, free, cluster, fit, sensor_xy)
        if found is None:
            camera_only.append(o)
        else:
            seeds.append((found, o))
            free.taken[found.point_index] = True
    return CameraFusion(verdicts, seeds, camera_only)


def relabelled(det: Detection, verdict: Verdict, sensor_xy: tuple[float, float]) -> Detection:
    """The detection with the class a box gives it (``verdict.positive``), its box completed for that
    class: the only class it scores then, with a confidence that grows when the LiDAR agreed.

    Any other verdict (a demotion, a two-wheeler alone) returns the detection unchanged: it is still
    tracked, with the verdict attached to its track, only not labelled.
    """
    if not verdict.positive:
        return det
    label = verdict.label
    scores = np.zeros(len(CLASSES))
    scores[CLASSES.index(label)] = 1.0
    agreed = det.confidence if det.label is label else 0.0
    confidence = 1.0 - (1.0 - verdict.score) * (1.0 - agreed)
    box = det.grown(label, sensor_xy)
    return replace(det, box=box, scores=scores, label=label, confidence=confidence)
