"""Stamped items of several sources -> one stream in the order a car's drivers would publish them.

Why: a bag plays back like a recorded car only when its messages are logged in publish order, while the
producers (the synthetic drive, a dataset import) generate them in stamp order, some published later than
stamped (a LiDAR sweep goes out once its last point is captured). Only the few delayed items are held.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import TypeVar

from mmfusion_annotate.types import Stamp

T = TypeVar("T")


def in_publish_order(items: Iterable[tuple[Stamp, Stamp, T]]) -> Iterator[tuple[Stamp, T]]:
    """``(stamp, publish time, item)`` in stamp order -> ``(publish time, item)`` in publish-time order.

    Each publish time must be at or after its stamp; an item is held until no later input can come out
    before it (ties keep the input order), so only the few delayed items are ever held. ``stamp`` only has
    to be a lower bound of every later item's publish time.
    """
    held: list[tuple[Stamp, int, T]] = []
    for order, (stamp, publish, item) in enumerate(items):
        while held and held[0][0] <= stamp:
            out, _, ready = heapq.heappop(held)
            yield out, ready
        heapq.heappush(held, (publish, order, item))
    while held:
        out, _, ready = heapq.heappop(held)
        yield out, ready
