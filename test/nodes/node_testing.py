"""Shared bits of the node tests: a background spinner, waiting on a condition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rclpy.node import Node

from mmfusion_annotate.nodes.composition import run_nodes


@contextmanager
def spinning(nodes: Sequence[Node]) -> Iterator[None]:
    """Spin ``nodes`` with ``run_nodes`` on a background thread; stop (closing the nodes) on exit."""
    stop = threading.Event()
    thread = threading.Thread(target=run_nodes, args=(nodes,), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30.0)
        assert not thread.is_alive(), "run_nodes did not stop"


def wait_for(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(poll_s)
    return condition()
