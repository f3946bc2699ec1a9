"""List a bag's events: from the ``mmfusion_events`` metadata records (fast) or from the event topic.

The recorder mirrors every event into a metadata record of each split file it touches, so listing the
events of a drive reads only the files' summaries and metadata, never a message. Bags without those
records (written by other tools, or files rebuilt without them) fall back to decoding the messages of
every topic of an event type (carried or installed name, ``EVENT_TYPES``), which the MCAP index finds
without reading the rest.
Events come out as plain dicts (JSON-ready), sorted by start time then id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from typing import Any, Literal

from mcap.reader import make_reader
from mcap.records import Metadata

from mmfusion_annotate.bagtools.source import BagFile, channels, open_bag, read_messages
from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.events.model import Severity
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.interfaces.msgtypes import EVENT, EVENT_TYPES
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.recording.writer import EVENTS_RECORD
from mmfusion_annotate.types import NS_PER_S, ns_to_seconds

Source = Literal["auto", "metadata", "topic"]


def severity_rank(severity: str | None) -> int:
    """Rank of a severity name (``info`` 0 .. ``severe`` 3); -1 for a name the rule files do not know."""
    try:
        return Severity(str(severity).lower()).rank
    except ValueError:
        return -1


def metadata_events(files: Sequence[BagFile], losses: ReadLosses | None = None) -> dict[str, dict[str, Any]]:
    """Event id -> fields from the files' ``mmfusion_events`` records (incomplete files have none).

    A malformed entry (not a JSON object with integer ``start_ns``/``end_ns``) is skipped and counted
    in ``losses``; without ``losses`` it is a BagError.
    """
    found: dict[str, dict[str, Any]] = {}
    for bag_file in files:
        if bag_file.summary is None or not bag_file.summary.metadata_indexes:
            continue
        for record in _metadata_records(bag_file, losses):
            for event_id, text in record.metadata.items():
                fields = _event_fields(text)
                if fields is None:
                    where = f"{bag_file.path}: event '{event_id}' metadata is malformed"
                    if losses is None:
                        raise BagError(where)
                    losses.skip(f"<metadata {EVENTS_RECORD}>", 0, where)
                    continue
                found[event_id] = {"id": event_id, **fields}
    return found


def _metadata_records(bag_file: BagFile, losses: ReadLosses | None) -> list[Metadata]:
    """The file's ``mmfusion_events`` records; a damaged metadata section is a loss (or a BagError)."""
    try:
        with open(bag_file.path, "rb") as stream:
            return [m for m in make_reader(stream).iter_metadata() if m.name == EVENTS_RECORD]
    except Exception as error:  # noqa: BLE001 - damaged records make the mcap parser raise anything
        where = f"{bag_file.path}: metadata records unreadable ({type(error).__name__})"
        if losses is None:
            raise BagError(where) from None
        losses.skip(f"<metadata {EVENTS_RECORD}>", 0, where)
        return []


def _event_fields(text: str) -> dict[str, Any] | None:
    """The fields of one ``mmfusion_events`` entry, None when it is not a usable event."""
    try:
        fields = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(fields, dict):
        return None
    if not all(
        isinstance(fields.get(k), int) and not isinstance(fields.get(k), bool) for k in ("start_ns", "end_ns")
    ):
        return None
    return fields


def topic_events(files: Sequence[BagFile], losses: ReadLosses | None = None) -> dict[str, dict[str, Any]]:
    """Event id -> fields decoded from every message of an event type (either name of ``EVENT_TYPES``).

    An event message that does not decode (cut off, corrupt) is skipped and counted in ``losses``;
    without ``losses`` it is a BagError.
    """
    topics = [c.topic for c in channels(files).values() if c.msgtype in EVENT_TYPES]
    if not topics:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for message in read_messages(files, topics=topics, losses=losses):
        try:
            event = deserialize(EVENT, message.data)
        except CodecError as error:
            if losses is None:
                raise BagError(f"{message.topic}: {error}") from None
            losses.skip(message.topic, message.log_time_ns, str(error))
            continue
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
    losses: ReadLosses | None = None,
) -> list[dict[str, Any]]:
    """The events of a bag (directory or ``.mcap``) as plain dicts, filtered and sorted by start time.

    ``source``: ``metadata`` (records only), ``topic`` (decode the event messages) or ``auto`` (the
    records when the bag has any, else the topic). BagError when a file is incomplete (no summary):
    its events are unknown until ``mmfusion bag recover`` completes it. Malformed event records and
    messages are skipped into ``losses`` (a BagError without it).
    """
    if source not in ("auto", "metadata", "topic"):
        raise BagError(f"unknown event source '{source}' (use auto, metadata or topic)")
    files = open_bag(path)
    for bag_file in files:  # a cut-off file's events are unknown: listing the rest would look complete
        bag_file.require_complete()
    found = metadata_events(files, losses) if source in ("auto", "metadata") else {}
    if source == "topic" or (source == "auto" and not found):
        found = topic_events(files, losses)
    return filter_events(list(found.values()), types=types, min_severity=min_severity)


def find_event(path: str | os.PathLike, event_id: str, losses: ReadLosses | None = None) -> dict[str, Any]:
    """The event ``event_id`` of a bag; BagError naming the bag and the id when there is none."""
    events = {e["id"]: e for e in list_events(path, losses=losses)}
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
