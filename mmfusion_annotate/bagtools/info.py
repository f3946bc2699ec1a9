"""``mmfusion info``: what a bag holds, read from file summaries and metadata only (no message decoding).

Figures: files (size, span, count, compression, complete or not), overall start/end/duration, per topic
type/count/mean rate/offered QoS, the recorder's drop counts (``custom_data`` of ``metadata.yaml``, or the
``rosbag2`` record of a lone ``.mcap``) and the number of events. A file cut off by a crash is listed as
incomplete (its messages are not counted) instead of failing the whole report.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mcap.reader import make_reader

from mmfusion_annotate.bagtools.events import metadata_events
from mmfusion_annotate.bagtools.source import BagFile, channels, is_static, open_bag, parse_qos
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.msgtypes import EVENT_TYPES
from mmfusion_annotate.recording.metadata import FILENAME, read_metadata
from mmfusion_annotate.recording.qos import RELIABILITY_BEST_EFFORT, TRANSIENT_LOCAL
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.textfile import load_yaml
from mmfusion_annotate.types import ns_to_seconds

DROP_KEYS = {"queue": "mmfusion.dropped_queue", "io": "mmfusion.dropped_io"}
"""``custom_data`` keys under which the recorder stores its per-topic drop counts (JSON)."""


@dataclass(frozen=True)
class TopicSummary:
    """One topic: count over the complete files, mean rate over the bag (None for static topics)."""

    name: str
    msgtype: str
    message_count: int
    frequency_hz: float | None
    reliability: str
    durability: str
    depth: int
    static: bool


@dataclass(frozen=True)
class FileSummary:
    path: str
    size_bytes: int
    complete: bool
    message_count: int
    start_ns: int | None
    end_ns: int | None
    compression: str


@dataclass(frozen=True)
class BagSummary:
    """``bag_info``'s answer; ``to_dict`` gives the JSON-ready form."""

    path: str
    files: tuple[FileSummary, ...]
    topics: tuple[TopicSummary, ...]
    start_ns: int | None
    end_ns: int | None
    message_count: int
    size_bytes: int
    compression: str
    event_count: int
    drops: dict[str, dict[str, int]] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()
    """What could not be read for the report (a malformed events record), one line each."""

    @property
    def duration_ns(self) -> int:
        return (self.end_ns - self.start_ns) if self.start_ns is not None and self.end_ns is not None else 0

    @property
    def incomplete_files(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if not f.complete)

    @property
    def dropped_total(self) -> int:
        return sum(sum(per_topic.values()) for per_topic in self.drops.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "duration_ns": self.duration_ns,
            "incomplete_files": list(self.incomplete_files),
        }


def bag_info(path: str | os.PathLike) -> BagSummary:
    """Summarize a bag directory or one ``.mcap`` file."""
    path = Path(path)
    files = open_bag(path)
    losses = ReadLosses()
    summaries = [f.summary for f in files if f.summary is not None]
    spans = [span for f in files if (span := f.span_ns) is not None]
    start, end = (min(s for s, _ in spans), max(e for _, e in spans)) if spans else (None, None)
    counts: Counter[str] = Counter()
    for summary in summaries:
        stats = summary.statistics
        for channel_id, count in (stats.channel_message_counts if stats else {}).items():
            counts[summary.channels[channel_id].topic] += count
    duration_s = ns_to_seconds(end - start) if start is not None and end is not None else 0.0
    topics = []
    for channel in channels(files).values():
        qos, static, count = parse_qos(channel.qos_yaml), is_static(channel), counts[channel.topic]
        rate = (count - 1) / duration_s if not static and count > 1 and duration_s > 0 else None
        topics.append(TopicSummary(
            channel.topic, channel.msgtype, count, rate,
            "best_effort" if qos.reliability == RELIABILITY_BEST_EFFORT else "reliable",
            "transient_local" if qos.durability == TRANSIENT_LOCAL else "volatile",
            qos.depth, static,
        ))  # fmt: skip
    file_summaries = tuple(_file_summary(f, path) for f in files)
    return BagSummary(
        path=str(path),
        files=file_summaries,
        topics=tuple(topics),
        start_ns=start,
        end_ns=end,
        message_count=sum(f.message_count for f in file_summaries),
        size_bytes=sum(f.size_bytes for f in file_summaries),
        compression=",".join(sorted({f.compression for f in file_summaries if f.complete})) or "none",
        event_count=_event_count(files, losses),
        drops=_drops(_custom_data(path, files)),
        unreadable=tuple(losses.lines()),
    )


def _file_summary(bag_file: BagFile, bag_path: Path) -> FileSummary:
    summary = bag_file.summary
    stats = summary.statistics if summary else None
    kinds = {c.compression or "none" for c in summary.chunk_indexes} if summary else set()
    name = bag_file.path.name if bag_path.is_dir() else str(bag_file.path)
    return FileSummary(
        name,
        bag_file.path.stat().st_size,
        summary is not None,
        stats.message_count if stats else 0,
        bag_file.start_ns,
        bag_file.end_ns,
        ",".join(sorted(kinds)) or "none",
    )


def _event_count(files: list[BagFile], losses: ReadLosses) -> int:
    """Distinct events in the metadata records, else the number of event messages (from statistics)."""
    recorded = metadata_events(files, losses)
    if recorded:
        return len(recorded)
    total = 0
    for bag_file in files:
        summary = bag_file.summary
        if summary is None or summary.statistics is None:
            continue
        for channel_id, count in summary.statistics.channel_message_counts.items():
            schema = summary.schemas.get(summary.channels[channel_id].schema_id)
            total += count if schema is not None and schema.name in EVENT_TYPES else 0
    return total


def _custom_data(path: Path, files: list[BagFile]) -> dict[str, str]:
    """``custom_data`` of ``metadata.yaml``, or of the newest ``rosbag2`` record of a lone file."""
    if path.is_dir() and (path / FILENAME).is_file():
        return read_metadata(path).get("custom_data") or {}
    for bag_file in reversed(files):
        if bag_file.summary is None or not bag_file.summary.metadata_indexes:
            continue
        with open(bag_file.path, "rb") as stream:
            for record in make_reader(stream).iter_metadata():
                if record.name == "rosbag2":
                    info = load_yaml(record.metadata.get("serialized_metadata", "")) or {}
                    return info.get("custom_data") or {}
    return {}


def _drops(custom: dict[str, str]) -> dict[str, dict[str, int]]:
    drops = {}
    for kind, key in DROP_KEYS.items():
        if key in custom:
            try:
                counts = json.loads(custom[key])
            except json.JSONDecodeError:
                raise BagError(f"custom_data '{key}' is not JSON: {custom[key][:80]!r}") from None
            drops[kind] = {str(topic): int(n) for topic, n in counts.items()}
    return drops


def format_info(summary: BagSummary) -> str:
    """Human-readable report, ``ros2 bag info``-like."""

    def stamp(ns: int | None) -> str:
        return "-" if ns is None else f"{ns_to_seconds(ns):.3f}"

    def when(ns: int | None) -> str:
        if ns is None:
            return "-"
        utc = datetime.fromtimestamp(ns_to_seconds(ns), tz=timezone.utc)
        return f"{stamp(ns)} ({utc.isoformat(timespec='milliseconds')})"

    lines = [
        f"Bag:          {summary.path}",
        f"Files:        {len(summary.files)} ({_size(summary.size_bytes)}, {summary.compression})",
        f"Duration:     {ns_to_seconds(summary.duration_ns):.3f} s",
        f"Start:        {when(summary.start_ns)}",
        f"End:          {when(summary.end_ns)}",
        f"Messages:     {summary.message_count}",
        f"Events:       {summary.event_count}",
        f"Dropped:      {summary.dropped_total}" + _drop_detail(summary.drops),
    ]
    if summary.incomplete_files:
        lines.append(
            f"INCOMPLETE:   {', '.join(summary.incomplete_files)} (not counted; run `mmfusion bag recover`)"
        )
    lines += [f"UNREADABLE:   {line}" for line in summary.unreadable]
    lines.append("Topics:")
    name_w = max((len(t.name) for t in summary.topics), default=0)
    type_w = max((len(t.msgtype) for t in summary.topics), default=0)
    for t in summary.topics:
        rate = "static" if t.static else ("-" if t.frequency_hz is None else f"{t.frequency_hz:.2f} Hz")
        lines.append(
            f"  {t.name:<{name_w}}  {t.msgtype:<{type_w}}  {t.message_count:>8}  {rate:>10}  "
            f"{t.reliability}/{t.durability}/depth {t.depth}"
        )
    lines.append("Files:")
    for f in summary.files:
        span = f"{stamp(f.start_ns)} .. {stamp(f.end_ns)}" if f.complete else "INCOMPLETE"
        lines.append(f"  {f.path}  {_size(f.size_bytes)}  {f.message_count} msgs  {span}  {f.compression}")
    return "\n".join(lines)


def _drop_detail(drops: dict[str, dict[str, int]]) -> str:
    parts = [f"{topic} {n} ({kind})" for kind, per in drops.items() for topic, n in sorted(per.items()) if n]
    return f"  [{', '.join(parts)}]" if parts else ""


def _size(n_bytes: int) -> str:
    n = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n_bytes} B"
        n /= 1024
    return f"{n_bytes} B"
