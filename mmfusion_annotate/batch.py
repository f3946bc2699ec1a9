"""Run one picklable function over many items (bags) in parallel: local processes, or tasks on Ray.

Why this shape: a fleet's day is thousands of independent bags, so the unit of work is one bag and the
engine only has to spread calls, bound how many are in flight, retry a call whose worker died, and report
each item's outcome. One process per core on this machine needs nothing installed
(``concurrent.futures``); beyond one machine, Ray is the engine (an optional dependency, imported only
when asked for). A worker that raises never stops the batch: the error comes back as one line in that
item's ``Outcome``. Retries are for lost workers only (killed, out of memory, its node gone): an exception
is the item's own failure and would repeat. The runner resubmits lost calls itself rather than through
Ray's ``max_retries`` so that both engines count ``attempts`` the same way.

Local workers are started with ``spawn``: a forked child would inherit numba's and onnxruntime's thread
pools and any rclpy context of the parent in a state they do not support after ``fork``.
"""

from __future__ import annotations

import multiprocessing
import re
import socket
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from mmfusion_annotate.errors import MmfusionError

T = TypeVar("T")
R = TypeVar("R")

RAY_LOCAL = "local"
"""``ray_address`` that starts a Ray instance on this machine for the batch (nothing to set up)."""
LOST_WORKER = "worker lost"
CONNECT_TIMEOUT_S = 10.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours its task names in error messages


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """What became of one item: its result, or one line saying why it failed."""

    item: T
    ok: bool
    result: R | None = None
    error: str = ""
    attempts: int = 1


def error_line(error: BaseException) -> str:
    """One line for ``error``: a suite error's own message; anything else with where it was raised."""
    if isinstance(error, MmfusionError):
        return " ".join(str(error).split())
    text = " ".join(f"{type(error).__name__}: {error}".split())
    frames = traceback.extract_tb(error.__traceback__)
    return f"{text} (at {frames[-1].filename}:{frames[-1].lineno})" if frames else text


def call(fn: Callable[[T], R], item: T) -> tuple[bool, Any]:
    """Run ``fn(item)`` in a worker; an exception becomes ``(False, line)`` so that nothing unpicklable
    crosses back."""
    try:
        return True, fn(item)
    except Exception as exc:  # noqa: BLE001 - any failure of one item is reported, never raised
        return False, error_line(exc)


def run_batch(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    max_in_flight: int | None = None,
    retries: int = 2,
    progress: Callable[[Outcome[T, R]], object] | None = None,
) -> list[Outcome[T, R]]:
    """``fn`` over ``items``; the outcomes in the order of ``items``. Never raises for one item's failure.

    ``fn`` and the items must be picklable (a module-level function and plain data). ``workers=1``
    without ``ray_address`` runs in this process. ``ray_address``: ``"local"`` starts Ray here (with
    ``workers`` CPUs); ``"auto"`` or ``host:port`` / ``ray://host:port`` joins an existing cluster; when
    this process is connected to Ray already, that connection is used. ``max_in_flight`` bounds the calls
    submitted and not yet finished (default: one per worker, or two per cluster CPU on Ray).
    ``retries``: how many more times a call whose worker died is submitted. ``progress`` is called with
    each outcome as it arrives.
    """
    items = list(items)
    outcomes: list[Outcome[T, R] | None] = [None] * len(items)
    for index, outcome in _indexed(fn, items, workers, ray_address, max_in_flight, retries):
        outcomes[index] = outcome
        if progress is not None:
            progress(outcome)
    return [outcome for outcome in outcomes if outcome is not None]


def iter_batch(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    max_in_flight: int | None = None,
    retries: int = 2,
) -> Iterator[Outcome[T, R]]:
    """``run_batch``'s outcomes one by one as they finish (in any order); closing it stops the workers."""
    for _, outcome in _indexed(fn, list(items), workers, ray_address, max_in_flight, retries):
        yield outcome


def _indexed(
    fn: Callable, items: list, workers: int, ray_address: str | None, max_in_flight: int | None, retries: int
) -> Iterator[tuple[int, Outcome]]:
    if workers < 1:
        raise MmfusionError(f"workers must be >= 1 (got {workers})")
    if ray_address is not None:
        return _run_ray(fn, items, ray_address, workers, max_in_flight, retries)
    if workers == 1:
        return ((i, _outcome(item, *call(fn, item), 1)) for i, item in enumerate(items))
    return _run_processes(fn, items, workers, max_in_flight or workers, retries)


def _outcome(item: Any, ok: bool, value: Any, attempts: int) -> Outcome:
    return Outcome(item, ok, value if ok else None, "" if ok else value, attempts)


class _Schedule:
    """Which items wait and how often each was tried (shared by both engines)."""

    def __init__(self, items: Sequence[Any], retries: int) -> None:
        self.items = items
        self.waiting = list(range(len(items)))[::-1]  # popped from the end: first item first
        self.attempts = [0] * len(items)
        self.retries = retries

    def next(self) -> int:
        index = self.waiting.pop()
        self.attempts[index] += 1
        return index

    def done(self, index: int, ok: bool, value: Any) -> tuple[int, Outcome]:
        return index, _outcome(self.items[index], ok, value, self.attempts[index])

    def lost(self, index: int, why: str) -> list[tuple[int, Outcome]]:
        """The item's failure once its retries are spent, else nothing (it waits to be submitted again)."""
        if self.attempts[index] > self.retries:
            why = f"{LOST_WORKER} on each of {self.attempts[index]} attempts ({why})"
            return [self.done(index, False, why)]
        self.waiting.append(index)
        return []


def _run_processes(
    fn: Callable, items: Sequence, workers: int, max_in_flight: int, retries: int
) -> Iterator[tuple[int, Outcome]]:
    """A ``ProcessPoolExecutor``. A worker that dies breaks the whole pool, so every call then in flight is
    counted as lost (it cannot be told which one died) and a new pool takes them."""
    schedule = _Schedule(items, retries)
    context = multiprocessing.get_context("spawn")
    died = "a worker process died"
    while schedule.waiting:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context)
        running: dict[Future, int] = {}
        try:
            broken = False
            while not broken and (schedule.waiting or running):
                while schedule.waiting and len(running) < max_in_flight:
                    index = schedule.next()
                    running[pool.submit(call, fn, items[index])] = index
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = running.pop(future)
                    try:
                        yield schedule.done(index, *future.result())
                    except BrokenProcessPool:
                        yield from schedule.lost(index, died)
                        broken = True
            for index in running.values():  # the pool broke: the calls in it were lost with it
                yield from schedule.lost(index, died)
        except BaseException:  # Ctrl-C, SIGTERM, the consumer gone: stop the workers now
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()  # private, but the executor has no public way before 3.14
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


def _ray_module():
    try:
        import ray  # noqa: PLC0415 - optional dependency, imported only when --ray is asked for
    except ImportError:
        raise MmfusionError(
            "--ray needs Ray, which is not installed: pip install 'mmfusion_annotate[fleet]' (or 'ray')"
        ) from None
    return ray


def _check_reachable(address: str) -> None:
    """One line at once for a HOST:PORT nobody listens on (Ray itself retries it for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # 'auto', or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise MmfusionError(f"--ray {address}: cannot reach {host}:{port} ({exc.strerror or exc})") from None


def _connect(ray, address: str, workers: int) -> bool:
    """Connect to Ray unless this process is connected already; True when this call connected."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
    if address == RAY_LOCAL:
        options["num_cpus"] = workers
    else:
        _check_reachable(address)
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MmfusionError(f"--ray {address}: cannot connect to Ray: {' '.join(str(exc).split())}") from None
    return True


def _run_ray(
    fn: Callable, items: Sequence, address: str, workers: int, max_in_flight: int | None, retries: int
) -> Iterator[tuple[int, Outcome]]:
    """One Ray task per item, one CPU each, at most ``max_in_flight`` submitted at a time (``ray.wait``)."""
    ray = _ray_module()
    connected = _connect(ray, address, workers)
    lost_errors = (
        ray.exceptions.WorkerCrashedError,
        ray.exceptions.NodeDiedError,
        ray.exceptions.ObjectLostError,
        ray.exceptions.OwnerDiedError,
    )
    running: dict[Any, int] = {}
    try:
        limit = max_in_flight or max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(call).options(num_cpus=1, max_retries=0)
        fn_ref = ray.put(fn)
        schedule = _Schedule(items, retries)
        while schedule.waiting or running:
            while schedule.waiting and len(running) < limit:
                index = schedule.next()
                running[task.remote(fn_ref, items[index])] = index
            finished, _ = ray.wait(list(running), num_returns=1)
            for ref in finished:
                index = running.pop(ref)
                try:
                    result = schedule.done(index, *ray.get(ref))
                except lost_errors as exc:
                    yield from schedule.lost(index, type(exc).__name__)
                except ray.exceptions.RayError as exc:  # e.g. an item that could not be unpickled
                    yield schedule.done(index, False, " ".join(_ANSI.sub("", str(exc)).split())[:300])
                else:
                    yield result
    except BaseException:
        for ref in running:
            ray.cancel(ref, force=True)
        raise
    finally:
        if connected:
            ray.shutdown()


def batch_map(
    *, workers: int = 1, ray_address: str | None = None, on_failure: Callable[[Any, str], None]
) -> Callable[[Callable[[T], R], Sequence[T]], Iterator[R]]:
    """A ``map(fn, items)`` that runs on this runner: the results as they finish (in any order), each
    failed item handed to ``on_failure(item, line)`` instead of stopping the map."""

    def mapped(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        for outcome in iter_batch(fn, items, workers=workers, ray_address=ray_address):
            if outcome.ok:
                yield cast(R, outcome.result)  # set whenever ok
            else:
                on_failure(outcome.item, outcome.error)

    return mapped
