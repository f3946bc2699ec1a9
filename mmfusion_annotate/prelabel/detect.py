"""Single-frame LiDAR detection: ground removal -> clustering -> L-shape cuboid -> size-based class.

Works on plain arrays (points in ``base_link``), so it runs on any point source: a fused frame, a
KITTI ``.bin`` file, a synthetic sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from mmfusion_annotate.prelabel.classify import CLASSES, PRIORS, decide, height_fits, is_end_view, size_scores
from mmfusion_annotate.prelabel.cluster import along_ray_gap_per_m, cluster_points, split_at_gap
from mmfusion_annotate.prelabel.config import PrelabelConfig, SemanticsConfig
from mmfusion_annotate.prelabel.fit import (
    BevBox,
    complete_with_prior,
    fit_at,
    fit_lshape,
    near_side,
    wrap_half,
)
from mmfusion_annotate.prelabel.ground import RoadMap, remove_ground
from mmfusion_annotate.prelabel.model import PERSON_CLASSES, VEHICLE_CLASSES, ObjectClass
from mmfusion_annotate.prelabel.occlusion import RangeProfile
from mmfusion_annotate.prelabel.semantics import PointClass, SemanticsModel, classify, object_candidate_mask
from mmfusion_annotate.xp import to_numpy

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

TOP_PERCENTILE = 98.0
TOP_GAP_M = 0.4
TOP_GAP_FROM_M = 0.8
TOP_GAP_BEAMS = 1.5
"""A gap in a cluster's heights is also at least this many beam steps at its range: beyond ~35 m a
64-beam LiDAR's returns on a pole lie more than ``TOP_GAP_M`` apart, which is no gap."""
HORIZON_BEAMS_DEG = 10.0
FOOT_HIDDEN_M = 0.5
"""An object whose local ground lies this much above the road around it stands behind something that
hides its foot: the ground filter took its lowest visible returns for ground."""
ROAD_CELL_M = 4.0
"""Cells of the coarse road map (lowest ground return per cell) that ``FOOT_HIDDEN_M`` compares with."""
PERSON_FACE_M = (1.5, 0.4)
"""Height and width of the least of a person a LiDAR sees whole (a child, a side view)."""
PERSON_MIN_COVERAGE = 0.25
"""A pedestrian or cyclist has at least this share of the returns that face would give at its range
(the beams' steps, the rig's): a half-hidden person has, a mirror or the corner of a car has not."""


@dataclass(frozen=True)
class PointEvidence:
    """The point classifier's reading of one cluster: the shares of its points called vehicle and person,
    and how many points it has (a share of a handful of points says little)."""

    vehicle: float
    person: float
    points: int

    @classmethod
    def of(cls, point_classes: np.ndarray) -> PointEvidence:
        return cls(
            float(np.mean(point_classes == PointClass.VEHICLE)),
            float(np.mean(point_classes == PointClass.PERSON)),
            int(point_classes.size),
        )


@dataclass(frozen=True)
class Detection:
    """One cluster turned into a box: ``measured`` is the fit of the points, ``box`` the completed one."""

    point_index: np.ndarray
    measured: BevBox
    box: BevBox
    z_bottom: float
    z_top: float
    scores: np.ndarray
    label: ObjectClass
    confidence: float
    height_cut: bool = False
    foot_hidden: bool = False
    """Its lowest returns lie well above the road around it: what stands there is hidden below them."""
    sparse: bool = False
    """Far fewer returns than a person's body gives at its range."""
    hidden_ends: int = 0
    """How many of its two azimuth ends border a nearer object (``occlusion.RangeProfile``)."""
    evidence: PointEvidence | None = None
    """What the point classifier says of its points (None: it did not run)."""

    @property
    def person_ruled_out(self) -> bool:
        """Its returns cannot show a pedestrian or cyclist: the top of a pole behind a parked car (foot
        hidden) or a mirror, the corner of a car (sparse) are the same size."""
        return self.foot_hidden or self.sparse

    @property
    def center(self) -> tuple[float, float, float]:
        return (self.box.cx, self.box.cy, (self.z_bottom + self.z_top) / 2)

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.box.length, self.box.width, self.z_top - self.z_bottom)

    def grown(self, label: ObjectClass, sensor_xy: tuple[float, float], view: str | None = None) -> BevBox:
        """Its measured box completed as ``label`` (``complete`` with what is known of its occlusion)."""
        return complete(self.measured, label, sensor_xy, self.hidden_ends, view)


def complete(
    measured: BevBox,
    label: ObjectClass,
    sensor_xy: tuple[float, float],
    hidden_ends: int = 0,
    view: str | None = None,
) -> BevBox:
    """The measured box grown to the class's typical footprint (unchanged for ``UNKNOWN``); ``hidden_ends``:
    how many of its ends are cut off by a nearer object: with one the longer side may be short of the
    class's length; with both the part seen may be anywhere along the object, so its length grows to
    both sides alike; ``view`` ("side" or "end": what the longer measured side is, when known from
    elsewhere)."""
    if label is ObjectClass.UNKNOWN:
        return measured
    length, width, _ = PRIORS[label].typical
    end_view = is_end_view(label, measured.length, measured.width, hidden_ends > 0)
    if view == "end" or (view is None and end_view):
        # the longer visible side is the object's width: turn the box before growing it
        measured = BevBox(
            measured.cx, measured.cy, measured.width, measured.length, measured.yaw + math.pi / 2
        )
        measured = complete_with_prior(measured, length, width, sensor_xy, hidden_ends == 2)
        return BevBox(measured.cx, measured.cy, measured.length, measured.width, wrap_half(measured.yaw))
    box = complete_with_prior(measured, length, width, sensor_xy, hidden_ends == 2)
    if label in VEHICLE_CLASSES and box.width > PRIORS[label].width[1]:
        return near_side(box, width, sensor_xy)  # a stray return or the next car's edge beside it
    return box


def object_heights(
    order: np.ndarray, bounds: np.ndarray, height: np.ndarray, min_gap: np.ndarray | float = TOP_GAP_M
) -> np.ndarray:
    """Per cluster k (points ``order[bounds[k]:bounds[k + 1]]``, none empty): its height above the ground,
    robust to a few stray returns and to overhangs above it (branches, a sign). Vectorized over clusters.

    Each cluster's heights are sorted; the object ends below the first vertical gap wider than its
    ``min_gap`` (per cluster, or one for all) above ``TOP_GAP_FROM_M`` (what lies above it is something
    else), and its height is the ``TOP_PERCENTILE`` of what remains, not the maximum.
    """
    sizes = np.diff(bounds)
    cluster = np.repeat(np.arange(sizes.size), sizes)
    h = height[order].astype(np.float64)
    span = float(np.ptp(h)) + 1.0  # one float key: clusters in place, ascending heights within each
    h = h[np.argsort(cluster * span + (h - h.min()))]
    gap = np.zeros(h.size, bool)
    limit = np.broadcast_to(np.asarray(min_gap, np.float64), sizes.shape)[cluster[:-1]]
    gap[:-1] = (np.diff(h) > limit) & (h[:-1] >= TOP_GAP_FROM_M)
    gap[bounds[1:] - 1] = False  # never across two clusters
    at = np.flatnonzero(gap)
    first_gap = np.full(sizes.size, -1)
    owners, first = np.unique(cluster[at], return_index=True)
    first_gap[owners] = at[first]
    kept = np.where(first_gap >= 0, first_gap - bounds[:-1] + 1, sizes)
    return h[bounds[:-1] + (TOP_PERCENTILE / 100.0 * (kept - 1)).astype(np.int64)]


@dataclass(frozen=True)
class Stages:
    """Intermediate per-point results, kept for review checks and benchmarks."""

    is_ground: np.ndarray
    height: np.ndarray
    labels: np.ndarray
    point_classes: np.ndarray | None = None
    """``semantics.PointClass`` per point when the classifier ran."""


@dataclass(frozen=True)
class LidarGeometry:
    """Where the LiDAR sits in base_link, the elevations of its top and bottom beams, its azimuth step.

    An object the top beam hits continues above the field of view, one the bottom beam hits (close
    beside the car) continues below it: either way its measured height is only a lower bound.
    ``tolerance_deg`` (half the outer beam spacing) absorbs per-beam calibration scatter.
    """

    origin: tuple[float, float, float]
    top_elevation_deg: float | None = None
    bottom_elevation_deg: float | None = None
    tolerance_deg: float = 0.0
    azimuth_resolution_deg: float | None = None
    beam_spacing_deg: float = 0.0
    """The widest elevation step between beams within ``HORIZON_BEAMS_DEG`` of the horizontal, where
    objects at range are seen: returns of one upright surface lie range * tan(step) apart in height."""

    @classmethod
    def from_rig(cls, rig: Rig, lidar: str) -> LidarGeometry:
        x, y, z = rig.sensor_to_base(lidar)[:3, 3]
        origin = (float(x), float(y), float(z))
        spec = rig.sensor(lidar).lidar
        if spec is None or not spec.vertical_angles_deg:
            return cls(origin)
        angles = sorted(spec.vertical_angles_deg)
        spacing = min(angles[-1] - angles[-2], angles[1] - angles[0]) if len(angles) > 1 else 0.0
        level = np.array([a for a in angles if abs(a) <= HORIZON_BEAMS_DEG])
        step = float(np.diff(level).max()) if level.size > 1 else 0.0
        return cls(origin, angles[-1], angles[0], 0.5 * spacing, spec.azimuth_resolution_deg, step)

    @property
    def xy(self) -> tuple[float, float]:
        return self.origin[0], self.origin[1]


def _cut_by_fov(p: np.ndarray, lidar: LidarGeometry | None) -> bool:
    """True when a point of the cluster (capture-time base_link coordinates) lies on the top or the
    bottom beam: the object continues outside the vertical field of view."""
    if lidar is None or lidar.top_elevation_deg is None or lidar.bottom_elevation_deg is None:
        return False
    x, y, z = (p[:, k] - np.float64(lidar.origin[k]) for k in range(3))
    elevation = np.arctan2(z, np.hypot(x, y))  # in degrees only at its ends: the conversion is monotonic
    return bool(
        np.degrees(elevation.max()) >= lidar.top_elevation_deg - lidar.tolerance_deg
        or np.degrees(elevation.min()) <= lidar.bottom_elevation_deg + lidar.tolerance_deg
    )


def detect(
    xyz,
    cfg: PrelabelConfig,
    lidar: LidarGeometry | None = None,
    xp: ModuleType = np,
    capture_xyz: np.ndarray | None = None,
    semantics: tuple[SemanticsModel, np.ndarray] | None = None,
) -> tuple[list[Detection], Stages]:
    """Detections in one sweep (``xyz`` (N,3) in base_link); heavy steps run on ``xp``.

    ``capture_xyz`` are the same points where they were at their own capture time (before deskewing):
    the field-of-view test needs their true elevation from the sensor; ``xyz`` is used when not given.
    ``semantics``: the point classifier and the sweep's intensity; points it gives little chance of
    being a road user are left out of the clusters (a hedge no longer joins the car parked in front).
    """
    sensor_xy = lidar.xy if lidar is not None else (0.0, 0.0)
    ground = remove_ground(xyz, cfg.ground, cfg.cluster.max_range_m + 5.0, xp=xp)
    gap_per_m = along_ray_gap_per_m(cfg.cluster, lidar.azimuth_resolution_deg if lidar else None)
    height = to_numpy(ground.height)
    is_ground = to_numpy(ground.is_ground)
    pts = to_numpy(xyz)
    point_classes, cluster_height = None, ground.height
    if semantics is not None:
        model, intensity = semantics
        scale = cfg.semantics.intensity_scale
        found = classify(model, pts, height, is_ground, np.asarray(intensity, np.float32) * scale)
        point_classes = found.labels
        candidate = object_candidate_mask(found.row_probabilities, cfg.semantics.min_object_probability)
        cluster_height = xp.asarray(np.where(candidate[found.row], height, -np.inf))  # never clustered
    labels = to_numpy(cluster_points(xyz, cluster_height, cfg.cluster, sensor_xy, gap_per_m, xp=xp))
    raw = pts if capture_xyz is None else np.asarray(capture_xyz)
    stages = Stages(is_ground=is_ground, height=height, labels=labels, point_classes=point_classes)
    if labels.max(initial=-1) < 0:
        return [], stages
    obstacles = (labels >= 0) | (~stages.is_ground & (height >= cfg.cluster.min_height_m))
    profile = RangeProfile.of(pts[:, :2], obstacles, sensor_xy)
    members = np.flatnonzero(labels >= 0)  # a few thousand of the sweep's points: only these are sorted
    order = members[np.argsort(labels[members], kind="stable")]
    bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
    hidden_ends = profile.hidden_ends(order, bounds)
    sweep = _Sweep(pts, raw, height, cfg, lidar, point_classes, RoadMap.of(pts, is_ground, ROAD_CELL_M))
    rel = pts[order, :2] - np.asarray(sensor_xy)
    ranges = np.add.reduceat(np.hypot(rel[:, 0], rel[:, 1]), bounds[:-1]) / np.diff(bounds)
    tops = object_heights(order, bounds, height, sweep.top_gap(ranges))
    out: list[Detection] = []
    for k in range(labels.max() + 1):
        _add_detections(out, order[bounds[k] : bounds[k + 1]], hidden_ends[k], sweep, float(tops[k]),
                        float(ranges[k]))  # fmt: skip
    return orient_by_neighbours(out, pts, sensor_xy, cfg), stages


NEIGHBOUR_RADIUS_M = 15.0
"""How far a vehicle seen whole lends its heading to one seen in part (a row of parked cars, a lane)."""
WHOLE_SIDE_M = 3.5
"""A vehicle whose measured side is at least this long shows its heading."""
AMBIGUOUS_SIDE_M = 3.0
"""A vehicle whose measured sides are both shorter does not: its visible L may be front and side or
side and front."""


def orient_by_neighbours(
    dets: list[Detection], pts: np.ndarray, sensor_xy: tuple[float, float], cfg: PrelabelConfig
) -> list[Detection]:
    """Vehicles seen in part take the heading of the vehicles seen whole around them (the nearest within
    ``NEIGHBOUR_RADIUS_M``), since cars parked in a row or driving in a lane share their heading:
    - a short L-shaped view is as much a front and a side as a side and a front: the neighbour says which;
    - a fit wider than any car (sparse returns fitted on the diagonal) is fitted again along the
      neighbour's heading, and kept when that makes it car-wide.
    Without such a neighbour the size prior decides."""
    whole = [d for d in dets if d.label in VEHICLE_CLASSES and d.measured.length >= WHOLE_SIDE_M]
    if not whole:
        return dets
    anchors = np.array([(d.measured.cx, d.measured.cy) for d in whole])
    max_width = PRIORS[ObjectClass.CAR].width[1]
    out = []
    for d in dets:
        too_wide = d.measured.width > max_width
        if d.label not in VEHICLE_CLASSES or (d.measured.length >= AMBIGUOUS_SIDE_M and not too_wide):
            out.append(d)
            continue
        dist = np.hypot(anchors[:, 0] - d.measured.cx, anchors[:, 1] - d.measured.cy)
        k = int(np.argmin(dist))
        if dist[k] > NEIGHBOUR_RADIUS_M:
            out.append(d)
            continue
        heading = whole[k].measured.yaw
        if too_wide:
            refit = fit_at(pts[d.point_index, :2].astype(np.float64), heading, cfg.fit.min_size_m)
            if refit.width > max_width:
                out.append(d)
                continue
            d = replace(d, measured=refit)
        across = abs(math.sin(heading - d.measured.yaw))
        out.append(reclassify(d, "end" if across > math.sqrt(0.5) else "side", sensor_xy, cfg.semantics))
    return out


FRAGMENT_LENGTH_M = 2.0
"""A cluster of vehicle points shorter than this whose height fits no vehicle is a piece of one (a bumper,
a door, the top of a car seen over another), too little to place a vehicle's box by: left unknown."""
ROAD_USER_MAJORITY = 0.5
"""A cluster this much road user (vehicle or person points) is fitted on those points alone."""


def _road_user_points(idx: np.ndarray, point_classes: np.ndarray, min_points: int) -> np.ndarray:
    """The cluster's vehicle and person points when they are its majority: the leaves of a hedge that
    touches a parked car stay out of its box; a cluster that is mostly something else is left whole."""
    cls = point_classes[idx]
    road_user = (cls == PointClass.VEHICLE) | (cls == PointClass.PERSON)
    n = int(road_user.sum())
    return idx[road_user] if n >= max(min_points, ROAD_USER_MAJORITY * idx.size) else idx


@dataclass(frozen=True)
class _Sweep:
    """What every cluster of one sweep is fitted and judged with."""

    pts: np.ndarray
    raw: np.ndarray
    height: np.ndarray
    cfg: PrelabelConfig
    lidar: LidarGeometry | None
    point_classes: np.ndarray | None
    road: RoadMap

    def too_sparse_for_a_person(self, n_points: int, range_m: float) -> bool:
        """Fewer returns than ``PERSON_MIN_COVERAGE`` of a person's face at this range (False when the
        rig gives no beam steps)."""
        lidar = self.lidar
        if lidar is None or not lidar.beam_spacing_deg or not lidar.azimuth_resolution_deg:
            return False
        rows = PERSON_FACE_M[0] / (range_m * math.tan(math.radians(lidar.beam_spacing_deg)))
        columns = PERSON_FACE_M[1] / (range_m * math.tan(math.radians(lidar.azimuth_resolution_deg)))
        return n_points < PERSON_MIN_COVERAGE * max(rows, 1.0) * max(columns, 1.0)

    def top_gap(self, range_m):
        """``object_heights``'s gap at these ranges: wider than the beams leave on an upright surface."""
        step = self.lidar.beam_spacing_deg if self.lidar is not None else 0.0
        return np.maximum(TOP_GAP_M, TOP_GAP_BEAMS * np.asarray(range_m) * math.tan(math.radians(step)))


def _add_detections(
    out: list[Detection],
    idx: np.ndarray,
    hidden: int,
    sweep: _Sweep,
    top_height: float | None = None,
    reach: float | None = None,
) -> None:
    """Fit and classify one cluster (``hidden``: how many of its azimuth ends border a nearer object;
    ``top_height`` and ``reach``: its ``object_heights`` and mean range, when already known). One wider
    than a car is cut at its emptiest gap along its axis (cars side by side), one longer than a car and
    no wider across its axis (cars bumper to bumper), and each side is handled again."""
    pts, height, cfg, lidar, point_classes = (
        sweep.pts,
        sweep.height,
        sweep.cfg,
        sweep.lidar,
        sweep.point_classes,
    )
    if point_classes is not None:
        kept = _road_user_points(idx, point_classes, cfg.cluster.min_points)
        if kept.size < idx.size:
            idx, top_height = kept, None  # its height too without the hedge or the branches
    p = pts[idx]
    measured = fit_lshape(p[:, :2], cfg.fit.angle_step_deg, cfg.fit.max_fit_points, cfg.fit.min_size_m)
    if measured.length > cfg.cluster.max_extent_m:
        return
    car = PRIORS[ObjectClass.CAR]
    side = None
    if measured.width > car.width[1]:  # wider than a car: cars side by side (a truck is too narrow to cut)
        side = split_at_gap(p[:, :2], measured.yaw + math.pi / 2)
    if side is None and measured.length > car.length[1]:  # longer than a car: a row of parked cars
        side = split_at_gap(p[:, :2], measured.yaw)
    if side is not None:
        for part in (side, ~side):  # each keeps the parent's verdict: the cut side borders no object
            _add_detections(out, idx[part], hidden, sweep)
        return
    sensor_xy = lidar.xy if lidar is not None else (0.0, 0.0)
    z_bottom = float(np.median(p[:, 2] - height[idx]))
    if reach is None or top_height is None:  # a part of a split cluster, or trimmed to its road users
        reach = float(np.mean(np.hypot(p[:, 0] - sensor_xy[0], p[:, 1] - sensor_xy[1])))
    if top_height is None:
        top_height = float(object_heights(idx, np.array([0, idx.size]), height, sweep.top_gap(reach))[0])
    z_top = z_bottom + top_height
    cut = _cut_by_fov(sweep.raw[idx], lidar)
    foot_hidden = bool(z_bottom - sweep.road.height_near(measured.cx, measured.cy) > FOOT_HIDDEN_M)
    sparse = sweep.too_sparse_for_a_person(idx.size, reach)
    evidence = None if point_classes is None else PointEvidence.of(point_classes[idx])
    scores = size_scores(measured.length, measured.width, z_top - z_bottom, cut, occluded=hidden > 0)
    label, conf = decide_with_evidence(
        scores, evidence, cfg.semantics, foot_hidden or sparse, (z_top - z_bottom, cut), measured.length
    )
    scores = scores_for(scores, label)
    box = complete(measured, label, sensor_xy, int(hidden))
    out.append(
        Detection(
            idx,
            measured,
            box,
            z_bottom,
            z_top,
            scores,
            label,
            conf,
            cut,
            foot_hidden,
            sparse,
            int(hidden),
            evidence,
        )  # fmt: skip
    )


def decide_with_evidence(
    scores: np.ndarray,
    evidence: PointEvidence | None,
    cfg: SemanticsConfig,
    person_ruled_out: bool = False,
    height: tuple[float, bool] | None = None,
    length: float = math.inf,
) -> tuple[ObjectClass, float]:
    """``classify.decide`` checked against what else the returns say:
    - a pedestrian or cyclist fit is no road user when ``person_ruled_out`` (``Detection``) or, with the
      point classifier, when too little of it is person (a post, a bush, a mirror): unknown, not the next
      class down the list (a person-sized part of a car is no car either);
    - with the point classifier, which tells road users from the rest far better than a footprint does
      (a hedge can be car-sized, a parked car seen in part is no known size): a vehicle fit with too
      little of a vehicle in it (a wall, a hedge) is unknown, and a cluster no class fits that is almost
      all vehicle points (a car seen in part, behind another, or wider than a car for a stray return
      beside it) is the vehicle class its footprint fits best among those its ``height`` (measured, cut)
      fits (a car-tall cluster too wide for a car is two cars or a car and its neighbour's edge, no
      truck), with the vehicle share as its confidence, halved: the size did not confirm it. One whose
      height fits no vehicle (a car seen over another shows its upper part only) takes the class too,
      unless its measured ``length`` is that of a fragment (``FRAGMENT_LENGTH_M``).
    """
    label, confidence = decide(scores)
    if label in PERSON_CLASSES and (
        person_ruled_out or (evidence is not None and evidence.person < cfg.min_person_share)
    ):
        return ObjectClass.UNKNOWN, confidence
    if evidence is None:
        return label, confidence
    if label in VEHICLE_CLASSES and evidence.vehicle < cfg.min_vehicle_share:
        return ObjectClass.UNKNOWN, confidence
    if (
        label is ObjectClass.UNKNOWN
        and evidence.vehicle >= cfg.vehicle_share_for_class
        and evidence.points >= cfg.min_points_for_class
    ):
        fits = [c for c in VEHICLE_CLASSES if height is None or height_fits(c, *height)]
        if not fits and length < FRAGMENT_LENGTH_M:  # a bumper, a door, a roof seen over another car
            return ObjectClass.UNKNOWN, confidence
        best = max(fits or VEHICLE_CLASSES, key=lambda c: scores[CLASSES.index(c)])
        return best, 0.5 * evidence.vehicle
    return label, confidence


def scores_for(scores: np.ndarray, label: ObjectClass) -> np.ndarray:
    """The size scores kept with a detection of class ``label``: unchanged where the size chose it; where
    the point classifier did (the size fits no class: a car seen in part or beside its neighbour's edge),
    that class alone, as a camera's box gives it, so the track's confidence (the class's share of the
    scores) is not the near-zero vote of a size that fits nothing."""
    if label is ObjectClass.UNKNOWN or decide(scores)[0] is not ObjectClass.UNKNOWN:
        return scores
    only = np.zeros_like(scores)
    only[CLASSES.index(label)] = 1.0
    return only


def reclassify(
    det: Detection, view: str, sensor_xy: tuple[float, float], semantics: SemanticsConfig
) -> Detection:
    """The detection scored again with its view known ("side" or "end", from the track's motion or a
    neighbour's heading); a vehicle whose measured longer side is wider than its class stays as it is
    when told it shows its end (a parked car's 4 m side is no end, whatever a noisy track beside it says)."""
    m = det.measured
    if view == "end" and det.label in VEHICLE_CLASSES and m.length > PRIORS[det.label].width[1]:
        return det
    occluded = det.hidden_ends > 0
    scores = size_scores(m.length, m.width, det.z_top - det.z_bottom, det.height_cut, view, occluded)
    tall = (det.z_top - det.z_bottom, det.height_cut)
    label, conf = decide_with_evidence(scores, det.evidence, semantics, det.person_ruled_out, tall, m.length)
    box = det.grown(label, sensor_xy, view)
    return replace(det, box=box, scores=scores_for(scores, label), label=label, confidence=conf)
