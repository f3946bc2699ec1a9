"""A bag's review queue: the review items of ``/prelabels/review`` as entries an annotator works through.

The pre-labeller raises a review item per frame, so one disagreement about one track lasts as many items
as frames it persists. The queue merges the items of one reason about the same objects (and camera) that
follow each other within ``GAP_NS`` into one entry: its time span, how many frames, and the item with the
highest priority, which is the one pictured. Entries are ordered by priority, highest first (ties: the
earlier first). The items are read by ``outputs.labels.read_review_items`` (priority and evidence of
items that lack fields: see there). The topic is found under whatever namespace the bag was recorded in.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from mmfusion_annotate.bagtools.source import channels, open_bag, read_messages
from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.outputs.labels import ReviewItemRecord, read_review_items
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, find_output_topic
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.types import Stamp, ns_to_seconds

GAP_NS = 1_000_000_000
"""Items of one reason about the same objects less than this apart belong to one entry."""


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
    topic = find_output_topic((c.topic for c in channels(files).values()), REVIEW_TOPIC, path)
    if topic is None:
        missing = (
            f"{path}: no review items ({REVIEW_TOPIC}): the bag has no pre-labels; run 'mmfusion replay'"
        )
        return ReviewQueue([], origin, missing)
    losses = ReadLosses()
    records = []
    messages = read_messages(files, topics={topic}, losses=losses)
    for message in tqdm(messages, desc="review items", unit=" frames", disable=not progress):
        try:
            msg = deserialize(message.msgtype, message.data)
        except CodecError as error:
            losses.skip(message.topic, message.log_time_ns, str(error))
            continue
        records += read_review_items(msg, message.log_time_ns)
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
