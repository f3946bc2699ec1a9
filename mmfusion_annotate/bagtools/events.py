"""List a bag's events: from the ``mmfusion_events`` metadata records (fast) or from the event topic.

The recorder mirrors every event into a metadata record of each split file it touches, so listing the
events of a drive reads only the files' summaries and metadata, never a message. Bags without those
records (written by other tools, or files rebuilt without them) fall back to decoding the messages of
every topic of type ``mmfusion_annotate/msg/Event``, which the MCAP index finds without reading the rest.
Events come out as plain dicts (JSON-ready), sorted by start time then id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from typing import Any, Literal

from mcap.reader import make_reader

from mmfusion_annotate.bagtools.recover import EVENT_TYPE
from mmfusion_annotate.bagtools.source import BagFile, channels, open_bag, read_messages
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.events.model import Severity
from mmfusion_annotate.recording.cdr import deserialize
from mmfusion_annotate.recording.writer import EVENTS_RECORD
from mmfusion_annotate.types import NS_PER_S, ns_to_seconds

Source = Literal["auto", "metadata", "topic"]


def severity_rank(severity: str | None) -> int:
    """Rank of a severity name (``info`` 0 .. ``severe`` 3); -1 for a name the rule files do not know."""
    try:
        return Severity(str(severity).lower()).rank
    except ValueError:
        return -1


def metadata_events(files: Sequence[BagFile]) -> dict[str, dict[str, Any]]:
    """Event id -> fields from the files' ``mmfusion_events`` records (incomplete files have none)."""
    found: dict[str, dict[str, Any]] = {}
    for bag_file in files:
        if bag_file.summary is None or not bag_file.summary.metadata_indexes:
            continue
        with open(bag_file.path, "rb") as stream:
            for record in make_reader(stream).iter_metadata():
                if record.name != EVENTS_RECORD:
                    continue
                for event_id, text in record.metadata.items():
                    try:
                        fields = json.loads(text)
                    except json.JSONDecodeError:
                        raise BagError(f"{bag_file.path}: event '{event_id}' metadata is not JSON") from None
                    found[event_id] = {"id": event_id, **fields}
    return found


def topic_events(files: Sequence[BagFile]) -> dict[str, dict[str, Any]]:
    """Event id -> fields decoded from every message of type ``mmfusion_annotate/msg/Event``."""
    topics = [c.topic for c in channels(files).values() if c.msgtype == EVENT_TYPE]
    if not topics:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for message in read_messages(files, topics=topics):
        event = deserialize(EVENT_TYPE, message.data)
        found[event.id] = event_message_fields(event, message.topic)
    return found


def event_message_fields(event: Any, topic: str) -> dict[str, Any]:
    """The plain-dict form of a decoded event message (same keys as ``events.model.Event.to_dict``)."""

    def ns(t: Any) -> int:
        return int(t.sec) * NS_PER_S + int(t.nanosec)

    return {
        "id": event.id,
        "type": event.type,
        "severity": event.severity,
        "start_ns": ns(event.start),
        "peak_ns": ns(event.peak),
        "end_ns": ns(event.end),
        "object_ids": [int(t) for t in event.track_ids],
        "sensors": list(event.sensors),
        "evidence": {
            str(k): float(v) for k, v in zip(event.evidence_names, event.evidence_values, strict=False)
        },
        "rule": event.rule,
        "rule_version": event.rule_version,
        "frame_id": event.header.frame_id,
        "topic": topic,
    }


def filter_events(
    events: Collection[dict[str, Any]],
    *,
    types: Collection[str] | None = None,
    min_severity: str | None = None,
) -> list[dict[str, Any]]:
    """Events of the given types and at least ``min_severity``, sorted by start time then id."""
    floor = None
    if min_severity is not None:
        floor = severity_rank(min_severity)
        if floor < 0:
            known = ", ".join(s.value for s in Severity)
            raise BagError(f"unknown severity '{min_severity}' (use one of {known})")
    kept = [
        e
        for e in events
        if (not types or e.get("type") in types)
        and (floor is None or severity_rank(e.get("severity")) >= floor)
    ]
    return sorted(kept, key=lambda e: (int(e.get("start_ns", 0)), str(e["id"])))


def list_events(
    path: str | os.PathLike,
    *,
    types: Collection[str] | None = None,
    min_severity: str | None = None,
    source: Source = "auto",
) -> list[dict[str, Any]]:
    """The events of a bag (directory or ``.mcap``) as plain dicts, filtered and sorted by start time.

    ``source``: ``metadata`` (records only), ``topic`` (decode the event messages) or ``auto`` (the
    records when the bag has any, else the topic).
    """
    if source not in ("auto", "metadata", "topic"):
        raise BagError(f"unknown event source '{source}' (use auto, metadata or topic)")
    files = open_bag(path)
    found = metadata_events(files) if source in ("auto", "metadata") else {}
    if source == "topic" or (source == "auto" and not found):
        found = topic_events(files)
    return filter_events(list(found.values()), types=types, min_severity=min_severity)


def find_event(path: str | os.PathLike, event_id: str) -> dict[str, Any]:
    """The event ``event_id`` of a bag; BagError naming the bag and the id when there is none."""
    events = {e["id"]: e for e in list_events(path)}
    if event_id in events:
        return events[event_id]
    hint = f"; known: {', '.join(sorted(events)[:5])}{' ...' if len(events) > 5 else ''}" if events else ""
    raise BagError(f"{path}: no event with id '{event_id}'{hint}")


def format_events(events: Sequence[dict[str, Any]], origin_ns: int | None = None) -> str:
    """A table of events; times in seconds from ``origin_ns`` (the bag start) when given, else absolute."""
    if not events:
        return "no events"
    origin = origin_ns or 0
    rows = [("id", "type", "severity", "start_s", "end_s", "duration_s")]
    for e in events:
        start, end = int(e.get("start_ns", 0)), int(e.get("end_ns", 0))
        rows.append((
            str(e["id"]), str(e.get("type", "")), str(e.get("severity", "")),
            f"{ns_to_seconds(start - origin):.3f}", f"{ns_to_seconds(end - origin):.3f}",
            f"{ns_to_seconds(end - start):.3f}",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
