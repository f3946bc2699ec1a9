"""``BagWriter``: a rosbag2-compatible bag directory of MCAP files (profile ``ros2``), split by size/time.

Every file carries one ``ros2msg`` schema per type, ``cdr`` channels with ``offered_qos_profiles`` and
``topic_type_hash`` metadata, the static messages (``/tf_static``, camera info) again at its start, and at
its end a ``mmfusion_events`` metadata record listing the events that touch it, the pre-label records of
the messages it holds (``recording.label_records``: review items, cuboids per class per window), plus the
``rosbag2`` record rosbag2's own MCAP plugin writes. ``metadata.yaml`` is rewritten atomically whenever a
file opens or closes.

A split file open for writing holds an exclusive ``flock`` (released when it is closed or the process dies),
so ``bag recover`` can tell a file still being written from one a crash left behind. A bag whose writing
stopped early (an exception, Ctrl-C, a full disk) is closed as far as it got and marked partial in
``metadata.yaml`` (``custom_data`` ``mmfusion.partial``); a file that never got a message onto the disk is
removed rather than left empty.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mcap.writer import CompressionType, Writer

from mmfusion_annotate import __version__
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.definitions import normalize_msgtype, schema_text, type_hash
from mmfusion_annotate.recording.bag_dir import refuse_existing_bag
from mmfusion_annotate.recording.label_records import LabelTally, label_topic
from mmfusion_annotate.recording.metadata import (
    FILENAME,
    FileInfo,
    TopicInfo,
    bag_info,
    dump_info,
    write_metadata,
)
from mmfusion_annotate.recording.qos import QosProfile, qos_profile

_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}
"""Held back while mcap's writer writes (``BagWriter._naming_file``)."""

COMPRESSION = {"none": CompressionType.NONE, "lz4": CompressionType.LZ4, "zstd": CompressionType.ZSTD}
EVENTS_RECORD = "mmfusion_events"
PARTIAL_KEY = "mmfusion.partial"
"""``custom_data`` key of a bag whose writing stopped early; the value says why."""
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
_MESSAGE_OVERHEAD = 31  # MCAP message record header bytes, for the size estimate of the open chunk

Opener = Callable[[Path], IO[bytes]]


@dataclass
class _Topic:
    msgtype: str
    qos_yaml: str
    type_hash: str


@dataclass
class _File:
    path: Path
    start_ns: int | None = None
    end_ns: int | None = None
    message_count: int = 0
    complete: bool = False
    topic_counts: Counter = field(default_factory=Counter)
    unsaved: Counter = field(default_factory=Counter)
    """Messages per topic the caller handed in that are still in the open chunk (not yet handed to the
    OS; static messages repeated at the file's start excluded): lost if the file breaks."""
    saved: bool = False
    """A chunk with messages reached the file: worth keeping for ``bag recover`` if it breaks."""

    def info(self, bag_dir: Path) -> FileInfo:
        return FileInfo(
            str(self.path.relative_to(bag_dir)), self.start_ns or 0, self.end_ns or 0, self.message_count
        )


@dataclass
class _Event:
    start_ns: int
    end_ns: int
    text: str
    file_index: int = field(default=-1)


def _open_binary(path: Path) -> IO[bytes]:
    """Exclusive creation: an existing file is never truncated (``FileExistsError`` instead)."""
    return open(path, "xb")  # noqa: SIM115 - closed by BagWriter._finish_file


class BagWriter:
    """Writes ``<bag_dir>/metadata.yaml`` and ``<bag_dir>/<name>_<N>.mcap``; use as a context manager.

    ``bag_dir`` must be new or empty (``refuse_existing_bag``): a bag is never written over another one.

    ``opener`` opens a split file for writing (default: exclusive creation; tests inject a failing one
    to simulate a full disk).
    Errors of the file system propagate as ``OSError``; ``abandon_file`` then gives up the open file
    without touching the ones already closed, and the next ``write`` starts a new one.
    """

    def __init__(
        self,
        bag_dir: str | os.PathLike,
        *,
        compression: str = "none",
        split_size_bytes: int | None = None,
        split_duration_ns: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        opener: Opener | None = None,
    ) -> None:
        if compression not in COMPRESSION:
            raise BagError(f"{bag_dir}: unknown compression '{compression}' (use none, lz4 or zstd)")
        self.bag_dir = refuse_existing_bag(bag_dir)
        self.name = self.bag_dir.name
        self.compression = compression
        self.split_size_bytes = split_size_bytes
        self.split_duration_ns = split_duration_ns
        self.chunk_size = chunk_size
        self.custom_data: dict[str, str] = {}
        self._opener = opener or _open_binary
        self._topics: dict[str, _Topic] = {}
        self._static: dict[str, list[tuple[bytes, int]]] = {}
        self._events: dict[str, _Event] = {}
        self._files: list[_File] = []
        self._next_index = 0
        self._writer: Writer | None = None
        self._stream: IO[bytes] | None = None
        self._channels: dict[str, int] = {}
        self._schemas: dict[str, int] = {}
        self._sequence: dict[str, int] = {}
        self._pending = 0
        self._closed = False
        self._created_dir = False
        self._flushes = 0
        self._labels = LabelTally()
        """The pre-labels of the open file, written as its label records when it is finished."""

    # -- context manager ------------------------------------------------------------------------------

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            try:
                self.close()
            except OSError as error:  # the disk filled up while the last file was being finished
                self.close_partial(f"stopped early ({error})")
                raise
            return
        cause = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
        self.close_partial(f"stopped early ({cause})")

    # -- public API ------------------------------------------------------------------------------------

    @property
    def files(self) -> list[Path]:
        """Split files written so far (complete or in progress)."""
        return [f.path for f in self._files]

    @property
    def message_count(self) -> int:
        return sum(f.message_count for f in self._files)

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type of every topic added."""
        return {name: t.msgtype for name, t in self._topics.items()}

    def add_topic(self, topic: str, msgtype: str, qos: str | QosProfile = "reliable") -> None:
        """Declare a topic (idempotent); its channel appears in every split file from now on."""
        msgtype = normalize_msgtype(msgtype)
        known = self._topics.get(topic)
        if known is not None:
            if known.msgtype != msgtype:
                raise BagError(f"{topic}: already recorded as {known.msgtype}, cannot also record {msgtype}")
            return
        self._topics[topic] = _Topic(msgtype, qos_profile(qos).to_yaml(), type_hash(msgtype))
        if self._writer is not None:
            self._register_channel(topic)

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> None:
        """Append one CDR-encoded message of an added topic; opens/splits files as configured."""
        self._check_writable(topic)
        flushes = self._flushes
        self._prepare_file(log_time_ns)
        self._add(topic, data, log_time_ns, publish_time_ns)
        self._labels.add(topic, data, log_time_ns)
        self._split_if_full()
        self._note_unsaved(topic, flushes)

    def set_static(self, topic: str, data: bytes, log_time_ns: int, *, replace: bool = True) -> None:
        """Write a static message now and again at the start of every later split file.

        ``replace`` keeps only the latest message of the topic (camera info); ``replace=False`` keeps each
        distinct one (``/tf_static`` from several publishers).
        """
        self._check_writable(topic)
        flushes = self._flushes
        kept = self._static.setdefault(topic, [])
        if replace:
            kept.clear()
        if all(data != old for old, _ in kept):
            kept.append((bytes(data), log_time_ns))
        if not self._prepare_file(log_time_ns):  # a file opened just now starts with it already
            self._add(topic, data, log_time_ns, None)
        self._split_if_full()
        self._note_unsaved(topic, flushes)

    def add_event_metadata(
        self, event_id: str, start_ns: int, end_ns: int, fields: Mapping[str, Any]
    ) -> None:
        """Mirror an event into the ``mmfusion_events`` metadata record of each file it touches."""
        text = json.dumps({"start_ns": start_ns, "end_ns": end_ns, **fields}, sort_keys=True, default=str)
        index = len(self._files) - 1 if self._writer is not None else len(self._files)
        self._events[event_id] = _Event(start_ns, end_ns, text, index)

    def flush(self) -> None:
        """Close the open chunk and hand everything to the OS (survives a killed process)."""
        if self._writer is not None:
            with self._naming_file():
                self._writer.flush()
            self._pending = 0
            self._mark_saved()

    def fsync(self) -> None:
        """``flush`` and force the file's data to the disk (survives a power cut)."""
        if self._writer is not None and self._stream is not None:
            self.flush()
            with self._naming_file():
                os.fsync(self._stream.fileno())

    def split(self) -> None:
        """Close the current file now; the next write opens the next one."""
        if self._writer is not None:
            self._finish_file()
            self._write_metadata()

    def abandon_file(self) -> Counter:
        """Give up the open file after an I/O error: try to finish it, else leave it for ``bag recover``
        (or remove it when no message of it reached the disk). Returns the messages per topic lost."""
        if self._writer is None:
            return Counter()
        lost: Counter = Counter()
        try:
            self._finish_file()
        except OSError:
            lost = self._drop_broken_file()
        try:
            self._write_metadata()
        except OSError:
            pass  # the next split or close rewrites it
        return lost

    def close_partial(self, reason: str) -> None:
        """Close after writing stopped early: mark the bag partial and save what can be saved.

        Never raises ``OSError``: with the disk full, the open file is left for ``bag recover`` (or
        removed when no message of it reached the disk); a bag left without any file is removed (its
        ``metadata.yaml``, and its folder when this writer created it).
        """
        if self._closed:
            return
        self.custom_data[PARTIAL_KEY] = reason
        try:
            self.close()
        except OSError:
            self.abandon_file()
            self._closed = True
        if self._files:
            return
        try:
            (self.bag_dir / FILENAME).unlink(missing_ok=True)
            if self._created_dir:
                self.bag_dir.rmdir()
        except OSError:
            pass  # something else is in the folder: leave it

    def close(self) -> None:
        """Finish the open file and write the final ``metadata.yaml`` (idempotent)."""
        if self._closed:
            return
        if self._writer is not None:
            self._finish_file()
        if self._files:
            self._write_metadata()
        self._closed = True

    def info(self) -> dict:
        """The bag information as ``metadata.yaml`` holds it (complete files, and the open one)."""
        files = [f for f in self._files if f.complete or f is self._open_file_record()]
        counts = sum((f.topic_counts for f in files), Counter())
        topics = [
            TopicInfo(name, t.msgtype, t.qos_yaml, t.type_hash, counts[name])
            for name, t in self._topics.items()
        ]
        incomplete = [f.path.name for f in self._files if f not in files]
        custom = dict(self.custom_data)
        if incomplete:
            custom["mmfusion.incomplete_files"] = ",".join(incomplete)
        return bag_info(topics, [f.info(self.bag_dir) for f in files], custom)

    # -- internals -------------------------------------------------------------------------------------

    def _open_file_record(self) -> _File | None:
        return self._files[-1] if self._writer is not None else None

    def _check_writable(self, topic: str) -> None:
        if topic not in self._topics:
            raise BagError(f"{topic}: write before add_topic")
        if self._closed:
            raise BagError(f"{self.bag_dir}: write after close")

    def _prepare_file(self, log_time_ns: int) -> bool:
        """Split by duration if due and open a file if none is open; True when a file was opened."""
        current = self._open_file_record()
        if (
            current is not None
            and self.split_duration_ns is not None
            and current.start_ns is not None
            and log_time_ns - current.start_ns >= self.split_duration_ns
        ):
            self.split()
        if self._writer is not None:
            return False
        self._open_file(log_time_ns)
        return True

    def _split_if_full(self) -> None:
        if self.split_size_bytes is not None and self._writer is not None:
            assert self._stream is not None
            if self._stream.tell() + self._pending >= self.split_size_bytes:
                self.split()

    @contextmanager
    def _naming_file(self) -> Iterator[None]:
        """Around every write into the open file: an ``OSError`` without a file name (a failed write) gets
        the file's path, and SIGINT/SIGTERM wait until the write is done. A handler that raises (the CLI's)
        in the middle of mcap's writer could leave a chunk on disk without its index, whose messages no
        reader then sees; held back, the signal lands right after the write, with the file consistent."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
        try:
            yield
        except OSError as error:
            if error.filename is None and self._files:
                raise OSError(error.errno, error.strerror or str(error), str(self._files[-1].path)) from error
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def _mark_saved(self) -> None:
        current = self._files[-1]
        current.saved = current.saved or current.message_count > 0
        current.unsaved.clear()
        self._flushes += 1

    def _note_unsaved(self, topic: str, flushes: int) -> None:
        """Count a message handed in by the caller as at risk while no chunk write since covered it."""
        if self._writer is not None and self._flushes == flushes:
            self._files[-1].unsaved[topic] += 1

    def _open_file(self, first_time_ns: int) -> None:
        if not self.bag_dir.is_dir():
            self.bag_dir.mkdir(parents=True)
            self._created_dir = True
        path = self.bag_dir / f"{self.name}_{self._next_index}.mcap"
        stream = self._opener(path)
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:  # cannot happen to a file just created exclusively, unless shared
            stream.close()
            path.unlink(missing_ok=True)
            raise OSError(errno.EBUSY, f"locked by another process ({error.strerror})", str(path)) from error
        self._next_index += 1
        self._stream = stream
        self._files.append(_File(path))
        self._labels = LabelTally()
        self._writer = Writer(
            stream,
            chunk_size=self.chunk_size,
            compression=COMPRESSION[self.compression],
            enable_data_crcs=False,
        )
        with self._naming_file():
            self._writer.start(profile="ros2", library=f"mmfusion_annotate/{__version__}")
        self._channels.clear()
        self._schemas.clear()
        self._sequence.clear()
        self._pending = 0
        for topic in self._topics:
            self._register_channel(topic)
        for topic, kept in self._static.items():
            for data, stamp in kept:
                self._add(topic, data, max(stamp, first_time_ns), stamp)
        self._write_metadata()

    def _register_channel(self, topic: str) -> None:
        assert self._writer is not None
        meta = self._topics[topic]
        schema_id = self._schemas.get(meta.msgtype)
        if schema_id is None:
            schema_id = self._writer.register_schema(
                name=meta.msgtype, encoding="ros2msg", data=schema_text(meta.msgtype).encode()
            )
            self._schemas[meta.msgtype] = schema_id
        self._channels[topic] = self._writer.register_channel(
            topic=topic,
            message_encoding="cdr",
            schema_id=schema_id,
            metadata={"offered_qos_profiles": meta.qos_yaml, "topic_type_hash": meta.type_hash},
        )
        self._sequence[topic] = 0

    def _add(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int | None) -> None:
        assert self._writer is not None and self._stream is not None
        before = self._stream.tell()
        with self._naming_file():
            self._writer.add_message(
                channel_id=self._channels[topic],
                log_time=log_time_ns,
                data=data,
                publish_time=log_time_ns if publish_time_ns is None else publish_time_ns,
                sequence=self._sequence[topic],
            )
        self._sequence[topic] += 1
        current = self._files[-1]
        current.topic_counts[topic] += 1
        current.message_count += 1
        if self._stream.tell() != before:  # the chunk holding this message was written: to the OS with it
            with self._naming_file():
                self._stream.flush()
            self._pending = 0
            self._mark_saved()
        else:
            self._pending += len(data) + _MESSAGE_OVERHEAD
        current.start_ns = log_time_ns if current.start_ns is None else min(current.start_ns, log_time_ns)
        current.end_ns = log_time_ns if current.end_ns is None else max(current.end_ns, log_time_ns)

    def _file_events(self, index: int, record: _File) -> dict[str, str]:
        start, end = record.start_ns, record.end_ns
        return {
            event_id: event.text
            for event_id, event in self._events.items()
            if event.file_index == index
            or (start is not None and end is not None and event.start_ns <= end and event.end_ns >= start)
        }

    def _finish_file(self) -> None:
        assert self._writer is not None and self._stream is not None
        index = len(self._files) - 1
        record = self._files[index]
        events = self._file_events(index, record)
        with self._naming_file():
            if events:
                self._writer.add_metadata(EVENTS_RECORD, events)
            if self._labels.seen or any(label_topic(topic) for topic in self._topics):
                for name, values in self._labels.records().items():
                    self._writer.add_metadata(name, values)
        record.complete = True  # the rosbag2 record describes the bag including this file
        try:
            with self._naming_file():
                self._writer.add_metadata("rosbag2", {"serialized_metadata": dump_info(self.info())})
                self._writer.finish()
                self._stream.flush()
                os.fsync(self._stream.fileno())
        except OSError:
            record.complete = False
            raise
        self._stream.close()
        self._writer = None
        self._stream = None

    def _drop_broken_file(self) -> Counter:
        """Forget the stream of a file that could not be finished; returns its messages lost per topic.

        A file with a saved chunk stays on disk, unlisted, for ``bag recover``; one without is removed
        and its name used again, so a recorder retrying on a full disk leaves no empty files behind.
        """
        record = self._files[-1]
        record.complete = False
        try:
            if self._stream is not None:
                self._stream.close()
        except OSError:
            pass  # the data already handed to the OS stays; bag recover rebuilds the file
        self._writer = None
        self._stream = None
        if not record.saved:
            self._files.pop()
            self._next_index -= 1
            record.path.unlink(missing_ok=True)
        return Counter(record.unsaved)

    def _write_metadata(self) -> None:
        try:
            write_metadata(self.bag_dir, self.info())
        except OSError as error:
            if error.filename is None:
                path = str(self.bag_dir / FILENAME)
                raise OSError(error.errno, error.strerror or str(error), path) from error
            raise
