"""Single-frame LiDAR detection: ground removal -> clustering -> L-shape cuboid -> size-based class.

Works on plain arrays (points in ``base_link``), so it runs on any point source: a fused frame, a
KITTI ``.bin`` file, a synthetic sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import ModuleType

import numpy as np

from mmfusion_annotate.prelabel.classify import PRIORS, decide, is_end_view, size_scores
from mmfusion_annotate.prelabel.cluster import along_ray_gap_per_m, cluster_points, split_at_gap
from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.fit import BevBox, complete_with_prior, fit_lshape, wrap_half
from mmfusion_annotate.prelabel.ground import remove_ground
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.prelabel.occlusion import RangeProfile
from mmfusion_annotate.prelabel.semantics import PointClass, SemanticsModel, classify, object_candidate_mask
from mmfusion_annotate.xp import to_numpy

TOP_PERCENTILE = 98.0
TOP_GAP_M = 0.4
TOP_GAP_FROM_M = 0.8


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
    hidden_ends: int = 0
    """How many of its two azimuth ends border a nearer object (``occlusion.RangeProfile``)."""
    people_vetoed: bool = False
    """The point classifier found too little of a person in it to call it pedestrian or cyclist."""

    @property
    def center(self) -> tuple[float, float, float]:
        return (self.box.cx, self.box.cy, (self.z_bottom + self.z_top) / 2)

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.box.length, self.box.width, self.z_top - self.z_bottom)


def complete(
    measured: BevBox,
    label: ObjectClass,
    sensor_xy: tuple[float, float],
    occluded: bool = False,
) -> BevBox:
    """The measured box grown to the class's typical footprint (unchanged for ``UNKNOWN``); ``occluded``:
    an end is cut off by a nearer object, so the longer side may be short of the class's length."""
    if label is ObjectClass.UNKNOWN:
        return measured
    length, width, _ = PRIORS[label].typical
    if is_end_view(label, measured.length, measured.width, occluded):
        # the longer visible side is the object's width: turn the box before growing it
        measured = BevBox(
            measured.cx, measured.cy, measured.width, measured.length, measured.yaw + math.pi / 2
        )
        measured = complete_with_prior(measured, length, width, sensor_xy)
        return BevBox(measured.cx, measured.cy, measured.length, measured.width, wrap_half(measured.yaw))
    return complete_with_prior(measured, length, width, sensor_xy)


def object_heights(order: np.ndarray, bounds: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Per cluster k (points ``order[bounds[k]:bounds[k + 1]]``, none empty): its height above the ground,
    robust to a few stray returns and to overhangs above it (branches, a sign). Vectorized over clusters.

    Each cluster's heights are sorted; the object ends below the first vertical gap wider than
    ``TOP_GAP_M`` above ``TOP_GAP_FROM_M`` (what lies above it is something else), and its height is the
    ``TOP_PERCENTILE`` of what remains, not the maximum.
    """
    sizes = np.diff(bounds)
    cluster = np.repeat(np.arange(sizes.size), sizes)
    h = height[order].astype(np.float64)
    span = float(np.ptp(h)) + 1.0  # one float key: clusters in place, ascending heights within each
    h = h[np.argsort(cluster * span + (h - h.min()))]
    gap = np.zeros(h.size, bool)
    gap[:-1] = (np.diff(h) > TOP_GAP_M) & (h[:-1] >= TOP_GAP_FROM_M)
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

    @classmethod
    def from_rig(cls, rig, lidar: str) -> LidarGeometry:
        origin = tuple(float(v) for v in rig.sensor_to_base(lidar)[:3, 3])
        spec = getattr(rig.sensor(lidar), "lidar", None)
        if spec is None or not spec.vertical_angles_deg:
            return cls(origin)
        angles = sorted(spec.vertical_angles_deg)
        spacing = min(angles[-1] - angles[-2], angles[1] - angles[0]) if len(angles) > 1 else 0.0
        return cls(origin, angles[-1], angles[0], 0.5 * spacing, spec.azimuth_resolution_deg)

    @property
    def xy(self) -> tuple[float, float]:
        return self.origin[0], self.origin[1]


def _cut_by_fov(p: np.ndarray, lidar: LidarGeometry | None) -> bool:
    """True when a point of the cluster (capture-time base_link coordinates) lies on the top or the
    bottom beam: the object continues outside the vertical field of view."""
    if lidar is None or lidar.top_elevation_deg is None:
        return False
    d = p - np.asarray(lidar.origin)
    elevation = np.degrees(np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])))
    return bool(
        elevation.max() >= lidar.top_elevation_deg - lidar.tolerance_deg
        or elevation.min() <= lidar.bottom_elevation_deg + lidar.tolerance_deg
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
    tops = object_heights(order, bounds, height)
    out: list[Detection] = []
    for k in range(labels.max() + 1):
        _add_detections(out, order[bounds[k] : bounds[k + 1]], hidden_ends[k], pts, raw, height, cfg, lidar,
                        point_classes, float(tops[k]))  # fmt: skip
    return out, stages


def _add_detections(
    out: list[Detection],
    idx: np.ndarray,
    hidden: int,
    pts: np.ndarray,
    raw: np.ndarray,
    height: np.ndarray,
    cfg: PrelabelConfig,
    lidar: LidarGeometry | None,
    point_classes: np.ndarray | None,
    top_height: float | None = None,
) -> None:
    """Fit and classify one cluster (``top_height``: its ``object_heights`` when already known); one
    longer than a car and no wider is cut at its emptiest gap
    across its axis (a row of parked cars) and each side is handled again."""
    p = pts[idx]
    measured = fit_lshape(p[:, :2], cfg.fit.angle_step_deg, cfg.fit.max_fit_points, cfg.fit.min_size_m)
    if measured.length > cfg.cluster.max_extent_m:
        return
    car = PRIORS[ObjectClass.CAR]
    if measured.length > car.length[1] and measured.width <= car.width[1]:
        side = split_at_gap(p[:, :2], measured.yaw)
        if side is not None:
            for part in (side, ~side):  # each keeps the parent's verdict: the cut side borders no object
                _add_detections(out, idx[part], hidden, pts, raw, height, cfg, lidar, point_classes)
            return
    sensor_xy = lidar.xy if lidar is not None else (0.0, 0.0)
    z_bottom = float(np.median(p[:, 2] - height[idx]))
    if top_height is None:
        top_height = float(object_heights(idx, np.array([0, idx.size]), height)[0])
    z_top = z_bottom + top_height
    cut = _cut_by_fov(raw[idx], lidar)
    vetoed = point_classes is not None and bool(
        np.mean(point_classes[idx] == PointClass.PERSON) < cfg.semantics.min_person_share
    )
    scores = size_scores(measured.length, measured.width, z_top - z_bottom, cut, occluded=hidden > 0)
    label, conf = _decide(scores, vetoed)
    box = complete(measured, label, sensor_xy, hidden > 0)
    out.append(Detection(idx, measured, box, z_bottom, z_top, scores, label, conf, cut, int(hidden), vetoed))


def _decide(scores: np.ndarray, people_vetoed: bool) -> tuple[ObjectClass, float]:
    """``classify.decide``, but a best fit as pedestrian or cyclist that the point classifier vetoed (too
    little of a person in it: a post, a bush, a mirror) is unknown, not the next class down the list."""
    label, confidence = decide(scores)
    if people_vetoed and label in (ObjectClass.PEDESTRIAN, ObjectClass.CYCLIST):
        return ObjectClass.UNKNOWN, confidence
    return label, confidence


def reclassify(det: Detection, view: str, sensor_xy: tuple[float, float]) -> Detection:
    """The detection scored again with its view known ("side" or "end", from the track's motion)."""
    m = det.measured
    occluded = det.hidden_ends > 0
    scores = size_scores(m.length, m.width, det.z_top - det.z_bottom, det.height_cut, view, occluded)
    label, conf = _decide(scores, det.people_vetoed)
    box = complete(m, label, sensor_xy, occluded)
    return replace(det, box=box, scores=scores, label=label, confidence=conf)
