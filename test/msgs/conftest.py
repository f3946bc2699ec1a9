"""An independent PointCloud2 writer for the codec tests: struct.pack_into per value, no numpy dtypes.

Decoding is checked against this writer so that a wrong dtype in the codec cannot hide behind the same
wrong dtype in the test. Padding bytes are filled with 0xAB so that a view reading them shows up.
"""

from __future__ import annotations

import array
import struct
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sensor_msgs.msg import PointCloud2, PointField

STRUCT_CODES = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 8: "d"}
"""PointField datatype -> struct format character."""
FieldSpec = tuple[str, int, int, int]
"""(name, offset, datatype, count)"""


def raw_cloud(fields: Sequence[FieldSpec], rows: Sequence[Sequence[dict[str, Any]]], *, point_step: int,
              row_step: int | None = None, bigendian: bool = False, stamp_ns: int = 0,
              frame_id: str = "lidar") -> PointCloud2:
    """PointCloud2 whose ``rows`` (height x width dicts of field values; tuples for count > 1) are packed."""
    height = len(rows)
    width = len(rows[0]) if rows else 0
    row_step = width * point_step if row_step is None else row_step
    data = bytearray(b"\xab" * (height * row_step))
    order = ">" if bigendian else "<"
    for r, row in enumerate(rows):
        for c, point in enumerate(row):
            for name, offset, datatype, count in fields:
                values = point[name] if count > 1 else (point[name],)
                struct.pack_into(f"{order}{count}{STRUCT_CODES[datatype]}", data,
                                 r * row_step + c * point_step + offset, *values)
    msg = PointCloud2(height=height, width=width, is_bigendian=bigendian, point_step=point_step,
                      row_step=row_step, is_dense=True,
                      fields=[PointField(name=n, offset=o, datatype=d, count=k) for n, o, d, k in fields])
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.data = array.array("B", bytes(data))
    return msg


@pytest.fixture(scope="session")
def make_raw_cloud() -> Callable[..., PointCloud2]:
    """The independent writer (session scope, so hypothesis tests may use it)."""
    return raw_cloud
