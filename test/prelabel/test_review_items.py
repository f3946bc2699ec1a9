"""Review items: the evidence each keeps, its priority, and the rules that keep clean drives quiet."""

import pytest

from mmfusion_annotate.prelabel import review
from mmfusion_annotate.prelabel.config import CameraConfig
from mmfusion_annotate.prelabel.model import Box2D, Cuboid, ObjectClass, Provenance, RadarCandidate

CFG = CameraConfig()
CAR = Cuboid(4, 0, (30.0, 0.0, 0.8), (4.5, 1.9, 1.5), 0.0, ObjectClass.CAR, 40, Provenance("t", "", 0.8))


def _box(xyxy=(100.0, 100.0, 200.0, 150.0), evidence=0.9):
    return Box2D(4, "cam_front", 0, xyxy, 0.0, 0.9, evidence, ObjectClass.CAR, Provenance("t", "", 0.8))


def _radar(x, y):
    return RadarCandidate(0, "radar_front", 0, (x, y, 0.5), 6.0, 5.0, 2, Provenance("radar", "", 0.2))


def _collect(**kw):
    args = dict(stamp=0, cfg=CFG, cuboids=[CAR], observed_boxes=[], radar_candidates=[], radar_mismatches=[],
                class_flips=[], id_switches=[])
    return review.collect(**{**args, **kw})


def test_far_object_whose_points_are_flat_is_no_box_mismatch_but_a_shifted_one_is():
    """Sparse rings make the points' box short: only a horizontal disagreement counts."""
    flat = (102.0, 120.0, 198.0, 126.0)  # same width, a sliver of the height (two rings)
    shifted = (160.0, 100.0, 260.0, 150.0)
    assert _collect(observed_boxes=[(_box(), flat)]) == []
    [item] = _collect(observed_boxes=[(_box(), shifted)])
    evidence = item.evidence_dict()
    assert item.reason == review.BOX_MISMATCH and evidence["iou_threshold"] == CFG.mismatch_iou
    assert evidence["horizontal_iou"] == pytest.approx(40 / 160)
    compared = ("cuboid_x1_px", "cuboid_x2_px", "points_x1_px", "points_x2_px")
    assert [evidence[k] for k in compared] == [_box().box[0], _box().box[2], 160.0, 260.0]


def test_radar_target_beside_a_cuboid_is_its_return_one_far_away_is_an_item_with_its_position():
    beside = _radar(33.5, 0.5)  # 1.25 m past the car's rear face
    alone = _radar(60.0, 2.0)
    items = _collect(radar_candidates=[beside, alone], radar_near_cuboid_m=2.0)
    assert [i.reason for i in items] == [review.RADAR_WITHOUT_LIDAR]
    assert items[0].evidence_dict()["x_m"] == 60.0 and items[0].evidence_dict()["y_m"] == 2.0


def test_priority_is_severity_times_confidence_times_modalities():
    items = _collect(radar_mismatches=[(4, 10.0, 4.0)], id_switches=[(3, 4)], radar_tolerance_mps=1.5)
    by_reason = {i.reason: i for i in items}
    mismatch, switch = by_reason[review.RADAR_VELOCITY_MISMATCH], by_reason[review.ID_SWITCH]
    assert mismatch.priority == pytest.approx(review.SEVERITY[mismatch.reason] * 0.8)  # two modalities
    assert switch.priority == pytest.approx(review.SEVERITY[switch.reason] * 0.5)  # the track alone
    assert mismatch.evidence_dict() == {"radar_mps": 10.0, "track_mps": 4.0, "tolerance_mps": 1.5}
    assert (mismatch.severity, mismatch.confidence) == (review.SEVERITY[mismatch.reason], 0.8)
