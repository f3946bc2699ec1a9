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
    """Which items wait, how often each was submitted, and how often a worker died under it alone.

    A local pool breaks as a whole when one worker dies, so the calls lost with it cannot be told apart:
    they become *suspects*, run again one at a time, and only a death while an item runs alone is charged
    to it (``retries`` bounds those). Charging every bystander would fail good items that happened to share
    a pool with a bad one. Ray reports the task that died, so its losses are always charged."""

    def __init__(self, items: Sequence[Any], retries: int) -> None:
        self.items = items
        self.waiting = list(range(len(items)))[::-1]  # popped from the end: first item first
        self.suspects: list[int] = []
        self.attempts = [0] * len(items)
        self.deaths = [0] * len(items)
        self.retries = retries

    def next(self, queue: list[int]) -> int:
        index = queue.pop()
        self.attempts[index] += 1
        return index

    def done(self, index: int, ok: bool, value: Any) -> tuple[int, Outcome]:
        return index, _outcome(self.items[index], ok, value, self.attempts[index])

    def lost(self, indices: list[int], why: str) -> list[tuple[int, Outcome]]:
        """The calls lost together with one dead worker: a lone one is charged and fails once its retries
        are spent; several are all suspects, to be run alone, uncharged."""
        if len(indices) != 1:
            self.suspects.extend(sorted(indices, reverse=True))
            return []
        index = indices[0]
        self.deaths[index] += 1
        if self.deaths[index] > self.retries:
            why = f"{LOST_WORKER} on each of {self.attempts[index]} attempts ({why})"
            return [self.done(index, False, why)]
        self.suspects.append(index)  # it killed a worker: it runs alone from now on
        return []


def _run_processes(
    fn: Callable, items: Sequence, workers: int, max_in_flight: int, retries: int
) -> Iterator[tuple[int, Outcome]]:
    """A ``ProcessPoolExecutor`` per round: the waiting items on ``workers`` processes, or, after a worker
    died among several calls, each suspect alone on one process (see ``_Schedule``)."""
    schedule = _Schedule(items, retries)
    context = multiprocessing.get_context("spawn")
    while schedule.waiting or schedule.suspects:
        alone = bool(schedule.suspects)
        queue = schedule.suspects if alone else schedule.waiting
        size = 1 if alone else min(workers, len(queue))
        pool = ProcessPoolExecutor(max_workers=size, mp_context=context)
        try:
            yield from _pool_round(pool, fn, schedule, queue, 1 if alone else max_in_flight)
        except BaseException:  # Ctrl-C, SIGTERM, the consumer gone: stop the workers now
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()  # private, but the executor has no public way before 3.14
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


def _pool_round(
    pool: ProcessPoolExecutor, fn: Callable, schedule: _Schedule, queue: list[int], limit: int
) -> Iterator[tuple[int, Outcome]]:
    """Calls from ``queue`` on ``pool`` until the queue is empty or the pool breaks; every call in flight
    when it breaks is lost with it."""
    running: dict[Future, int] = {}
    while queue or running:
        while queue and len(running) < limit:
            index = schedule.next(queue)
            running[pool.submit(call, fn, schedule.items[index])] = index
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        broken = False
        for future in finished:
            try:
                result = future.result()
            except BrokenProcessPool:
                broken = True
            else:
                yield schedule.done(running.pop(future), *result)
        if broken:
            yield from schedule.lost(list(running.values()), "a worker process died")
            return


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
        while schedule.waiting or schedule.suspects or running:
            while (schedule.waiting or schedule.suspects) and len(running) < limit:
                index = schedule.next(schedule.suspects or schedule.waiting)
                running[task.remote(fn_ref, items[index])] = index
            finished, _ = ray.wait(list(running), num_returns=1)
            for ref in finished:
                index = running.pop(ref)
                try:
                    result = schedule.done(index, *ray.get(ref))
                except lost_errors as exc:
                    yield from schedule.lost([index], type(exc).__name__)
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
