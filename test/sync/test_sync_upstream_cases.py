"""Every case of upstream message_filters' Python tests (Jazzy branch), in our own words, against the face.

Each test names the upstream test it mirrors (``file::test``). As upstream, stamps go in and come out as
rclpy ``Time`` (a returned time plus a ``Duration`` works), on the clock type they came with.
"""

from __future__ import annotations

import os
import random

import pytest
import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from rclpy.clock import ClockType, ROSClock
from rclpy.duration import Duration
from rclpy.time import Time
from std_msgs.msg import String

from mmfusion_annotate.sync import (
    ApproximateTimeSynchronizer,
    Cache,
    Chain,
    SimpleFilter,
    Subscriber,
    TimeSynchronizer,
)


class Stamped:
    """A message with ``header.stamp`` (any stamp form), hashable by identity like upstream's mocks."""

    def __init__(self, stamp, data=None) -> None:
        self.header = type("Header", (), {})()
        self.header.stamp = stamp
        self.data = data


class Headerless:
    def __init__(self, data) -> None:
        self.data = data


@pytest.fixture(scope="module")
def node():
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=200 + os.getpid() % 30)  # nothing is published: no traffic
    made = rclpy.create_node("upstream_cases", namespace="/my_ns", context=context)
    yield made
    made.destroy_node()
    rclpy.try_shutdown(context=context)


def collect(sync):
    got: list[tuple] = []
    sync.registerCallback(lambda *msgs: got.append(msgs))
    return got


# --- test_message_filters_cache.py ---------------------------------------------------------------------


def test_cache_all_funcs(node):
    """test_message_filters_cache.py::test_all_funcs"""
    cache = Cache(Subscriber(node, String, "/empty"), 5)
    for second in range(5):
        cache.add(Stamped(Time(seconds=second)))
    assert len(cache.getInterval(Time(seconds=2.5), Time(seconds=3.5))) == 1
    assert len(cache.getInterval(Time(seconds=2), Time(seconds=3))) == 2  # both ends included
    assert len(cache.getInterval(Time(), Time(seconds=4))) == 5
    assert cache.getElemAfterTime(Time()).header.stamp == Time()
    assert cache.getElemBeforeTime(Time(seconds=3.5)).header.stamp == Time(seconds=3)
    assert cache.getLastestTime() == Time(seconds=4) == cache.getLatestTime()  # upstream's spelling too
    assert cache.getOldestTime() == Time()
    cache.add(Stamped(Time(seconds=5)))  # one more than the cache holds: the oldest goes
    assert cache.getOldestTime() == Time(seconds=1)


def test_cache_headerless(node):
    """test_message_filters_cache.py::test_headerless"""
    sub = Subscriber(node, String, "/empty")
    strict = Cache(sub, 5, allow_headerless=False)
    msg = String()
    strict.add(msg)
    assert strict.getElemAfterTime(Time(clock_type=ClockType.ROS_TIME)) is None  # not added

    cache = Cache(sub, 5, allow_headerless=True)
    cache.add(msg)  # stamped with the ROS time it arrived
    assert cache.getElemAfterTime(Time(clock_type=ClockType.ROS_TIME)) is msg
    now = ROSClock().now()
    assert cache.getElemAfterTime(now) is None
    cache.add(msg)
    assert cache.getInterval(Time(clock_type=ClockType.ROS_TIME), now) == [msg]
    assert cache.getInterval(Time(clock_type=ClockType.ROS_TIME), now + Duration(seconds=2)) == [msg, msg]


def test_cache_returns_times_a_duration_can_be_added_to(node):
    """The issue's report: a time the Cache returns plus an rclpy Duration raised TypeError."""
    cache = Cache(SimpleFilter(), 3)
    cache.add(Stamped(TimeMsg(sec=7, nanosec=5)))  # a header stamp: ROS time, as Time.from_msg gives
    latest = cache.getLatestTime()
    assert latest == Time(seconds=7, nanoseconds=5, clock_type=ClockType.ROS_TIME)
    assert (latest + Duration(seconds=1)).nanoseconds == 8_000_000_005
    assert cache.getInterval(latest - Duration(seconds=1), latest + Duration(seconds=1)) == cache.cache_msgs
    assert Cache(SimpleFilter(), 3).getLastestTime() is None


# --- test_approxsync.py -------------------------------------------------------------------------------


def test_approx_pairs_combine_on_the_second_message():
    """test_approxsync.py::test_approx (pairs with equal stamps)"""
    m0, m1 = SimpleFilter(), SimpleFilter()
    got = collect(ApproximateTimeSynchronizer([m0, m1], 1, 0.1))
    for second in range(10):
        got.clear()
        a, b = Stamped(Time(seconds=second), 33), Stamped(Time(seconds=second), 34)
        m0.signalMessage(a)
        assert got == []
        m1.signalMessage(b)
        assert got == [(a, b)]


def test_approx_scrambled_sequences_recombine():
    """test_approxsync.py::test_approx (scrambled sequences of length N)"""
    rng = random.Random(0)
    for n in range(1, 10):
        m0, m1 = SimpleFilter(), SimpleFilter()
        seq0 = [Stamped(Time(seconds=t), rng.random()) for t in range(n)]
        seq1 = [Stamped(Time(seconds=t), rng.random()) for t in range(n)]
        got = collect(ApproximateTimeSynchronizer([m0, m1], n, 0.1))
        for msg in rng.sample(seq0, n):
            m0.signalMessage(msg)
        assert got == []
        for msg in rng.sample(seq1, n):
            m1.signalMessage(msg)
        assert set(got) == set(zip(seq0, seq1, strict=True))


def test_approx_headerless_take_the_ros_time():
    """test_approxsync.py::test_approx (headerless messages beside stamps from ROSClock plus a Duration)"""
    rng = random.Random(0)
    for n in range(1, 10):
        m0, m1 = SimpleFilter(), SimpleFilter()
        seq0 = [Stamped(ROSClock().now() + Duration(seconds=t), rng.random()) for t in range(n)]
        seq1 = [Headerless(rng.random()) for _ in range(n)]
        got = collect(ApproximateTimeSynchronizer([m0, m1], n, 10, allow_headerless=True))
        for msg in rng.sample(seq0, n):
            m0.signalMessage(msg)
        assert got == []
        for msg in seq1:
            m1.signalMessage(msg)
        assert set(got) == set(zip(seq0, seq1, strict=True))


# --- directed.py / test_time_synchronizer.py (TimeSynchronizer) ---------------------------------------


def exact(stamp_s: int, data) -> Stamped:
    return Stamped(TimeMsg(sec=stamp_s), data)


def test_time_synchronizer_scrambled_first_input():
    """directed.py::test_synchronizer. Since 4.11.10 (upstream #238, as the C++ policy) a set drops the
    older queued messages, so only the first input can come scrambled; the second comes in order."""
    rng = random.Random(0)
    for n in range(1, 10):
        m0, m1 = SimpleFilter(), SimpleFilter()
        seq0 = [exact(t, rng.random()) for t in range(n)]
        seq1 = [exact(t, rng.random()) for t in range(n)]
        got = collect(TimeSynchronizer([m0, m1], n))
        for msg in rng.sample(seq0, n):
            m0.signalMessage(msg)
        assert got == []
        for msg in seq1:
            m1.signalMessage(msg)
        assert got == list(zip(seq0, seq1, strict=True))


def test_time_synchronizer_queue_length():
    """test_time_synchronizer.py::test_time_synchronizer_queue_lentgth (sequences in order)"""
    for n in range(1, 10):
        m0, m1 = SimpleFilter(), SimpleFilter()
        seq0, seq1 = [exact(t, 0) for t in range(n)], [exact(t, 0) for t in range(n)]
        got = collect(TimeSynchronizer([m0, m1], n))
        for msg in seq0:
            m0.signalMessage(msg)
        assert got == []
        for msg in seq1:
            m1.signalMessage(msg)
        assert set(got) == set(zip(seq0, seq1, strict=True))


def test_time_synchronizer_drops_messages_older_than_a_set():
    """directed.py::test_time_synchronizer_old_msgs_drop (test_time_synchronizer_drop_old_messages)"""
    f0, f1 = SimpleFilter(), SimpleFilter()
    got = collect(TimeSynchronizer([f0, f1], 10))
    x0, x1, y0, y1 = exact(0, 1), exact(0, 2), exact(1, 1), exact(1, 2)
    f0.signalMessage(x0)
    f1.signalMessage(y1)
    assert got == []
    f0.signalMessage(y0)
    assert got == [(y0, y1)]
    f1.signalMessage(x1)  # x0 went with the newer set: no late pair out of order
    assert got == [(y0, y1)]


def test_time_synchronizer_shifted_time_signalling():
    """directed.py::test_time_synchronizer_shifted_time_signalling_2 (..._shifted_time_signalling)"""
    f0, f1 = SimpleFilter(), SimpleFilter()
    got = collect(TimeSynchronizer([f0, f1], 10))
    x0, x1, y0, y1 = exact(0, 1), exact(0, 2), exact(1, 1), exact(1, 2)
    f0.signalMessage(x0)
    f0.signalMessage(y0)
    assert got == []
    f1.signalMessage(x1)
    assert got == [(x0, x1)]
    f1.signalMessage(y1)
    assert got == [(x0, x1), (y0, y1)]


# --- test_message_filters_chain.py --------------------------------------------------------------------


def stamped_at(second: int) -> Stamped:
    return Stamped(Time(seconds=second))


def cached(cache: Cache) -> list:
    return cache.getInterval(Time(seconds=0), Time(seconds=10))


def test_chain_add_filter(node):
    """test_message_filters_chain.py::test_add_filter"""
    chain = Chain()
    first = Cache(f=Subscriber(node, String, "/empty"), cache_size=3)
    second = Cache(f=Subscriber(node, String, "/empty"), cache_size=3)
    chain.addFilter(first)
    assert chain.getFilter(0) is first
    one = stamped_at(1)
    chain.add(one)
    assert cached(first) == [one] and cached(second) == []
    chain.addFilter(second)
    two = stamped_at(2)
    chain.add(two)
    assert cached(first) == [one, two] and cached(second) == [two]


def test_chain_get_filter(node):
    """test_message_filters_chain.py::test_get_filter"""
    chain = Chain()
    with pytest.raises(KeyError):
        chain.getFilter(0)
    first, second = Cache(Subscriber(node, String, "/empty")), Cache(Subscriber(node, String, "/empty"))
    chain.addFilter(first)
    chain.addFilter(second)
    assert chain.getFilter(0) is first and chain.getFilter(1) is second


def test_chain_callback(node):
    """test_message_filters_chain.py::test_chain_callback"""
    chain = Chain()
    chain.addFilter(Cache(Subscriber(node, String, "/empty")))
    got: list = []
    chain.registerCallback(got.append)
    chain.add(stamped_at(1))
    assert len(got) == 1


def test_chain_connect_input(node):
    """test_message_filters_chain.py::test_connect_input"""
    chain = Chain()
    first, second = Cache(Subscriber(node, String, "/empty")), Cache(Subscriber(node, String, "/empty"))
    chain.connectInput(first)
    chain.addFilter(second)
    msg = stamped_at(1)
    first.add(msg)
    assert cached(first) == cached(second) == [msg]
