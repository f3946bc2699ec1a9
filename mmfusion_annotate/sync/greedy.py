"""The ``greedy`` policy: the set choice of ros2 message_filters' Python ApproximateTimeSynchronizer.

On each arrival the message is queued under its (offset-corrected) stamp; for every other input the
stamps within ``slop`` of it (inclusive) are listed nearest first (ties keep queue insertion order);
the first combination in lexicographic order whose span is strictly below ``slop`` is emitted at once
and its messages removed. A queue longer than ``queue_size`` loses its smallest stamp, even when that
is the new message, which then cannot be emitted; a repeated stamp replaces the queued message.

Upstream walks ``itertools.product`` over all candidates, which takes seconds with five inputs and
queues of 20 when nothing matches. Here the same lexicographic order is walked depth first, cutting
every branch whose partial span already reaches ``slop`` or that leaves a later input without any
stamp that could still fit, and remembering failed (depth, min, max) states; the first complete
combination found is the one upstream emits.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from mmfusion_annotate.sync.model import DropReason, Entry, Slots

DropFn = Callable[[Entry, DropReason], None]


class GreedyPolicy:
    """Per-arrival greedy matching over dict queues keyed by offset-corrected stamp."""

    def __init__(self, n_inputs: int, queue_size: int, slop_ns: int, on_drop: DropFn) -> None:
        self._queues: list[dict[int, Entry]] = [{} for _ in range(n_inputs)]
        self._active = [True] * n_inputs
        self._queue_size = queue_size
        self._slop = slop_ns
        self._drop = on_drop

    def add(self, entry: Entry) -> list[Slots]:
        """Queue ``entry`` and emit at most one set that contains it."""
        queue = self._queues[entry.lane]
        replaced = queue.get(entry.eff)
        if replaced is not None:
            self._drop(replaced, DropReason.DUPLICATE)
        queue[entry.eff] = entry
        while len(queue) > self._queue_size:
            self._drop(queue.pop(min(queue)), DropReason.EVICTED)
        if queue.get(entry.eff) is not entry:
            return []
        chosen = self._search(entry)
        if chosen is None:
            return []
        for item in chosen:
            if item is not None:
                del self._queues[item.lane][item.eff]
        return [chosen]

    def set_active(self, lane: int, active: bool) -> list[Slots]:
        """Leave an optional input out of (or back into) the search; its queue is stale when left out."""
        if not active:
            queue = self._queues[lane]
            for item in list(queue.values()):
                self._drop(item, DropReason.STALE_OPTIONAL)
            queue.clear()
        self._active[lane] = active
        return []

    def force(self) -> list[Slots]:
        """Greedy publishes on arrival; there is never an unproven candidate."""
        return []

    def pending_since(self) -> int | None:
        return None

    def clear(self) -> None:
        """Drop everything (time jumped backwards)."""
        for queue in self._queues:
            for item in queue.values():
                self._drop(item, DropReason.RESET)
            queue.clear()

    def _search(self, entry: Entry) -> Slots | None:
        eff, slop = entry.eff, self._slop
        lanes = [i for i, on in enumerate(self._active) if on and i != entry.lane]
        ordered: list[list[Entry]] = []
        for lane in lanes:
            near = [e for s, e in self._queues[lane].items() if abs(s - eff) <= slop]
            if not near:
                return None
            near.sort(key=lambda e: abs(e.eff - eff))  # stable: ties keep insertion order
            ordered.append(near)
        sorted_stamps = [sorted(e.eff for e in near) for near in ordered]
        depth_count = len(ordered)
        failed: set[tuple[int, int, int]] = set()
        picks: list[Entry] = []

        def fits_later(depth: int, lo: int, hi: int) -> bool:
            # every later input must still have a stamp s with max(hi, s) - min(lo, s) < slop
            low, high = hi - slop + 1, lo + slop - 1
            for stamps in sorted_stamps[depth:]:
                k = bisect_left(stamps, low)
                if k == len(stamps) or stamps[k] > high:
                    return False
            return True

        def walk(depth: int, lo: int, hi: int) -> bool:
            if depth == depth_count:
                return True
            if (depth, lo, hi) in failed:
                return False
            for cand in ordered[depth]:
                nlo, nhi = min(lo, cand.eff), max(hi, cand.eff)
                if nhi - nlo >= slop or not fits_later(depth + 1, nlo, nhi):
                    continue
                picks.append(cand)
                if walk(depth + 1, nlo, nhi):
                    return True
                picks.pop()
            failed.add((depth, lo, hi))
            return False

        if slop <= 0 or not walk(0, eff, eff):
            return None
        slots: list[Entry | None] = [None] * len(self._queues)
        slots[entry.lane] = entry
        for lane, item in zip(lanes, picks, strict=True):
            slots[lane] = item
        return tuple(slots)

