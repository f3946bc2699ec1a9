"""Value types shared by the sync policies and the core: queued entries, emitted sets, drop reasons."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from mmfusion_annotate.types import Stamp


class DropReason(str, enum.Enum):
    """Why a message left the synchronizer without being part of a set."""

    EVICTED = "evicted"  # pushed out by the queue size limit
    UNMATCHED = "unmatched"  # passed over: no set could use it
    OUT_OF_ORDER = "out_of_order"  # older than a message already taken on its input (optimal policy)
    DUPLICATE = "duplicate"  # same stamp as a queued message of its input
    STALE_OPTIONAL = "stale_optional"  # queued on an optional input whose deadline passed
    RESET = "reset"  # discarded when time jumped backwards


@dataclass(slots=True)
class Entry:
    """One queued message: its input, header stamp, offset-corrected stamp and arrival time."""

    lane: int
    stamp: Stamp
    eff: Stamp  # stamp - the input's offset: the time base all decisions use
    message: Any
    arrival_ns: Stamp


Slots = tuple[Entry | None, ...]
"""A set as a policy produces it: one entry per input, None for a left-out optional input."""


@dataclass(frozen=True)
class SyncedSet:
    """One synchronized set with the metadata annotators need.

    ``stamps`` are the header stamps; ``skews_ns`` are offset-corrected stamps minus
    ``reference_stamp`` (the offset-corrected stamp of the reference input, or of the first present
    slot). ``arrival_latency_ns`` is how far behind the sync clock each slot arrived; ``missing`` lists
    the optional inputs left out; ``forced`` marks a set published by the latency budget before it was
    proven optimal.
    """

    slots: tuple[Any, ...]
    stamps: tuple[Stamp | None, ...]
    skews_ns: tuple[int | None, ...]
    reference_stamp: Stamp
    missing: tuple[int, ...]
    arrival_latency_ns: tuple[int | None, ...]
    span_ns: int
    emitted_ns: Stamp
    forced: bool = False
