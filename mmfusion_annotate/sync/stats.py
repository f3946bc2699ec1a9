"""Counters and distributions of the synchronizer, and the flat status snapshot for ``/diagnostics``.

Every message that enters is accounted for: emitted in a set, or dropped for one ``DropReason``.
Span and wait are kept as bounded windows of recent values so percentiles stay cheap on a long drive.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np

from mmfusion_annotate.sync.model import DropReason, SyncedSet


class Distribution:
    """Recent values (bounded window) plus lifetime count and maximum."""

    def __init__(self, window: int = 4096) -> None:
        self._values: deque[int] = deque(maxlen=window)
        self.count = 0
        self.maximum = 0

    def add(self, value: int) -> None:
        self._values.append(value)
        self.count += 1
        self.maximum = max(self.maximum, value)

    def percentiles(self) -> dict[str, float]:
        """p50/p90/p99 of the window and the lifetime max, in nanoseconds (zeros when empty)."""
        if not self._values:
            return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
        p50, p90, p99 = np.percentile(np.fromiter(self._values, dtype=np.int64), [50, 90, 99])
        return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(self.maximum)}


@dataclass
class InputCounters:
    """Per-input accounting: received = emitted + every drop reason + still queued."""

    received: int = 0
    emitted: int = 0
    evicted: int = 0
    unmatched: int = 0
    out_of_order: int = 0
    duplicate: int = 0
    stale_optional: int = 0
    reset: int = 0

    def dropped(self) -> int:
        return sum(getattr(self, r.value) for r in DropReason)


@dataclass
class SyncStats:
    """All counters of one synchronizer."""

    names: tuple[str, ...]
    inputs: list[InputCounters] = field(init=False)
    sets: int = 0
    partial_sets: int = 0
    forced_sets: int = 0
    resets: int = 0
    span_ns: Distribution = field(default_factory=Distribution)
    wait_ns: Distribution = field(default_factory=Distribution)

    def __post_init__(self) -> None:
        self.inputs = [InputCounters() for _ in self.names]

    def count_drop(self, lane: int, reason: DropReason) -> None:
        counters = self.inputs[lane]
        setattr(counters, reason.value, getattr(counters, reason.value) + 1)

    def record_set(self, synced: SyncedSet, last_stamp: int) -> None:
        """Count a set; ``wait`` is how far the sync clock was past the set's latest stamp."""
        self.sets += 1
        self.partial_sets += bool(synced.missing)
        self.forced_sets += synced.forced
        for lane, slot in enumerate(synced.stamps):
            if slot is not None:
                self.inputs[lane].emitted += 1
        self.span_ns.add(synced.span_ns)
        self.wait_ns.add(max(0, synced.emitted_ns - last_stamp))

    def snapshot(self) -> dict[str, float | int]:
        """Flat ``key -> number`` view (one diagnostic KeyValue per entry)."""
        out: dict[str, float | int] = {
            "sets": self.sets,
            "partial_sets": self.partial_sets,
            "forced_sets": self.forced_sets,
            "resets": self.resets,
        }
        for key, value in self.span_ns.percentiles().items():
            out[f"span_ns.{key}"] = value
        for key, value in self.wait_ns.percentiles().items():
            out[f"wait_ns.{key}"] = value
        for name, counters in zip(self.names, self.inputs, strict=True):
            for f in fields(counters):
                out[f"{name}.{f.name}"] = getattr(counters, f.name)
        return out
