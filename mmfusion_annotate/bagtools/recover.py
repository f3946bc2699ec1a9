"""``bag recover``: make the MCAP files a crash (or a damaged disk) left behind complete and readable again.

A file cut off by ``kill -9`` or a power loss lacks its summary and footer, and its last chunk may be
partial; a file damaged later may hold a chunk that no longer decompresses or matches its CRC. Recovery
scans the file front to back (``recording.salvage.scan_records``: constant memory, every chunk CRC-checked,
a damaged chunk skipped by its length or by resynchronising on the next one) and streams every message it
can read into a new complete file. The original is kept beside it as ``<name>.mcap.incomplete`` (numbered
``.incomplete.1``, ``.2``... when an earlier recovery's is there): recovery never destroys data.

Refused with one line: a file another process holds an ``flock`` on (the recorder locks the split files it
is writing; a lock dies with its process, so a crashed recorder's file can be recovered), and a file that
is not MCAP. A failed recovery leaves no temporary file.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mcap.records import Channel, Header, Message, Metadata, Schema
from mcap.writer import CompressionType, Writer

from mmfusion_annotate import __version__
from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.interfaces.msgtypes import EVENT, EVENT_TYPES
from mmfusion_annotate.recording.label_records import LABEL_RECORDS, LabelTally, label_topic
from mmfusion_annotate.recording.metadata import (
    FILENAME,
    FileInfo,
    TopicInfo,
    bag_info,
    read_metadata,
    write_metadata,
)
from mmfusion_annotate.recording.reader import file_summary
from mmfusion_annotate.recording.salvage import ReadLosses, require_mcap, scan_records
from mmfusion_annotate.recording.writer import EVENTS_RECORD

RECOVERED_KEY = "mmfusion_recovered"
"""``custom_data`` key of a recovered bag's ``metadata.yaml``: per file, what recovery could not read."""


@dataclass(frozen=True)
class FileRecovery:
    """What happened to one file: ``complete`` (left as is) or ``recovered`` (rewritten)."""

    path: str
    status: str
    messages: int
    bytes_dropped: int = 0
    messages_lost: int | None = 0  # None: some damaged stretch held an unknown number
    damage: tuple[str, ...] = ()
    kept_as: str = ""

    @property
    def lossy(self) -> bool:
        return self.bytes_dropped > 0 or self.messages_lost != 0


@dataclass
class RecoveryReport:
    """``recover_bag``'s answer: per-file outcome and the rebuilt metadata file, if any."""

    files: list[FileRecovery] = field(default_factory=list)
    metadata_path: str | None = None

    @property
    def lossy(self) -> bool:
        return any(f.lossy for f in self.files)


@contextmanager
def _exclusive(path: Path) -> Iterator[IO[bytes]]:
    """The file open for reading under an exclusive ``flock``; BagError when another process holds one."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise BagError(f"{path}: cannot open ({error.strerror})") from None
    with stream:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BagError(
                f"{path}: is being written by another process (locked); stop the recorder first"
            ) from None
        require_mcap(stream, path)
        yield stream


def is_complete(path: Path) -> bool:
    """True when the file ends with a valid footer and its summary can be read."""
    with open(path, "rb") as stream:
        return file_summary(stream, path) is not None


def recover_file(path: Path) -> FileRecovery:
    """Rewrite a cut-off or damaged MCAP file from what can be read; an intact file is left untouched."""
    path = Path(path)
    with _exclusive(path) as stream:
        summary = file_summary(stream, path)
        if summary is not None:
            losses = ReadLosses()
            count = sum(isinstance(r, Message) for r in scan_records(stream, path, losses))
            if not losses.lossy:
                return FileRecovery(str(path), "complete", count)
        return _rewrite(stream, path, summary)


def _rewrite(stream: IO[bytes], path: Path, summary) -> FileRecovery:
    """Stream every readable message of ``stream`` into ``.<name>.recovering``, then swap it in."""
    tmp = path.with_name(f".{path.name}.recovering")
    losses = ReadLosses()
    try:
        with open(tmp, "wb") as out:
            kept = _copy(stream, path, out, summary, losses)
            out.flush()
            os.fsync(out.fileno())
        kept_as = _keep_original(path)
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise BagError(
            f"{error.filename or tmp}: cannot write the recovered file ({error.strerror})"
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    lost = losses.messages_lost
    skipped = sum(losses.skipped.values())
    return FileRecovery(
        str(path), "recovered", kept, losses.bytes_dropped,
        None if lost is None else lost + skipped, tuple(losses.lines()), kept_as.name,
    )  # fmt: skip


def _copy(stream: IO[bytes], path: Path, out: IO[bytes], summary, losses: ReadLosses) -> int:
    """Write the readable records of ``stream`` to ``out`` as a complete MCAP file; messages kept."""
    writer: Writer | None = None
    schema_ids: dict[int, int] = {}
    channel_ids: dict[int, int] = {}
    event_channels: set[int] = set()
    schemas: dict[int, Schema] = dict(summary.schemas) if summary is not None else {}
    metadata: list[Metadata] = []
    events: dict[str, str] = {}
    labels = LabelTally()  # the label records are rebuilt from the messages kept, like the events record
    topics: dict[int, str] = {}
    kept = 0

    def started(profile: str = "ros2") -> Writer:
        nonlocal writer
        if writer is None:
            writer = Writer(out, compression=CompressionType.LZ4)
            writer.start(profile=profile, library=f"mmfusion_annotate/{__version__} (recovered)")
            for channel in summary.channels.values() if summary is not None else ():
                register(channel)  # a file with a summary names channels whose records were in a lost chunk
        return writer

    def register(channel: Channel) -> None:
        if channel.id in channel_ids:
            return
        schema = schemas.get(channel.schema_id)
        if schema is not None and schema.id not in schema_ids:
            schema_ids[schema.id] = started().register_schema(schema.name, schema.encoding, schema.data)
        topics[channel.id] = channel.topic
        channel_ids[channel.id] = started().register_channel(
            channel.topic, channel.message_encoding, schema_ids.get(channel.schema_id, 0), channel.metadata
        )
        if schema is not None and schema.name in EVENT_TYPES:
            event_channels.add(channel.id)

    for record in scan_records(stream, path, losses):
        if isinstance(record, Header):
            started(record.profile)
        elif isinstance(record, Schema):
            schemas.setdefault(record.id, record)
        elif isinstance(record, Channel):
            register(record)
        elif isinstance(record, Message):
            if record.channel_id not in channel_ids:
                losses.skip(f"<channel {record.channel_id}>", record.log_time, "its channel record is lost")
                continue
            started().add_message(channel_ids[record.channel_id], record.log_time, record.data,
                                  record.publish_time, record.sequence)  # fmt: skip
            kept += 1
            if record.channel_id in event_channels:
                _add_event(events, record, losses)
            labels.add(topics[record.channel_id], record.data, record.log_time)  # undecodable: counted in it
        elif isinstance(record, Metadata) and record.name not in (EVENTS_RECORD, "rosbag2", *LABEL_RECORDS):
            metadata.append(record)
    writer = started()
    for record in metadata:
        writer.add_metadata(record.name, record.metadata)
    if events:
        writer.add_metadata(EVENTS_RECORD, events)
    if labels.seen or any(label_topic(topic) for topic in topics.values()):
        for name, values in labels.records().items():
            writer.add_metadata(name, values)
    writer.finish()
    return kept


def _add_event(events: dict[str, str], message: Message, losses: ReadLosses) -> None:
    """Mirror one event message into the rebuilt ``mmfusion_events`` record (a corrupt one is counted)."""
    from mmfusion_annotate.interfaces.cdr import deserialize  # noqa: PLC0415 - rclpy only when events exist

    try:
        event = deserialize(EVENT, message.data)  # both names: one definition
    except CodecError as error:
        losses.skip("<events record>", message.log_time, str(error))
        return
    fields = {
        "start_ns": event.start.sec * 1_000_000_000 + event.start.nanosec,
        "end_ns": event.end.sec * 1_000_000_000 + event.end.nanosec,
        "type": event.type,
        "severity": event.severity,
        "track_ids": [int(t) for t in event.track_ids],
    }
    events[event.id] = json.dumps(fields, sort_keys=True)


def _keep_original(path: Path) -> Path:
    """Hard-link the original as ``<name>.incomplete`` (or the first free ``.incomplete.N``): an earlier
    recovery's copy is never overwritten, and the original name never stops existing."""
    for n in range(10_000):
        kept = path.with_name(f"{path.name}.incomplete" + (f".{n}" if n else ""))
        try:
            os.link(path, kept)
            return kept
        except FileExistsError:
            continue
    raise BagError(f"{path}: 10000 earlier recoveries kept beside it; move some away")


def _file_index(path: Path) -> tuple[int, str]:
    stem = path.stem.rsplit("_", 1)
    return (int(stem[1]), path.name) if len(stem) == 2 and stem[1].isdigit() else (1 << 62, path.name)


def rebuild_metadata(bag_dir: Path, recovered: list[FileRecovery] | None = None) -> Path:
    """Write ``metadata.yaml`` from the complete ``.mcap`` files of ``bag_dir``.

    The old file's ``custom_data`` is kept when it can be read (a damaged ``metadata.yaml`` is replaced),
    and what recovery could not read is added under ``RECOVERED_KEY``.
    """
    bag_dir = Path(bag_dir)
    target = bag_dir / FILENAME
    if target.is_dir():
        raise BagError(f"{target}: is a directory; move it away so the metadata can be rebuilt")
    custom: dict[str, str] = {}
    if target.exists():
        try:
            custom = dict(read_metadata(bag_dir).get("custom_data") or {})
        except BagError:
            custom = {}
    custom.pop("mmfusion.incomplete_files", None)
    lossy = {Path(f.path).name: _loss_fields(f) for f in recovered or () if f.lossy}
    if lossy:
        custom[RECOVERED_KEY] = json.dumps(lossy, sort_keys=True)
    topics: dict[str, list] = {}
    files = []
    for path in sorted(bag_dir.glob("*.mcap"), key=_file_index):
        with open(path, "rb") as stream:
            summary = file_summary(stream, path)
        if summary is None or summary.statistics is None:
            raise BagError(f"{path}: incomplete MCAP file, recover it first")
        stats = summary.statistics
        for cid, channel in summary.channels.items():
            schema = summary.schemas.get(channel.schema_id)
            entry = topics.setdefault(
                channel.topic,
                [
                    schema.name if schema else "",
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
    info = bag_info([TopicInfo(name, *entry) for name, entry in topics.items()], files, custom or None)
    try:
        return write_metadata(bag_dir, info)
    except OSError as error:
        raise BagError(f"{target}: cannot write ({error.strerror})") from None


def _loss_fields(recovery: FileRecovery) -> dict:
    return {
        "messages_kept": recovery.messages,
        "messages_lost": recovery.messages_lost,
        "bytes_dropped": recovery.bytes_dropped,
    }


def recover_bag(path: str | os.PathLike) -> RecoveryReport:
    """Recover one file, or every file of a bag directory and then its ``metadata.yaml``.

    Every file is checked first (MCAP, not locked by a writer), so a refusal changes nothing.
    """
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag or file")
    targets = [path] if path.is_file() else sorted(path.glob("*.mcap"), key=_file_index)
    if not targets:
        raise BagError(f"{path}: no .mcap file to recover")
    for target in targets:
        with _exclusive(target):
            pass
    report = RecoveryReport([recover_file(target) for target in targets])
    if path.is_dir():
        report.metadata_path = str(rebuild_metadata(path, report.files))
    return report


def format_recovery(report: RecoveryReport) -> str:
    """The text ``mmfusion bag recover`` prints: each file's outcome, what was lost and where."""
    lines = []
    for f in report.files:
        if f.status == "complete":
            lines.append(f"{f.path}: complete, {f.messages} messages, every chunk CRC-checked (left as is)")
            continue
        lost = "an unknown number of" if f.messages_lost is None else str(f.messages_lost)
        lines.append(
            f"{f.path}: recovered {f.messages} messages; {lost} messages lost, {f.bytes_dropped} bytes "
            f"dropped; original kept as {f.kept_as}"
        )
        lines += [f"  {line}" for line in f.damage]
    if report.metadata_path:
        lines.append(f"rebuilt {report.metadata_path}")
    return "\n".join(lines) or "no MCAP file found"
