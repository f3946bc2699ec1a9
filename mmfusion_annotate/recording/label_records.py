"""Per-file summaries of the pre-labels: the ``mmfusion_review_items`` and ``mmfusion_prelabel_counts``
MCAP metadata records, tallied from the ``/prelabels`` SceneUpdates (review items read by
``outputs.labels.read_review_items``, the one reader every review tool shares).

Why: a catalog wants every review item and the cuboids per class per time window of each bag, and those
topics are interleaved with the sensor data in every chunk, so reading them costs most of the bag. The
writer tallies them as it writes (``LabelTally``: counts aggregated per class and window, review items
capped per file with the overflow counted) and ends each split file with the tally of the messages it
holds, like the events record; a catalog then reads them through the summary's metadata index. Readers of
bags without the records feed the messages into the same tally, so both give the same rows.

Windows are aligned to multiples of their length since the epoch (not to a bag's start), so a file's
windows add up across split files and bags, and a multiple of ``WINDOW_S`` can be built from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.outputs.labels import SCENE_UPDATE, read_review_items
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, SCENE_TOPIC, namespaced_as
from mmfusion_annotate.types import NS_PER_S, seconds_to_ns

REVIEW_RECORD = "mmfusion_review_items"
COUNTS_RECORD = "mmfusion_prelabel_counts"
LABEL_RECORDS = (REVIEW_RECORD, COUNTS_RECORD)
WINDOW_S = 10.0
"""Length of the windows the counts record counts cuboids in, per class (the catalog's ``--window``)."""
REVIEW_CAP = 20_000
"""Review items kept per file in its record (a few per frame: about half an hour at 10 Hz); the rest
are counted as ``overflow`` in the record and stay readable from ``/prelabels/review``."""


def label_topic(topic: str) -> str | None:
    """``SCENE_TOPIC`` or ``REVIEW_TOPIC`` for a topic of that name in any namespace, else None."""
    for name in (SCENE_TOPIC, REVIEW_TOPIC):
        if namespaced_as(name, topic):
            return name
    return None


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


class LabelTally:
    """Review items and cuboids per (class, window) of the pre-label messages fed in; bounded memory."""

    def __init__(self, window_ns: int = seconds_to_ns(WINDOW_S), cap: int = REVIEW_CAP) -> None:
        self.window_ns = window_ns
        self.cap = cap
        self.review_items: list[dict[str, Any]] = []
        self.overflow = 0
        self.undecodable = 0
        self.counts: dict[tuple[str, int], list] = {}
        """(class, window start ns) -> [cuboids, set of track ids]."""
        self.seen = False

    def add(self, topic: str, data: bytes, log_time_ns: int) -> bool:
        """Tally one serialized message if it is on a pre-label topic; False when it does not decode."""
        name = label_topic(topic)
        if name is None:
            return True
        self.seen = True
        try:
            update = deserialize(SCENE_UPDATE, data)
        except CodecError:
            self.undecodable += 1
            return False
        self.add_update(name, update, log_time_ns)
        return True

    def add_update(self, topic: str, update: Any, log_time_ns: int) -> None:
        """Tally one decoded SceneUpdate of ``topic`` (``SCENE_TOPIC`` or ``REVIEW_TOPIC``)."""
        self.seen = True
        if topic == REVIEW_TOPIC:
            items = read_review_items(update, log_time_ns)
            room = max(0, self.cap - len(self.review_items))
            self.review_items += [item.to_dict() for item in items[:room]]
            self.overflow += len(items) - len(items[:room])
            return
        for entity in update.entities:
            meta = {kv.key: kv.value for kv in entity.metadata}
            stamp = int(meta["stamp_ns"]) if meta.get("stamp_ns", "").isdigit() else log_time_ns
            if topic == SCENE_TOPIC and meta.get("kind") == "cuboid":
                window = stamp // self.window_ns * self.window_ns
                slot = self.counts.setdefault((meta.get("class", "unknown"), window), [0, set()])
                slot[0] += 1
                if _is_int(meta.get("track_id", "")):
                    slot[1].add(int(meta["track_id"]))

    def merge(self, other: LabelTally) -> None:
        """Add ``other`` (same window length) into this one: the records of several files."""
        self.seen = self.seen or other.seen
        room = max(0, self.cap - len(self.review_items))
        self.review_items += other.review_items[:room]
        self.overflow += other.overflow + max(0, len(other.review_items) - room)
        self.undecodable += other.undecodable
        for key, (n, tracks) in other.counts.items():
            slot = self.counts.setdefault(key, [0, set()])
            slot[0] += n
            slot[1] |= tracks

    def records(self) -> dict[str, dict[str, str]]:
        """The two metadata records (name -> string map) of what was tallied."""
        counts = [[cls, window, n, sorted(tracks)]
                  for (cls, window), (n, tracks) in sorted(self.counts.items())]  # fmt: skip
        return {
            REVIEW_RECORD: {"items": json.dumps(self.review_items, separators=(",", ":")),
                            "overflow": str(self.overflow), "cap": str(self.cap)},
            COUNTS_RECORD: {"window_s": repr(self.window_ns / NS_PER_S), "undecodable": str(self.undecodable),
                            "counts": json.dumps(counts, separators=(",", ":"))},
        }  # fmt: skip

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, Mapping[str, str]]], window_ns: int) -> LabelTally:
        """The tally of one file's records, re-binned into ``window_ns`` windows (a multiple of the
        record's). ValueError when the records are malformed or their window does not divide ``window_ns``."""
        by_name = dict(records)
        review, counts = by_name[REVIEW_RECORD], by_name[COUNTS_RECORD]
        own = seconds_to_ns(float(counts["window_s"]))
        if own <= 0 or window_ns % own:
            raise ValueError(f"record window {counts['window_s']} s does not divide {window_ns / NS_PER_S} s")
        tally = cls(window_ns, cap=max(int(review["cap"]), 1))
        tally.seen = True
        tally.review_items = list(json.loads(review["items"]))
        tally.overflow = int(review["overflow"])
        tally.undecodable = int(counts["undecodable"])
        for label, window, n, tracks in json.loads(counts["counts"]):
            slot = tally.counts.setdefault((str(label), int(window) // window_ns * window_ns), [0, set()])
            slot[0] += int(n)
            slot[1] |= {int(t) for t in tracks}
        return tally
