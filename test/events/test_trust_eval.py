"""Review items and events judged against truth (``trust_eval``), on constructed frames with known answers."""

from mmfusion_annotate.prelabel import review
from mmfusion_annotate.prelabel.metrics import GtObject
from mmfusion_annotate.prelabel.model import Cuboid, ObjectClass, Provenance
from mmfusion_annotate.trust_eval import FaultSpan, ItemRecord, ScriptedEvent, TrustEvaluator, merge_reports
from mmfusion_annotate.types import seconds_to_ns

T = seconds_to_ns(5.0)
CAR = GtObject(1, ObjectClass.CAR, (20.0, 0.0, 0.8), (4.5, 1.9, 1.5), 0.0, (10.0, 0.0))
HIDDEN = GtObject(2, ObjectClass.CAR, (60.0, 0.0, 0.8), (4.5, 1.9, 1.5), 0.0, (15.0, 0.0), ignore=True)


def _cuboid(oid, x, label=ObjectClass.CAR, size=(4.5, 1.9, 1.5)):
    return Cuboid(oid, T, (x, 0.0, 0.8), size, 0.0, label, 50, Provenance("test", "", 0.9), (10.0, 0.0))


def _item(reason, ids=(), camera=None, detail="", **evidence):
    return ItemRecord(reason, T, tuple(ids), camera, detail, tuple(sorted(evidence.items())))


def _row(judge, kind, section="review_items"):
    return judge.report()[section][kind]


def test_box_mismatch_is_right_only_when_the_cuboid_is_off_from_the_truth():
    good, off = TrustEvaluator(), TrustEvaluator()
    good.add_frame(T, [CAR], [_cuboid(7, 20.0)], [_item(review.BOX_MISMATCH, [7], "cam_front")])
    off.add_frame(T, [CAR], [_cuboid(7, 21.8)], [_item(review.BOX_MISMATCH, [7], "cam_front")])
    assert (_row(good, review.BOX_MISMATCH)["tp"], _row(good, review.BOX_MISMATCH)["fp"]) == (0, 1)
    assert (_row(off, review.BOX_MISMATCH)["tp"], _row(off, review.BOX_MISMATCH)["precision"]) == (1, 1.0)


def test_radar_target_is_right_on_a_real_object_lidar_did_not_label():
    judge = TrustEvaluator()
    radar = review.RADAR_WITHOUT_LIDAR
    items = [
        _item(radar, detail="radar_front: 2 detections", x_m=60.5, y_m=0.3),  # the hidden car
        _item(radar, detail="radar_front: 1 detections", x_m=22.5, y_m=0.5),  # the labelled car
        _item(radar, detail="radar_front: 1 detections", x_m=40.0, y_m=9.0),  # nothing there
        _item(radar, detail="radar_front: 1 detections"),  # no position: cannot tell
    ]
    judge.add_frame(T, [CAR, HIDDEN], [_cuboid(7, 20.0)], items)
    row = _row(judge, review.RADAR_WITHOUT_LIDAR)
    assert (row["tp"], row["fp"], row["unjudged"], row["count"]) == (1, 2, 1, 4)


def test_class_flip_right_when_one_side_is_wrong_and_velocity_item_against_truth_radial():
    judge = TrustEvaluator()
    flips = [_item(review.CLASS_FLIP, [7], detail="cyclist -> car")]
    speeds = [_item(review.RADAR_VELOCITY_MISMATCH, [7], radar_mps=10.0, track_mps=10.2, tolerance_mps=1.5),
              _item(review.RADAR_VELOCITY_MISMATCH, [7], radar_mps=10.0, track_mps=4.0, tolerance_mps=1.5)]
    judge.add_frame(T, [CAR], [_cuboid(7, 20.0)], flips + speeds)
    assert _row(judge, review.CLASS_FLIP)["precision"] == 1.0
    row = _row(judge, review.RADAR_VELOCITY_MISMATCH)
    assert (row["tp"], row["fp"]) == (1, 1)


def test_a_fault_is_credited_only_with_items_the_objects_do_not_explain():
    fault = FaultSpan("calibration_error", "cam_front", 0)
    found, missed = TrustEvaluator(faults=[fault]), TrustEvaluator(faults=[fault])
    # a well placed, visible cuboid without camera evidence: only the fault explains it
    car = GtObject(**{**CAR.__dict__, "boxes2d": {"cam_front": (100.0, 100.0, 200.0, 180.0)}})
    found.add_frame(T, [car], [_cuboid(7, 20.0)], [_item(review.NO_CAMERA_EVIDENCE, [7], "cam_front")],
                    cameras_with_truth=["cam_front"])
    missed.add_frame(T, [car], [_cuboid(7, 21.8)], [_item(review.BOX_MISMATCH, [7], "cam_front")])
    assert _row(found, "injected_sensor_fault")["recall"] == 1.0
    assert _row(found, review.NO_CAMERA_EVIDENCE)["precision"] == 1.0
    assert _row(missed, "injected_sensor_fault")["recall"] == 0.0  # the off cuboid explains that item


def _event(type_, start_s, end_s, severity="watch", sensor=None):
    return {"type": type_, "severity": severity, "start_ns": seconds_to_ns(start_s),
            "end_ns": seconds_to_ns(end_s), "sensor": sensor}


def test_events_against_script_faults_and_the_truth_tagger():
    judge = TrustEvaluator(scripted=[ScriptedEvent("cut_in", seconds_to_ns(8.0), (1,))],
                           faults=[FaultSpan("silent", "radar_front", seconds_to_ns(5.0))])
    events = [
        _event("cut_in", 8.2, 10.0),                            # scripted, within 0.3 s
        _event("low_ttc", 8.5, 9.0),                            # the truth tagger has it too
        _event("vru_proximity", 3.0, 4.0, severity="critical"),  # nothing in the truth: false critical
        _event("dropout", 5.0, 20.0, severity="critical", sensor="radar_front"),
    ]
    truth = [_event("low_ttc", 8.4, 9.2)]
    judge.add_events(events, truth, (0, seconds_to_ns(20.0)))
    report = judge.report()["events"]
    assert report["cut_in"]["precision"] == 1.0 and report["cut_in"]["recall"] == 1.0
    assert report["low_ttc"]["tp"] == 1 and report["low_ttc"]["recall"] is None
    assert report["vru_proximity"]["fp"] == 1 and report["vru_proximity"]["false_critical_or_severe"] == 1
    assert report["dropout"]["recall"] == 1.0 and report["dropout"]["false_critical_or_severe"] == 0


def test_missed_scripted_event_and_whole_drive_event_are_counted():
    judge = TrustEvaluator(scripted=[ScriptedEvent("cut_in", seconds_to_ns(8.0))])
    judge.add_events([_event("cut_in", 9.0, 10.0), _event("cross_modal_disagreement", 0.1, 19.9)],
                     drive_span=(0, seconds_to_ns(20.0)))
    report = judge.report()
    assert report["events"]["cut_in"]["fn"] == 1 and report["events"]["cut_in"]["fp"] == 1
    assert report["events_spanning_whole_drive"] == 1
    merged = merge_reports([report, report])
    assert merged["events"]["cut_in"]["fn"] == 2 and merged["events"]["cut_in"]["recall"] == 0.0
    assert merged["events_spanning_whole_drive"] == 2
