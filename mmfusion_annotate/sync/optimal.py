"""The ``optimal`` policy: the algorithm of message_filters' C++ ``ApproximateTime`` sync policy.

Each input has a deque of pending messages (in stamp order) and a ``past`` list of messages looked
at for the current candidate. While every active deque has a head: the input with the latest head
is the pivot; the candidate is the tuple of heads with the least ``span + age_penalty x end``
(compared as ``(end - cand_end) * (1 + age_penalty) >= start - cand_start``); the earliest head
moves to ``past``. The candidate is published when the pivot's own message becomes the earliest head
(every set containing it was seen) or when it is provably optimal: any later set must contain
``[pivot_time, end]``, already too big. When a deque runs dry the proof continues with virtual heads
``max(last stamp + inter_message_lower_bound, pivot_time)``, which is how a known sensor rate lets
the policy publish as early as greedy. Before a pivot exists, heads spanning more than
``max_interval`` lose their earliest message, and an input that overflowed its queue may not become
the pivot until the other heads catch up (its dropped message might have been better). The sets
depend only on each input's message sequence, never on how the inputs interleave.

Additions: optional inputs can be switched off (their slot stays empty) and a candidate can be
forced out (latency budget). Either cancels the ongoing search, exactly like a queue overflow does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from mmfusion_annotate.sync.model import DropReason, Entry, Slots

DropFn = Callable[[Entry, DropReason], None]


class OptimalPolicy:
    """Pivot / candidate search over per-input deques of offset-corrected stamps."""

    def __init__(
        self,
        n_inputs: int,
        queue_size: int,
        max_interval_ns: int | None,
        age_penalty: float,
        lower_bounds_ns: list[int],
        on_drop: DropFn,
    ) -> None:
        self._n = n_inputs
        self._deques: list[deque[Entry]] = [deque() for _ in range(n_inputs)]
        self._past: list[list[Entry]] = [[] for _ in range(n_inputs)]
        self._active = [True] * n_inputs
        self._dropped = [False] * n_inputs
        self._queue_size = queue_size
        self._max_interval = max_interval_ns
        self._factor = 1.0 + age_penalty
        self._bounds = lower_bounds_ns
        self._drop = on_drop
        self._pivot: int | None = None
        self._pivot_time = 0
        self._cand_start = 0
        self._cand_end = 0
        self._candidate: Slots = ()
        self._out: list[Slots] = []

    # --- public ---------------------------------------------------------------------------------

    def add(self, entry: Entry) -> list[Slots]:
        """Append ``entry`` (its stamp is not older than its input's last one) and publish what is ready."""
        lane = entry.lane
        dq = self._deques[lane]
        dq.append(entry)
        if len(dq) == 1 and self._all_heads():
            self._process()
        if len(dq) + len(self._past[lane]) > self._queue_size:
            self._recover_all()
            self._drop(dq.popleft(), DropReason.EVICTED)
            self._dropped[lane] = True
            if self._pivot is not None:
                self._cancel()
                self._process()
        return self._take()

    def set_active(self, lane: int, active: bool) -> list[Slots]:
        """Switch an optional input off (its queue is stale) or back on; restarts the candidate search."""
        if self._active[lane] == active:
            return []
        self._recover_all()
        self._cancel()
        if not active:
            for item in self._deques[lane]:
                self._drop(item, DropReason.STALE_OPTIONAL)
            self._deques[lane].clear()
            self._dropped[lane] = False
        self._active[lane] = active
        self._process()
        return self._take()

    def force(self) -> list[Slots]:
        """Publish the current candidate without proof (latency budget), then carry on."""
        if self._pivot is not None:
            self._publish()
            self._process()
        return self._take()

    def pending_since(self) -> int | None:
        """Pivot stamp of the unproven candidate, None when there is none."""
        return self._pivot_time if self._pivot is not None else None

    def clear(self) -> None:
        """Drop everything (time jumped backwards)."""
        self._cancel()
        for lane in range(self._n):
            for item in (*self._past[lane], *self._deques[lane]):
                self._drop(item, DropReason.RESET)
            self._past[lane].clear()
            self._deques[lane].clear()
        self._dropped = [False] * self._n

    # --- algorithm ------------------------------------------------------------------------------

    def _lanes(self) -> list[int]:
        return [i for i in range(self._n) if self._active[i]]

    def _all_heads(self) -> bool:
        lanes = self._lanes()
        return bool(lanes) and all(self._deques[i] for i in lanes)

    def _bounds_of(self, times: list[tuple[int, int]]) -> tuple[int, int, int, int]:
        """(start_lane, start, end_lane, end): first lane wins ties for start, last lane for end."""
        start_lane, start = times[0]
        end_lane, end = times[0]
        for lane, t in times[1:]:
            if t < start:
                start_lane, start = lane, t
            if t >= end:
                end_lane, end = lane, t
        return start_lane, start, end_lane, end

    def _process(self) -> None:
        while self._all_heads():
            lanes = self._lanes()
            start_lane, start, end_lane, end = self._bounds_of([(i, self._deques[i][0].eff) for i in lanes])
            for i in lanes:
                if i != end_lane:
                    self._dropped[i] = False
            if self._pivot is None:
                too_wide = self._max_interval is not None and end - start > self._max_interval
                if too_wide or self._dropped[end_lane]:
                    self._delete_front(start_lane)
                    continue
                self._make_candidate(start, end)
                self._pivot, self._pivot_time = end_lane, end
            elif (end - self._cand_end) * self._factor < start - self._cand_start:
                self._make_candidate(start, end)
            self._past[start_lane].append(self._deques[start_lane].popleft())
            if start_lane == self._pivot:
                self._publish()
            elif (end - self._cand_end) * self._factor >= self._pivot_time - self._cand_start:
                self._publish()
            elif not self._all_heads():
                self._virtual_search()

    def _virtual_search(self) -> None:
        """Try to prove optimality with the lower bounds standing in for messages not yet received."""
        moved: list[int] = []
        while True:
            times = []
            for i in self._lanes():
                dq = self._deques[i]
                if dq:
                    times.append((i, dq[0].eff))
                else:
                    times.append((i, max(self._past[i][-1].eff + self._bounds[i], self._pivot_time)))
            start_lane, start, _, end = self._bounds_of(times)
            if (end - self._cand_end) * self._factor >= self._pivot_time - self._cand_start:
                self._publish()  # proven; publishing also undoes the virtual moves
                return
            if (end - self._cand_end) * self._factor < start - self._cand_start:
                for lane in reversed(moved):  # a virtual candidate could still be better: undo
                    self._deques[lane].appendleft(self._past[lane].pop())
                return
            self._past[start_lane].append(self._deques[start_lane].popleft())
            moved.append(start_lane)

    def _make_candidate(self, start: int, end: int) -> None:
        slots: list[Entry | None] = [None] * self._n
        for i in self._lanes():
            slots[i] = self._deques[i][0]
            for item in self._past[i]:
                self._drop(item, DropReason.UNMATCHED)
            self._past[i].clear()
        self._candidate = tuple(slots)
        self._cand_start, self._cand_end = start, end

    def _publish(self) -> None:
        self._out.append(self._candidate)
        self._recover_all()
        for i in self._lanes():
            self._deques[i].popleft()
        self._cancel()

    def _cancel(self) -> None:
        self._candidate = ()
        self._pivot = None

    def _recover_all(self) -> None:
        for i in range(self._n):
            past = self._past[i]
            if past:
                self._deques[i].extendleft(reversed(past))
                past.clear()

    def _delete_front(self, lane: int) -> None:
        self._drop(self._deques[lane].popleft(), DropReason.UNMATCHED)

    def _take(self) -> list[Slots]:
        out, self._out = self._out, []
        return out
