"""``mmfusion clip``: cut a self-contained bag around an event, a review entry or a time window, across split
files.

A clip must play and review on its own, so besides every message inside the window it carries, at its
very start, the latest static data from before the window (``/tf_static`` transforms, camera infos,
latched calibration topics) and, in its metadata, the events that overlap the window. Topics keep their
type, QoS and type hash. Only the chunks of the window (and the static topics' chunks before it) are
read, so clipping a few seconds out of an hour-long drive does not decompress the hour.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mmfusion_annotate.bagtools.events import find_event, list_events
from mmfusion_annotate.bagtools.review_queue import find_entries
from mmfusion_annotate.bagtools.source import (
    BagFile,
    Channel,
    channels,
    is_static,
    open_bag,
    parse_qos,
    read_messages,
)
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.msgtypes import TF_MESSAGE
from mmfusion_annotate.recording.salvage import READ_LOSSES_KEY, ReadLosses
from mmfusion_annotate.recording.writer import BagWriter
from mmfusion_annotate.types import Stamp, ns_to_seconds, seconds_to_ns

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipResult:
    """What a clip holds: its directory, window, message counts and the ids of the events kept."""

    bag_dir: Path
    start_ns: Stamp
    end_ns: Stamp
    message_count: int
    """Messages of the window (without the static ones copied in at the start)."""
    static_count: int
    """Static messages from before the window, copied in at its start."""
    event_ids: tuple[str, ...]
    losses: ReadLosses = field(default_factory=ReadLosses)
    """What could not be read or copied (damaged chunks, malformed events, topics of unknown types)."""


def event_window(event: dict[str, Any], before_s: float, after_s: float) -> tuple[Stamp, Stamp]:
    """``[start - before, end + after]`` of an event dict (as ``list_events`` gives)."""
    if before_s < 0 or after_s < 0:
        raise BagError(f"--before/--after must not be negative (got {before_s}, {after_s})")
    return int(event["start_ns"]) - seconds_to_ns(before_s), int(event["end_ns"]) + seconds_to_ns(after_s)


def clip_bag(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    event_id: str | None = None,
    event_type: str | None = None,
    window_ns: tuple[Stamp, Stamp] | None = None,
    before_s: float = 5.0,
    after_s: float = 5.0,
    compression: str | None = None,
    progress: bool = False,
) -> list[ClipResult]:
    """Clips of one bag around exactly one target: an event id, every event of a type, or a time window.

    Event clips go to ``out_dir/<event id>`` (one per event, window ``[start - before_s, end + after_s]``);
    a ``window_ns`` clip (absolute log times, ``before_s``/``after_s`` unused) goes to ``out_dir`` itself.
    BagError when the bag has no such event (naming the bag and the id or type).
    """
    if sum(target is not None for target in (event_id, event_type, window_ns)) != 1:
        raise BagError(f"{path}: clip needs exactly one of an event id, an event type or a time window")
    if window_ns is not None:
        return [clip_window(path, out_dir, *window_ns, compression=compression, progress=progress)]
    looked_up = ReadLosses()  # each clip_window reads the events again and reports what it skipped
    if event_id is not None:
        events = [find_event(path, event_id, looked_up)]
    elif event_type is not None:
        events = list_events(path, types=[event_type], losses=looked_up)
        if not events:
            raise BagError(f"{path}: no event of type '{event_type}'")
    return [
        clip_window(
            path,
            Path(out_dir) / str(e["id"]),
            *event_window(e, before_s, after_s),
            compression=compression,
            progress=progress,
        )  # fmt: skip
        for e in events
    ]


def clip_review(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    entry_id: str | None = None,
    reason: str | None = None,
    before_s: float = 5.0,
    after_s: float = 5.0,
    compression: str | None = None,
    progress: bool = False,
) -> list[ClipResult]:
    """Clips around review entries (``bagtools.review_queue``): the entry ``entry_id``, or every entry of
    the kind ``reason``, each to ``out_dir/review_<entry id>`` over ``[first - before_s, last + after_s]``.
    BagError when the bag has no review items or no such entry."""
    if (entry_id is None) == (reason is None):
        raise BagError(f"{path}: clip needs exactly one of a review entry id or a review item kind")
    if before_s < 0 or after_s < 0:
        raise BagError(f"--before/--after must not be negative (got {before_s}, {after_s})")
    entries = find_entries(path, entry_id=entry_id, reason=reason)
    return [
        clip_window(
            path,
            Path(out_dir) / f"review_{e.id}",
            e.first_ns - seconds_to_ns(before_s),
            e.last_ns + seconds_to_ns(after_s),
            compression=compression,
            progress=progress,
        )
        for e in entries
    ]


def clip_window(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    start_ns: Stamp,
    end_ns: Stamp,
    *,
    compression: str | None = None,
    progress: bool = False,
) -> ClipResult:
    """Write the messages with ``start_ns <= log time <= end_ns`` (plus statics and events) to ``out_dir``.

    ``compression`` defaults to the source's. ``out_dir`` must not exist or be empty.
    """
    if end_ns < start_ns:
        raise BagError(f"{path}: clip window ends before it starts ({start_ns} > {end_ns})")
    out_dir = Path(out_dir)
    files = open_bag(path)
    for bag_file in files:
        bag_file.require_complete()
    spans = [span for f in files if (span := f.span_ns) is not None]
    if not any(first <= end_ns and last >= start_ns for first, last in spans):
        raise BagError(f"{path}: no messages between {start_ns} and {end_ns} ns")
    losses = ReadLosses()
    known = channels(files)
    statics = _statics_before(files, [c for c in known.values() if is_static(c)], start_ns, losses)
    listed = list_events(path, losses=losses)
    events = [e for e in listed if int(e["start_ns"]) <= end_ns and int(e["end_ns"]) >= start_ns]
    count = 0
    missing: dict[str, str] = {}  # topic -> why the clip cannot hold it (type not installed here)
    with BagWriter(out_dir, compression=compression or _compression(files)) as writer:
        writer.custom_data["mmfusion.clip_of"] = f"{Path(path).resolve()} [{start_ns}, {end_ns}]"
        for channel in known.values():
            try:
                writer.add_topic(channel.topic, channel.msgtype, parse_qos(channel.qos_yaml))
            except BagError as error:
                missing[channel.topic] = str(error)
                _log.warning("clip: %s is skipped: %s", channel.topic, error)
        for topic, data in statics:
            if topic in missing:
                losses.skip(topic, start_ns, missing[topic])
                continue
            writer.set_static(topic, data, start_ns, replace=not _multi_static(known[topic]))
        for event in events:
            fields = {k: v for k, v in event.items() if k not in ("id", "start_ns", "end_ns")}
            writer.add_event_metadata(event["id"], int(event["start_ns"]), int(event["end_ns"]), fields)
        total_s = round(ns_to_seconds(end_ns - start_ns), 3)
        with tqdm(total=total_s, unit="s", desc=f"clip {out_dir.name}", disable=not progress) as bar:
            for message in read_messages(files, starting_at=start_ns, ending_at=end_ns, losses=losses):
                if message.topic in missing:
                    losses.skip(message.topic, message.log_time_ns, missing[message.topic])
                    continue
                channel = known[message.topic]
                if is_static(channel):
                    writer.set_static(message.topic, message.data, message.log_time_ns,
                                      replace=not _multi_static(channel))  # fmt: skip
                else:
                    writer.write(message.topic, message.data, message.log_time_ns)
                count += 1
                bar.update(round(ns_to_seconds(message.log_time_ns - start_ns), 3) - bar.n)
        if losses.lossy:
            writer.custom_data[READ_LOSSES_KEY] = losses.to_json()
    kept = len(statics) - sum(topic in missing for topic, _ in statics)
    return ClipResult(out_dir, start_ns, end_ns, count, kept, tuple(e["id"] for e in events), losses)


def format_clips(clips: Sequence[ClipResult]) -> str:
    """One line per clip: directory, window length, message counts, events kept (and what was lost)."""
    lines = []
    for c in clips:
        lines += c.losses.lines()
        lines.append(
            f"{c.bag_dir}: {ns_to_seconds(c.end_ns - c.start_ns):.3f} s, {c.message_count} messages "
            f"+ {c.static_count} static, events: {', '.join(c.event_ids) or 'none'}"
            + (f" ({c.losses.summary()})" if c.losses.lossy else "")
        )
    return "\n".join(lines)


def _multi_static(channel: Channel) -> bool:
    """TF topics keep every distinct message (several publishers); others only the latest."""
    return channel.msgtype == TF_MESSAGE


def _statics_before(
    files: Sequence[BagFile], static: Sequence[Channel], start_ns: Stamp, losses: ReadLosses
) -> list[tuple[str, bytes]]:
    """The latest message of each static topic before ``start_ns`` (every distinct one for TF topics).

    Files are searched newest first: the writer repeats statics at the start of every split, so the
    last file that began before the window usually answers for every topic.
    """
    pending = {c.topic: c for c in static}
    found: dict[str, list[bytes]] = {}
    earlier = [(span[0], f) for f in files if (span := f.span_ns) is not None and span[0] < start_ns]
    for _, bag_file in sorted(earlier, key=lambda begun: begun[0], reverse=True):
        if not pending:
            break
        latest: dict[str, list[tuple[int, bytes]]] = {}
        found_in = read_messages([bag_file], topics=list(pending), ending_at=start_ns - 1, losses=losses)
        for message in found_in:
            latest.setdefault(message.topic, []).append((message.log_time_ns, message.data))
        for topic, stamped in latest.items():
            if _multi_static(pending[topic]):
                distinct = list(dict.fromkeys(data for _, data in stamped))
                found[topic] = distinct
            else:
                found[topic] = [max(stamped, key=lambda item: item[0])[1]]
            del pending[topic]
    return [(topic, data) for topic, kept in found.items() for data in kept]


def _compression(files: Sequence[BagFile]) -> str:
    """The source's chunk compression (of its first chunk), as ``BagWriter`` names it."""
    for bag_file in files:
        for chunk in bag_file.require_complete().chunk_indexes:
            return chunk.compression or "none"
    return "none"
