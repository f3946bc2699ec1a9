"""Baseline for the sync benchmark and test oracle: a plain port of the algorithm of ros2
message_filters' Python ApproximateTimeSynchronizer (Jazzy), un-pruned ``itertools.product`` search
as upstream does it, on integer nanoseconds and without offsets or headerless support.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any


class UpstreamGreedy:
    """``add(index, stamp_ns, msg)`` calls ``callback(*msgs)`` like upstream's synchronizer would."""

    def __init__(self, n_inputs: int, queue_size: int, slop_ns: int, callback: Callable[..., Any]) -> None:
        self.queues: list[dict[int, Any]] = [{} for _ in range(n_inputs)]
        self.queue_size = queue_size
        self.slop = slop_ns
        self.callback = callback

    def add(self, index: int, stamp: int, msg: Any) -> None:
        queue = self.queues[index]
        queue[stamp] = msg
        while len(queue) > self.queue_size:
            del queue[min(queue)]
        others = self.queues[:index] + self.queues[index + 1 :]
        lists = []
        for other in others:
            near = [(s, abs(s - stamp)) for s in other if abs(s - stamp) <= self.slop]
            if not near:
                return
            lists.append([s for s, _ in sorted(near, key=lambda x: x[1])])
        for combo in itertools.product(*lists):
            stamps = list(combo)
            stamps.insert(index, stamp)
            pairs = list(zip(self.queues, stamps, strict=True))
            if max(stamps) - min(stamps) < self.slop and all(t in q for q, t in pairs):
                msgs = [q[t] for q, t in pairs]
                self.callback(*msgs)
                for q, t in pairs:
                    del q[t]
                break
