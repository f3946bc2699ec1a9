"""Occasional heavy checks run beside the frame path, their results taken at a fixed point of the stream.

The camera-only people detector (~120 ms per 1600x900 image, one camera every 10th frame) and the
LiDAR-image edge checks (8-18 ms each, every 10th image of each camera) run now and then; inline, each
holds up every frame queued behind it (the soak's latency tail). Their work is mostly OpenCV and numpy,
which release the GIL, so a helper thread runs it on the other core. Determinism is kept by *where* a
result is taken, never by when it is ready: a ``Deferred`` hands its result over at a point of the step
stream the caller fixes (the next job of the same kind, the end of the frame, the end of the stream),
waiting for it if need be. Without an executor the job runs when started and its result is handed over
at that same point, so threaded and inline runs, live and replayed, give the same results in the same
order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Generic, TypeVar

T = TypeVar("T")


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
    """At most one job in flight; ``take`` waits for it and hands its result over once."""

    def __init__(self, executor: Executor | None = None) -> None:
        self._executor = executor
        self._pending: Future[T] | None = None

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def start(self, job: Callable[[], T]) -> None:
        """Start ``job``; the previous result must have been taken (results are never dropped unseen)."""
        if self._pending is not None:
            raise RuntimeError("Deferred.start: the previous job's result was not taken")
        self._pending = run_job(self._executor, job)

    def take(self) -> T | None:
        """The result of the job in flight (waiting for it; its exception raised here), or None if none."""
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else None
