"""Property tests of the optimal policy over random multi-rate streams and arrival interleavings."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from mmfusion_annotate.sync import InputSpec, SyncConfig, SyncCore


@st.composite
def streams(draw, max_inputs: int = 4, max_len: int = 7):
    """Per-input sorted stamps (distinct across inputs), and an arrival order keeping each input's order."""
    n = draw(st.integers(2, max_inputs))
    lengths = [draw(st.integers(1, max_len)) for _ in range(n)]
    top = draw(st.sampled_from([max(40, sum(lengths)), 2000]))  # dense: equal spans (ties) are common
    pool = draw(st.lists(st.integers(0, top), min_size=sum(lengths), max_size=sum(lengths), unique=True))
    per_input, k = [], 0
    for length in lengths:
        per_input.append(sorted(pool[k : k + length]))
        k += length
    order = draw(st.permutations([i for i, length in enumerate(lengths) for _ in range(length)]))
    return per_input, list(order)


def run(per_input, order, *, max_interval=None, age_penalty=0.0, bounds=None, flush=True):
    n = len(per_input)
    specs = [InputSpec(name=f"i{i}", lower_bound_ns=(bounds[i] if bounds else 0)) for i in range(n)]
    config = SyncConfig(queue_size=1000, max_interval_ns=max_interval, age_penalty=age_penalty)
    core = SyncCore(specs, config, "optimal")
    cursor = [0] * n
    sets = []
    for lane in order:
        stamp = per_input[lane][cursor[lane]]
        cursor[lane] += 1
        sets += core.feed(lane, stamp, (lane, stamp))
    if flush:
        sets += core.flush()
    return [s.stamps for s in sets]


def exhaustive(per_input, max_interval=None):
    """Minimal contiguous sets by brute force: around the pivot (latest head), the smallest-span tuple."""
    remaining = [list(s) for s in per_input]
    out = []
    while all(remaining):
        heads = [r[0] for r in remaining]
        if max_interval is not None and max(heads) - min(heads) > max_interval:
            remaining[heads.index(min(heads))].pop(0)
            continue
        pivot_lane = heads.index(max(heads))
        pivot = heads[pivot_lane]
        choices = [r if i != pivot_lane else [pivot] for i, r in enumerate(remaining)]
        best = min(itertools.product(*choices), key=lambda c: (max(c) - min(c), min(c)))
        start = min(best)
        chosen = tuple(next(s for s in r if s >= start) for r in choices)
        out.append(chosen)
        remaining = [[s for s in r if s > c] for r, c in zip(remaining, chosen, strict=True)]
    return out


@settings(max_examples=150, deadline=None)
@given(streams(), st.sampled_from([None, 50, 200, 600]))
def test_equals_exhaustive_minimal_sets(data, max_interval):
    per_input, order = data
    assert run(per_input, order, max_interval=max_interval) == exhaustive(per_input, max_interval)


@settings(max_examples=150, deadline=None)
@given(streams(), st.data(), st.sampled_from([0.0, 0.1, 1.0]), st.sampled_from([None, 100, 400]))
def test_sets_do_not_depend_on_interleaving(data, draw, age_penalty, max_interval):
    per_input, order = data
    other = draw.draw(st.permutations(order))
    truthful = [min((b - a for a, b in itertools.pairwise(s)), default=0) for s in per_input]
    kwargs = dict(max_interval=max_interval, age_penalty=age_penalty, bounds=truthful)
    first = run(per_input, order, **kwargs)
    assert first == run(per_input, other, **kwargs)
    assert first == run(per_input, order, max_interval=max_interval, age_penalty=age_penalty)


@settings(max_examples=150, deadline=None)
@given(streams(max_inputs=5, max_len=10), st.sampled_from([None, 30, 150]), st.sampled_from([0.0, 0.1]))
def test_never_reuse_never_cross_respect_max_interval(data, max_interval, age_penalty):
    per_input, order = data
    sets = run(per_input, order, max_interval=max_interval, age_penalty=age_penalty)
    for lane in range(len(per_input)):
        used = [s[lane] for s in sets]
        assert all(a < b for a, b in itertools.pairwise(used))  # strictly increasing: no reuse, no crossing
        assert set(used) <= set(per_input[lane])
    if max_interval is not None:
        assert all(max(s) - min(s) <= max_interval for s in sets)


def test_known_rate_publishes_as_early_as_greedy():
    # two 10 Hz inputs 5 ms apart: with the period known, each set goes out on its second message
    specs = [InputSpec(name=n, period_ns=100) for n in ("a", "b")]
    core = SyncCore(specs, SyncConfig(age_penalty=0.1), "optimal")
    blind = SyncCore([InputSpec(name=n) for n in ("a", "b")], SyncConfig(age_penalty=0.1), "optimal")
    for t in range(0, 1000, 100):
        core.feed(0, t, t)
        blind.feed(0, t, t)
        assert [s.stamps for s in core.feed(1, t + 5, t)] == [(t, t + 5)]
        assert blind.feed(1, t + 5, t) == []  # without a bound it must wait for the next message
