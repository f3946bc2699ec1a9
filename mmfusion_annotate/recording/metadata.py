"""``metadata.yaml`` of a rosbag2 bag directory (version 8), written atomically.

Version 8 is the newest that Humble's, Jazzy's and rosbags' readers all accept; its per-topic
``offered_qos_profiles`` is a YAML string and ``type_description_hash`` the RIHS01 hash, both written
exactly as in the MCAP channel metadata.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.textfile import load_yaml

_log = logging.getLogger(__name__)

VERSION = 8
FILENAME = "metadata.yaml"


@dataclass(frozen=True)
class TopicInfo:
    """One topic's entry: name, type, QoS string, type hash and message count over the whole bag."""

    name: str
    msgtype: str
    qos_yaml: str
    type_hash: str
    message_count: int


@dataclass(frozen=True)
class FileInfo:
    """One split file's entry (path relative to the bag directory)."""

    path: str
    start_ns: int
    end_ns: int
    message_count: int


def bag_info(
    topics: Sequence[TopicInfo],
    files: Sequence[FileInfo],
    custom_data: Mapping[str, str] | None = None,
) -> dict:
    """The ``rosbag2_bagfile_information`` mapping (without its top-level key)."""
    counted = [f for f in files if f.message_count]
    start = min((f.start_ns for f in counted), default=0)
    end = max((f.end_ns for f in counted), default=0)
    return {
        "version": VERSION,
        "storage_identifier": "mcap",
        "duration": {"nanoseconds": end - start},
        "starting_time": {"nanoseconds_since_epoch": start},
        "message_count": sum(f.message_count for f in files),
        "topics_with_message_count": [
            {
                "topic_metadata": {
                    "name": t.name,
                    "type": t.msgtype,
                    "serialization_format": "cdr",
                    "offered_qos_profiles": t.qos_yaml,
                    "type_description_hash": t.type_hash,
                },
                "message_count": t.message_count,
            }
            for t in topics
        ],
        "compression_format": "",
        "compression_mode": "",
        "relative_file_paths": [f.path for f in files],
        "files": [
            {
                "path": f.path,
                "starting_time": {"nanoseconds_since_epoch": f.start_ns},
                "duration": {"nanoseconds": f.end_ns - f.start_ns},
                "message_count": f.message_count,
            }
            for f in files
        ],
        "custom_data": dict(custom_data) if custom_data else None,
        "ros_distro": os.environ.get("ROS_DISTRO", "jazzy"),
    }


def dump_info(info: Mapping) -> str:
    """YAML text of a bag-information mapping (also stored in each file's ``rosbag2`` metadata record)."""
    return yaml.safe_dump(dict(info), sort_keys=False, default_flow_style=False)


def write_metadata(bag_dir: Path, info: Mapping) -> Path:
    """Write ``metadata.yaml`` atomically: a reader sees the old file or the new one, never half of one."""
    path = Path(bag_dir) / FILENAME
    tmp = path.with_name(f".{FILENAME}.tmp")
    text = yaml.safe_dump({"rosbag2_bagfile_information": dict(info)}, sort_keys=False)
    try:
        with open(tmp, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary file behind
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def read_metadata(bag_dir: Path) -> dict:
    """The ``rosbag2_bagfile_information`` mapping of a bag directory, checked far enough to be used.

    BagError naming the file and what is wrong when it cannot be (not text, not YAML, not a mapping,
    ``relative_file_paths`` not a list of names): guessing which files a damaged bag means could read
    the wrong ones, and ``mmfusion bag recover`` rewrites the file from the ``.mcap`` files. A malformed
    ``custom_data`` only loses the recorder's notes, so it is dropped with a warning instead.
    """
    path = Path(bag_dir) / FILENAME
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise BagError(f"{path}: is a directory, not a rosbag2 metadata file") from None
    except UnicodeDecodeError:
        raise BagError(f"{path}: not a text file (binary data); `mmfusion bag recover` rewrites it") from None
    except (OSError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BagError(f"{path}: not a rosbag2 metadata file ({reason})") from None
    info = document.get("rosbag2_bagfile_information") if isinstance(document, dict) else None
    if not isinstance(info, dict):
        raise BagError(f"{path}: no 'rosbag2_bagfile_information' mapping (not a rosbag2 metadata file)")
    names = info.get("relative_file_paths")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise BagError(
            f"{path}: 'relative_file_paths' must be a list of file names (got {names!r:.60}); "
            "`mmfusion bag recover` rewrites it"
        )
    custom = info.get("custom_data")
    if custom is not None and not (isinstance(custom, dict) and all(isinstance(k, str) for k in custom)):
        _log.warning("%s: 'custom_data' is not a mapping of names (ignored): %.60r", path, custom)
        info["custom_data"] = None
    elif custom:
        info["custom_data"] = {
            k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in custom.items()
        }
    return info
