"""``BagReader``: the messages of a bag directory (or one MCAP file) in log-time order, across splits."""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from mcap.exceptions import McapError
from mcap.reader import make_reader

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording.metadata import FILENAME, read_metadata
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
    if (path / FILENAME).is_file():
        return [path / name for name in read_metadata(path)["relative_file_paths"]]
    files = sorted(path.glob("*.mcap"))
    if not files:
        raise BagError(f"{path}: no metadata.yaml and no .mcap file")
    return files


class BagReader:
    """Iterate a bag's messages: ``for topic, msgtype, data, log_time_ns in BagReader(path)``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.files = bag_files(self.path)

    def __iter__(self) -> Iterator[BagMessage]:
        return heapq.merge(*(self._file_messages(f) for f in self.files), key=lambda m: m.log_time_ns)

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type over all files."""
        found: dict[str, str] = {}
        for path in self.files:
            summary = self._summary(path)
            for channel in summary.channels.values():
                found.setdefault(channel.topic, summary.schemas[channel.schema_id].name)
        return found

    def metadata_records(self, name: str) -> list[dict[str, str]]:
        """The MCAP metadata records called ``name``, file by file."""
        records = []
        for path in self.files:
            with open(path, "rb") as stream:
                try:
                    records.extend(m.metadata for m in make_reader(stream).iter_metadata() if m.name == name)
                except McapError as error:
                    raise BagError(f"{path}: {error}") from None
        return records

    def events(self) -> dict[str, dict]:
        """Events mirrored into the files' ``mmfusion_events`` records: id -> fields (with start/end ns)."""
        found: dict[str, dict] = {}
        for record in self.metadata_records(EVENTS_RECORD):
            for event_id, text in record.items():
                found[event_id] = json.loads(text)
        return found

    def _summary(self, path: Path):
        with open(path, "rb") as stream:
            try:
                summary = make_reader(stream).get_summary()
            except McapError as error:
                raise BagError(f"{path}: {error}") from None
        if summary is None:
            raise BagError(f"{path}: MCAP file has no summary (incomplete? try `mmfusion bag recover`)")
        return summary

    @staticmethod
    def _file_messages(path: Path) -> Iterator[BagMessage]:
        with open(path, "rb") as stream:
            try:
                for schema, channel, message in make_reader(stream).iter_messages(log_time_order=True):
                    yield BagMessage(channel.topic, schema.name, message.data, message.log_time)
            except McapError as error:
                raise BagError(f"{path}: {error}") from None
