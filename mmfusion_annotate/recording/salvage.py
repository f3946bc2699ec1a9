"""Reading MCAP files that may be damaged: CRC-checked chunks, counted losses, resynchronisation.

The ``mcap`` readers stop at the first bad byte (an LZ4 error, a CRC mismatch, a cut-off record) and
check no CRC by default, so one damaged chunk either ended a whole tool run in a traceback or was
copied on silently. Here every chunk is read on its own and its CRC checked; one that cannot be read is
recorded as a ``ReadLoss`` (file, offset, bytes, messages it held when its message index says so) and
skipped. Two ways in:

- ``indexed_messages``: a complete file, through its summary's chunk index (time/topic windows skip the
  other chunks), in log-time order;
- ``scan_records``: any file, front to back, record by record, in constant memory. MCAP frames every
  record as opcode (1 byte) + length (8 bytes), so a chunk whose body is damaged is skipped by its length;
  where the framing itself is destroyed the scan resynchronises on the next record that parses as a
  chunk, a message index or the data end.
"""

from __future__ import annotations

import heapq
import io
import json
import struct
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TypeGuard

from mcap.data_stream import ReadDataStream
from mcap.opcode import Opcode
from mcap.records import (
    Attachment,
    Channel,
    Chunk,
    ChunkIndex,
    DataEnd,
    Footer,
    Header,
    McapRecord,
    Message,
    MessageIndex,
    Metadata,
    Schema,
)
from mcap.stream_reader import breakup_chunk
from mcap.summary import Summary

from mmfusion_annotate.errors import BagError

MAGIC = b"\x89MCAP0\r\n"
_FRAME = struct.Struct("<BQ")
_CHUNK_HEAD = struct.Struct("<QQQII")  # start, end, uncompressed size, crc, compression length
_COMPRESSIONS = {0: b"", 3: b"lz4", 4: b"zstd"}
_READERS: dict[int, Callable[[ReadDataStream], McapRecord]] = {
    Opcode.HEADER: Header.read, Opcode.FOOTER: Footer.read, Opcode.SCHEMA: Schema.read,
    Opcode.CHANNEL: Channel.read, Opcode.METADATA: Metadata.read, Opcode.ATTACHMENT: Attachment.read,
    Opcode.MESSAGE_INDEX: MessageIndex.read, Opcode.DATA_END: DataEnd.read,
}  # fmt: skip
_RECORD_OPCODES = frozenset(_READERS) | {Opcode.MESSAGE}  # a Message reads its body knowing its length
_SUMMARY_OPCODES = frozenset(range(Opcode.CHUNK_INDEX, Opcode.DATA_END)) - {
    Opcode.ATTACHMENT,
    Opcode.METADATA,
}
_WINDOW = 1 << 20
READ_LOSSES_KEY = "mmfusion_read_losses"
"""``custom_data`` key of an output bag written from a source that could only be partly read."""


@dataclass(frozen=True)
class ReadLoss:
    """A stretch of a file that could not be read: where, how long, why, and the messages it held."""

    path: str
    offset: int
    bytes: int
    reason: str
    messages: int | None = None  # None: unknown (no intact message index for it)

    def describe(self) -> str:
        held = "an unknown number of messages" if self.messages is None else f"{self.messages} messages"
        return f"{self.path} @ {self.offset}: {self.bytes} bytes skipped ({self.reason}; {held})"


@dataclass
class ReadLosses:
    """Everything a tool skipped while reading: damaged stretches of files and undecodable messages."""

    chunks: list[ReadLoss] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # topic -> messages skipped
    first_skip: dict[str, str] = field(default_factory=dict)  # topic -> where and why the first was

    def skip(self, topic: str, log_time_ns: int, reason: str) -> None:
        """Count one message that could not be used, remembering the first of its topic."""
        self.skipped[topic] += 1
        self.first_skip.setdefault(topic, f"log time {log_time_ns} ns: {reason}")

    @property
    def lossy(self) -> bool:
        return bool(self.chunks or self.skipped)

    @property
    def bytes_dropped(self) -> int:
        return sum(loss.bytes for loss in self.chunks)

    @property
    def messages_lost(self) -> int | None:
        """Messages in the damaged stretches, None when some stretch's count is unknown."""
        counts = [loss.messages for loss in self.chunks]
        return sum(n for n in counts if n is not None) if None not in counts else None

    def lines(self) -> list[str]:
        """One line per damaged stretch and per topic with skipped messages (for the end of a run)."""
        out = [f"damaged: {loss.describe()}" for loss in self.chunks]
        out += [
            f"skipped {n} messages on {topic} (first at {self.first_skip[topic]})"
            for topic, n in sorted(self.skipped.items())
        ]
        return out

    def summary(self) -> str:
        """One line: how much was not read (empty when nothing was lost)."""
        if not self.lossy:
            return ""
        lost = self.messages_lost
        parts = []
        if self.chunks:
            parts.append(
                f"{len(self.chunks)} damaged stretch(es), {self.bytes_dropped} bytes, "
                f"{'unknown number of' if lost is None else lost} messages"
            )
        if self.skipped:
            parts.append(f"{sum(self.skipped.values())} undecodable messages")
        return "PARTLY READ: " + "; ".join(parts)

    def to_json(self) -> str:
        """The losses as JSON, for ``custom_data['mmfusion_read_losses']`` of an output bag."""
        return json.dumps({
            "damaged": [loss.__dict__ for loss in self.chunks],
            "skipped": dict(self.skipped),
            "first_skip": self.first_skip,
        }, sort_keys=True)  # fmt: skip


def require_mcap(stream: IO[bytes], path: Path) -> None:
    """BagError unless the file starts with the MCAP magic bytes."""
    stream.seek(0)
    head = stream.read(len(MAGIC))
    if head != MAGIC:
        raise BagError(f"{path}: not an MCAP file (starts with {head[:8]!r})")


def _parse_chunk(body: bytes) -> list[McapRecord]:
    """The records of a chunk body, decompressed and CRC-checked (raises on any damage)."""
    chunk = Chunk.read(ReadDataStream(io.BytesIO(body)))
    if len(chunk.data) + _CHUNK_HEAD.size + len(chunk.compression) + 8 != len(body):
        raise ValueError("chunk data length does not match its record")
    return breakup_chunk(chunk, validate_crc=True)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# Corrupted bytes make the decompressors and record parsers raise almost anything (lz4's RuntimeError,
# zstd's ZstdError, struct.error, UnicodeDecodeError, CRCValidationError...): each is a damaged chunk.
DAMAGE_ERRORS = (Exception,)


def _indexed_count(stream: IO[bytes], index: ChunkIndex) -> int | None:
    """Messages a chunk held according to its message index records; None when those are damaged."""
    total = 0
    try:
        for offset in index.message_index_offsets.values():
            stream.seek(offset)
            opcode, length = _FRAME.unpack(stream.read(_FRAME.size))
            if opcode != Opcode.MESSAGE_INDEX:
                return None
            total += len(MessageIndex.read(ReadDataStream(io.BytesIO(stream.read(length)))).records)
    except DAMAGE_ERRORS:
        return None
    return total


def _chunk_records(stream: IO[bytes], path: Path, index: ChunkIndex, losses: ReadLosses) -> list[McapRecord]:
    """The records of one indexed chunk, or [] with the loss recorded."""
    stream.seek(index.chunk_start_offset)
    raw = stream.read(index.chunk_length)
    try:
        opcode, length = _FRAME.unpack_from(raw)
        if opcode != Opcode.CHUNK or length != index.chunk_length - _FRAME.size:
            raise ValueError("no chunk record where the index points")
        return _parse_chunk(raw[_FRAME.size :])
    except DAMAGE_ERRORS as error:
        count = _indexed_count(stream, index)
        losses.chunks.append(ReadLoss(str(path), index.chunk_start_offset, index.chunk_length,
                                      _reason(error), count))  # fmt: skip
        return []


def _channel_ids(summary: Summary, topics: Collection[str] | None) -> set[int]:
    return {cid for cid, c in summary.channels.items() if topics is None or c.topic in topics}


def _wanted_chunks(
    summary: Summary,
    channel_ids: set[int],
    topics: Collection[str] | None,
    starting_at: int | None,
    ending_at: int | None,
) -> Iterator[ChunkIndex]:
    """The chunks overlapping ``[starting_at, ending_at]`` that may hold one of ``topics``."""
    for ci in summary.chunk_indexes:
        if (
            (starting_at is None or ci.message_end_time >= starting_at)
            and (ending_at is None or ci.message_start_time <= ending_at)
            and (
                topics is None or not ci.message_index_offsets or channel_ids & set(ci.message_index_offsets)
            )
        ):
            yield ci


def _wanted_message(
    record: McapRecord, channel_ids: set[int], starting_at: int | None, ending_at: int | None
) -> TypeGuard[Message]:
    """A message record of one of ``channel_ids`` logged within ``[starting_at, ending_at]``."""
    return (
        isinstance(record, Message)
        and record.channel_id in channel_ids
        and (starting_at is None or record.log_time >= starting_at)
        and (ending_at is None or record.log_time <= ending_at)
    )


def written_messages(
    stream: IO[bytes],
    path: Path,
    summary: Summary,
    losses: ReadLosses,
    *,
    topics: Collection[str] | None = None,
    starting_at: int | None = None,
    ending_at: int | None = None,
) -> Iterator[tuple[Channel, Message]]:
    """Messages of a complete file in the order they were written (chunks in file order), skipping (and
    recording) bad chunks: for readers that pair messages by the order a recorder wrote them."""
    channel_ids = _channel_ids(summary, topics)
    chunks = sorted(
        _wanted_chunks(summary, channel_ids, topics, starting_at, ending_at),
        key=lambda ci: ci.chunk_start_offset,
    )
    for index in chunks:
        for record in _chunk_records(stream, path, index, losses):
            if _wanted_message(record, channel_ids, starting_at, ending_at):
                yield summary.channels[record.channel_id], record


def indexed_messages(
    stream: IO[bytes],
    path: Path,
    summary: Summary,
    losses: ReadLosses,
    *,
    topics: Collection[str] | None = None,
    starting_at: int | None = None,
    ending_at: int | None = None,
) -> Iterator[tuple[Channel, Message]]:
    """Messages of a complete file in log-time order, chunk by chunk, skipping (and recording) bad chunks.

    Only the chunks overlapping ``[starting_at, ending_at]`` and holding one of ``topics`` are read; a
    chunk is opened when the next message due could come from it, so memory holds a few chunks at most.
    """
    channel_ids = _channel_ids(summary, topics)
    chunks = sorted(
        _wanted_chunks(summary, channel_ids, topics, starting_at, ending_at),
        key=lambda ci: (ci.message_start_time, ci.chunk_start_offset),
    )
    heap: list[tuple[int, int, Channel, Message]] = []
    order = 0
    next_chunk = 0
    while next_chunk < len(chunks) or heap:
        while next_chunk < len(chunks) and (not heap or chunks[next_chunk].message_start_time <= heap[0][0]):
            for record in _chunk_records(stream, path, chunks[next_chunk], losses):
                if not _wanted_message(record, channel_ids, starting_at, ending_at):
                    continue
                heapq.heappush(heap, (record.log_time, order, summary.channels[record.channel_id], record))
                order += 1
            next_chunk += 1
        if heap:
            _, _, channel, message = heapq.heappop(heap)
            yield channel, message


def _chunk_signature(head: bytes, offset: int, size: int) -> bool:
    """True when ``head`` (read at ``offset``) starts a plausible chunk record ending inside the file."""
    if len(head) < _FRAME.size + _CHUNK_HEAD.size or head[0] != Opcode.CHUNK:
        return False
    _, length = _FRAME.unpack_from(head)
    start, end, _, _, name_length = _CHUNK_HEAD.unpack_from(head, _FRAME.size)
    name = _COMPRESSIONS.get(name_length)
    at = _FRAME.size + _CHUNK_HEAD.size
    if name is None or start > end or offset + _FRAME.size + length > size:
        return False
    if head[at : at + name_length] != name or len(head) < at + name_length + 8:
        return False
    (data_length,) = struct.unpack_from("<Q", head, at + name_length)
    return data_length == length - _CHUNK_HEAD.size - name_length - 8


def _record_signature(head: bytes, offset: int, size: int) -> bool:
    """A chunk, a message index or the data end record starts at ``offset`` (for resynchronising)."""
    if not head:
        return False
    if head[0] == Opcode.CHUNK:
        return _chunk_signature(head, offset, size)
    if len(head) < _FRAME.size + 6:
        return False
    opcode, length = _FRAME.unpack_from(head)
    if opcode == Opcode.DATA_END:
        return length == 4 and offset + _FRAME.size + 4 <= size
    if opcode == Opcode.MESSAGE_INDEX:
        (records_length,) = struct.unpack_from("<I", head, _FRAME.size + 2)
        return records_length % 16 == 0 and length == records_length + 6 and offset + 9 + length <= size
    return False


def _resync(stream: IO[bytes], start: int, size: int) -> int | None:
    """Offset of the next record after ``start`` that parses as a chunk, message index or data end."""
    probe = _FRAME.size + _CHUNK_HEAD.size + 4 + 8
    window_start = start
    while window_start < size:
        stream.seek(window_start)
        window = stream.read(_WINDOW + probe)
        found = [
            i
            for i in _candidates(window, min(len(window), _WINDOW))
            if _record_signature(window[i : i + probe], window_start + i, size)
        ]
        if found:
            return window_start + min(found)
        window_start += _WINDOW
    return None


def _candidates(window: bytes, limit: int) -> Iterator[int]:
    """Positions in ``window[:limit]`` of the opcodes a resynchronisation can land on."""
    for opcode in (Opcode.CHUNK, Opcode.MESSAGE_INDEX, Opcode.DATA_END):
        byte = bytes([opcode])
        i = window.find(byte, 0, limit)
        while i >= 0:
            yield i
            i = window.find(byte, i + 1, limit)


def scan_records(stream: IO[bytes], path: Path, losses: ReadLosses) -> Iterator[McapRecord]:
    """Every readable record of the data section, front to back, in constant memory.

    Chunks come out as their records (schemas, channels, messages); a damaged chunk or record becomes a
    ``ReadLoss`` (its messages counted from the message index records that follow it, when intact) and
    the scan goes on after it. Ends at the data end record, the footer or the end of the file (a cut-off
    tail is a loss too). BagError when the file is not MCAP at all.
    """
    require_mcap(stream, path)
    size = stream.seek(0, io.SEEK_END)
    pos = len(MAGIC)
    damaged: int | None = None  # index in losses.chunks of the last damaged chunk, while its indexes follow
    while pos < size:
        stream.seek(pos)
        head = stream.read(_FRAME.size + _CHUNK_HEAD.size + 4 + 8)
        framed = len(head) >= _FRAME.size
        opcode, length = _FRAME.unpack_from(head) if framed else (0, 0)
        end = pos + _FRAME.size + length
        known = opcode in _RECORD_OPCODES or opcode in _SUMMARY_OPCODES or opcode >= 0x80
        if (
            not framed
            or end > size
            or not (_chunk_signature(head, pos, size) if opcode == Opcode.CHUNK else known)
        ):
            resume = _resync(stream, pos + 1, size)
            cut = resume is None and (not framed or end > size)
            stop = size if resume is None else resume
            losses.chunks.append(
                ReadLoss(str(path), pos, stop - pos, "cut off" if cut else "framing destroyed")
            )
            damaged = len(losses.chunks) - 1  # index records right after it count what it held
            pos = stop
            continue
        stream.seek(pos + _FRAME.size)
        body = stream.read(length)
        offset, pos = pos, end
        if opcode == Opcode.MESSAGE_INDEX:
            if damaged is not None:
                _count_into(losses, damaged, body)
            continue
        damaged = None
        if opcode == Opcode.CHUNK:
            try:
                records = _parse_chunk(body)
            except DAMAGE_ERRORS as error:
                damaged = len(losses.chunks)
                losses.chunks.append(ReadLoss(str(path), offset, end - offset, _reason(error)))
                continue
            yield from records
        elif opcode in (Opcode.DATA_END, Opcode.FOOTER):
            return
        elif opcode in _RECORD_OPCODES:
            try:
                data = ReadDataStream(io.BytesIO(body))
                yield Message.read(data, length) if opcode == Opcode.MESSAGE else _READERS[opcode](data)
            except DAMAGE_ERRORS as error:
                losses.chunks.append(ReadLoss(str(path), offset, end - offset, _reason(error)))


def _count_into(losses: ReadLosses, at: int, index_body: bytes) -> None:
    """Add the messages of one message index record to the damaged chunk ``losses.chunks[at]``.

    The first index record turns "unknown" into a count; a damaged one makes it unknown for good.
    """
    loss = losses.chunks[at]
    try:
        held = len(MessageIndex.read(ReadDataStream(io.BytesIO(index_body))).records)
    except DAMAGE_ERRORS:
        losses.chunks[at] = replace(loss, messages=None, reason=loss.reason + "; message index damaged")
        return
    if "message index damaged" not in loss.reason:
        losses.chunks[at] = replace(loss, messages=(loss.messages or 0) + held)
