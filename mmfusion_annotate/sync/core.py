"""Executor-free synchronizer core: ``feed(input_index, stamp_ns, message)`` in, ``SyncedSet`` list out.

The same core serves live nodes and offline bag replay, so a bag gives the same sets offline as live
(for the optimal policy, whose sets do not depend on how inputs interleave). Nothing here reads a
wall clock: "now" is the caller's ``now_ns`` (a node clock, live) or else the newest
offset-corrected stamp seen (the stream clock, offline). Deadlines of optional inputs and the latency
budget are judged against that "now"; ``tick(now_ns)`` lets time pass without a message.

Around the policy the core adds what neither upstream synchronizer has: per-input constant offsets
applied before matching (so they work whatever the arrival order), optional inputs left out after a
deadline and taken back when they return, a latency budget, a reset when time jumps backwards,
accounting of every message, and per-set metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from mmfusion_annotate.errors import ConfigError, SyncError
from mmfusion_annotate.sync.config import InputSpec, Policy, SyncConfig, deadline_ns, lower_bound_ns
from mmfusion_annotate.sync.greedy import GreedyPolicy
from mmfusion_annotate.sync.model import DropReason, Entry, Slots, SyncedSet
from mmfusion_annotate.sync.optimal import OptimalPolicy
from mmfusion_annotate.sync.stats import SyncStats
from mmfusion_annotate.types import Stamp

_log = logging.getLogger(__name__)

DropCallback = Callable[[int, DropReason, Stamp, Any], None]
"""``on_drop(input_index, reason, stamp_ns, message)``."""


class SyncCore:
    """Deterministic synchronizer over ``inputs`` (single-threaded; callers serialize calls)."""

    def __init__(
        self,
        inputs: Sequence[InputSpec],
        config: SyncConfig | None = None,
        policy: Policy | None = None,
        *,
        on_drop: DropCallback | None = None,
    ) -> None:
        self.config = config or SyncConfig()
        self.inputs = tuple(inputs)
        self.policy: Policy = policy or self.config.policy
        names = [spec.name for spec in self.inputs]
        if not names:
            raise ConfigError("at least one input is needed", key="inputs")
        if len(set(names)) != len(names):
            raise ConfigError(f"input names must be unique, got {names}", key="inputs")
        if self.config.reference is not None and self.config.reference not in names:
            raise ConfigError(f"'{self.config.reference}' is not an input ({names})", key="reference")
        if self.policy not in ("greedy", "optimal"):
            raise ConfigError(f"policy must be greedy or optimal, not '{self.policy}'", key="policy")
        self._reference = names.index(self.config.reference) if self.config.reference else 0
        self._deadlines = [deadline_ns(spec, self.config, i) for i, spec in enumerate(self.inputs)]
        self._bounds = [lower_bound_ns(spec, self.config) for spec in self.inputs]
        self._on_drop = on_drop
        self.stats = SyncStats(tuple(names))
        n = len(names)
        if self.policy == "greedy":
            self._policy: GreedyPolicy | OptimalPolicy = GreedyPolicy(
                n, self.config.queue_size, self.config.slop_ns, self._dropped
            )
        else:
            self._policy = OptimalPolicy(
                n,
                self.config.queue_size,
                self.config.max_interval_ns,
                self.config.age_penalty,
                self._bounds,
                self._dropped,
            )
        self._active = [True] * n
        self._last_eff: list[int | None] = [None] * n
        self._last_arrival: list[int | None] = [None] * n
        self._now: int | None = None
        self._start: int | None = None
        self._warned: set[tuple[int, str]] = set()

    # --- public ---------------------------------------------------------------------------------

    def feed(
        self, input_index: int, stamp_ns: Stamp, message: Any, now_ns: Stamp | None = None
    ) -> list[SyncedSet]:
        """Add one message of input ``input_index``; return the sets it completes (often none)."""
        if not 0 <= input_index < len(self.inputs):
            raise SyncError(f"input index {input_index} out of range 0..{len(self.inputs) - 1}")
        lane = input_index
        eff = int(stamp_ns) - self.inputs[lane].offset_ns
        self._check_clock_jump(now_ns)
        last = self._last_eff[lane]
        if last is not None and self._jumped(last, eff):
            self._reset(f"input '{self.inputs[lane].name}' jumped back {(last - eff) / 1e9:.3f} s")
            last = None
        now = self._advance(now_ns, eff)
        self.stats.inputs[lane].received += 1
        entry = Entry(lane, int(stamp_ns), eff, message, now)
        sets: list[tuple[Slots, bool]] = []
        if last is not None and not self._admit(entry, last):
            return self._finish(sets, now)
        self._last_eff[lane] = eff if last is None else max(last, eff)
        self._last_arrival[lane] = now
        if not self._active[lane]:
            _log.info("sync: optional input '%s' is back", self.inputs[lane].name)
            self._active[lane] = True
            sets += [(s, False) for s in self._policy.set_active(lane, True)]
        sets += [(s, False) for s in self._policy.add(entry)]
        return self._finish(sets, now)

    def tick(self, now_ns: Stamp) -> list[SyncedSet]:
        """Let time pass without a message: applies deadlines and the latency budget at ``now_ns``."""
        self._check_clock_jump(now_ns)
        now = self._advance(now_ns, None)
        return self._finish([], now)

    def flush(self) -> list[SyncedSet]:
        """End of stream: publish pending candidates without waiting for proof (marked ``forced``)."""
        sets: list[tuple[Slots, bool]] = []
        while self._policy.pending_since() is not None:
            sets += _mark_first(self._policy.force())
        return self._build(sets, self._now if self._now is not None else 0)

    @property
    def active(self) -> tuple[bool, ...]:
        """Which inputs currently take part in sets (optional ones go inactive after their deadline)."""
        return tuple(self._active)

    # --- internals ------------------------------------------------------------------------------

    def _admit(self, entry: Entry, last: int) -> bool:
        """Order, duplicate and rate checks against the input's newest stamp; False = dropped."""
        lane, name = entry.lane, self.inputs[entry.lane].name
        if entry.eff < last:
            self._warn_once(lane, "order", f"sync: stamps of input '{name}' go backwards (warned once)")
            if self.policy == "optimal":
                self._dropped(entry, DropReason.OUT_OF_ORDER)
                return False
            return True  # greedy keeps any order, like message_filters' Python synchronizer
        if entry.eff == last and self.policy == "optimal":
            self._dropped(entry, DropReason.DUPLICATE)
            return False
        bound = self._bounds[lane]
        if 0 < entry.eff - last < bound:
            self._warn_once(
                lane,
                "rate",
                f"sync: input '{name}' messages {(entry.eff - last) / 1e6:.1f} ms apart, closer than the "
                f"{bound / 1e6:.1f} ms its rate allows (warned once)",
            )
        return True

    def _check_clock_jump(self, now_ns: Stamp | None) -> None:
        if now_ns is not None and self._now is not None and self._jumped(self._now, now_ns):
            self._reset(f"clock jumped back {(self._now - now_ns) / 1e9:.3f} s")

    def _jumped(self, before: int, after: int) -> bool:
        jump = self.config.time_jump_ns
        return jump is not None and after < before - jump

    def _advance(self, now_ns: Stamp | None, eff: int | None) -> int:
        candidates = [t for t in (self._now, now_ns, eff if now_ns is None else None) if t is not None]
        now = max(candidates)
        self._now = now
        if self._start is None:
            self._start = now
        return now

    def _finish(self, sets: list[tuple[Slots, bool]], now: int) -> list[SyncedSet]:
        sets += self._apply_deadlines(now)
        budget = self.config.max_latency_ns
        if budget is not None:
            pending = self._policy.pending_since()
            while pending is not None and now - pending > budget:
                sets += _mark_first(self._policy.force())
                pending = self._policy.pending_since()
        return self._build(sets, now)

    def _apply_deadlines(self, now: int) -> list[tuple[Slots, bool]]:
        sets: list[tuple[Slots, bool]] = []
        for lane, deadline in enumerate(self._deadlines):
            if deadline is None or not self._active[lane]:
                continue
            seen = self._last_arrival[lane]
            since = seen if seen is not None else self._start
            if since is not None and now - since > deadline:
                _log.info("sync: optional input '%s' silent for %.3f s, left out", self.inputs[lane].name,
                          (now - since) / 1e9)
                self._active[lane] = False
                sets += [(s, False) for s in self._policy.set_active(lane, False)]
        return sets

    def _build(self, sets: list[tuple[Slots, bool]], now: int) -> list[SyncedSet]:
        out = []
        for slots, forced in sets:
            present = [e for e in slots if e is not None]
            ref_entry = slots[self._reference] or present[0]
            ref = ref_entry.eff
            effs = [e.eff for e in present]
            synced = SyncedSet(
                slots=tuple(e.message if e is not None else None for e in slots),
                stamps=tuple(e.stamp if e is not None else None for e in slots),
                skews_ns=tuple(e.eff - ref if e is not None else None for e in slots),
                reference_stamp=ref,
                missing=tuple(i for i, e in enumerate(slots) if e is None),
                arrival_latency_ns=tuple(e.arrival_ns - e.eff if e is not None else None for e in slots),
                span_ns=max(effs) - min(effs),
                emitted_ns=now,
                forced=forced,
            )
            self.stats.record_set(synced, max(effs))
            out.append(synced)
        return out

    def _dropped(self, entry: Entry, reason: DropReason) -> None:
        self.stats.count_drop(entry.lane, reason)
        if self._on_drop is not None:
            self._on_drop(entry.lane, reason, entry.stamp, entry.message)

    def _reset(self, why: str) -> None:
        _log.warning("sync: %s; resetting (looped bag or restarted simulation?)", why)
        self.stats.resets += 1
        self._policy.clear()
        for lane, active in enumerate(self._active):
            if not active:
                self._policy.set_active(lane, True)
        n = len(self.inputs)
        self._active = [True] * n
        self._last_eff = [None] * n
        self._last_arrival = [None] * n
        self._now = self._start = None

    def _warn_once(self, lane: int, kind: str, message: str) -> None:
        if (lane, kind) not in self._warned:
            self._warned.add((lane, kind))
            _log.warning(message)


def _mark_first(sets: list[Slots]) -> list[tuple[Slots, bool]]:
    """The first set after ``force()`` is the unproven one; later ones were proven as usual."""
    return [(s, i == 0) for i, s in enumerate(sets)]
