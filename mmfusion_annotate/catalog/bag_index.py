"""One bag's catalog rows, read from its summaries and metadata records (messages only for older bags).

Why these reads: the bag row, the topics and the events come from ``metadata.yaml``, each file's MCAP
summary (statistics, channels) and the ``mmfusion_events`` metadata records (``bagtools.info`` and
``bagtools.events``), so they cost a few kilobytes per file. Review items and pre-label counts come from
each file's label records (``recording.label_records``), found through the summary's metadata index, so
no chunk is decompressed. A bag without them (written before them, or by another tool), one whose
records overflowed, or a ``window_s`` the records' window does not divide, is read from its
``/prelabels/review`` and ``/prelabels/scene`` messages instead, which costs most of the bag (the writer
interleaves topics in its chunks); the bags table says which (``labels_source``). ``index_bag`` never
raises for a bad bag: a path that is not a bag, a cut-off file or a damaged summary comes back as a
``BagIndex`` with ``error`` set (one line).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mcap.reader import make_reader

from mmfusion_annotate.bagtools.events import list_events, severity_rank
from mmfusion_annotate.bagtools.info import bag_info
from mmfusion_annotate.bagtools.recover import RECOVERED_KEY
from mmfusion_annotate.bagtools.source import BagFile, channels, open_bag, read_messages
from mmfusion_annotate.errors import MmfusionError
from mmfusion_annotate.outputs.labels import SCENE_UPDATE
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, SCENE_TOPIC, find_output_topic
from mmfusion_annotate.recording.bag_dir import RIG_FILE
from mmfusion_annotate.recording.label_records import (
    LABEL_RECORDS,
    WINDOW_S,
    LabelTally,
    label_topic,
)
from mmfusion_annotate.recording.metadata import FILENAME, read_metadata
from mmfusion_annotate.recording.salvage import READ_LOSSES_KEY, ReadLosses
from mmfusion_annotate.recording.writer import PARTIAL_KEY
from mmfusion_annotate.textfile import load_yaml
from mmfusion_annotate.types import NS_PER_S, seconds_to_ns

DEFAULT_WINDOW_S = WINDOW_S
"""Length of the time windows pre-labels are counted in (per class): the label records' own."""
_ALL = 2**62  # the catalog keeps every review item the records or messages hold
EVENT_FIELDS = ("id", "type", "category", "severity", "start_ns", "peak_ns", "end_ns", "detected_ns",
                "object_ids", "sensor", "evidence", "rule", "rule_version")  # fmt: skip
"""Fields of an event with a column of their own; any other field goes to the ``extra`` JSON column."""


@dataclass
class BagIndex:
    """The catalog rows of one bag (plain dicts, one per table), or a failure (``error``, one line)."""

    path: str
    fingerprint: str
    size_bytes: int
    mtime_ns: int
    bag: dict[str, Any] = field(default_factory=dict)
    topics: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    review_items: list[dict[str, Any]] = field(default_factory=list)
    prelabel_counts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    read_losses: list[str] = field(default_factory=list)
    """What could not be read (a damaged chunk, an undecodable pre-label message), one line each."""


# --- finding bags ---------------------------------------------------------------------------------------


def find_bags(path: Path) -> Iterator[Path]:
    """Bags under ``path``: folders with ``metadata.yaml`` (not looked into further) and ``.mcap`` files
    outside them, each a bag of its own. ``path`` itself is yielded when it is a file, whatever it is, so
    that a non-bag named on the command line is reported rather than ignored."""
    if not path.is_dir():
        yield path
        return
    if (path / FILENAME).is_file():
        yield path
        return
    for entry in sorted(path.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            yield from find_bags(entry)
        elif entry.suffix == ".mcap" and entry.is_file():
            yield entry


def bag_stat(path: Path) -> tuple[str, int, int]:
    """(fingerprint, total bytes, newest mtime ns) of a bag's files: its ``.mcap`` files and
    ``metadata.yaml``. Any rewrite (a recovery, a longer recording) changes name, size or mtime."""
    files = [path] if not path.is_dir() else sorted([*path.glob("*.mcap"), path / FILENAME])
    stats = [(f.name, f.stat()) for f in files if f.exists()]
    text = ";".join(f"{name}:{st.st_size}:{st.st_mtime_ns}" for name, st in stats)
    size = sum(st.st_size for _, st in stats)
    mtime = max((st.st_mtime_ns for _, st in stats), default=0)
    return hashlib.sha1(text.encode()).hexdigest()[:16], size, mtime


# --- one bag ----------------------------------------------------------------------------------------------


def index_bag(path: Path, *, labels: bool = True, window_s: float = DEFAULT_WINDOW_S) -> BagIndex:
    """The catalog rows of the bag at ``path``; with ``labels`` also its review items and pre-label counts
    per class per ``window_s`` window. Never raises for a bad bag: its ``BagIndex.error`` says why."""
    path = Path(os.path.abspath(path))
    try:
        fingerprint, size, mtime = bag_stat(path)
    except OSError as error:
        return BagIndex(str(path), "", 0, 0, error=f"cannot read ({error.strerror or error})")
    index = BagIndex(str(path), fingerprint, size, mtime)
    try:
        _read(index, path, labels, window_s)
    except (MmfusionError, OSError) as error:
        index.error = str(error).splitlines()[0] if str(error) else type(error).__name__
    except Exception as error:  # noqa: BLE001 - a damaged file makes the mcap/yaml parsers raise anything
        index.error = f"unreadable ({type(error).__name__}: {str(error)[:120]})"
    if index.error is not None:
        index.topics, index.events, index.review_items, index.prelabel_counts = [], [], [], []
        index.bag = _bag_row(index, state="damaged")
    return index


def _read(index: BagIndex, path: Path, labels: bool, window_s: float) -> None:
    if path.is_file() and path.suffix != ".mcap":
        raise MmfusionError(
            "not a bag (neither a folder with metadata.yaml or .mcap files nor an .mcap file)"
        )
    info = bag_info(path)
    if info.incomplete_files:
        raise MmfusionError(
            f"incomplete file {info.incomplete_files[0]} (cut off); run `mmfusion bag recover` first"
        )
    losses = ReadLosses()
    events = list_events(path, losses=losses)
    custom = (read_metadata(path).get("custom_data") or {}) if (path / FILENAME).is_file() else {}
    # `bag recover` notes only what it lost; a loss-free recovery shows by the originals it keeps
    recovered = RECOVERED_KEY in custom or (path.is_dir() and any(path.glob("*.mcap.incomplete*")))
    state = "recovered" if recovered else "partial" if PARTIAL_KEY in custom else "clean"
    start = info.start_ns
    index.topics = [
        {"topic": t.name, "type": t.msgtype, "message_count": t.message_count, "rate_hz": t.frequency_hz,
         "static": t.static, "reliability": t.reliability, "durability": t.durability,
         "dropped_queue": info.drops.get("queue", {}).get(t.name, 0),
         "dropped_io": info.drops.get("io", {}).get(t.name, 0)}
        for t in info.topics
    ]  # fmt: skip
    index.events = [_event_row(e, start) for e in events]
    source = _read_labels(index, path, start or 0, seconds_to_ns(window_s), losses) if labels else "none"
    index.read_losses = losses.lines()
    index.bag = _bag_row(
        index,
        state=state,
        start_ns=start,
        end_ns=info.end_ns,
        files=len(info.files),
        message_count=info.message_count,
        compression=info.compression,
        dropped=info.dropped_total,
        rig=_rig_name(path),
        read_losses=len(index.read_losses) + (READ_LOSSES_KEY in custom),
        labels_read=labels,
        labels_source=source,
    )


def _bag_row(index: BagIndex, *, state: str, **known: Any) -> dict[str, Any]:
    start, end = known.get("start_ns"), known.get("end_ns")
    return {
        "path": index.path,
        "name": Path(index.path).name,
        "state": state,
        "error": index.error,
        "fingerprint": index.fingerprint,
        "size_bytes": index.size_bytes,
        "mtime_ns": index.mtime_ns,
        "files": known.get("files", 0),
        "start_ns": start,
        "end_ns": end,
        "duration_s": (end - start) / NS_PER_S if start is not None and end is not None else None,
        "message_count": known.get("message_count", 0),
        "compression": known.get("compression"),
        "rig": known.get("rig"),
        "dropped": known.get("dropped", 0),
        "read_losses": known.get("read_losses", 0),
        "event_count": len(index.events),
        "review_item_count": len(index.review_items),
        "labels_read": known.get("labels_read", False),
        "labels_source": known.get("labels_source", "none"),
        "indexed_ns": time.time_ns(),
    }


def _event_row(event: dict[str, Any], bag_start: int | None) -> dict[str, Any]:
    extra = {k: v for k, v in event.items() if k not in EVENT_FIELDS}
    evidence = event.get("evidence") or {}
    return {
        **{k: event.get(k) for k in EVENT_FIELDS if k not in ("object_ids", "evidence")},
        "severity_rank": severity_rank(event.get("severity")),
        "t_s": (int(event["start_ns"]) - bag_start) / NS_PER_S if bag_start is not None else None,
        "object_ids": [int(i) for i in event.get("object_ids") or []],
        "evidence": {str(k): float(v) for k, v in evidence.items() if isinstance(v, int | float)},
        "extra": _json(extra) if extra else None,
    }


def _read_labels(index: BagIndex, path: Path, start: int, window_ns: int, losses: ReadLosses) -> str:
    """Review items (one row each) and cuboids per class per window; returns where they came from:
    ``record`` (the files' label records), ``messages`` (the pre-label topics) or ``none`` (no such topic)."""
    files = open_bag(path)
    names = list(channels(files))
    topics = [t for name in (SCENE_TOPIC, REVIEW_TOPIC) if (t := find_output_topic(names, name, path))]
    if not topics:
        return "none"
    tally = _record_tally(files, window_ns)
    source = "record"
    if tally is None:
        source, tally = "messages", LabelTally(window_ns, cap=_ALL)
        for message in read_messages(files, topics=topics, losses=losses):
            if not tally.add(message.topic, message.data, message.log_time_ns):
                losses.skip(message.topic, message.log_time_ns, f"not a {SCENE_UPDATE}")
    index.review_items = [
        {**item, "t_s": (item["stamp_ns"] - start) / NS_PER_S,
         "evidence": {str(k): float(v) for k, v in (item.get("evidence") or {}).items()}}
        for item in sorted(tally.review_items, key=lambda item: item["stamp_ns"])
    ]  # fmt: skip
    index.prelabel_counts = [
        {"class": cls, "window_start_ns": window, "window_s": window_ns / NS_PER_S, "count": n,
         "tracks": len(tracks)}
        for (cls, window), (n, tracks) in sorted(tally.counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]  # fmt: skip
    return source


def _record_tally(files: list[BagFile], window_ns: int) -> LabelTally | None:
    """The label records of every file holding a pre-label topic, merged; None when one lacks them (or
    they overflowed, are malformed, or count in windows that do not divide ``window_ns``)."""
    total = LabelTally(window_ns, cap=_ALL)
    for bag_file in files:
        summary = bag_file.summary
        if summary is None:
            return None
        if not any(label_topic(c.topic) for c in summary.channels.values()):
            continue
        if not any(i.name in LABEL_RECORDS for i in summary.metadata_indexes):
            return None
        try:
            with open(bag_file.path, "rb") as stream:
                records = [(m.name, m.metadata) for m in make_reader(stream).iter_metadata()
                           if m.name in LABEL_RECORDS]  # fmt: skip
            tally = LabelTally.from_records(records, window_ns)
        except Exception:  # noqa: BLE001 - a damaged or foreign record: the messages are read instead
            return None
        if tally.overflow:
            return None
        total.merge(tally)
    return total


def _rig_name(path: Path) -> str | None:
    """The ``name`` of the rig file a bag folder carries (imported and replayed bags do), else None."""
    rig_file = path / RIG_FILE if path.is_dir() else None
    if rig_file is None or not rig_file.is_file():
        return None
    try:
        document = load_yaml(rig_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    name = document.get("name") if isinstance(document, dict) else None
    return str(name) if name is not None else None


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
