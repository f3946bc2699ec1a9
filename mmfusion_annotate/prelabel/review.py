"""Cross-modal checks: every disagreement between LiDAR, cameras, radar and the track history becomes a
``ReviewItem`` with a reason, the modalities involved, the values compared (evidence) and a priority.

Priority is ``severity x confidence x modality weight`` (``priority``): the reason's fixed severity, how
confident the machine was of the label or detection concerned (a confident label that disagrees is worth
a look before an unsure one), and how many modalities disagree (two sensors against each other weigh
more than one track's own history).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.config import CameraConfig
from mmfusion_annotate.prelabel.model import Box2D, Cuboid, Modality, RadarCandidate, ReviewItem

MIN_POINTS_FOR_2D_CHECK = 10

NO_CAMERA_EVIDENCE = "cuboid_in_view_without_camera_evidence"
CAMERA_WITHOUT_LIDAR = "camera_detection_without_lidar_points"
RADAR_WITHOUT_LIDAR = "radar_target_without_lidar_support"
RADAR_VELOCITY_MISMATCH = "radar_range_rate_disagrees_with_track"
BOX_MISMATCH = "box2d_disagrees_with_cuboid"
ID_SWITCH = "id_switch"
CLASS_FLIP = "class_flip"

SENSOR_DISAGREEMENTS = frozenset({NO_CAMERA_EVIDENCE, CAMERA_WITHOUT_LIDAR})
"""Reasons where a camera and the LiDAR contradict each other about the same place at the same moment:
what a camera's calibration or clock going wrong multiplies. The others measure the pre-label's own
fit (box mismatch), its tracking (velocity, class, identity) or the LiDAR's range (radar targets it has
too few points on), which a clean drive has as well."""

SEVERITY = {
    ID_SWITCH: 0.9,
    CLASS_FLIP: 0.8,
    BOX_MISMATCH: 0.7,
    RADAR_VELOCITY_MISMATCH: 0.6,
    NO_CAMERA_EVIDENCE: 0.5,
    CAMERA_WITHOUT_LIDAR: 0.5,
    RADAR_WITHOUT_LIDAR: 0.4,
}
"""Fixed per reason (project defaults): a wrong identity or class corrupts every frame of a track, a box
or velocity error one frame, a missing modality may be occlusion or range."""
MODALITIES_FOR_FULL_WEIGHT = 2


def priority(severity: float, confidence: float, modalities: int) -> float:
    """``severity x confidence x min(1, modalities / 2)``, rounded for stable output."""
    return round(severity * confidence * min(1.0, modalities / MODALITIES_FOR_FULL_WEIGHT), 4)


def interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Overlap over union of two 1D intervals (lo, hi)."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if inter > 0 and union > 0 else 0.0


def _footprint_distance(c: Cuboid, point) -> float:
    """Distance in the BEV from ``point`` to the cuboid's footprint (0 inside)."""
    dx, dy = point[0] - c.center[0], point[1] - c.center[1]
    cos, sin = math.cos(c.yaw), math.sin(c.yaw)
    along, across = abs(cos * dx + sin * dy) - c.size[0] / 2, abs(-sin * dx + cos * dy) - c.size[1] / 2
    return math.hypot(max(along, 0.0), max(across, 0.0))


def collect(
    *,
    stamp: int,
    cfg: CameraConfig,
    cuboids: list[Cuboid],
    observed_boxes: list[tuple[Box2D, tuple | None]],
    radar_candidates: list[RadarCandidate],
    radar_mismatches: list[tuple[int, float, float]],
    class_flips: list,
    id_switches: list[tuple[int, int]],
    camera_only: Sequence[Box2D] = (),
    radar_tolerance_mps: float | None = None,
    radar_near_cuboid_m: float = 0.0,
) -> list[ReviewItem]:
    """All review items of one frame, highest priority first (ties by reason, then ids).

    ``camera_only`` are detections no cuboid explains (``object_id`` -1); their priority scales with the
    detector's confidence. ``radar_tolerance_mps`` is the range-rate tolerance ``radar_mismatches`` were
    judged with (kept in their evidence). A radar candidate within ``radar_near_cuboid_m`` of a cuboid's
    footprint is that object's return (a vehicle's edges and wheels reflect beside its box) and raises
    nothing. A cuboid and its visible LiDAR points are compared across the image (horizontal extents):
    the points' vertical extent is quantised by the ring spacing (~1.3 deg on a 32-beam LiDAR, 40 deg
    over 32 beams: 1.6 m at 70 m, more than a car is tall), so far objects would disagree in height by
    construction.
    """
    conf = {c.object_id: c.provenance.confidence for c in cuboids}
    items: list[ReviewItem] = []

    def add(reason, modalities, ids, confidence=1.0, camera=None, detail="", evidence=None):
        sev = SEVERITY[reason]
        items.append(
            ReviewItem(
                reason, modalities, priority(sev, confidence, len(modalities)), ids, stamp, camera, detail,
                tuple(sorted((k, float(v)) for k, v in (evidence or {}).items())), sev, round(confidence, 4),
            )
        )

    lc = (Modality.LIDAR, Modality.CAMERA)
    for box, points_box in observed_boxes:
        big = min(box.box[2] - box.box[0], box.box[3] - box.box[1]) >= cfg.min_box_px
        if big and box.visible_fraction >= cfg.min_visible_fraction and box.evidence < cfg.evidence_threshold:
            add(
                NO_CAMERA_EVIDENCE,
                lc,
                (box.object_id,),
                conf.get(box.object_id, 0.5),
                box.camera,
                f"evidence {box.evidence:.2f}, visible {box.visible_fraction:.2f}",
                {"camera_evidence": box.evidence, "evidence_threshold": cfg.evidence_threshold,
                 "visible_fraction": box.visible_fraction, "min_visible_fraction": cfg.min_visible_fraction},
            )
        if points_box is not None:
            iou = box_iou(box.box, points_box)
            across = interval_iou((box.box[0], box.box[2]), (points_box[0], points_box[2]))
            if across < cfg.mismatch_iou:
                add(
                    BOX_MISMATCH,
                    lc,
                    (box.object_id,),
                    conf.get(box.object_id, 0.5),
                    box.camera,
                    f"IoU {across:.2f} across the image (2D {iou:.2f}) between projected cuboid and visible "
                    "LiDAR points",
                    {"horizontal_iou": across, "iou": iou, "iou_threshold": cfg.mismatch_iou,
                     "cuboid_x1_px": box.box[0], "cuboid_x2_px": box.box[2],
                     "points_x1_px": points_box[0], "points_x2_px": points_box[2],
                     "visible_fraction": box.visible_fraction},
                )
    for box in camera_only:
        add(
            CAMERA_WITHOUT_LIDAR,
            lc,
            (),
            box.provenance.confidence,
            box.camera,
            f"{box.provenance.algorithm} {box.label.value} box {tuple(round(v) for v in box.box)}, "
            f"confidence {box.provenance.confidence:.2f}",
            dict(zip(("x1_px", "y1_px", "x2_px", "y2_px"), box.box, strict=True),
                 detector_confidence=box.provenance.confidence),
        )
    for cand in radar_candidates:
        if any(_footprint_distance(c, cand.position) <= radar_near_cuboid_m for c in cuboids):
            continue  # beside a labelled object: its own return outside the association gate, not a miss
        add(
            RADAR_WITHOUT_LIDAR,
            (Modality.RADAR, Modality.LIDAR),
            (),
            1.0,
            None,
            f"{cand.radar}: {cand.num_detections} detections, radial {cand.range_rate:.1f} m/s",
            {"x_m": cand.position[0], "y_m": cand.position[1], "range_rate_mps": cand.range_rate,
             "detections": cand.num_detections},
        )
    for oid, measured, expected in radar_mismatches:
        add(
            RADAR_VELOCITY_MISMATCH,
            (Modality.RADAR, Modality.TRACK),
            (oid,),
            conf.get(oid, 0.5),
            None,
            f"radar {measured:.1f} m/s, track {expected:.1f} m/s",
            {"radar_mps": measured, "track_mps": expected}
            | ({} if radar_tolerance_mps is None else {"tolerance_mps": radar_tolerance_mps}),
        )
    for oid, old, new in class_flips:
        add(CLASS_FLIP, (Modality.LIDAR, Modality.TRACK), (oid,), conf.get(oid, 0.5), None,
            f"{old.value} -> {new.value}")
    for old, new in id_switches:
        add(ID_SWITCH, (Modality.TRACK,), (old, new), 1.0, None, f"track {old} ended where {new} began")
    items.sort(key=lambda it: (-it.priority, it.reason, it.object_ids))
    return items
