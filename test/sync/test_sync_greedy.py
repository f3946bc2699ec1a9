"""The greedy policy reproduces message_filters' Python ApproximateTimeSynchronizer behaviour."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import random
import time
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from mmfusion_annotate.sync import ApproximateTimeSynchronizer, InputSpec, SimpleFilter, SyncConfig, SyncCore

S = 1_000_000_000
_BASELINE = Path(__file__).resolve().parents[2] / "bench" / "upstream_greedy.py"


def _upstream():
    spec = importlib.util.spec_from_file_location("upstream_greedy", _BASELINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UpstreamGreedy


class Msg:
    """A stamped message (hashable by identity, like upstream's test mocks)."""

    def __init__(self, stamp_ns, data=None):
        self.header = SimpleNamespace(stamp=SimpleNamespace(sec=stamp_ns // S, nanosec=stamp_ns % S))
        self.data = data


class Headerless:
    def __init__(self, data):
        self.data = data


msg = Msg


def greedy(n, **config):
    return SyncCore([InputSpec(name=f"i{i}") for i in range(n)], SyncConfig(**config), "greedy")


def make(n, queue_size, slop, **kwargs):
    filters = [SimpleFilter() for _ in range(n)]
    sync = ApproximateTimeSynchronizer(filters, queue_size, slop, **kwargs)
    got = []
    sync.registerCallback(lambda *m: got.append(m))
    return filters, got


def test_pairs_are_combined_on_the_second_message():
    (m0, m1), got = make(2, 1, 0.1)
    for t in range(10):
        got.clear()
        a, b = msg(t * S, 33), msg(t * S, 34)
        m0.signalMessage(a)
        assert got == []
        m1.signalMessage(b)
        assert got == [(a, b)]


def test_scrambled_sequences_recombine():
    rng = random.Random(0)
    for n in range(1, 10):
        (m0, m1), got = make(2, n, 0.1)
        seq0 = [msg(t * S, rng.random()) for t in range(n)]
        seq1 = [msg(t * S, rng.random()) for t in range(n)]
        for m in rng.sample(seq0, n):
            m0.signalMessage(m)
        assert got == []
        for m in rng.sample(seq1, n):
            m1.signalMessage(m)
        assert set(got) == set(zip(seq0, seq1, strict=True))


def test_headerless_messages_take_the_clock_time():
    rng = random.Random(0)
    for n in range(1, 10):
        base = 1_000 * S
        clock = functools.partial(next, itertools.count(base))  # an injected clock returning ns
        (m0, m1), got = make(2, n, 10, allow_headerless=True, clock=clock)
        seq0 = [msg(base + t * S, rng.random()) for t in range(n)]
        seq1 = [Headerless(rng.random()) for _ in range(n)]
        for m in rng.sample(seq0, n):
            m0.signalMessage(m)
        assert got == []
        for m in seq1:
            m1.signalMessage(m)
        assert set(got) == set(zip(seq0, seq1, strict=True))


def test_headerless_default_clock_is_ros_time():
    (m0, m1), got = make(2, 5, 10, allow_headerless=True)
    stamped = msg(time.time_ns())  # ROSClock without /clock is system time
    m0.signalMessage(stamped)
    m1.signalMessage(SimpleNamespace(data=1))
    assert len(got) == 1 and got[0][0] is stamped


def test_headerless_rejected_without_allow_headerless(caplog):
    (m0, m1), got = make(2, 5, 10)
    m0.signalMessage(msg(5 * S))
    m1.signalMessage(SimpleNamespace(data=1))
    m1.signalMessage(SimpleNamespace(data=2))
    assert got == []
    assert sum("allow_headerless" in r.getMessage() for r in caplog.records) == 1


def test_slop_boundary_is_strict_for_the_span():
    (m0, m1), got = make(2, 5, 0.1)
    m0.signalMessage(msg(S))
    m1.signalMessage(msg(S + 100_000_000))  # exactly slop apart: not a set
    assert got == []
    m1.signalMessage(msg(S + 99_999_999))
    assert len(got) == 1


def test_first_combination_in_lexicographic_nearest_first_order():
    core = SyncCore([InputSpec(name=n) for n in "abc"], SyncConfig(slop_ns=15), "greedy")
    core.feed(1, 95, "b95")
    core.feed(1, 110, "b110")
    core.feed(2, 112, "c112")
    # candidates: b = [95 (5), 110 (10)], c = [112 (12)]; (95, 112) spans 17 >= 15, so (110, 112) wins
    assert [s.slots for s in core.feed(0, 100, "a100")] == [("a100", "b110", "c112")]


def test_equal_distances_keep_queue_insertion_order():
    for first, second in ((90, 110), (110, 90)):
        core = SyncCore([InputSpec(name="a"), InputSpec(name="b")], SyncConfig(slop_ns=50), "greedy")
        core.feed(1, first, first)
        core.feed(1, second, second)
        assert core.feed(0, 100, "a")[0].slots == ("a", first)


def test_queue_overflow_drops_smallest_stamp_even_the_new_one():
    core = greedy(2, slop_ns=50, queue_size=2)
    core.feed(0, 510, "a510")
    core.feed(1, 3000, "b3000")
    core.feed(1, 4000, "b4000")
    assert core.feed(1, 500, "b500") == []  # smallest in a full queue: evicted at once, never matched
    assert core.stats.inputs[1].evicted == 1
    assert core.feed(1, 5000, "b5000") == []  # evicts b3000
    assert core.stats.inputs[1].evicted == 2
    assert core.feed(0, 4010, "a4010")[0].slots == ("a4010", "b4000")


def test_out_of_order_within_a_topic_still_matches():
    (m0, m1), got = make(2, 10, 0.05)
    late, early = msg(2 * S), msg(1 * S)
    m0.signalMessage(late)
    m0.signalMessage(early)
    m1.signalMessage(msg(S + 10_000_000))
    assert got[0][0] is early


def test_duplicate_stamp_replaces_the_queued_message():
    core = SyncCore([InputSpec(name="a"), InputSpec(name="b")], SyncConfig(slop_ns=50), "greedy")
    core.feed(0, 100, "old")
    core.feed(0, 100, "new")
    assert core.feed(1, 101, "b")[0].slots == ("new", "b")
    assert core.stats.inputs[0].duplicate == 1


def test_queue_offset_works_whatever_the_arrival_order():
    offset = 50_000_000
    for order in ((0, 1), (1, 0)):
        (m0, m1), got = make(2, 10, 0.01, queue_offset=[0, offset])
        pair = (msg(S), msg(S + offset + 1_000_000))
        for i in order:
            (m0, m1)[i].signalMessage(pair[i])
        assert got == [pair]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 4),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 300)), min_size=1, max_size=40),
    st.integers(1, 6),
    st.integers(0, 60),
)
def test_same_sets_as_upstream_algorithm(n, arrivals, queue_size, slop):
    expected, got = [], []
    upstream = _upstream()(n, queue_size, slop, lambda *m: expected.append(m))
    core = greedy(n, slop_ns=slop, queue_size=queue_size)
    for k, (lane, stamp) in enumerate(arrivals):
        lane %= n
        upstream.add(lane, stamp, (lane, stamp, k))
        got += [s.slots for s in core.feed(lane, stamp, (lane, stamp, k))]
    assert got == expected


def test_pruned_search_stays_fast_where_upstream_explodes():
    # 5 inputs, queue 20, every stamp within slop of the new one but no combination fits
    n, q, slop = 5, 20, 1000
    core = greedy(n, slop_ns=slop, queue_size=q)
    for lane in range(1, n):
        for k in range(q):
            side = -1 if lane % 2 else 1
            core.feed(lane, 10_000 + side * (600 + k), k)
    t0 = time.perf_counter()
    assert core.feed(0, 10_000, "new") == []
    assert time.perf_counter() - t0 < 0.05
