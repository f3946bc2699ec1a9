"""message_filters-compatible face: ``SimpleFilter``, ``Subscriber``, ``Cache``, ``Chain``,
``TimeSynchronizer`` and ``ApproximateTimeSynchronizer`` with the same names and signatures, so a
node written for ros2 message_filters works after changing its import.

Differences that matter: callbacks run outside the synchronizer lock, in arrival order, and an
exception in one is logged instead of breaking the chain (upstream can deadlock); connections work
with any filter that has ``registerCallback`` (a real ``message_filters.Subscriber`` included);
``queue_offset`` works whatever the arrival order; stamps are integer nanoseconds inside, and what
``Cache`` returns is an ``rclpy.time.Time`` of the clock type the stamp came with (so a user can add an
rclpy ``Duration`` to it or compare it with upstream's values). ``ApproximateTimeSynchronizer`` takes
``policy="greedy"`` (default, upstream's sets) or ``"optimal"`` (the C++ policy, with ``slop`` as its
maximum set span), and the core's extras: optional inputs, a latency budget, drop/set callbacks and a
stats snapshot.

rclpy is imported only when a headerless message needs the ROS clock and none was given, and when
``Cache`` hands a time back.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial, reduce
from typing import Any

from mmfusion_annotate.errors import SyncError
from mmfusion_annotate.sync.config import InputSpec, Policy, SyncConfig
from mmfusion_annotate.sync.core import SyncCore
from mmfusion_annotate.sync.model import DropReason, SyncedSet

_log = logging.getLogger(__name__)

TimeGetter = Callable[[Any], Any]
"""Returns a message's stamp (``int`` ns, ``rclpy.time.Time`` or ``builtin_interfaces/Time``) or None."""


def stamp_to_ns(stamp: Any) -> int:
    """Integer nanoseconds from an int, an ``rclpy.time.Time`` or a ``builtin_interfaces/Time`` message."""
    if isinstance(stamp, int):
        return stamp
    if hasattr(stamp, "nanoseconds"):
        return int(stamp.nanoseconds)
    if hasattr(stamp, "sec") and hasattr(stamp, "nanosec"):
        return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
    raise SyncError(f"cannot read a time stamp from {type(stamp).__name__}")


def stamp_clock_type(stamp: Any) -> Any:
    """The rclpy clock type a stamp carries: its own for an ``rclpy.time.Time``, ROS time otherwise (a
    header stamp, an int), as upstream's ``Time.from_msg`` gives."""
    from rclpy.clock import ClockType  # noqa: PLC0415 - the ROS-free core never calls this

    return getattr(stamp, "clock_type", ClockType.ROS_TIME)


def ns_to_time(ns: int, clock_type: Any) -> Any:
    """An ``rclpy.time.Time`` at ``ns`` on ``clock_type``: what upstream's filters return."""
    from rclpy.time import Time  # noqa: PLC0415

    return Time(nanoseconds=ns, clock_type=clock_type)


def header_stamp(message: Any) -> Any:
    """Default time getter: ``message.header.stamp``, None for a headerless message."""
    header = getattr(message, "header", None)
    return getattr(header, "stamp", None)


def seconds_to_duration_ns(seconds: float) -> int:
    """Seconds to ns the way ``rclpy.duration.Duration(seconds=...)`` does (truncating), as upstream."""
    return int(seconds * 1_000_000_000)


class SimpleFilter:
    """Base filter: callbacks by connection id; one failing callback does not stop the others."""

    def __init__(self) -> None:
        self.callbacks: dict[int, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
        self._next_connection = 0

    def registerCallback(self, callback: Callable[..., Any], *args: Any) -> int:
        """Call ``callback(*outputs, *args)`` for each output; returns a connection id."""
        conn = self._next_connection
        self._next_connection += 1
        self.callbacks[conn] = (callback, args)
        return conn

    def unregisterCallback(self, connection: int) -> None:
        self.callbacks.pop(connection, None)

    def signalMessage(self, *msg: Any) -> None:
        for callback, args in list(self.callbacks.values()):
            try:
                callback(*(msg + args))
            except Exception:
                _log.exception("message filter callback %r failed; continuing", callback)


class Subscriber(SimpleFilter):
    """Source filter around ``node.create_subscription``; same arguments as message_filters."""

    def __init__(self, node: Any, msg_type: Any, topic: str, qos_profile: Any = 10, **kwargs: Any) -> None:
        super().__init__()
        self.node = node
        self.topic = topic
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile, **kwargs)

    def callback(self, msg: Any) -> None:
        self.signalMessage(msg)

    def getTopic(self) -> str:
        return self.topic

    def __getattr__(self, key: str) -> Any:
        """Serve the subscription's API, as upstream does."""
        sub = self.__dict__.get("sub")
        if sub is None:
            raise AttributeError(key)
        return getattr(sub, key)


class _Clock:
    """Nanoseconds from an explicit clock (rclpy Clock or callable), a Subscriber's node, or ROSClock."""

    def __init__(self, clock: Any, inputs: Sequence[Any]) -> None:
        if clock is None:
            node = next((getattr(f, "node", None) for f in inputs if getattr(f, "node", None)), None)
            clock = node.get_clock() if node is not None else None
        self._clock = clock

    def now_ns(self) -> int:
        if self._clock is None:
            from rclpy.clock import ROSClock  # noqa: PLC0415 - only headerless inputs need it

            self._clock = ROSClock()
        if callable(self._clock) and not hasattr(self._clock, "now"):
            return int(self._clock())
        return int(self._clock.now().nanoseconds)


class Cache(SimpleFilter):
    """Keeps the latest ``cache_size`` messages of one input, queryable by stamp.

    Stamps are kept as integer ns (``cache_times``) beside the clock type each came with; queries take
    any stamp form and the times returned are ``rclpy.time.Time``.
    """

    def __init__(
        self,
        f: Any,
        cache_size: int = 1,
        allow_headerless: bool = False,
        time_getter: TimeGetter = header_stamp,
        *,
        clock: Any = None,
    ) -> None:
        super().__init__()
        self.cache_size = cache_size
        self.allow_headerless = allow_headerless
        self.time_getter = time_getter
        self.cache_msgs: list[Any] = []
        self.cache_times: list[int] = []
        self._clock_types: list[Any] = []
        self._clock = _Clock(clock, [f])
        self.connectInput(f)

    def connectInput(self, f: Any) -> None:
        self.incoming_connection = f.registerCallback(self.add)

    def add(self, msg: Any) -> None:
        stamp = self.time_getter(msg)
        if stamp is None:
            if not self.allow_headerless:
                _log.warning("Cache: message without stamp dropped (allow_headerless is off)")
                return
            stamp = self._clock.now_ns()
        self.cache_times.append(stamp_to_ns(stamp))
        self._clock_types.append(stamp_clock_type(stamp))
        self.cache_msgs.append(msg)
        if len(self.cache_msgs) > self.cache_size:
            del self.cache_msgs[0]
            del self.cache_times[0]
            del self._clock_types[0]
        self.signalMessage(msg)

    def getInterval(self, from_stamp: Any, to_stamp: Any) -> list[Any]:
        """Messages stamped from ``from_stamp`` to ``to_stamp``, both included, oldest first."""
        lo, hi = stamp_to_ns(from_stamp), stamp_to_ns(to_stamp)
        if lo > hi:
            raise SyncError("getInterval: from_stamp is after to_stamp")
        return [m for m, t in zip(self.cache_msgs, self.cache_times, strict=True) if lo <= t <= hi]

    def getElemAfterTime(self, stamp: Any) -> Any:
        """Oldest message at or after ``stamp``."""
        t0 = stamp_to_ns(stamp)
        return next((m for m, t in zip(self.cache_msgs, self.cache_times, strict=True) if t >= t0), None)

    def getElemBeforeTime(self, stamp: Any) -> Any:
        """Newest message at or before ``stamp``."""
        t0 = stamp_to_ns(stamp)
        older = [m for m, t in zip(self.cache_msgs, self.cache_times, strict=True) if t <= t0]
        return older[-1] if older else None

    def getLatestTime(self) -> Any:
        """The newest stamp as an ``rclpy.time.Time``, None when empty."""
        return ns_to_time(self.cache_times[-1], self._clock_types[-1]) if self.cache_times else None

    getLastestTime = getLatestTime
    """Upstream's spelling, kept so code written for message_filters runs unchanged."""

    def getOldestTime(self) -> Any:
        """The oldest stamp as an ``rclpy.time.Time``, None when empty."""
        return ns_to_time(self.cache_times[0], self._clock_types[0]) if self.cache_times else None

    def getLast(self) -> Any:
        return self.cache_msgs[-1] if self.cache_msgs else None


class Chain(SimpleFilter):
    """Runs a message through filters added with ``addFilter``, in order; the last one's output is ours."""

    @dataclass
    class FilterInfo:
        message_filter: Any
        connection: int

    def __init__(self, message_filter: Any = None) -> None:
        super().__init__()
        self.incoming_connection: int | None = None
        self._filters: list[Chain.FilterInfo] = []
        if message_filter is not None:
            self.connectInput(message_filter)

    def connectInput(self, message_filter: Any) -> None:
        if self.incoming_connection is not None:
            raise SyncError("Chain: already connected")
        self.incoming_connection = message_filter.registerCallback(self.add)

    def add(self, message: Any) -> None:
        if self._filters:
            self._filters[0].message_filter.add(message)
        else:
            self.signalMessage(message)

    def addFilter(self, message_filter: Any) -> None:
        if self._filters:
            last = self._filters[-1]
            last.message_filter.unregisterCallback(last.connection)
            last.connection = last.message_filter.registerCallback(message_filter.add)
        connection = message_filter.registerCallback(self.signalMessage)
        self._filters.append(Chain.FilterInfo(message_filter, connection))

    def getFilter(self, index: int) -> Any:
        """The filter at ``index``; a KeyError when there is none, as upstream."""
        if not 0 <= index < len(self._filters):
            raise KeyError(index)
        return self._filters[index].message_filter


def _getters(time_getter: TimeGetter | Sequence[TimeGetter] | None, n: int) -> list[TimeGetter]:
    """One time getter per input (upstream takes one for all; a sequence gives one each)."""
    if time_getter is None:
        return [header_stamp] * n
    if callable(time_getter):
        return [time_getter] * n
    getters = list(time_getter)
    if len(getters) != n:
        raise SyncError(f"time_getter: {len(getters)} getters for {n} inputs")
    return getters


class _OrderedDelivery:
    """Delivers queued outputs outside the caller's lock, in the order they were queued, re-entrantly."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._pending: deque[Callable[[], None]] = deque()
        self._draining = False

    def queue(self, job: Callable[[], None]) -> None:
        """Call with the lock held."""
        self._pending.append(job)

    def drain(self) -> None:
        """Call without the lock: run every queued job unless another thread is already doing so."""
        with self._lock:
            if self._draining:
                return
            self._draining = True
        while True:
            with self._lock:
                if not self._pending:
                    self._draining = False  # under the lock: a job queued meanwhile is seen by its caller
                    return
                job = self._pending.popleft()
            try:
                job()
            except BaseException:
                with self._lock:
                    self._draining = False
                raise


class TimeSynchronizer(SimpleFilter):
    """Exact-stamp synchronizer: a set when every input has a message with the same stamp; a set drops the
    queued messages older than it, which could only make sets out of order."""

    def __init__(
        self,
        fs: Sequence[Any],
        queue_size: int,
        time_getter: TimeGetter | Sequence[TimeGetter] | None = None,
    ) -> None:
        super().__init__()
        self.queue_size = queue_size
        self._getters = _getters(time_getter, len(fs))
        self._lock = threading.Lock()
        self._delivery = _OrderedDelivery(self._lock)
        self.connectInput(fs)

    def connectInput(self, fs: Sequence[Any]) -> None:
        self.queues: list[dict[int, Any]] = [{} for _ in fs]
        self.input_connections = [f.registerCallback(self.add, i) for i, f in enumerate(fs)]

    def add(self, msg: Any, my_queue_index: int) -> None:
        stamp = self._getters[my_queue_index](msg)
        if stamp is None:
            raise SyncError("TimeSynchronizer: message without stamp; use a time_getter")
        with self._lock:
            queue = self.queues[my_queue_index]
            queue[stamp_to_ns(stamp)] = msg
            while len(queue) > self.queue_size:
                del queue[min(queue)]
            common = reduce(set.intersection, [set(q) for q in self.queues])
            for t in sorted(common):
                msgs = tuple(q.pop(t) for q in self.queues)
                self._delivery.queue(partial(self.signalMessage, *msgs))
            if common:  # older messages can no longer make a set (upstream and the C++ policy drop them)
                newest = max(common)
                for q in self.queues:
                    for old in [t for t in q if t < newest]:
                        del q[old]
        self._delivery.drain()


class ApproximateTimeSynchronizer(SimpleFilter):
    """Approximate-time synchronizer with message_filters' signature and the project's core behind it.

    ``fs``, ``queue_size``, ``slop`` (seconds) and ``allow_headerless`` are upstream's; keywords:
    ``queue_offset`` (ns per input, subtracted from its stamps), ``time_getter`` (one, or one per
    input), ``policy`` ("greedy" | "optimal"), ``inputs`` (``InputSpec`` per input: names, optional
    inputs, periods, deadlines, offsets), ``max_interval`` (s, optimal; default ``slop``),
    ``age_penalty``, ``max_latency`` (s), ``reference`` (input name), ``clock`` (rclpy Clock or a
    callable returning ns: stamps headerless messages and, when given, is the core's "now" for
    deadlines and the latency budget, else the stream of stamps is, which replays identically) and
    ``time_jump`` (s): a stamp or clock that far behind resets the synchronizer (default off, as
    upstream; any order within a topic is then accepted).
    """

    def __init__(
        self,
        fs: Sequence[Any],
        queue_size: int,
        slop: float,
        allow_headerless: bool = False,
        *,
        queue_offset: Sequence[int] | None = None,
        time_getter: TimeGetter | Sequence[TimeGetter] | None = None,
        policy: Policy = "greedy",
        inputs: Sequence[InputSpec] | None = None,
        max_interval: float | None = None,
        age_penalty: float = 0.1,
        max_latency: float | None = None,
        reference: str | None = None,
        clock: Any = None,
        time_jump: float | None = None,
    ) -> None:
        super().__init__()
        self.queue_size = queue_size
        self.slop = slop
        self.allow_headerless = allow_headerless
        n = len(fs)
        specs = list(inputs) if inputs is not None else _default_specs(fs)
        if len(specs) != n:
            raise SyncError(f"inputs: {len(specs)} specs for {n} filters")
        if queue_offset:
            if len(queue_offset) != n:
                raise SyncError(f"queue_offset: {len(queue_offset)} offsets for {n} inputs")
            specs = [
                s.model_copy(update={"offset_ns": int(o)}) for s, o in zip(specs, queue_offset, strict=True)
            ]
        slop_ns = seconds_to_duration_ns(slop)
        config = SyncConfig(
            policy=policy,
            queue_size=queue_size,
            slop_ns=slop_ns,
            max_interval_ns=slop_ns if max_interval is None else seconds_to_duration_ns(max_interval),
            age_penalty=age_penalty,
            max_latency_ns=None if max_latency is None else seconds_to_duration_ns(max_latency),
            reference=reference,
            time_jump_ns=None if time_jump is None else seconds_to_duration_ns(time_jump),
        )
        self._getters = _getters(time_getter, n)
        self._live_clock = clock is not None
        self._clock = _Clock(clock, fs)
        self._lock = threading.Lock()
        self._delivery = _OrderedDelivery(self._lock)
        self._set_callbacks: list[Callable[[SyncedSet], None]] = []
        self._drop_callbacks: list[Callable[[int, DropReason, int, Any], None]] = []
        self._warned_headerless: set[int] = set()
        self.core = SyncCore(specs, config, policy, on_drop=self._queue_drop)
        self.connectInput(fs)

    def connectInput(self, fs: Sequence[Any]) -> None:
        self.input_connections = [f.registerCallback(self.add, i) for i, f in enumerate(fs)]

    def register_set_callback(self, callback: Callable[[SyncedSet], None]) -> None:
        """Also receive each set with its metadata (stamps, skews, missing slots, forced)."""
        self._set_callbacks.append(callback)

    def register_drop_callback(self, callback: Callable[[int, DropReason, int, Any], None]) -> None:
        """Receive ``(input_index, reason, stamp_ns, message)`` for every dropped message."""
        self._drop_callbacks.append(callback)

    def add(self, msg: Any, my_queue_index: int) -> None:
        """Input ``my_queue_index`` delivers ``msg`` (connected filters call this)."""
        stamp = self._getters[my_queue_index](msg)
        if stamp is None:
            if not self.allow_headerless:
                if my_queue_index not in self._warned_headerless:
                    self._warned_headerless.add(my_queue_index)
                    _log.warning("ApproximateTimeSynchronizer: input %d has no stamps and allow_headerless "
                                 "is off; its messages are ignored (warned once)", my_queue_index)
                return
            stamp_ns = self._clock.now_ns()
        else:
            stamp_ns = stamp_to_ns(stamp)
        now_ns = self._clock.now_ns() if self._live_clock else None
        with self._lock:
            for synced in self.core.feed(my_queue_index, stamp_ns, msg, now_ns):
                self._delivery.queue(partial(self._signal_set, synced))
        self._delivery.drain()

    def tick(self, now_ns: int | None = None) -> None:
        """Apply deadlines and the latency budget without a message (e.g. from a node timer)."""
        if now_ns is None:
            now_ns = self._clock.now_ns()
        with self._lock:
            for synced in self.core.tick(now_ns):
                self._delivery.queue(partial(self._signal_set, synced))
        self._delivery.drain()

    def stats(self) -> dict[str, float | int]:
        """Flat status snapshot for ``/diagnostics``."""
        with self._lock:
            return self.core.stats.snapshot()

    def _queue_drop(self, index: int, reason: DropReason, stamp_ns: int, message: Any) -> None:
        # called by the core with the lock held: only queue the callbacks
        for callback in self._drop_callbacks:
            self._delivery.queue(partial(_guarded, callback, index, reason, stamp_ns, message))

    def _signal_set(self, synced: SyncedSet) -> None:
        self.signalMessage(*synced.slots)
        for callback in self._set_callbacks:
            _guarded(callback, synced)


def _guarded(callback: Callable[..., Any], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:
        _log.exception("synchronizer callback %r failed; continuing", callback)


def _default_specs(fs: Sequence[Any]) -> list[InputSpec]:
    """Input names from the filters' topics when unique, else ``input<i>``."""
    topics = [getattr(f, "topic", None) for f in fs]
    if all(topics) and len(set(topics)) == len(topics):
        return [InputSpec(name=str(t)) for t in topics]
    return [InputSpec(name=f"input{i}") for i in range(len(fs))]
