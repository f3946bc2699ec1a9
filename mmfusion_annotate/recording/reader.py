"""``BagReader``: the messages of a bag directory (or one MCAP file) in log-time order, across splits.

Damage does not stop a read: every chunk's CRC is checked, and a chunk (or a cut-off tail) that cannot be
read is skipped and recorded in ``losses`` (``recording.salvage``), which callers report and count.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import NamedTuple

from mcap.reader import make_reader
from mcap.records import Channel, Message, Schema
from mcap.summary import Summary

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording.metadata import FILENAME, read_metadata
from mmfusion_annotate.recording.salvage import ReadLosses, indexed_messages, require_mcap, scan_records
from mmfusion_annotate.recording.writer import EVENTS_RECORD


class BagMessage(NamedTuple):
    """One stored message, still CDR-encoded."""

    topic: str
    msgtype: str
    data: bytes
    log_time_ns: int


def bag_files(path: str | os.PathLike) -> list[Path]:
    """The MCAP files of a bag: the listed ones of a directory (or all ``*.mcap``), or the file itself."""
    path = Path(path)
    if path.is_file():
        return [path]
    if (path / FILENAME).exists():
        return [path / name for name in read_metadata(path)["relative_file_paths"]]
    files = sorted(path.glob("*.mcap"))
    if not files:
        raise BagError(f"{path}: no metadata.yaml and no .mcap file")
    return files


def file_summary(stream, path: Path) -> Summary | None:
    """The file's MCAP summary; None when it was cut off (crash) or its summary cannot be read."""
    require_mcap(stream, path)
    stream.seek(0)
    try:
        return make_reader(stream).get_summary()
    except Exception:  # noqa: BLE001 - a damaged footer or summary raises anything; the file is then scanned
        return None


def file_messages(
    path: Path,
    losses: ReadLosses,
    *,
    topics: Collection[str] | None = None,
    starting_at: int | None = None,
    ending_at: int | None = None,
) -> Iterator[BagMessage]:
    """Messages of one file: in log-time order through its chunk index when it has one, else in file
    order from a front-to-back scan (a file cut off by a crash). What cannot be read goes to ``losses``."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, the generator may be abandoned
    except FileNotFoundError:
        raise BagError(f"{path}: file listed in the bag is missing") from None
    except OSError as error:
        raise BagError(f"{path}: cannot open ({error.strerror})") from None
    with stream:
        summary = file_summary(stream, path)
        if summary is not None and summary.chunk_indexes:
            found = indexed_messages(
                stream, path, summary, losses, topics=topics, starting_at=starting_at, ending_at=ending_at
            )
            for indexed, message in found:
                schema = summary.schemas.get(indexed.schema_id)
                yield BagMessage(indexed.topic, schema.name if schema else "", message.data, message.log_time)
            return
        schemas: dict[int, Schema] = {}
        channels: dict[int, Channel] = {}
        for record in scan_records(stream, path, losses):
            if isinstance(record, Schema):
                schemas[record.id] = record
            elif isinstance(record, Channel):
                channels[record.id] = record
            elif isinstance(record, Message):
                channel = channels.get(record.channel_id)
                if channel is None:
                    losses.skip(
                        f"<channel {record.channel_id}>", record.log_time, "its channel record is lost"
                    )
                    continue
                if (topics is not None and channel.topic not in topics) or not (
                    (starting_at is None or record.log_time >= starting_at)
                    and (ending_at is None or record.log_time <= ending_at)
                ):
                    continue
                schema = schemas.get(channel.schema_id)
                yield BagMessage(channel.topic, schema.name if schema else "", record.data, record.log_time)


class BagReader:
    """Iterate a bag's messages: ``for topic, msgtype, data, log_time_ns in BagReader(path)``.

    Damaged chunks and cut-off tails are skipped and recorded in ``self.losses``.
    """

    def __init__(self, path: str | os.PathLike, losses: ReadLosses | None = None) -> None:
        self.path = Path(path)
        self.files = bag_files(self.path)
        self.losses = losses if losses is not None else ReadLosses()

    def __iter__(self) -> Iterator[BagMessage]:
        return heapq.merge(*(file_messages(f, self.losses) for f in self.files), key=lambda m: m.log_time_ns)

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type over all files (a cut-off file's channels are found by scanning it)."""
        found: dict[str, str] = {}
        for path in self.files:
            with open(path, "rb") as stream:
                summary = file_summary(stream, path)
                if summary is not None:
                    for channel in summary.channels.values():
                        schema = summary.schemas.get(channel.schema_id)
                        found.setdefault(channel.topic, schema.name if schema else "")
                    continue
                schemas: dict[int, str] = {}
                for record in scan_records(stream, path, ReadLosses()):  # losses are counted when read
                    if isinstance(record, Schema):
                        schemas[record.id] = record.name
                    elif isinstance(record, Channel):
                        found.setdefault(record.topic, schemas.get(record.schema_id, ""))
        return found

    def metadata_records(self, name: str) -> list[dict[str, str]]:
        """The MCAP metadata records called ``name``, file by file (none from a file without summary)."""
        records: list[dict[str, str]] = []
        for path in self.files:
            with open(path, "rb") as stream:
                if file_summary(stream, path) is None:
                    continue
                try:
                    records.extend(m.metadata for m in make_reader(stream).iter_metadata() if m.name == name)
                except Exception as error:  # noqa: BLE001 - damaged metadata records raise anything
                    self.losses.skip(f"<metadata {name}>", 0, f"{path}: {type(error).__name__}")
        return records

    def events(self) -> dict[str, dict]:
        """Events mirrored into the files' ``mmfusion_events`` records: id -> fields (with start/end ns)."""
        found: dict[str, dict] = {}
        for record in self.metadata_records(EVENTS_RECORD):
            for event_id, text in record.items():
                try:
                    fields = json.loads(text)
                except json.JSONDecodeError:
                    self.losses.skip(f"<metadata {EVENTS_RECORD}>", 0, f"event '{event_id}' is not JSON")
                    continue
                found[event_id] = fields
        return found
