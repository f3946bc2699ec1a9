"""A bounded, drop-oldest work queue served by one thread: how node callbacks stay non-blocking.

Callbacks only ``submit``; the worker thread does the heavy work. When the machine cannot keep up the
oldest pending item is dropped and counted (never an unbounded queue), so latency stays bounded and the
newest data wins, which is what a live vehicle pipeline wants. With ``droppable``, only some items count
against the capacity and are dropped (``fusion_node``: whole synced sets, while the cheap per-sample
steps that keep the stream's state stay queued); ``limit`` still bounds everything queued.
ROS-free so it is tested without DDS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerStats:
    """Counters for /diagnostics."""

    submitted: int
    processed: int
    dropped_oldest: int
    failed: int
    depth: int  # queued items that count against the capacity
    capacity: int
    busy_s: float  # time spent in the handler since the start: its rate is the thread's load


class BoundedWorker(Generic[T]):
    """Runs ``handler(item)`` on its own thread for every submitted item, dropping the oldest on overflow.

    An exception in ``handler`` is logged and counted; the worker keeps running (one bad frame must not
    stop the node). ``on_drop`` sees each dropped item (under the queue lock: keep it trivial), so a
    caller can count drops per source. ``droppable(item)`` (default: every item) says which items count
    against ``capacity`` and are dropped, oldest first, when it is exceeded; beyond ``limit`` items in
    all (default: no limit besides ``capacity``) the oldest item of any kind goes.
    """

    def __init__(
        self,
        name: str,
        handler: Callable[[T], None],
        capacity: int = 4,
        on_drop: Callable[[T], None] | None = None,
        droppable: Callable[[T], bool] | None = None,
        limit: int | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"worker '{name}': capacity must be >= 1, got {capacity}")
        if limit is not None and limit < capacity:
            raise ValueError(f"worker '{name}': limit {limit} is below the capacity {capacity}")
        self._name = name
        self._handler = handler
        self._on_drop = on_drop
        self._capacity = capacity
        self._droppable = droppable
        self._limit = limit
        self._pending = 0  # queued items that count against the capacity
        self._queue: deque[T] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._submitted = self._processed = self._dropped = self._failed = 0
        self._busy_s = 0.0
        self._thread = threading.Thread(target=self._run, name=f"mmfusion-{name}", daemon=True)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Queue ``item`` without blocking; returns False when an older item had to be dropped."""
        with self._cond:
            if self._stopping:
                return False
            dropped = False
            if self._counts(item) and self._pending >= self._capacity:
                self._drop(next(i for i, queued in enumerate(self._queue) if self._counts(queued)))
                dropped = True
            if self._limit is not None and len(self._queue) >= self._limit:
                self._drop(0)
                dropped = True
            self._append(item)
        return not dropped

    def put(self, item: T, timeout: float | None = None) -> bool:
        """Queue ``item``, waiting while ``capacity`` items are pending (back-pressure, nothing dropped).

        For a producer that is itself a worker thread (never a callback): it slows down instead of
        losing what it already computed. False when stopping or after ``timeout`` without room.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._stopping or self._pending < self._capacity, timeout):
                return False
            if self._stopping:
                return False
            self._append(item)
        return True

    def _append(self, item: T) -> None:
        """Queue ``item`` (lock held); wake every waiter: the one condition also holds drain() and put()."""
        self._submitted += 1
        self._queue.append(item)
        self._pending += self._counts(item)
        self._cond.notify_all()

    def _counts(self, item: T) -> bool:
        return self._droppable is None or self._droppable(item)

    def _drop(self, index: int) -> None:
        item = self._queue[index]
        del self._queue[index]
        self._pending -= self._counts(item)
        self._dropped += 1
        if self._on_drop is not None:
            self._on_drop(item)

    def next_pending(self) -> T | None:
        """The oldest queued item that counts against the capacity (what the handler takes next of those)."""
        with self._cond:
            return next((item for item in self._queue if self._counts(item)), None)

    def stats(self) -> WorkerStats:
        with self._cond:
            return WorkerStats(
                self._submitted,
                self._processed,
                self._dropped,
                self._failed,
                self._pending,
                self._capacity,
                self._busy_s,
            )

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and the handler idle; True if that happened in time."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def stop(self, timeout: float = 5.0, *, drain: bool = True) -> None:
        """Stop the thread, by default after finishing what is queued (bounded by ``timeout``)."""
        if drain:
            self.drain(timeout)
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._pending = 0
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping)
                if self._stopping and not self._queue:
                    return
                item = self._queue.popleft()
                self._pending -= self._counts(item)
                self._busy = True
                self._cond.notify_all()  # room for a producer waiting in put()
            started = time.monotonic()
            try:
                self._handler(item)
                ok = True
            except Exception:  # isolate: log with traceback, count, keep serving
                _log.exception("worker '%s': handler failed", self._name)
                ok = False
            with self._cond:
                self._busy_s += time.monotonic() - started
                self._busy = False
                if ok:
                    self._processed += 1
                else:
                    self._failed += 1
                self._cond.notify_all()
