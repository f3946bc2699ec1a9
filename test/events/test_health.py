"""Sensor-health rules from stamps and review counts on constructed streams."""

import numpy as np

from mmfusion_annotate.events import Arrival, EventTagger, ReviewCounts, Severity, load_rules
from mmfusion_annotate.types import seconds_to_ns

RULES = load_rules()
RATES = {"cam": 12.0, "lidar": 10.0, "radar": 13.0}


def _arrivals(duration_s=30.0, seed=0, drop=lambda name, t: False, jitter_ms=2.0):
    """Time-ordered arrivals of every sensor with jitter; ``drop(name, t)`` removes messages."""
    rng = np.random.default_rng(seed)
    out = []
    for name, hz in RATES.items():
        for k in range(int(duration_s * hz)):
            t = k / hz + rng.normal(0, jitter_ms * 1e-3) + 0.01
            if not drop(name, t):
                out.append(Arrival(name, seconds_to_ns(t)))
    return sorted(out, key=lambda a: (a.stamp, a.sensor))


def test_fault_free_streams_raise_nothing():
    for seed in range(3):
        assert EventTagger(RULES, nominal_rates_hz=RATES).run(_arrivals(seed=seed)) == []


def test_gap_of_a_second_is_one_dropout_from_the_last_message():
    arrivals = _arrivals(drop=lambda n, t: n == "cam" and 12.0 <= t < 13.0)
    events = EventTagger(RULES, nominal_rates_hz=RATES).run(arrivals)
    assert [(e.type, e.sensor) for e in events] == [("dropout", "cam")]
    (event,) = events
    last_before = max(a.stamp for a in arrivals if a.sensor == "cam" and a.stamp < seconds_to_ns(12.0))
    assert event.start == last_before and event.severity is Severity.CRITICAL
    assert abs(event.end - seconds_to_ns(13.0)) < seconds_to_ns(0.1)
    assert event.detected - event.start > 3 * seconds_to_ns(1 / 12)


def _delivered_late(arrivals, sensor, start_s, end_s, lag_s):
    """The same stamps, but ``sensor``'s messages stamped in [start_s, end_s) arrive ``lag_s`` late (as
    live DDS delivers a high-rate topic to a busy process): arrival order changes, stamps do not."""
    def arrives(a):
        late = a.sensor == sensor and seconds_to_ns(start_s) <= a.stamp < seconds_to_ns(end_s)
        return a.stamp + (seconds_to_ns(lag_s) if late else 0)
    return sorted(arrivals, key=lambda a: (arrives(a), a.sensor))


def test_messages_arriving_late_are_not_a_dropout_but_a_gap_still_is():
    lag = RULES.dropout.delivery_lag_s
    late = _delivered_late(_arrivals(), "radar", 10.0, 12.0, 0.8 * lag)
    assert EventTagger(RULES, nominal_rates_hz=RATES).run(late) == []
    # without the allowance the same arrival order is a (false) dropout
    strict = RULES.model_copy(update={"dropout": RULES.dropout.model_copy(update={"delivery_lag_s": 0.0})})
    assert [e.type for e in EventTagger(strict, nominal_rates_hz=RATES).run(late)] == ["dropout"]
    # a real gap delivered late is found with its exact start and end
    gap = _delivered_late(_arrivals(drop=lambda n, t: n == "radar" and 12.0 <= t < 13.0), "radar", 13.0, 14.0,
                          0.8 * lag)  # fmt: skip
    (event,) = EventTagger(RULES, nominal_rates_hz=RATES).run(gap)
    assert event.type == "dropout" and event.sensor == "radar"
    assert abs(event.start - seconds_to_ns(12.0)) < seconds_to_ns(0.1)
    assert abs(event.end - seconds_to_ns(13.0)) < seconds_to_ns(0.1)


def test_two_missing_frames_are_not_a_dropout():
    arrivals = _arrivals(drop=lambda n, t: n == "cam" and 12.0 <= t < 12.17)
    assert EventTagger(RULES, nominal_rates_hz=RATES).run(arrivals) == []


def test_silent_from_the_start_is_one_dropout_until_the_end():
    arrivals = _arrivals(duration_s=5.0, drop=lambda n, t: n == "radar")
    events = EventTagger(RULES, nominal_rates_hz=RATES).run(arrivals)
    assert [(e.type, e.sensor) for e in events] == [("dropout", "radar")]
    assert events[0].start == arrivals[0].stamp and events[0].end == arrivals[-1].stamp


def test_every_third_frame_lost_is_a_rate_drop_not_a_dropout():
    arrivals = _arrivals(drop=lambda n, t: n == "lidar" and t > 15.0 and int(round(t * 10)) % 3 == 0)
    events = EventTagger(RULES, nominal_rates_hz=RATES).run(arrivals)
    assert [(e.type, e.sensor) for e in events] == [("rate_drop", "lidar")]
    assert 0.6 < events[0].evidence_dict()["rate_fraction"] < 0.8


def test_disagreement_rate_above_threshold():
    calm = [ReviewCounts(seconds_to_ns(k / 10), 1 if k % 10 == 0 else 0, 5) for k in range(300)]
    assert EventTagger(RULES).run(calm) == []
    bad = [ReviewCounts(c.stamp, 3 if 100 <= k < 200 else c.review_items, 5) for k, c in enumerate(calm)]
    events = EventTagger(RULES).run(bad)
    assert {e.type for e in events} == {"cross_modal_disagreement"}
    # 0.6 items/object from t=10 s pushes the 10 s window average past 0.25 after ~4 s
    assert seconds_to_ns(13.0) <= events[0].start <= seconds_to_ns(14.5)
    assert all(e.evidence_dict()["disagreement_rate"] > 0.25 for e in events)


def test_disagreement_never_one_drive_long_event():
    """A rate that never clears is a run of events of at most max_duration_s, back to back."""
    stuck = [ReviewCounts(seconds_to_ns(k / 10), 3, 5) for k in range(600)]  # 60 s, 0.6 items/object
    events = EventTagger(RULES).run(stuck)
    limit = seconds_to_ns(RULES.disagreement.max_duration_s)
    assert len(events) >= 5 and all(e.end - e.start <= limit for e in events)
    assert all(b.start - a.end <= seconds_to_ns(0.1) for a, b in zip(events, events[1:], strict=False))
    assert events[-1].end == stuck[-1].stamp


def test_disagreement_is_judged_per_camera():
    """Per-camera counts: the camera whose objects disagree gets the event, the other does not."""
    split = (("cam_a", 2, 5), ("cam_b", 0, 5))
    counts = [ReviewCounts(seconds_to_ns(k / 10), 2, 10, split) for k in range(100)]
    events = EventTagger(RULES).run(counts)
    assert [(e.type, e.sensor) for e in events] == [("cross_modal_disagreement", "cam_a")]
