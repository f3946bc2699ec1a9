"""``bench/check_outputs_equal.py`` tells equal replays from changed ones, a last-bit float from a label."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PointStamped

from mmfusion_annotate.recording import BagWriter, serialize

_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "check_outputs_equal.py"
TOPIC = "/prelabels/point"
TYPE = "geometry_msgs/msg/PointStamped"


@cache
def _script():
    spec = importlib.util.spec_from_file_location("check_outputs_equal", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _data(frame_id: str = "ab", x: float = 1.5) -> bytes:
    msg = PointStamped()
    msg.header.frame_id = frame_id
    msg.point.x, msg.point.y = x, -2.25
    return serialize(TYPE, msg)


def _bag(path: Path, payloads: list[bytes]) -> Path:
    with BagWriter(path) as writer:
        writer.add_topic(TOPIC, TYPE)
        for i, data in enumerate(payloads):
            writer.write(TOPIC, data, 1_000 + i)
    return path


def test_equal_bags_and_padding_only_differences_are_identical(tmp_path):
    check = _script()
    padded = bytearray(_data())
    # CDR: 4-byte header, stamp (8), frame_id length (4) + "ab\0" (3), 1 byte of padding before the point
    padded[4 + 15] ^= 0xFF
    a = _bag(tmp_path / "a", [_data(), _data(x=3.0)])
    b = _bag(tmp_path / "b", [bytes(padded), _data(x=3.0)])
    (diff,) = check.compare_bags(a, b)
    assert diff.equal and diff.identical == 2 and not diff.fields


def test_a_float_in_its_last_bit_is_told_from_a_changed_label(tmp_path):
    check = _script()
    nudged = float(np.nextafter(1.5, 2.0))
    a = _bag(tmp_path / "a", [_data(), _data(), _data()])
    b = _bag(tmp_path / "b", [_data(), _data(x=nudged), _data(frame_id="car")])
    (diff,) = check.compare_bags(a, b, [TOPIC])
    assert not diff.equal
    assert (diff.count_a, diff.count_b, diff.identical, diff.float_only) == (3, 3, 1, 1)
    assert diff.max_abs == nudged - 1.5 and 0 < diff.max_rel < 1e-15
    assert any("header.frame_id: 'ab' != 'car'" in f for f in diff.fields)
    assert "DIFFERS" in check.report([diff])


def test_a_missing_message_or_topic_differs(tmp_path):
    check = _script()
    a = _bag(tmp_path / "a", [_data(), _data()])
    b = _bag(tmp_path / "b", [_data()])
    (diff,) = check.compare_bags(a, b)
    assert (diff.count_a, diff.count_b, diff.identical, diff.equal) == (2, 1, 1, False)
    (absent,) = check.compare_bags(a, b, ["/prelabels/none"])
    assert (absent.count_a, absent.count_b, absent.equal) == (0, 0, True)
