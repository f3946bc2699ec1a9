"""``metadata.yaml`` of a rosbag2 bag directory (version 8), written atomically.

Version 8 is the newest that Humble's, Jazzy's and rosbags' readers all accept; its per-topic
``offered_qos_profiles`` is a YAML string and ``type_description_hash`` the RIHS01 hash, both written
exactly as in the MCAP channel metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mmfusion_annotate.errors import BagError

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
    with open(tmp, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def read_metadata(bag_dir: Path) -> dict:
    """The ``rosbag2_bagfile_information`` mapping of a bag directory."""
    path = Path(bag_dir) / FILENAME
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))["rosbag2_bagfile_information"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise BagError(f"{path}: not a rosbag2 metadata file ({error})") from None
