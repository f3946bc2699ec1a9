"""A bag's review queue: the review items of ``/prelabels/review`` as entries an annotator works through.

The pre-labeller raises a review item per frame, so one disagreement about one track lasts as many items
as frames it persists. The queue merges the items of one reason about the same objects (and camera) that
follow each other within ``GAP_NS`` into one entry: its time span, how many frames, and the item with the
highest priority, which is the one pictured. Entries are ordered by priority, highest first (ties: the
earlier first). An item's priority is its ``priority`` field when the bag has one; otherwise severity x
confidence x the share of modalities that disagree, from whichever of those fields the item carries.

An item's ``evidence.<name>`` fields (the values compared, the thresholds) and any field this module does
not know are kept as its evidence.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from mmfusion_annotate.bagtools.events import severity_rank
from mmfusion_annotate.bagtools.source import channels, open_bag, read_messages
from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.prelabel.model import Modality
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.types import Stamp, ns_to_seconds

REVIEW_TOPIC = "/prelabels/review"
GAP_NS = 1_000_000_000
"""Items of one reason about the same objects less than this apart belong to one entry."""
_FIXED = {"kind", "reason", "modalities", "priority", "object_ids", "camera", "stamp_ns"}
_FIXED |= {"severity", "confidence", "detail"}


@dataclass(frozen=True)
class ReviewItemRecord:
    """One review item as the bag keeps it (metadata of a ``/prelabels/review`` entity)."""

    reason: str
    stamp: Stamp
    priority: float
    modalities: tuple[str, ...]
    object_ids: tuple[int, ...]
    camera: str
    severity: float | None
    confidence: float | None
    detail: str
    evidence: dict[str, str]


@dataclass
class ReviewEntry:
    """Consecutive items of one reason about the same objects: what an annotator reviews once."""

    id: str
    reason: str
    object_ids: tuple[int, ...]
    camera: str
    first_ns: Stamp
    last_ns: Stamp
    frames: int
    top: ReviewItemRecord
    """The item of highest priority: the entry's priority, evidence and picture."""

    @property
    def priority(self) -> float:
        return self.top.priority

    def to_dict(self, origin_ns: Stamp = 0) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "priority": round(self.priority, 4),
            "modalities": list(self.top.modalities),
            "object_ids": list(self.object_ids),
            "camera": self.camera or None,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "first_s": round(ns_to_seconds(self.first_ns - origin_ns), 3),
            "last_s": round(ns_to_seconds(self.last_ns - origin_ns), 3),
            "frames": self.frames,
            "pictured_ns": self.top.stamp,
            "severity": self.top.severity,
            "confidence": self.top.confidence,
            "detail": self.top.detail,
            "evidence": self.top.evidence,
        }


@dataclass
class ReviewQueue:
    """A bag's entries by priority; ``missing`` says why the queue is empty when the bag cannot have one."""

    entries: list[ReviewEntry]
    origin_ns: Stamp
    missing: str = ""
    losses: ReadLosses = field(default_factory=ReadLosses)


def _number(meta: dict[str, str], key: str) -> float | None:
    try:
        return float(meta[key])
    except (KeyError, ValueError):
        return None


def _severity(meta: dict[str, str]) -> float | None:
    """The item's severity in [0, 1]: a number, or an event severity name (info .. severe)."""
    if (value := _number(meta, "severity")) is not None:
        return value
    rank = severity_rank(meta.get("severity"))
    return (rank + 1) / 4 if rank >= 0 else None


def item_priority(meta: dict[str, str]) -> float:
    """The item's ``priority`` field, else severity x confidence x share of modalities disagreeing."""
    if (given := _number(meta, "priority")) is not None:
        return given
    severity = _severity(meta)
    confidence = _number(meta, "confidence")
    modalities = [m for m in meta.get("modalities", "").split(",") if m]
    return (
        (1.0 if severity is None else severity)
        * (1.0 if confidence is None else confidence)
        * len(modalities)
        / len(Modality)
    )


def _record(meta: dict[str, str], log_time: Stamp) -> ReviewItemRecord:
    stamp = _number(meta, "stamp_ns")
    return ReviewItemRecord(
        reason=meta.get("reason", "unknown"),
        stamp=int(stamp) if stamp is not None else log_time,
        priority=item_priority(meta),
        modalities=tuple(m for m in meta.get("modalities", "").split(",") if m),
        object_ids=tuple(
            int(i) for i in meta.get("object_ids", "").split(",") if i.strip().lstrip("-").isdigit()
        ),
        camera=meta.get("camera", ""),
        severity=_severity(meta),
        confidence=_number(meta, "confidence"),
        detail=meta.get("detail", ""),
        evidence={k.removeprefix("evidence."): v for k, v in meta.items() if k not in _FIXED and v != ""},
    )


def _entry_id(reason: str, object_ids: tuple[int, ...], camera: str, first_ns: Stamp) -> str:
    key = f"{reason}/{','.join(map(str, object_ids))}/{camera}/{first_ns}"
    return hashlib.sha1(key.encode()).hexdigest()[:8]


def group_items(records: list[ReviewItemRecord]) -> list[ReviewEntry]:
    """Entries of ``records`` (module doc), highest priority first."""
    open_entries: dict[tuple[str, tuple[int, ...], str], ReviewEntry] = {}
    entries: list[ReviewEntry] = []
    for record in sorted(records, key=lambda r: r.stamp):
        key = (record.reason, record.object_ids, record.camera)
        entry = open_entries.get(key)
        if entry is None or record.stamp - entry.last_ns > GAP_NS:
            entry = ReviewEntry(
                _entry_id(*key, record.stamp), *key, record.stamp, record.stamp, 0, record
            )  # fmt: skip
            open_entries[key] = entry
            entries.append(entry)
        entry.last_ns = record.stamp
        entry.frames += 1
        if record.priority > entry.top.priority:
            entry.top = record
    return sorted(entries, key=lambda e: (-e.priority, e.first_ns, e.id))


def read_review_queue(path: str | os.PathLike, *, progress: bool = False) -> ReviewQueue:
    """The review queue of a bag; an empty queue with ``missing`` set when the bag has no review topic."""
    files = open_bag(path)
    origin = min((f.start_ns for f in files if f.start_ns is not None), default=0)
    if REVIEW_TOPIC not in {c.topic for c in channels(files).values()}:
        missing = (
            f"{path}: no review items ({REVIEW_TOPIC}): the bag has no pre-labels; run 'mmfusion replay'"
        )
        return ReviewQueue([], origin, missing)
    losses = ReadLosses()
    records = []
    messages = read_messages(files, topics={REVIEW_TOPIC}, losses=losses)
    for message in tqdm(messages, desc="review items", unit=" frames", disable=not progress):
        try:
            msg = deserialize(message.msgtype, message.data)
        except CodecError as error:
            losses.skip(message.topic, message.log_time_ns, str(error))
            continue
        for entity in msg.entities:
            meta = {kv.key: kv.value for kv in entity.metadata}
            if meta.get("kind", "review") == "review":
                records.append(_record(meta, message.log_time_ns))
    return ReviewQueue(group_items(records), origin, "", losses)


def find_entries(
    path: str | os.PathLike, *, entry_id: str | None = None, reason: str | None = None
) -> list[ReviewEntry]:
    """The entry ``entry_id``, or every entry of ``reason``; BagError naming what was not found."""
    queue = read_review_queue(path)
    if queue.missing:
        raise BagError(queue.missing)
    found = [e for e in queue.entries if e.id == entry_id or (reason is not None and e.reason == reason)]
    if not found:
        what = f"review entry '{entry_id}'" if entry_id is not None else f"review item of kind '{reason}'"
        raise BagError(f"{path}: no {what} (see 'mmfusion review')")
    return found
