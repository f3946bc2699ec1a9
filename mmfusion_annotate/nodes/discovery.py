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


def wait_for_subscribers(publishers: Iterable, timeout_s: float, stop: threading.Event | None = None) -> bool:
    """Sleep until every publisher counts a subscriber, ``timeout_s`` passes or ``stop`` is set.

    Returns True when every publisher was matched (False on the timeout or the stop).
    """
    publishers = list(publishers)
    deadline = time.monotonic() + timeout_s
    while any(p.get_subscription_count() == 0 for p in publishers):
        if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
            return False
        time.sleep(POLL_S)
    return True
