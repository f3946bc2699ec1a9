"""Damaged-bag fixtures written by the tests: small multi-chunk bags, then bytes zeroed, flipped, cut off.

``write_drive`` writes 2 s of /imu/data and /odom at 50 Hz plus two events (on /events and in the
``mmfusion_events`` record) in small chunks, so one damaged chunk loses a known handful of messages.
``write_raw`` writes a bag with the ``mcap`` writer directly, for what ``BagWriter`` refuses to write
(a type this installation lacks, a malformed events record, a cut-off event message).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mcap.reader import make_reader
from mcap.records import ChunkIndex
from mcap.stream_reader import breakup_chunk
from mcap.writer import CompressionType, Writer
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu

from mmfusion_annotate.events.model import Category, Event, Severity
from mmfusion_annotate.interfaces.definitions import schema_text
from mmfusion_annotate.outputs.labels import event_message
from mmfusion_annotate.recording import BagWriter, serialize
from mmfusion_annotate.recording.writer import EVENTS_RECORD
from mmfusion_annotate.types import NS_PER_S

T0 = 1_700_000_000 * NS_PER_S
PERIOD = NS_PER_S // 50
STEPS = 100
IMU, ODOM, EVENT = "sensor_msgs/msg/Imu", "nav_msgs/msg/Odometry", "mmfusion_annotate/msg/Event"


def stamped(msg, ns: int, frame: str):
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, NS_PER_S)
    return msg


def imu_bytes(ns: int) -> bytes:
    msg = stamped(Imu(), ns, "imu")
    msg.orientation.w = 1.0
    return serialize(IMU, msg)


def odom_bytes(ns: int, w: float = 1.0) -> bytes:
    msg = stamped(Odometry(), ns, "odom")
    msg.child_frame_id = "base_link"
    msg.pose.pose.orientation.w = w
    msg.twist.twist.linear.x = 10.0
    return serialize(ODOM, msg)


EVENTS = (
    Event(id="ev-1", type="hard_braking", category=Category.DRIVING, severity=Severity.CRITICAL,
          start=T0 + 20 * PERIOD, peak=T0 + 21 * PERIOD, end=T0 + 22 * PERIOD, detected=T0 + 22 * PERIOD,
          rule="hard_braking", rule_version="1"),
    Event(id="ev-2", type="cut_in", category=Category.DRIVING, severity=Severity.WATCH,
          start=T0 + 70 * PERIOD, peak=T0 + 71 * PERIOD, end=T0 + 72 * PERIOD, detected=T0 + 72 * PERIOD,
          object_ids=(3,), rule="cut_in", rule_version="1"),
)  # fmt: skip


def event_bytes(event: Event) -> bytes:
    return serialize(EVENT, event_message(event, "base_link"))


def write_drive(bag_dir: Path, *, compression: str = "lz4", bad_odom_at: int | None = None) -> int:
    """The drive bag; ``bad_odom_at``: that step's /odom has a zero quaternion. Returns the message count."""
    with BagWriter(bag_dir, compression=compression, chunk_size=4096) as writer:
        writer.add_topic("/imu/data", IMU, "sensor_data")
        writer.add_topic("/odom", ODOM, "sensor_data")
        writer.add_topic("/events", EVENT, "reliable")
        for step in range(STEPS):
            ns = T0 + step * PERIOD
            writer.write("/imu/data", imu_bytes(ns), ns)
            writer.write("/odom", odom_bytes(ns, 0.0 if step == bad_odom_at else 1.0), ns)
            for event in EVENTS:
                if event.end == ns:
                    writer.write("/events", event_bytes(event), ns)
                    writer.add_event_metadata(event.id, event.start, event.end, event.to_dict())
    return 2 * STEPS + len(EVENTS)


def write_raw(
    path: Path,
    topics: dict[str, tuple[str, str]],
    messages: list[tuple[str, int, bytes]],
    metadata: dict[str, dict[str, str]] | None = None,
) -> Path:
    """One MCAP file: ``topics`` is topic -> (type, schema text), ``messages`` (topic, log time, bytes)."""
    with open(path, "wb") as stream:
        writer = Writer(stream, compression=CompressionType.LZ4)
        writer.start(profile="ros2", library="test")
        channel_ids = {}
        for topic, (msgtype, text) in topics.items():
            schema_id = writer.register_schema(msgtype, "ros2msg", text.encode())
            channel_ids[topic] = writer.register_channel(
                topic, "cdr", schema_id, {"offered_qos_profiles": ""}
            )
        for topic, ns, data in messages:
            writer.add_message(channel_ids[topic], ns, data, ns)
        for name, record in (metadata or {}).items():
            writer.add_metadata(name, record)
        writer.finish()
    return path


def imu_schema() -> tuple[str, str]:
    return IMU, schema_text(IMU)


def event_schema() -> tuple[str, str]:
    return EVENT, schema_text(EVENT)


def events_record(**texts: str) -> dict[str, dict[str, str]]:
    """A ``mmfusion_events`` metadata record with the given (possibly malformed) entries."""
    return {EVENTS_RECORD: dict(texts)}


def good_event_text(event: Event) -> str:
    return json.dumps({**event.to_dict(), "start_ns": event.start, "end_ns": event.end})


# --- damage -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkInfo:
    """One chunk of a file: where it is and how many messages it holds."""

    offset: int
    length: int
    messages: int
    data_offset: int  # first byte of its (compressed) records


def chunks(path: Path) -> list[ChunkInfo]:
    with open(path, "rb") as stream:
        reader = make_reader(stream)
        found = []
        for index in reader.get_summary().chunk_indexes:
            found.append(_chunk_info(stream, index))
    return found


def _chunk_info(stream, index: ChunkIndex) -> ChunkInfo:
    from mcap.data_stream import ReadDataStream
    from mcap.records import Chunk, Message

    stream.seek(index.chunk_start_offset + 9)
    chunk = Chunk.read(ReadDataStream(stream))
    count = sum(isinstance(r, Message) for r in breakup_chunk(chunk))
    header = 9 + 8 + 8 + 8 + 4 + 4 + len(chunk.compression) + 8
    return ChunkInfo(index.chunk_start_offset, index.chunk_length, count, index.chunk_start_offset + header)


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as stream:
        stream.seek(offset)
        stream.write(data)


def damage_chunk(path: Path, chunk: ChunkInfo, kind: str) -> None:
    """``zeroed`` records, ``garbage`` records, one ``bitflip``, or the whole record ``wiped`` (framing)."""
    size = chunk.offset + chunk.length - chunk.data_offset
    if kind == "zeroed":
        overwrite(path, chunk.data_offset, bytes(size))
    elif kind == "garbage":
        overwrite(path, chunk.data_offset, os.urandom(size))
    elif kind == "bitflip":
        at = chunk.data_offset + size // 2
        with open(path, "rb") as stream:
            stream.seek(at)
            byte = stream.read(1)[0]
        overwrite(path, at, bytes([byte ^ 0x10]))
    elif kind == "wiped":
        overwrite(path, chunk.offset, bytes(chunk.length))
    else:
        raise ValueError(kind)


def cut(path: Path, size: int) -> None:
    with open(path, "r+b") as stream:
        stream.truncate(size)
