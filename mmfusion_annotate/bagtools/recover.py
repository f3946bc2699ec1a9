"""``bag recover``: complete the MCAP files a crash left behind and rebuild ``metadata.yaml``.

A file cut off by ``kill -9`` or a power loss lacks its summary and footer, and its last chunk may be
partial. MCAP's stream reader reads such a file record by record; every chunk that arrived whole (CRC
checked) is kept and rewritten, with its schemas, channels and metadata records, into a complete file.
The cut-off file is kept beside it as ``<name>.mcap.incomplete``: recovery never destroys data.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Footer, Header, Message, Metadata, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer

from mmfusion_annotate import __version__
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording.metadata import (
    FILENAME,
    FileInfo,
    TopicInfo,
    bag_info,
    read_metadata,
    write_metadata,
)
from mmfusion_annotate.recording.writer import EVENTS_RECORD

EVENT_TYPE = "mmfusion_annotate/msg/Event"


@dataclass(frozen=True)
class FileRecovery:
    """What happened to one file: ``complete`` (left as is) or ``recovered`` (rewritten)."""

    path: str
    status: str
    messages: int
    bytes_dropped: int = 0
    reason: str = ""


@dataclass
class RecoveryReport:
    """``recover_bag``'s answer: per-file outcome and the rebuilt metadata file, if any."""

    files: list[FileRecovery] = field(default_factory=list)
    metadata_path: str | None = None


def is_complete(path: Path) -> bool:
    """True when the file ends with a valid footer and its summary can be read."""
    try:
        with open(path, "rb") as stream:
            return make_reader(stream).get_summary() is not None
    except (McapError, OSError, ValueError, AssertionError):
        return False


def recover_file(path: Path) -> FileRecovery:
    """Rewrite a cut-off MCAP file from its whole chunks; a complete file is left untouched."""
    path = Path(path)
    if is_complete(path):
        with open(path, "rb") as stream:
            summary = make_reader(stream).get_summary()
        count = summary.statistics.message_count if summary and summary.statistics else 0
        return FileRecovery(str(path), "complete", count)
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    messages: list[Message] = []
    metadata: list[Metadata] = []
    profile, reason = "ros2", ""
    consumed = 0
    with open(path, "rb") as stream:
        reader = StreamReader(stream, validate_crcs=True)
        try:
            for record in reader.records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message):
                    messages.append(record)
                elif isinstance(record, Metadata):
                    metadata.append(record)
                elif isinstance(record, Footer):
                    break
                elif isinstance(record, Header):
                    profile = record.profile
                consumed = stream.tell()
        except (McapError, ValueError, EOFError, AssertionError) as error:
            reason = f"{type(error).__name__}: {error}".strip()
    _rewrite(path, profile, schemas, channels, messages, metadata)
    return FileRecovery(str(path), "recovered", len(messages), path.stat().st_size - consumed, reason)


def _rewrite(
    path: Path,
    profile: str,
    schemas: dict[int, Schema],
    channels: dict[int, Channel],
    messages: list[Message],
    metadata: list[Metadata],
) -> None:
    tmp = path.with_name(f".{path.name}.recovering")
    with open(tmp, "wb") as stream:
        writer = Writer(stream, compression=CompressionType.LZ4)
        writer.start(profile=profile, library=f"mmfusion_annotate/{__version__} (recovered)")
        schema_ids = {
            sid: writer.register_schema(s.name, s.encoding, s.data) for sid, s in sorted(schemas.items())
        }
        channel_ids = {
            cid: writer.register_channel(
                c.topic, c.message_encoding, schema_ids.get(c.schema_id, 0), c.metadata
            )
            for cid, c in sorted(channels.items())
        }
        for message in sorted(messages, key=lambda m: m.log_time):
            if message.channel_id in channel_ids:
                writer.add_message(
                    channel_ids[message.channel_id], message.log_time, message.data,
                    message.publish_time, message.sequence,
                )  # fmt: skip
        kept = [m for m in metadata if m.name not in (EVENTS_RECORD, "rosbag2")]
        for record in kept:
            writer.add_metadata(record.name, record.metadata)
        events = _events_from_messages(schemas, channels, messages)
        if events:
            writer.add_metadata(EVENTS_RECORD, events)
        writer.finish()
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(path, path.with_name(path.name + ".incomplete"))
    os.replace(tmp, path)


def _events_from_messages(
    schemas: dict[int, Schema], channels: dict[int, Channel], messages: list[Message]
) -> dict[str, str]:
    """The ``mmfusion_events`` record of a file rebuilt from its event messages."""
    event_channels = {
        cid
        for cid, c in channels.items()
        if c.schema_id in schemas and schemas[c.schema_id].name == EVENT_TYPE
    }
    if not event_channels:
        return {}
    from mmfusion_annotate.recording.cdr import deserialize

    events = {}
    for message in messages:
        if message.channel_id in event_channels:
            event = deserialize(EVENT_TYPE, message.data)
            fields = {
                "start_ns": event.start.sec * 1_000_000_000 + event.start.nanosec,
                "end_ns": event.end.sec * 1_000_000_000 + event.end.nanosec,
                "type": event.type,
                "severity": event.severity,
                "track_ids": [int(t) for t in event.track_ids],
            }
            events[event.id] = json.dumps(fields, sort_keys=True)
    return events


def _file_index(path: Path) -> tuple[int, str]:
    stem = path.stem.rsplit("_", 1)
    return (int(stem[1]), path.name) if len(stem) == 2 and stem[1].isdigit() else (1 << 62, path.name)


def rebuild_metadata(bag_dir: Path) -> Path:
    """Write ``metadata.yaml`` from the complete ``.mcap`` files of ``bag_dir`` (custom data kept)."""
    bag_dir = Path(bag_dir)
    custom = None
    if (bag_dir / FILENAME).is_file():
        try:
            custom = read_metadata(bag_dir).get("custom_data")
        except BagError:
            custom = None
    if custom:
        custom.pop("mmfusion.incomplete_files", None)
    topics: dict[str, list] = {}
    files = []
    for path in sorted(bag_dir.glob("*.mcap"), key=_file_index):
        with open(path, "rb") as stream:
            summary = make_reader(stream).get_summary()
        if summary is None or summary.statistics is None:
            raise BagError(f"{path}: incomplete MCAP file, recover it first")
        stats = summary.statistics
        counts: Counter[str] = Counter()
        for cid, channel in summary.channels.items():
            counts[channel.topic] += stats.channel_message_counts.get(cid, 0)
            entry = topics.setdefault(
                channel.topic,
                [
                    summary.schemas[channel.schema_id].name,
                    channel.metadata.get("offered_qos_profiles", ""),
                    channel.metadata.get("topic_type_hash", ""),
                    0,
                ],
            )
            entry[3] += stats.channel_message_counts.get(cid, 0)
        files.append(
            FileInfo(path.name, stats.message_start_time, stats.message_end_time, stats.message_count)
        )
    if not files:
        raise BagError(f"{bag_dir}: no .mcap files to describe")
    info = bag_info([TopicInfo(name, *entry) for name, entry in topics.items()], files, custom)
    return write_metadata(bag_dir, info)


def recover_bag(path: str | os.PathLike) -> RecoveryReport:
    """Recover one file, or every file of a bag directory and then its ``metadata.yaml``."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag or file")
    report = RecoveryReport()
    if path.is_file():
        report.files.append(recover_file(path))
        return report
    for mcap_path in sorted(path.glob("*.mcap"), key=_file_index):
        report.files.append(recover_file(mcap_path))
    report.metadata_path = str(rebuild_metadata(path))
    return report


def format_recovery(report: RecoveryReport) -> str:
    """The text ``mmfusion bag recover`` prints: each file's outcome and what was cut off."""
    lines = []
    for f in report.files:
        if f.status == "complete":
            lines.append(f"{f.path}: complete, {f.messages} messages (left as is)")
        else:
            lines.append(
                f"{f.path}: recovered {f.messages} messages, {f.bytes_dropped} bytes after the last complete "
                f"chunk dropped ({f.reason or 'truncated'}); original kept as .mcap.incomplete"
            )
    if report.metadata_path:
        lines.append(f"rebuilt {report.metadata_path}")
    return "\n".join(lines) or "no MCAP file found"
