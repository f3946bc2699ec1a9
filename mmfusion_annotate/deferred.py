"""Occasional heavy checks run beside the frame path, their results taken at a fixed point of the stream.

The LiDAR-image edge checks (every 10th image of each camera) run now and then, and the camera detector
on a frame's scheduled images; inline, each holds up the frame. Their work is mostly OpenCV, numpy and
onnxruntime, which release the GIL, so a helper thread runs it on the other core. Determinism is kept
by *where* a result is taken, never by when it is ready: a ``Deferred`` hands its result over at a point
of the step stream the caller fixes (the next job of the same kind, the end of the frame, the end of the
stream), waiting for it if need be (the edge checks: a few jobs later, so a briefly starved helper
thread never stalls the pipeline; the camera detector: before tracking in its own frame). Without an
executor the job runs when started and its result is handed over at that same point, so threaded and
inline runs, live and replayed, give the same results in the same order.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
HELPER_NICENESS = 10
"""How much lower than the pipeline a helper thread runs (Linux niceness, per thread). A helper's result
is due frames later, so when the two compete for a core the frame at hand should win it: at +10 the
kernel gives the helper about a tenth of a contended core, all of an idle one."""


def helper_executor(name: str) -> ThreadPoolExecutor:
    """One helper thread named ``name``, at ``HELPER_NICENESS`` below its caller on Linux."""
    return ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_lower_priority)


def _lower_priority() -> None:
    if sys.platform == "linux":  # elsewhere PRIO_PROCESS would lower the whole process
        tid = threading.get_native_id()  # a new thread starts at its creator's niceness
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + HELPER_NICENESS, 19))


def run_job(executor: Executor | None, job: Callable[[], T]) -> Future[T]:
    """``job`` on ``executor``, or run now into a completed future (its exception kept for ``result``)."""
    if executor is not None:
        return executor.submit(job)
    done: Future[T] = Future()
    try:
        done.set_result(job())
    except Exception as exc:  # re-raised by result(), where the threaded run raises it too
        done.set_exception(exc)
    return done


class Deferred(Generic[T]):
    """Up to ``depth`` jobs in flight, handed over oldest first at the points the caller fixes.

    ``start`` returns the results of the oldest jobs once ``depth`` are in flight (waiting for them):
    with depth 1 each job's result comes out when the next one starts; a deeper queue lets a helper
    thread starved of CPU for a while catch up without the caller ever waiting. Jobs that share state
    need an executor with one thread, which runs them in start order.
    """

    def __init__(self, executor: Executor | None = None, depth: int = 1) -> None:
        if depth < 1:
            raise ValueError(f"Deferred: depth must be >= 1, not {depth}")
        self._executor = executor
        self._depth = depth
        self._pending: deque[Future[T]] = deque()

    @property
    def pending(self) -> int:
        """Jobs started whose results were not handed over yet."""
        return len(self._pending)

    def start(self, job: Callable[[], T]) -> list[T]:
        """Start ``job``; returns the results that had to be taken to make room for it, oldest first."""
        taken = []
        while len(self._pending) >= self._depth:
            taken.append(self._pending.popleft().result())
        self._pending.append(run_job(self._executor, job))
        return taken

    def take_all(self) -> list[T]:
        """Every result still pending, oldest first, waiting for them (a job's exception raised here)."""
        taken = []
        while self._pending:
            taken.append(self._pending.popleft().result())
        return taken
