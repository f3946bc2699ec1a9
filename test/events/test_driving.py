"""Driving rules on constructed series with known event times (independent of the simulator)."""

import numpy as np
import pytest

from mmfusion_annotate.events import (
    EgoEstimator,
    EgoKinematics,
    EventTagger,
    Severity,
    TrackedObject,
    TrackFrame,
    load_rules,
)
from mmfusion_annotate.events.ego import Lowpass
from mmfusion_annotate.types import seconds_to_ns

RULES = load_rules()


def _imu_drive(accel_of_t, duration_s=20.0, noise=0.25, seed=0, speed0=15.0):
    """EgoStates from a 100 Hz noisy IMU following ``accel_of_t`` (plus odometry speed)."""
    rng = np.random.default_rng(seed)
    estimator = EgoEstimator(RULES.ego_filter)
    speed, states = speed0, []
    for i in range(int(duration_s * 100)):
        t = i / 100
        a = accel_of_t(t) if speed > 0 else 0.0
        speed = max(0.0, speed + a / 100)
        estimator.update_odometry(np.array([speed, 0.0, 0.0]))
        accel = np.array([a, 0.0, 9.81]) + rng.normal(0, noise, 3)
        gyro = rng.normal(0, 0.002, 3)
        states.append(estimator.update_imu(seconds_to_ns(t), accel, gyro))
    return states


@pytest.mark.parametrize("order", [1, 2, 5])
def test_the_streaming_lowpass_gives_what_sosfilt_gives_over_the_whole_series(order):
    from scipy import signal

    sos = signal.butter(order, 2.0, fs=100.0, output="sos")
    series = np.random.default_rng(order).normal(3.0, 1.0, 500)
    batch, _ = signal.sosfilt(sos, series, zi=signal.sosfilt_zi(sos) * series[0])
    channel = Lowpass(sos)
    np.testing.assert_allclose([channel(x) for x in series], batch, rtol=0, atol=1e-12)


def _types(events):
    return sorted({e.type for e in events})


def test_calm_noisy_drive_gives_no_driving_event():
    states = _imu_drive(lambda t: 0.8 * np.sin(0.3 * t))
    assert EventTagger(RULES).run(states) == []


def test_hard_braking_found_within_tolerance_with_tier():
    states = _imu_drive(lambda t: -6.5 if 5.0 <= t < 7.0 else 0.0)
    events = [e for e in EventTagger(RULES).run(states) if e.type == "hard_braking"]
    assert len(events) == 1
    (event,) = events
    assert abs(event.start - seconds_to_ns(5.0)) <= seconds_to_ns(0.3)
    assert event.severity is Severity.CRITICAL
    assert event.evidence_dict()["accel_long_mps2"] < -6.0
    assert event.detected - event.start >= seconds_to_ns(0.3)


def test_moderate_braking_is_watch_and_short_jolt_is_not_braking():
    moderate = _imu_drive(lambda t: -4.8 if 5.0 <= t < 6.5 else 0.0)
    (event,) = [e for e in EventTagger(RULES).run(moderate) if e.type == "hard_braking"]
    assert event.severity is Severity.WATCH
    jolt = _imu_drive(lambda t: -9.0 if 5.0 <= t < 5.1 else 0.0)
    assert "hard_braking" not in _types(EventTagger(RULES).run(jolt))


def test_harsh_acceleration_lateral_and_jerk():
    states = [EgoKinematics(seconds_to_ns(i / 100), 10.0, 3.0 if 200 <= i < 260 else 0.0,
                       -3.5 if 500 <= i < 560 else 0.0, 0.0, 10.0 if 800 <= i < 815 else 0.0)
              for i in range(1200)]
    events = EventTagger(RULES).run(states)
    assert _types(events) == ["harsh_acceleration", "harsh_lateral", "high_jerk"]
    starts = {e.type: e.start for e in events}
    assert starts == {"harsh_acceleration": seconds_to_ns(2.0), "harsh_lateral": seconds_to_ns(5.0),
                      "high_jerk": seconds_to_ns(8.0)}


def _follow(objects_of_t, duration_s=12.0, speed=15.0):
    """Ego at constant speed; track frames at 10 Hz from ``objects_of_t``, ego states at 100 Hz."""
    obs = []
    for i in range(int(duration_s * 100)):
        t = i / 100
        obs.append(EgoKinematics(seconds_to_ns(t), speed, 0.0, 0.0, 0.0, 0.0))
        if i % 10 == 5:
            obs.append(TrackFrame(seconds_to_ns(t), tuple(objects_of_t(t))))
    return obs


def test_low_ttc_to_braking_lead_with_tiers_and_object_id():
    # Lead 40 m ahead at ego speed; from t=4 s it slows at 3 m/s^2 to 0 -> TTC falls below 3 s.
    def lead(t):
        dt = max(0.0, t - 4.0)
        v = max(0.0, 15.0 - 3.0 * dt)
        travelled = 15.0 * min(t, 4.0) + (15.0 * dt - 1.5 * dt * dt if v > 0 else 15.0 ** 2 / 6)
        return [TrackedObject(7, "car", (40.0 + travelled - 15.0 * t, 0.2), (v, 0.0))]

    events = EventTagger(RULES).run(_follow(lead, duration_s=8.0))
    ttc = [e for e in events if e.type == "low_ttc"]
    assert len(ttc) == 1 and ttc[0].object_ids == (7,)
    gap0 = 40.0 - 2.25 - RULES.ego.front_m
    # s = t - 4: closing speed 3 s, gap gap0 - 1.5 s^2; TTC = 3 when 1.5 s^2 + 9 s - gap0 = 0
    s = (-9 + np.sqrt(81 + 6 * gap0)) / 3
    assert abs(ttc[0].start - seconds_to_ns(4.0 + s)) <= seconds_to_ns(0.3)
    assert ttc[0].severity in (Severity.CRITICAL, Severity.SEVERE)


def test_radar_radial_velocity_replaces_tracked_velocity_for_ttc():
    # The tracker says the lead keeps ego speed; radar says it is stopped: TTC follows radar.
    obj = TrackedObject(3, "car", (30.0, 0.0), (15.0, 0.0), radial_velocity=0.0)
    events = EventTagger(RULES).run(_follow(lambda t: [obj], duration_s=2.0))
    assert [e.type for e in events] == ["low_ttc"]
    no_radar = TrackedObject(3, "car", (30.0, 0.0), (15.0, 0.0))
    assert EventTagger(RULES).run(_follow(lambda t: [no_radar], duration_s=2.0)) == []


def test_short_headway_needs_two_seconds():
    def close(t):
        return [TrackedObject(4, "car", (RULES.ego.front_m + 2.25 + 10.0, 0.0), (15.0, 0.0))]  # 0.67 s
    events = EventTagger(RULES).run(_follow(close, duration_s=6.0))
    assert [(e.type, e.object_ids) for e in events] == [("short_headway", (4,))]
    assert events[0].detected - events[0].start >= seconds_to_ns(2.0)
    def brief(t):
        return close(t) if 1.0 < t < 2.5 else []
    assert EventTagger(RULES).run(_follow(brief, duration_s=6.0)) == []


def test_pedestrian_stepping_towards_the_path():
    # Pedestrian standing still in the world (ego closes at 15 m/s), 6 m to the right of the path,
    # walking left at 1.5 m/s from t=2 s.
    def ped_static_world(t):
        y = -6.0 + 1.5 * max(0.0, t - 2.0)
        vy = 1.5 if t >= 2.0 else 0.0
        return [TrackedObject(11, "pedestrian", (80.0 - 15.0 * t, y), (0.0, vy), (0.5, 0.5))]

    events = [e for e in EventTagger(RULES).run(_follow(ped_static_world, duration_s=4.5))
              if e.type == "vru_proximity"]
    assert len(events) == 1 and events[0].object_ids == (11,)
    # within 2 m of the corridor: |y| <= 0.95 + 0.25 + 2 -> y >= -3.2 -> t = 2 + 2.8 / 1.5
    expected = 2.0 + 2.8 / 1.5
    assert abs(events[0].start - seconds_to_ns(expected)) <= seconds_to_ns(0.3)


def test_cut_in_from_adjacent_lane():
    # Car 15 m ahead in the left lane (y = 3.5) at ego speed, changes lane from t=3 s over 3 s.
    def car(t):
        s = np.clip((t - 3.0) / 3.0, 0.0, 1.0)
        y = 3.5 * (1 - (s - np.sin(2 * np.pi * s) / (2 * np.pi)))
        vy = -3.5 / 3.0 * (1 - np.cos(2 * np.pi * s)) if 0 < s < 1 else 0.0
        return [TrackedObject(5, "car", (20.0, y), (15.0, vy))]

    events = EventTagger(RULES).run(_follow(car, duration_s=9.0))
    assert [(e.type, e.object_ids) for e in events] == [("cut_in", (5,))]
    ys = {t: car(t)[0].position[1] for t in np.arange(3.0, 6.0, 0.001)}
    crossing = min(t for t, y in ys.items() if y < RULES.ego.lane_half_width_m)
    assert abs(events[0].start - seconds_to_ns(crossing)) <= seconds_to_ns(0.3)


def test_unsure_cyclist_label_raises_no_vru_event():
    """A parked car the classifier calls cyclist at 0.3 is no VRU; the same track at 0.8 is."""

    def parked(confidence):
        return lambda t: [TrackedObject(12, "cyclist", (40.0 - 15.0 * t, -2.0), (0.0, 0.0), (1.8, 0.6),
                                        confidence=confidence)]

    unsure = EventTagger(RULES).run(_follow(parked(0.3), duration_s=3.0))
    sure = EventTagger(RULES).run(_follow(parked(0.8), duration_s=3.0))
    assert "vru_proximity" not in _types(unsure)
    assert "vru_proximity" in _types(sure)


@pytest.mark.parametrize(("x0", "lead_speed", "severity"),
                         [(30.0, 15.0, Severity.WATCH), (45.0, 5.0, Severity.CRITICAL)])
def test_cut_in_severity_follows_its_ttc_tiers(x0, lead_speed, severity):
    """Cutting in at the ego's speed keeps the gap (watch); 10 m/s slower, its TTC falls to ~1.1 s while
    it moves in (the 1.5 s tier: critical)."""

    def car(t):
        s = np.clip((t - 1.0) / 2.0, 0.0, 1.0)
        y = 3.5 * (1 - (s - np.sin(2 * np.pi * s) / (2 * np.pi)))
        vy = -3.5 / 2.0 * (1 - np.cos(2 * np.pi * s)) if 0 < s < 1 else 0.0
        return [TrackedObject(5, "car", (x0 + (lead_speed - 15.0) * t, y), (lead_speed, vy))]

    events = [e for e in EventTagger(RULES).run(_follow(car, duration_s=3.5)) if e.type == "cut_in"]
    assert len(events) == 1 and events[0].severity is severity
    assert "min_ttc_s" in events[0].evidence_dict()


def test_car_already_in_lane_or_passing_is_not_a_cut_in():
    def parked_in_lane(t):
        return [TrackedObject(8, "car", (25.0, 0.5), (15.0, -0.6))]
    assert "cut_in" not in _types(EventTagger(RULES).run(_follow(parked_in_lane, duration_s=3.0)))


@pytest.mark.parametrize("seed", [1, 2])
def test_same_input_same_events(seed):
    states = _imu_drive(lambda t: -7.0 if 3.0 <= t < 5.0 else 0.0, seed=seed, duration_s=8.0)
    a, b = EventTagger(RULES).run(states), EventTagger(RULES).run(states)
    assert a == b and a


def test_lead_vehicle_braking_from_track_velocity():
    def lead(t):
        v = 15.0 if t < 4.0 else max(0.0, 15.0 - 6.0 * (t - 4.0))
        return [TrackedObject(9, "car", (30.0, 0.0), (v, 0.0))]

    events = [e for e in EventTagger(RULES).run(_follow(lead, duration_s=8.0)) if e.type == "lead_braking"]
    assert [(e.object_ids, e.severity) for e in events] == [((9,), Severity.CRITICAL)]
    assert abs(events[0].start - seconds_to_ns(4.0)) <= seconds_to_ns(0.3)


def test_cyclist_alongside_keeps_one_close_pass_event():
    # Cyclist 1.15 m beside the ego's right side, ego 7 m/s faster: TTC < 3 s ahead, then alongside.
    def cyclist(t):
        return [TrackedObject(2, "cyclist", (30.0 - 7.0 * t, -2.4), (8.0, 0.0), (1.8, 0.6))]

    events = EventTagger(RULES).run(_follow(cyclist, duration_s=7.0))
    events = [e for e in events if e.type == "vru_proximity"]
    assert len(events) == 1 and events[0].object_ids == (2,)
    side_by_side = seconds_to_ns(30.0 / 7.0)
    assert events[0].start < side_by_side < events[0].end
