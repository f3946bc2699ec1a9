"""Cross-modal checks: every disagreement between LiDAR, cameras, radar and the track history becomes a
``ReviewItem`` with a reason, the modalities involved and a priority (annotators sort by it).

Priorities are fixed per reason and scaled by how confident the machine was (a confident label that
disagrees is worth a look before an unsure one).
"""

from __future__ import annotations

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

BASE_PRIORITY = {
    ID_SWITCH: 0.9,
    CLASS_FLIP: 0.8,
    BOX_MISMATCH: 0.7,
    RADAR_VELOCITY_MISMATCH: 0.6,
    NO_CAMERA_EVIDENCE: 0.5,
    CAMERA_WITHOUT_LIDAR: 0.5,
    RADAR_WITHOUT_LIDAR: 0.4,
}


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
    camera_only: list[Box2D] = (),
) -> list[ReviewItem]:
    """All review items of one frame, highest priority first (ties by reason, then ids).

    ``camera_only`` are detections no cuboid explains (``object_id`` -1); their priority scales with the
    detector's confidence.
    """
    conf = {c.object_id: c.provenance.confidence for c in cuboids}
    items: list[ReviewItem] = []

    def add(reason, modalities, ids, scale=1.0, camera=None, detail=""):
        items.append(
            ReviewItem(
                reason, modalities, round(BASE_PRIORITY[reason] * scale, 4), ids, stamp, camera, detail
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
            )
        if points_box is not None:
            iou = box_iou(box.box, points_box)
            if iou < cfg.mismatch_iou:
                add(
                    BOX_MISMATCH,
                    lc,
                    (box.object_id,),
                    conf.get(box.object_id, 0.5),
                    box.camera,
                    f"IoU {iou:.2f} between projected cuboid and visible LiDAR points",
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
        )
    for cand in radar_candidates:
        add(
            RADAR_WITHOUT_LIDAR,
            (Modality.RADAR, Modality.LIDAR),
            (),
            1.0,
            None,
            f"{cand.radar}: {cand.num_detections} detections, radial {cand.range_rate:.1f} m/s",
        )
    for oid, measured, expected in radar_mismatches:
        add(
            RADAR_VELOCITY_MISMATCH,
            (Modality.RADAR, Modality.TRACK),
            (oid,),
            conf.get(oid, 0.5),
            None,
            f"radar {measured:.1f} m/s, track {expected:.1f} m/s",
        )
    for oid, old, new in class_flips:
        add(CLASS_FLIP, (Modality.LIDAR, Modality.TRACK), (oid,), 1.0, None, f"{old.value} -> {new.value}")
    for old, new in id_switches:
        add(ID_SWITCH, (Modality.TRACK,), (old, new), 1.0, None, f"track {old} ended where {new} began")
    items.sort(key=lambda it: (-it.priority, it.reason, it.object_ids))
    return items
