"""The message_filters-compatible face: callbacks, isolation, threads, Cache, Chain, TimeSynchronizer."""

from __future__ import annotations

import logging
import threading

import pytest
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from mmfusion_annotate.errors import SyncError
from mmfusion_annotate.sync import (
    ApproximateTimeSynchronizer,
    Cache,
    Chain,
    DropReason,
    InputSpec,
    SimpleFilter,
    TimeSynchronizer,
)

MS = 1_000_000


def header(ns: int) -> Header:
    return Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id=str(ns))


class DuckFilter:
    """Anything with registerCallback is an input, like a real message_filters.Subscriber."""

    def __init__(self) -> None:
        self.cbs = []

    def registerCallback(self, cb, *args):  # noqa: N802 - the message_filters name
        self.cbs.append((cb, args))
        return len(self.cbs) - 1

    def emit(self, msg) -> None:
        for cb, args in self.cbs:
            cb(msg, *args)


class Stamped:
    def __init__(self, ns: int) -> None:
        self.header = header(ns)


def test_failing_callback_is_logged_and_isolated(caplog):
    f = SimpleFilter()
    seen = []
    f.registerCallback(lambda m: 1 / 0)
    f.registerCallback(seen.append)
    with caplog.at_level(logging.ERROR):
        f.signalMessage("x")
        f.signalMessage("y")
    assert seen == ["x", "y"] and sum("failed" in r.getMessage() for r in caplog.records) == 2


def test_synchronizer_survives_a_raising_callback_and_reentrant_add():
    a, b = DuckFilter(), DuckFilter()
    sync = ApproximateTimeSynchronizer([a, b], 10, 0.01)
    got = []

    def callback(ma, mb):
        got.append((ma.header.frame_id, mb.header.frame_id))
        if len(got) == 1:
            a.emit(Stamped(500 * MS))  # re-enters add() from the callback: must not deadlock
            raise RuntimeError("user bug")

    sync.registerCallback(callback)
    a.emit(Stamped(100 * MS))
    b.emit(Stamped(101 * MS))
    b.emit(Stamped(502 * MS))
    assert got == [(str(100 * MS), str(101 * MS)), (str(500 * MS), str(502 * MS))]


def test_concurrent_inputs_give_every_set_once():
    fs = [SimpleFilter() for _ in range(3)]
    sync = ApproximateTimeSynchronizer(fs, 50, 0.02, policy="optimal")
    got = []
    sync.registerCallback(lambda *m: got.append(tuple(x.header.frame_id for x in m)))

    step = threading.Barrier(3)

    def publish(i):
        for k in range(200):
            step.wait()  # roughly in step, like sensors; the order within a step is up to the threads
            fs[i].signalMessage(Stamped(k * 100 * MS + i * MS))

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) >= 199 and len(set(got)) == len(got)
    assert [int(s[0]) for s in got] == sorted(int(s[0]) for s in got)  # delivered in order


def test_per_input_time_getter_offsets_set_and_drop_callbacks():
    a, b = SimpleFilter(), SimpleFilter()
    getters = [lambda m: m["t"], lambda m: m["stamp_ns"]]
    sync = ApproximateTimeSynchronizer(
        [a, b], 2, 0.01, time_getter=getters, queue_offset=[0, 30 * MS], policy="optimal",
        inputs=[InputSpec(name="cam"), InputSpec(name="lidar")],
    )
    sets, drops = [], []
    sync.register_set_callback(sets.append)
    sync.register_drop_callback(lambda *d: drops.append(d))
    for k in range(3):
        a.signalMessage({"t": k * 10 * MS})  # queue 2: the first is evicted
    b.signalMessage({"stamp_ns": 50 * MS})
    assert drops[0][:3] == (0, DropReason.EVICTED, 0)
    b.signalMessage({"stamp_ns": 150 * MS})
    assert sets and sets[0].stamps == (20 * MS, 50 * MS) and sets[0].skews_ns == (0, 0)
    assert sync.stats()["cam.evicted"] == 1


def test_optional_input_slot_is_none_in_the_callback():
    lidar, radar = SimpleFilter(), SimpleFilter()
    specs = [
        InputSpec(name="lidar", period_ns=100 * MS),
        InputSpec(name="radar", optional=True, deadline_ns=150 * MS),
    ]
    sync = ApproximateTimeSynchronizer([lidar, radar], 10, 0.03, policy="optimal", inputs=specs)
    got = []
    sync.registerCallback(lambda l, r: got.append((l.header.frame_id, r)))
    for k in range(5):
        lidar.signalMessage(Stamped(k * 100 * MS))
    assert got and all(r is None for _, r in got)


def test_bad_arguments_raise_sync_error():
    with pytest.raises(SyncError):
        ApproximateTimeSynchronizer([SimpleFilter(), SimpleFilter()], 5, 0.1, queue_offset=[1])
    with pytest.raises(SyncError):
        ApproximateTimeSynchronizer([SimpleFilter()], 5, 0.1, time_getter=[lambda m: 0, lambda m: 0])


def test_time_synchronizer_exact_stamps():
    a, b = SimpleFilter(), SimpleFilter()
    sync = TimeSynchronizer([a, b], 5)
    got = []
    sync.registerCallback(lambda x, y: got.append((x.header.frame_id, y.header.frame_id)))
    a.signalMessage(Stamped(1))
    a.signalMessage(Stamped(2))
    b.signalMessage(Stamped(2))
    b.signalMessage(Stamped(3))
    assert got == [("2", "2")]
    b.signalMessage(Stamped(1))  # a(1) was dropped with the set at 2: no pair out of order
    assert got == [("2", "2")]


def test_cache_keeps_the_latest_and_answers_by_stamp():
    src = SimpleFilter()
    cache = Cache(src, 3)
    msgs = [Stamped(t) for t in (10, 20, 30, 40)]
    for m in msgs:
        src.signalMessage(m)
    assert cache.getOldestTime().nanoseconds == 20 and cache.getLatestTime().nanoseconds == 40
    assert cache.getLast() is msgs[3]
    assert cache.getInterval(15, Time(sec=0, nanosec=30)) == msgs[1:3]
    assert cache.getElemAfterTime(25) is msgs[2] and cache.getElemBeforeTime(25) is msgs[1]
    assert cache.getElemAfterTime(50) is None


def test_chain_runs_filters_in_order():
    class Tag(SimpleFilter):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def add(self, msg):
            self.signalMessage(msg + self.tag)

    src = SimpleFilter()
    chain = Chain(src)
    out = []
    chain.registerCallback(out.append)
    src.signalMessage("m")
    chain.addFilter(Tag("1"))
    chain.addFilter(Tag("2"))
    src.signalMessage("m")
    assert out == ["m", "m12"] and chain.getFilter(1).tag == "2"
    with pytest.raises(SyncError):
        chain.connectInput(src)
