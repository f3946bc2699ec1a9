"""SyncCore: optional inputs, offsets, drop accounting, time jumps, latency budget, set metadata."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmfusion_annotate.errors import ConfigError, SyncError
from mmfusion_annotate.sync import InputSpec, SyncConfig, SyncCore

MS = 1_000_000


def stream(rates_ms: dict[int, int], until_ms: int, jitter=lambda lane, k: 0):
    """(lane, stamp) in stamp order for inputs publishing every ``rates_ms[lane]`` ms."""
    out = [(k * p * MS + jitter(lane, k), lane) for lane, p in rates_ms.items() for k in range(until_ms // p)]
    return [(lane, t) for t, lane in sorted(out)]


def feed_all(core, arrivals):
    sets = []
    for lane, stamp in arrivals:
        sets += core.feed(lane, stamp, (lane, stamp))
    return sets


def lidar_radar(policy="optimal", **radar):
    specs = [InputSpec(name="lidar", period_ns=100 * MS), InputSpec(name="radar", optional=True, **radar)]
    return SyncCore(specs, SyncConfig(max_interval_ns=30 * MS, slop_ns=30 * MS), policy)


def test_silent_optional_input_is_left_out_then_taken_back():
    deadline = 250 * MS
    core = lidar_radar(period_ns=77 * MS, deadline_ns=deadline)
    silent = range(1001 * MS, 2000 * MS)
    arrivals = [(lane, t) for lane, t in stream({0: 100, 1: 77}, 3000) if not (lane == 1 and t in silent)]
    last_radar = max(t for lane, t in arrivals if lane == 1 and t <= 1000 * MS)
    sets = feed_all(core, arrivals)
    full = [s for s in sets if not s.missing]
    partial = [s for s in sets if s.missing]
    assert partial and all(s.missing == (1,) and s.slots[1] is None and s.stamps[1] is None for s in partial)
    # sets without radar only for lidar sweeps of the silence, and only once the deadline has passed
    assert all(1000 * MS <= s.reference_stamp <= 2000 * MS for s in partial)
    assert all(s.emitted_ns > last_radar + deadline for s in partial)
    assert any(s.reference_stamp < 1000 * MS for s in full)
    assert any(s.reference_stamp > 2000 * MS for s in full)
    assert core.stats.partial_sets == len(partial)
    assert core.active == (True, True)


@pytest.mark.parametrize("policy", ["greedy", "optimal"])
def test_optional_input_that_never_arrives_does_not_stall(policy):
    core = lidar_radar(policy, period_ns=77 * MS)  # default deadline: 3 periods
    sets = feed_all(core, [(0, k * 100 * MS) for k in range(10)])
    assert len(sets) >= 6 and all(s.missing == (1,) for s in sets)
    assert core.active == (True, False)


def test_stale_optional_messages_are_counted():
    core = lidar_radar(deadline_ns=150 * MS)
    core.feed(1, 200 * MS, "radar1", now_ns=200 * MS)
    core.feed(1, 210 * MS, "radar2", now_ns=210 * MS)
    core.tick(300 * MS)
    assert core.stats.inputs[1].stale_optional == 0
    core.tick(400 * MS)  # radar silent 190 ms > deadline: its queued messages are stale
    assert core.stats.inputs[1].stale_optional == 2 and core.active == (True, False)


def test_tick_applies_deadlines_with_an_injected_clock():
    core = lidar_radar(deadline_ns=150 * MS)
    core.feed(0, 0, "l0", now_ns=0)
    assert core.tick(100 * MS) == [] and core.active == (True, True)
    sets = core.tick(200 * MS)
    assert core.active == (True, False) and [s.slots for s in sets] == [("l0", None)]


@pytest.mark.parametrize("policy", ["greedy", "optimal"])
def test_offsets_do_not_depend_on_arrival_order(policy):
    offset = 40 * MS
    specs = [InputSpec(name="a"), InputSpec(name="b", offset_ns=offset), InputSpec(name="c")]
    config = SyncConfig(slop_ns=10 * MS, max_interval_ns=10 * MS)
    per_input = {0: [k * 100 * MS for k in range(8)], 1: [k * 100 * MS + offset + 3 * MS for k in range(8)],
                 2: [k * 100 * MS + 2 * MS for k in range(8)]}
    results = []
    for order in itertools.permutations(range(3)):
        core = SyncCore(specs, config, policy)
        arrivals = [(lane, per_input[lane][k]) for k in range(8) for lane in order]
        results.append([s.stamps for s in feed_all(core, arrivals)])
    assert all(r == results[0] for r in results) and len(results[0]) >= 7
    assert results[0][0] == (0, offset + 3 * MS, 2 * MS)


def test_set_metadata():
    specs = [InputSpec(name="cam"), InputSpec(name="lidar", offset_ns=5 * MS)]
    core = SyncCore(specs, SyncConfig(slop_ns=20 * MS, reference="lidar"), "greedy")
    core.feed(0, 100 * MS, "cam")
    (synced,) = core.feed(1, 112 * MS, "lidar")
    assert synced.slots == ("cam", "lidar")
    assert synced.stamps == (100 * MS, 112 * MS)
    assert synced.reference_stamp == 107 * MS  # the lidar's offset-corrected stamp
    assert synced.skews_ns == (-7 * MS, 0)
    assert synced.span_ns == 7 * MS and synced.missing == () and not synced.forced
    assert synced.arrival_latency_ns == (0, 0)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["greedy", "optimal"]),
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 400)), min_size=1, max_size=60),
    st.integers(1, 5),
)
def test_every_message_is_accounted_for(policy, arrivals, queue_size):
    drops = []
    config = SyncConfig(queue_size=queue_size, slop_ns=30, max_interval_ns=30, time_jump_ns=None)
    core = SyncCore([InputSpec(name=f"i{i}") for i in range(3)], config, policy,
                    on_drop=lambda *d: drops.append(d))
    feed_all(core, arrivals)
    assert len(drops) == sum(c.dropped() for c in core.stats.inputs)
    for lane, counters in enumerate(core.stats.inputs):
        queued = counters.received - counters.emitted - counters.dropped()
        assert counters.received == sum(1 for a, _ in arrivals if a == lane)
        assert 0 <= queued <= queue_size


def test_queue_overflow_is_counted_as_evicted():
    core = SyncCore([InputSpec(name="a"), InputSpec(name="b")], SyncConfig(queue_size=2), "optimal")
    feed_all(core, [(0, t) for t in range(5)])
    assert core.stats.inputs[0].evicted == 3


def test_out_of_order_and_duplicates_are_dropped_by_optimal(caplog):
    core = SyncCore([InputSpec(name="a"), InputSpec(name="b")], SyncConfig(), "optimal")
    with caplog.at_level(logging.WARNING):
        feed_all(core, [(0, 100), (0, 50), (0, 40), (0, 100)])
    assert core.stats.inputs[0].out_of_order == 2 and core.stats.inputs[0].duplicate == 1
    assert sum("go backwards" in r.getMessage() for r in caplog.records) == 1


def test_rate_warning_once_when_messages_come_too_fast(caplog):
    core = SyncCore([InputSpec(name="a", period_ns=100 * MS)], SyncConfig(), "optimal")
    with caplog.at_level(logging.WARNING):
        feed_all(core, [(0, 0), (0, 10 * MS), (0, 20 * MS)])
    assert sum("closer than" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("policy", ["greedy", "optimal"])
def test_time_jump_backwards_resets_and_sync_resumes(policy):
    core = SyncCore([InputSpec(name="a"), InputSpec(name="b")],
                    SyncConfig(slop_ns=20 * MS, max_interval_ns=20 * MS), policy)
    loop = stream({0: 100, 1: 50}, 2000, jitter=lambda lane, k: lane * 3 * MS)
    first = feed_all(core, loop)
    second = feed_all(core, loop)  # the bag loops: stamps restart at 0
    assert core.stats.resets == 1
    assert [s.stamps for s in second] == [s.stamps for s in first] and len(first) >= 15


def test_latency_budget_publishes_unproven_candidate():
    config = SyncConfig(max_interval_ns=50 * MS, max_latency_ns=100 * MS)
    core = SyncCore([InputSpec(name="a"), InputSpec(name="b")], config, "optimal")
    core.feed(0, 0, "a0", now_ns=0)
    assert core.feed(1, 5 * MS, "b5", now_ns=10 * MS) == []  # not provable without the next message
    assert core.tick(90 * MS) == []
    (forced,) = core.tick(120 * MS)
    assert forced.slots == ("a0", "b5") and forced.forced and core.stats.forced_sets == 1


def test_bad_configuration_names_the_key():
    with pytest.raises(ConfigError, match="deadline_ns"):
        SyncCore([InputSpec(name="a"), InputSpec(name="r", optional=True)])
    with pytest.raises(ConfigError, match="unique"):
        SyncCore([InputSpec(name="a"), InputSpec(name="a")])
    with pytest.raises(ConfigError, match="reference"):
        SyncCore([InputSpec(name="a")], SyncConfig(reference="x"))
    with pytest.raises(SyncError):
        SyncCore([InputSpec(name="a")]).feed(3, 0, None)
