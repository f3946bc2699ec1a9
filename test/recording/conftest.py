"""Independent readers for the recording tests: rosbags (PyPI) and Foxglove's decoders (npm, test/js).

Every bag a test writes is read back by both, and their decoded messages are compared with what was
written in one canonical JSON-like form: uint8 arrays as base64, other arrays as lists, int64 beyond 2^53
as strings, so an rclpy message, a rosbags dataclass and a JavaScript object compare equal when equal.
"""

from __future__ import annotations

import array
import base64
import dataclasses
import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

JS_DIR = Path(__file__).resolve().parents[1] / "js"


def canonical(value: Any) -> Any:
    """The comparable form of a decoded message or field value."""
    if hasattr(value, "get_fields_and_field_types"):
        return {name: canonical(getattr(value, name)) for name in value.get_fields_and_field_types()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # ROS field names are lower case; rosbags' generated classes also list constants and __msgtype__
        names = [
            f.name for f in dataclasses.fields(value) if f.name.islower() and not f.name.startswith("__")
        ]
        return {name: canonical(getattr(value, name)) for name in names}
    if isinstance(value, np.ndarray):
        return _b64(value.tobytes()) if value.dtype == np.uint8 else [canonical(v) for v in value.tolist()]
    if isinstance(value, array.array):
        return _b64(value.tobytes()) if value.typecode == "B" else [canonical(v) for v in value.tolist()]
    if isinstance(value, bytes) and len(value) == 1:  # rclpy's form of a `byte` field
        return value[0]
    if isinstance(value, bytes | bytearray):
        return _b64(bytes(value))
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, np.generic):
        return canonical(value.item())
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return value
    return value


def _b64(data: bytes) -> dict[str, str]:
    return {"$b64": base64.b64encode(data).decode()}


def read_with_rosbags(bag_dir: Path) -> dict:
    """Messages by topic (canonical, in log-time order) and each topic's metadata as rosbags reads them."""
    store = get_typestore(Stores.EMPTY)
    by_topic: dict[str, list] = defaultdict(list)
    with Reader(bag_dir) as reader:
        for connection in reader.connections:
            store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        topics = {
            c.topic: {"type": c.msgtype, "digest": c.digest, "qos": c.ext.offered_qos_profiles}
            for c in reader.connections
        }
        for connection, stamp, raw in reader.messages():
            by_topic[connection.topic].append(
                (stamp, canonical(store.deserialize_cdr(raw, connection.msgtype)))
            )
        count = reader.message_count
    return {"messages": dict(by_topic), "topics": topics, "message_count": count}


def read_with_node(files: list[Path]) -> dict:
    """Messages by topic, and each file's channels and metadata records, as verify_bag.mjs reads them."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "@mcap" / "core").is_dir():
        pytest.fail(
            "the npm bag reader is not installed: run `bash scripts/setup.sh --test` "
            "(node + `npm ci` in test/js)"
        )
    result = subprocess.run(
        [node, str(JS_DIR / "verify_bag.mjs"), *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"verify_bag.mjs failed: {result.stderr[-2000:]}"
    headers, by_topic = [], defaultdict(list)
    for line in result.stdout.splitlines():
        record = json.loads(line)
        if "file" in record:
            headers.append(record)
        else:
            by_topic[record["topic"]].append((int(record["logTime"]), record["message"]))
    return {"headers": headers, "messages": dict(by_topic)}


def normalized(messages: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Round-trip through JSON so Python floats/ints compare like JavaScript's."""
    return [(stamp, json.loads(json.dumps(message))) for stamp, message in messages]


@pytest.fixture
def readers():
    """The independent readers and the canonical form, as one namespace for the tests."""

    class Readers:
        rosbags = staticmethod(read_with_rosbags)
        node = staticmethod(read_with_node)
        canonical = staticmethod(canonical)
        normalized = staticmethod(normalized)

    return Readers
