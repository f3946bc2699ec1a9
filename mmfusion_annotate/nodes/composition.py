"""Several nodes in one process on one executor, with a clean stop on SIGINT/SIGTERM.

Why not ``rclpy.spin``: rclpy's own signal handler shuts the context down at once, so a node could no
longer publish its last frames and events, nor could the recorder in the same process still receive
them. Here the context is created without rclpy's handlers; a signal only sets a stop flag, then each
node's ``close()`` runs in order while the executor keeps spinning, so what one node emits on closing
still reaches the next one (fusion before recorder). A second signal interrupts as usual.

Two executors: ``events`` (the default), rclpy's EventsExecutor (``rclpy.experimental``, Jazzy): one
thread, ready work queued by the middleware's event callbacks in C++, so Python does not rebuild a wait
set for every message; ``multi``, the classic ``MultiThreadedExecutor`` (callbacks of different groups
on a thread pool). The fusion node's callbacks are light (heavy work is on its worker thread), so the
pool buys little and its Python overhead per message costs a lot at the default rig's ~340 messages/s
(the soak figures: bench/RESULTS.md, "Live pipeline performance and the soak").

Used by every node's ``main`` (``main_nodes``), ``mmfusion run`` and ``mmfusion demo``. Exit codes: 0 after
a clean stop (a signal included: what ``ros2 launch`` expects of a node), 2 on a configuration error, 1
when a node reports that it could not record everything (``recording_complete`` False after its
``close()``: a full disk); ``mmfusion run`` asks for 130 after Ctrl-C, as every other command gives.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Literal

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.context import Context
from rclpy.executors import Executor, MultiThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from mmfusion_annotate.errors import MmfusionError
from mmfusion_annotate.library_threads import let_openmp_teams_sleep
from mmfusion_annotate.nodes.dds_profile import use_large_data_profile

NodeFactory = Callable[[Context], Node]
"""Builds one node in the given context (``lambda ctx: FusionNode(context=ctx)``)."""

EXIT_OK, EXIT_INCOMPLETE, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130
ExecutorKind = Literal["events", "multi"]
EXECUTORS: tuple[ExecutorKind, ...] = ("events", "multi")


class StopReason(str, Enum):
    SIGNAL = "signal"  # SIGINT / SIGTERM, or the ``stop`` event was set
    UNTIL = "until"  # the ``until`` predicate became true
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"  # the context was shut down from elsewhere


class StopEvent(threading.Event):
    """A stop flag that also remembers which signal set it (``signum``; None when set otherwise)."""

    signum: int | None = None


def init_context(args: Sequence[str] | None = None, domain_id: int | None = None) -> Context:
    """A fresh rclpy context that leaves SIGINT/SIGTERM to ``run_nodes`` (see the module docstring), with
    the large-data Fast DDS profile unless one is set (``dds_profile``; inherited by child processes)."""
    use_large_data_profile()
    context = Context()
    rclpy.init(
        args=list(args) if args is not None else None,
        context=context,
        domain_id=domain_id,
        signal_handler_options=SignalHandlerOptions.NO,
    )
    return context


def _install_stop_handlers(stop: threading.Event) -> Callable[[], None]:
    """First SIGINT/SIGTERM sets ``stop`` and restores the previous handlers; returns the restorer."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def handler(signum: int, frame: object) -> None:
        if isinstance(stop, StopEvent):
            stop.signum = signum
        stop.set()
        restore()

    for sig in previous:
        signal.signal(sig, handler)
    return restore


def make_executor(kind: ExecutorKind, context: Context, num_threads: int | None = None) -> Executor:
    """The executor ``kind`` names (see the module docstring) in ``context``."""
    if kind == "events":
        return EventsExecutor(context=context)
    if kind == "multi":
        return MultiThreadedExecutor(num_threads=num_threads, context=context)
    raise ValueError(f"unknown executor '{kind}' (expected one of {', '.join(EXECUTORS)})")


def _spin_until(executor: Executor, done: Callable[[], bool], poll_s: float) -> None:
    while not done() and executor.context.ok():
        executor.spin_once(timeout_sec=poll_s)


def run_nodes(
    nodes: Sequence[Node],
    *,
    until: Callable[[], bool] | None = None,
    timeout_s: float | None = None,
    stop: threading.Event | None = None,
    num_threads: int | None = None,
    grace_s: float = 0.5,
    poll_s: float = 0.05,
    handle_signals: bool = True,
    executor: ExecutorKind = "events",
) -> StopReason:
    """Spin ``nodes`` (same context) on one executor until a stop, then close them in order.

    Stops on SIGINT/SIGTERM (when called from the main thread), ``stop`` set, ``until()`` true,
    ``timeout_s`` elapsed, or the context shut down. Then, for each node in the given order, its
    ``close()`` (if it has one) runs on a helper thread while the executor keeps spinning, followed by
    ``grace_s`` of spinning so its last messages are delivered. Nodes are removed from the executor but
    not destroyed (the caller owns them). ``handle_signals=False`` leaves SIGINT/SIGTERM to the caller
    (who then sets ``stop``), e.g. to cover the time spent building the nodes. ``executor``: ``events``
    or ``multi`` (``num_threads`` is the latter's pool size).
    """
    if not nodes:
        raise ValueError("run_nodes needs at least one node")
    spinner = make_executor(executor, nodes[0].context, num_threads)
    for node in nodes:
        spinner.add_node(node)
    # What exists now (rig, configs, JIT kernels, message types, nodes) lives as long as the process: kept
    # out of the cyclic GC, whose full collections otherwise stop every thread for ~60-75 ms (soak).
    gc.freeze()
    stop = stop or StopEvent()
    restore = _install_stop_handlers(stop) if handle_signals else (lambda: None)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            if stop.is_set():
                reason = StopReason.SIGNAL
            elif until is not None and until():
                reason = StopReason.UNTIL
            elif deadline is not None and time.monotonic() >= deadline:
                reason = StopReason.TIMEOUT
            elif not spinner.context.ok():
                reason = StopReason.SHUTDOWN
            else:
                spinner.spin_once(timeout_sec=poll_s)
                continue
            break
        for node in nodes:
            close = getattr(node, "close", None)
            if callable(close):
                closer = threading.Thread(target=close, name=f"close-{node.get_name()}", daemon=True)
                closer.start()
                _spin_until(spinner, lambda: not closer.is_alive(), poll_s)  # noqa: B023 - spun here, now
                closer.join()
            end = time.monotonic() + grace_s
            _spin_until(spinner, lambda: time.monotonic() >= end, poll_s)  # noqa: B023 - spun here, now
        return reason
    finally:
        restore()
        for node in nodes:
            spinner.remove_node(node)
        spinner.shutdown()


def missing_files(args: Sequence[str], parameters: Sequence[str] = ()) -> list[str]:
    """One line per ``--params-file`` in ``args`` that is not a readable file, and per ``-p name:=path``
    of the ``parameters`` named (file paths) that is not one: checked before ``rclpy.init``, which would
    otherwise fail with a traceback (a parameter file) or leave the check to a half-built node."""
    problems = []
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "--params-file" and not os.path.isfile(value):
            problems.append(f"parameter file {value} does not exist")
        name, sep, path = value.partition(":=")
        if flag in ("-p", "--param") and sep and name in parameters and path and not os.path.isfile(path):
            problems.append(f"{name}: {path} does not exist")
    return problems


def main_nodes(
    factories: Sequence[NodeFactory],
    args: Sequence[str] | None = None,
    *,
    program: str = "mmfusion",
    interrupt_exit: bool = False,
    until: Callable[[], bool] | None = None,
    timeout_s: float | None = None,
    executor: ExecutorKind = "events",
) -> int:
    """Entry-point body: init, build the nodes, ``run_nodes``, clean up; returns the exit code.

    A configuration problem while building (bad parameter, bad rig, any ``MmfusionError``) prints one
    line ``<program>: <message>`` on stderr and returns 2, without a traceback. A recording left
    incomplete returns 1 (module docstring); ``interrupt_exit`` returns 130 after a clean stop on SIGINT.
    """
    argv = sys.argv if args is None else args
    let_openmp_teams_sleep()  # before any node's kernels load libgomp
    problems = missing_files(argv)
    if problems:
        print(f"{program}: {problems[0]}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        context = init_context(argv)
    except RCLError as exc:  # a parameter file that does not parse, a malformed --ros-args
        print(f"{program}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_CONFIG
    stop = StopEvent()
    restore = _install_stop_handlers(stop)  # from here on: a signal while the nodes start up is a clean stop
    nodes: list[Node] = []
    try:
        try:
            for factory in factories:
                nodes.append(factory(context))
        except MmfusionError as exc:
            print(f"{program}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        run_nodes(nodes, stop=stop, handle_signals=False, until=until, timeout_s=timeout_s, executor=executor)
        if not all(getattr(node, "recording_complete", True) for node in nodes):
            lost = "messages lost to I/O errors or a full queue; see the log"
            print(f"{program}: the recording is incomplete ({lost})", file=sys.stderr)
            return EXIT_INCOMPLETE
        return EXIT_INTERRUPTED if interrupt_exit and stop.signum == signal.SIGINT else EXIT_OK
    finally:
        restore()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
