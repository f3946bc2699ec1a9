"""Messages the pipeline refused, counted per reason and per sensor: one counter behind /diagnostics and
replay's summary, so a lost message is always visible as a number with its cause and source.

Reasons are short snake_case words: the decode ones come from ``CodecError.reason`` (``bad_value``: not
finite or out of range, ``bad_quaternion``, ``image_size``, ``image_encoding``, ``undecodable``), the
stamp ones from the ``sync.stamp_gate`` (``stamp_far_future``, ``stamp_far_past``), plus
``unknown_sensor`` and ``processing_error`` (a step that raised: a bug to report, logged with its
traceback).
"""

from __future__ import annotations

import threading
from collections import Counter


class DropCounts:
    """Thread-safe ``(reason, source) -> count``; ``source`` is the sensor (or topic) the message came on."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def count(self, source: str, reason: str, n: int = 1) -> None:
        with self._lock:
            self._counts[(reason, source)] += n

    def total(self, *, source: str | None = None, reason: str | None = None) -> int:
        """All drops, or those of one source and/or reason."""
        with self._lock:
            return sum(
                n for (r, s), n in self._counts.items()
                if (source is None or s == source) and (reason is None or r == reason)
            )  # fmt: skip

    def snapshot(self) -> dict[str, int]:
        """Flat ``{"reason.source": count}``, sorted: the key/values of a /diagnostics status."""
        with self._lock:
            return {f"{r}.{s}": n for (r, s), n in sorted(self._counts.items())}

    def summary(self) -> str:
        """One line for a command's summary: ``reason: source n, ...; ...`` (empty when nothing dropped)."""
        by_reason: dict[str, list[str]] = {}
        for key, n in self.snapshot().items():
            reason, source = key.split(".", 1)
            by_reason.setdefault(reason, []).append(f"{source} {n}")
        return "; ".join(f"{reason}: {', '.join(parts)}" for reason, parts in by_reason.items())
