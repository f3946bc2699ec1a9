"""Hysteresis and merging: one situation gives one event, short spikes give none."""

from mmfusion_annotate.events.episodes import Episode, identity
from mmfusion_annotate.events.model import Category, Severity

MS = 1_000_000


def _episode(min_duration_s=0.3, merge_gap_s=1.0):
    rule = identity("t", Category.DRIVING, "1.x", min_duration_s, merge_gap_s, lower_is_worse=True,
                    severity=lambda v: Severity.CRITICAL if v < -6 else Severity.WATCH)
    return Episode(rule, "ego")


def _run(episode, values, enter=-4.0, release=-3.5, dt_ms=10):
    events = []
    for i, v in enumerate(values):
        e = episode.step(i * dt_ms * MS, v <= enter, v <= release, v, {"a": v})
        events += [e] if e else []
    last = episode.flush()
    return events + ([last] if last else [])


def test_spike_shorter_than_min_duration_gives_nothing():
    assert _run(_episode(), [0.0] * 50 + [-7.0] * 20 + [0.0] * 200) == []


def test_sustained_braking_gives_one_event_with_peak_and_times():
    values = [0.0] * 100 + [-4.5] * 40 + [-6.5] * 10 + [-4.5] * 30 + [0.0] * 200
    (event,) = _run(_episode(), values)
    assert event.start == 100 * 10 * MS and event.end == 179 * 10 * MS
    assert event.detected == 130 * 10 * MS
    assert event.peak == 140 * 10 * MS and event.severity is Severity.CRITICAL
    assert event.evidence_dict()["a"] == -6.5


def test_dips_inside_the_merge_gap_and_hysteresis_keep_one_event():
    burst = [-4.5] * 40 + [-3.8] * 30 + [0.0] * 50 + [-4.5] * 40 + [0.0] * 200
    events = _run(_episode(), [0.0] * 10 + burst)
    assert len(events) == 1
    assert events[0].end == (10 + 40 + 30 + 50 + 40 - 1) * 10 * MS


def test_gap_longer_than_merge_gives_two_events_with_distinct_deterministic_ids():
    values = [0.0] * 10 + [-4.5] * 40 + [0.0] * 150 + [-4.5] * 40 + [0.0] * 200
    first = _run(_episode(), values)
    again = _run(_episode(), values)
    assert len(first) == 2 and first[0].id != first[1].id
    assert [e.id for e in first] == [e.id for e in again]
