"""Injected simulator faults raise their sensor-health event; the fault-free drive raises none.

Stream faults (frame drops, a silent radar) need only the drive's message schedule; the clock and
calibration faults are judged from the data (LiDAR depth edges against camera image edges), so those
drives render the front camera and the LiDAR for a few seconds.
"""

import pytest
from events_sim import observations

from mmfusion_annotate.events import Arrival, Category, EventTagger
from mmfusion_annotate.sim import Drive, load_scenario
from mmfusion_annotate.types import seconds_to_ns

CAMERA = "cam_front"


def _stream_events(rig, rules, faults=None):
    drive = Drive(rig, "calm", faults=faults)
    watched = {s.name: s.rate_hz for s in [*rig.cameras(), *rig.lidars(), *rig.radars()]}
    arrivals = [Arrival(t.sensor, t.stamp) for t in drive.ticks if t.sensor in watched]
    return drive, EventTagger.for_rig(rig, rules).run(arrivals)


def test_fault_free_schedule_raises_no_health_event(rig, rules):
    for seed in (10, 11):
        drive = Drive(rig, "calm", seed=seed)
        arrivals = [Arrival(t.sensor, t.stamp) for t in drive.ticks if t.sensor not in ("imu", "odometry")]
        assert EventTagger.for_rig(rig, rules).run(arrivals) == []


def test_camera_frame_drops_raise_rate_drop_for_that_camera_only(rig, rules):
    _, events = _stream_events(rig, rules, [{"type": "frame_drop", "sensor": CAMERA, "probability": 0.3}])
    assert events and {e.sensor for e in events} == {CAMERA}
    assert "rate_drop" in {e.type for e in events}


def test_silent_radar_is_one_dropout_from_when_it_fell_silent(rig, rules):
    drive, events = _stream_events(rig, rules, [{"type": "silent", "sensor": "radar_front", "start_s": 5.0}])
    assert [(e.type, e.sensor) for e in events] == [("dropout", "radar_front")]
    assert abs(events[0].start - seconds_to_ns(5.0)) <= seconds_to_ns(1 / 13)
    assert events[0].end == max(t.stamp for t in drive.ticks if t.sensor != "imu" and t.sensor != "odometry")


def _data_events(rig, rules, faults):
    scenario = load_scenario("calm").model_copy(update={"duration_s": 3.0})
    _, obs = observations(rig, rules, scenario, sensors=("lidar_top", "odometry", CAMERA), faults=faults,
                          tracks=False, alignment_cameras=(CAMERA,), alignment_every=2)
    events = EventTagger(rules).run(obs)
    assert all(e.category is Category.SENSOR_HEALTH and e.sensor == CAMERA for e in events)
    return events


@pytest.mark.slow
def test_fault_free_camera_raises_no_sync_or_calibration_event(rig, rules):
    assert _data_events(rig, rules, None) == []


@pytest.mark.slow
def test_40ms_clock_offset_found_from_the_data_with_its_value(rig, rules):
    events = _data_events(rig, rules, [{"type": "clock_offset", "sensor": CAMERA, "offset_ms": 40.0}])
    assert [e.type for e in events] == ["sync_drift"]
    # stamps run 40 ms late: the true exposure is 40 ms before the stamp
    assert abs(events[0].evidence_dict()["offset_ms"] + 40.0) < 10.0


@pytest.mark.slow
def test_slow_clock_drift_raises_sync_drift_once_it_exceeds_the_tolerance(rig, rules):
    events = _data_events(rig, rules, [{"type": "clock_drift", "sensor": CAMERA, "ms_per_s": 10.0,
                                        "start_s": 0.5}])
    assert [e.type for e in events] == ["sync_drift"]
    # the stamp error passes 10 ms at 1.5 s; the windowed estimate follows it
    assert seconds_to_ns(1.5) <= events[0].start <= seconds_to_ns(2.5)


@pytest.mark.slow
def test_half_degree_camera_yaw_error_raises_calibration_drift_not_sync(rig, rules):
    events = _data_events(rig, rules, [{"type": "calibration_error", "sensor": CAMERA, "yaw_deg": 0.5}])
    assert [e.type for e in events] == ["calibration_drift"]
    evidence = events[0].evidence_dict()
    assert evidence["score_gain"] > rules.calibration_drift.margin
    assert abs(abs(evidence["correction_ry_deg"]) - 0.5) < 0.15  # pan is rotation about the optical y axis


@pytest.mark.slow
def test_moving_traffic_is_left_out_of_the_edge_checks(rig, rules):
    # At the start of the calm drive the rear camera sees only an overtaking car: without its track the
    # static-world compensation mistakes its motion for a clock error; with tracks its points are dropped.
    scenario = load_scenario("calm").model_copy(update={"duration_s": 3.0})
    for tracks, expect_events in ((False, True), (True, False)):
        _, obs = observations(rig, rules, scenario, sensors=("lidar_top", "odometry", "imu", "cam_back"),
                              tracks=tracks, alignment_cameras=("cam_back",), alignment_every=2)
        assert bool(EventTagger(rules).run(obs)) is expect_events
