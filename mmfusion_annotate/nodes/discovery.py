"""Waiting for subscribers before the first message, shared by the nodes that publish a drive or a bag.

Volatile subscribers that join late miss what was published before they matched (as with
``ros2 bag play``), so the publishers of a recorded or simulated drive wait, up to a bound, until each of
their topics counts a subscriber.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

POLL_S = 0.02


def wait_for_subscribers(publishers: Iterable, timeout_s: float, stop: threading.Event | None = None) -> list:
    """Sleep until every publisher counts a subscriber, ``timeout_s`` passes or ``stop`` is set.

    Returns the publishers still without a subscriber then (empty when every one was matched), for the
    caller to name in a warning.
    """
    publishers = list(publishers)
    deadline = time.monotonic() + timeout_s
    while True:
        unmatched = [p for p in publishers if p.get_subscription_count() == 0]
        if not unmatched or time.monotonic() >= deadline or (stop is not None and stop.is_set()):
            return unmatched
        time.sleep(POLL_S)


def unmatched_warning(unmatched: list, timeout_s: float) -> str | None:
    """The warning for publishers left without a subscriber after a wait the user asked for, or None."""
    if timeout_s <= 0 or not unmatched:
        return None
    topics = ", ".join(sorted(p.topic_name for p in unmatched))
    return f"no subscriber after {timeout_s:g} s on {topics}: publishing anyway (a late one misses the start)"
