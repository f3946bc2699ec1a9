"""Indexed access to a bag's MCAP files for the bag tools: summaries, time-windowed reads, QoS.

Why not only ``BagReader``: ``info``, ``events`` and ``clip`` must not decompress a whole drive to answer
a question about a few seconds or a few topics, so they read each file's summary (channels, statistics,
chunk index) and let the MCAP index skip every chunk outside the wanted topics and time window.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from mcap.summary import Summary

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, TF_MESSAGE
from mmfusion_annotate.recording.qos import (
    KEEP_ALL,
    KEEP_LAST,
    RELIABILITY_BEST_EFFORT,
    RELIABILITY_RELIABLE,
    TRANSIENT_LOCAL,
    VOLATILE,
    QosProfile,
)
from mmfusion_annotate.recording.reader import BagMessage, bag_files, file_messages, file_summary
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.textfile import load_yaml

_ENUMS = {
    "history": {"keep_last": KEEP_LAST, "keep_all": KEEP_ALL, "system_default": KEEP_LAST},
    "reliability": {
        "reliable": RELIABILITY_RELIABLE,
        "best_effort": RELIABILITY_BEST_EFFORT,
        "system_default": RELIABILITY_RELIABLE,
    },
    "durability": {"transient_local": TRANSIENT_LOCAL, "volatile": VOLATILE, "system_default": VOLATILE},
}


@dataclass(frozen=True)
class BagFile:
    """One MCAP file of a bag and its summary (``None`` when the file is incomplete: no footer/summary)."""

    path: Path
    summary: Summary | None

    @property
    def complete(self) -> bool:
        return self.summary is not None

    @property
    def span_ns(self) -> tuple[int, int] | None:
        """(first, last) message log time; None for an incomplete file or one without messages."""
        stats = self.summary.statistics if self.summary else None
        return (stats.message_start_time, stats.message_end_time) if stats and stats.message_count else None

    @property
    def start_ns(self) -> int | None:
        return self.span_ns[0] if self.span_ns else None

    @property
    def end_ns(self) -> int | None:
        return self.span_ns[1] if self.span_ns else None

    def require_complete(self) -> Summary:
        if self.summary is None:
            raise BagError(
                f"{self.path}: incomplete MCAP file (no summary); run `mmfusion bag recover` first"
            )
        return self.summary


@dataclass(frozen=True)
class Channel:
    """A topic as a bag stores it: type, offered QoS (YAML as stored) and type hash."""

    topic: str
    msgtype: str
    qos_yaml: str
    type_hash: str


def read_summary(path: Path) -> Summary | None:
    """The file's MCAP summary, or None when the file was cut off (crash) or has no summary section."""
    try:
        with open(path, "rb") as stream:
            return file_summary(stream, path)
    except FileNotFoundError:
        raise BagError(f"{path}: file listed in the bag is missing") from None
    except OSError as error:
        raise BagError(f"{path}: cannot read ({error.strerror})") from None


def open_bag(path: str | os.PathLike) -> list[BagFile]:
    """The files of a bag directory (in ``metadata.yaml`` order) or a single ``.mcap``, with summaries."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag directory or file")
    return [BagFile(f, read_summary(f)) for f in bag_files(path)]


def channels(files: Sequence[BagFile]) -> dict[str, Channel]:
    """Topic -> channel description over the complete files, in first-seen order."""
    found: dict[str, Channel] = {}
    for bag_file in files:
        if bag_file.summary is None:
            continue
        for channel in bag_file.summary.channels.values():
            if channel.topic in found:
                continue
            schema = bag_file.summary.schemas.get(channel.schema_id)
            found[channel.topic] = Channel(
                channel.topic,
                schema.name if schema else "",
                channel.metadata.get("offered_qos_profiles", ""),
                channel.metadata.get("topic_type_hash", ""),
            )
    return found


def read_messages(
    files: Sequence[BagFile],
    *,
    topics: Collection[str] | None = None,
    starting_at: int | None = None,
    ending_at: int | None = None,
    losses: ReadLosses | None = None,
) -> Iterator[BagMessage]:
    """Messages of ``topics`` with ``starting_at <= log_time <= ending_at``, in log-time order over files.

    Files entirely outside the window are not opened; inside a file the chunk index skips chunks that
    hold none of the topics or fall outside the window. Damaged chunks are skipped and recorded in
    ``losses``; without ``losses`` the first damage is a BagError.
    """
    wanted = [
        f
        for f in files
        if f.summary is None
        or (
            (span := f.span_ns) is not None
            and (starting_at is None or span[1] >= starting_at)
            and (ending_at is None or span[0] <= ending_at)
        )
    ]
    tracked = losses if losses is not None else ReadLosses()
    wanted_topics = list(topics) if topics is not None else None
    streams = [
        file_messages(f.path, tracked, topics=wanted_topics, starting_at=starting_at, ending_at=ending_at)
        for f in wanted
    ]
    merged = heapq.merge(*streams, key=lambda m: m.log_time_ns)
    return merged if losses is not None else _strict(merged, tracked)


def _strict(messages: Iterator[BagMessage], losses: ReadLosses) -> Iterator[BagMessage]:
    """``messages``, stopping with a BagError at the first damage recorded in ``losses``."""
    for message in messages:
        if losses.lossy:
            break
        yield message
    if losses.lossy:
        raise BagError(f"{losses.lines()[0]}; run `mmfusion bag recover` first")


def parse_qos(qos_yaml: str) -> QosProfile:
    """The first offered profile of an ``offered_qos_profiles`` string (integer enums or names).

    An empty string (a bag written without QoS) gives the default reliable/volatile profile.
    """
    try:
        profiles = load_yaml(qos_yaml) if qos_yaml else None
    except yaml.YAMLError as error:
        raise BagError(f"offered_qos_profiles is not YAML: {error}") from None
    if not profiles:
        return QosProfile()
    if not isinstance(profiles, list) or not isinstance(profiles[0], dict):
        raise BagError(f"offered_qos_profiles is not a list of profiles: {qos_yaml[:80]!r}")
    first = profiles[0]
    values = {}
    for policy, names in _ENUMS.items():
        value = first.get(policy, 0)
        if isinstance(value, str):
            value = names.get(value.lower(), 0)
        values[policy] = int(value) or names["system_default"]  # 0 = rmw's "system default"
    depth = int(first.get("depth", 0) or 0)
    return QosProfile(depth=depth or 10, **values)


STATIC_TYPES = frozenset({TF_MESSAGE, CAMERA_INFO})
"""Types whose latest message a review needs whenever it starts: transforms, camera calibration."""


def is_static(channel: Channel) -> bool:
    """True for topics a clip must carry in from before its window: latched (``/tf_static``-like) topics,
    and the static types (camera info, TF on ``/tf_static``)."""
    if parse_qos(channel.qos_yaml).durability == TRANSIENT_LOCAL:
        return True
    if channel.msgtype == TF_MESSAGE:
        return channel.topic.endswith("tf_static")
    return channel.msgtype in STATIC_TYPES
