"""An imported dataset -> a rosbag2 MCAP bag that reads like a car's recording, with its rig beside it.

An importer hands over its messages frame by frame (``Logged``: topic, type, message, log time), each
frame with a lower bound of the log times of it and every later frame; they are written in log-time
order (``in_publish_order``: only the few late ones are held). ``/tf_static`` comes first, built from
the rig; camera infos are static topics (repeated at each split) like a recorder keeps them; sensor
topics are offered with the sensor-data QoS, ``/truth/...`` and ``/tf`` as reliable. Messages are
encoded with ``canonical_cdr``, so the same input gives byte-identical files, and the rig is written as
``BAG/rig.yaml`` (what ``mmfusion replay BAG`` uses when no ``--rig`` is given).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmfusion_annotate.recording import BagWriter
from mmfusion_annotate.recording.bag_dir import RIG_FILE
from mmfusion_annotate.recording.canonical import canonical_cdr
from mmfusion_annotate.recording.publish_order import in_publish_order
from mmfusion_annotate.recording.rig_topics import CAMERA_INFO_TYPE, TF_STATIC, TF_TYPE, tf_static_message
from mmfusion_annotate.rig import Rig, dump_rig
from mmfusion_annotate.types import Stamp

IMPORT_KEY = "mmfusion_import"
"""``metadata.yaml`` custom data key: JSON describing where the bag came from (dataset, frames, notes)."""


@dataclass(frozen=True)
class Logged:
    """One message of an imported frame and the time a car's recorder would have logged it."""

    topic: str
    msgtype: str
    msg: Any
    log_ns: Stamp


@dataclass
class ImportSummary:
    """What an import wrote: messages per topic, the files it could not use, figures worth printing."""

    bag: Path
    frames: int = 0
    topics: Counter = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(self.topics.values())


def write_import(
    bag_dir: str | os.PathLike,
    rig: Rig,
    frames: Iterable[tuple[Stamp, list[Logged]]],
    summary: ImportSummary,
    *,
    compression: str = "none",
) -> None:
    """Write ``frames`` ((lower bound of log times from this frame on, messages)) to a new bag.

    ``summary.topics`` counts what was written; ``summary.notes`` and ``summary.missing`` go into the
    bag's ``metadata.yaml`` (custom data ``IMPORT_KEY``).
    """
    sensor_topics = {s.topic for s in rig.sensors.values()}
    ordered = in_publish_order(
        (bound, message.log_ns, message) for bound, messages in frames for message in messages
    )
    with BagWriter(bag_dir, compression=compression) as writer:
        for log_ns, message in ordered:
            if TF_STATIC not in writer.topics:
                writer.add_topic(TF_STATIC, TF_TYPE, qos="latched")
                writer.set_static(TF_STATIC, tf_static_message(rig, log_ns), log_ns)
                summary.topics[TF_STATIC] += 1
            static = message.msgtype == CAMERA_INFO_TYPE
            qos = "latched" if static else "sensor_data" if message.topic in sensor_topics else "reliable"
            writer.add_topic(message.topic, message.msgtype, qos=qos)
            data = canonical_cdr(message.msgtype, message.msg)
            if static:
                writer.set_static(message.topic, data, log_ns)
            else:
                writer.write(message.topic, data, log_ns)
            summary.topics[message.topic] += 1
        writer.custom_data[IMPORT_KEY] = json.dumps(
            {**summary.notes, "missing_files": summary.missing}, sort_keys=True
        )
    dump_rig(rig, Path(bag_dir) / RIG_FILE)


def format_import_summary(summary: ImportSummary) -> str:
    """Human-readable summary for the CLI: frames, messages per topic, gaps, the figures in ``notes``."""
    lines = [f"imported {summary.frames} frames -> {summary.messages} messages in {summary.bag}"]
    lines += [f"  {topic:<44} {count:6d}" for topic, count in sorted(summary.topics.items())]
    lines += [f"{key}: {value}" for key, value in summary.notes.items() if key != "semseg_classes"]
    lines.append(f"missing or unreadable files (gaps in their topics): {len(summary.missing)}")
    lines.append(f"rig: {Path(summary.bag) / RIG_FILE}")
    return "\n".join(lines)
