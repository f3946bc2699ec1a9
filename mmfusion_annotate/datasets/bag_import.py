"""An imported dataset -> a rosbag2 MCAP bag that reads like a car's recording, with its rig beside it.

An importer hands over its messages frame by frame (``Logged``: topic, type, message, log time), each
frame with a lower bound of the log times of it and every later frame; they are written in log-time
order (``in_publish_order``: only the few late ones are held). ``/tf_static`` comes first, built from
the rig; camera infos are static topics (repeated at each split) like a recorder keeps them; sensor
topics are offered with the sensor-data QoS, ``/truth/...`` and ``/tf`` as reliable. Messages are
encoded with ``canonical_cdr``, so the same input gives byte-identical files, and the rig is written as
``BAG/rig.yaml`` (what ``mmfusion replay BAG`` uses when no ``--rig`` is given).

What every importer writes the same way lives here too: odometry with its ``/tf`` (``ego_messages``),
an image file as CompressedImage with its CameraInfo (``camera_messages``), and the gaps a missing or
unreadable file leaves (``ImportSummary.read`` / ``gap``: one warning line per file, counted).
"""

from __future__ import annotations

import array
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.interfaces.cdr import new_message
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, ODOMETRY, TF_MESSAGE
from mmfusion_annotate.msgs.odometry import WORLD_FRAME, odometry_message
from mmfusion_annotate.msgs.time import make_header
from mmfusion_annotate.outputs.rig_topics import (
    TF_STATIC,
    tf_static_message,
)
from mmfusion_annotate.outputs.static import transform_stamped
from mmfusion_annotate.recording import BagWriter
from mmfusion_annotate.recording.bag_dir import RIG_FILE
from mmfusion_annotate.recording.canonical import canonical_cdr
from mmfusion_annotate.recording.publish_order import in_publish_order
from mmfusion_annotate.rig import Rig, Sensor, dump_rig
from mmfusion_annotate.types import Stamp

_log = logging.getLogger(__name__)
T = TypeVar("T")
TF_TOPIC = "/tf"
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
    dataset: str = "import"
    """Prefix of the warning lines."""

    @property
    def messages(self) -> int:
        return sum(self.topics.values())

    def gap(self, path: str | os.PathLike, reason: str = "missing") -> None:
        """Name a file the import could not use (one warning line, once per file) and count it."""
        if str(path) not in self.missing:
            _log.warning("%s: %s: %s (gap in its topic)", self.dataset, reason, path)
            self.missing.append(str(path))

    def read(self, path: Path, reader: Callable[[], T]) -> T | None:
        """``reader()`` of an existing file; None (and a gap) when it is missing or unreadable."""
        if not path.is_file():
            self.gap(path)
            return None
        try:
            return reader()
        except ConfigError as exc:
            self.gap(path, f"unreadable ({exc.reason})")
        except OSError as exc:
            self.gap(path, f"unreadable ({exc.strerror or exc})")
        return None


def ego_messages(
    sensor: Sensor, stamp: Stamp, pose: np.ndarray, linear: np.ndarray, angular: np.ndarray
) -> list[Logged]:
    """Odometry of base_link in the world at ``stamp``, and the same pose on ``/tf``."""
    quaternion = Rotation.from_matrix(pose[:3, :3]).as_quat()
    child = sensor.frame_id
    odometry = odometry_message(WORLD_FRAME, child, stamp, pose[:3, 3], quaternion, linear, angular)
    tf = new_message(TF_MESSAGE, transforms=[transform_stamped(WORLD_FRAME, child, pose, stamp)])
    return [Logged(sensor.topic, ODOMETRY, odometry, stamp), Logged(TF_TOPIC, TF_MESSAGE, tf, stamp)]


def camera_messages(sensor: Sensor, stamp: Stamp, data: bytes, fmt: str) -> list[Logged]:
    """An image file's bytes as the camera's CompressedImage (never re-encoded) and its CameraInfo, both
    at the camera's own ``stamp``."""
    msgtype = sensor.msgtype
    image = new_message(msgtype, header=make_header(sensor.frame_id, stamp), format=fmt)
    image.data = array.array("B", data)
    info = sensor.camera_model.to_camera_info(sensor.frame_id, stamp)
    return [
        Logged(sensor.topic, msgtype, image, stamp),
        Logged(sensor.camera_info_topic, CAMERA_INFO, info, stamp),
    ]


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
                writer.add_topic(TF_STATIC, TF_MESSAGE, qos="latched")
                writer.set_static(TF_STATIC, tf_static_message(rig, log_ns), log_ns)
                summary.topics[TF_STATIC] += 1
            static = message.msgtype == CAMERA_INFO
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
