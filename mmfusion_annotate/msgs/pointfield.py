"""``sensor_msgs/PointField`` layouts <-> numpy structured dtypes.

A PointCloud2 names each field by a byte offset inside ``point_step`` bytes; a numpy structured dtype
(names, formats, offsets, itemsize) says exactly the same, so the message buffer can be *viewed* in
place rather than unpacked point by point. Validation lives here because a bad layout is what makes
such a view read garbage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmfusion_annotate.errors import CodecError

INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64 = range(1, 9)
"""PointField datatype codes, as ``sensor_msgs/msg/PointField`` defines them."""

DATATYPE_NAMES = {
    INT8: "INT8", UINT8: "UINT8", INT16: "INT16", UINT16: "UINT16",
    INT32: "INT32", UINT32: "UINT32", FLOAT32: "FLOAT32", FLOAT64: "FLOAT64",
}
_DATATYPE_CODES = {INT8: "i1", UINT8: "u1", INT16: "i2", UINT16: "u2",
                   INT32: "i4", UINT32: "u4", FLOAT32: "f4", FLOAT64: "f8"}
_CODE_DATATYPES = {code: datatype for datatype, code in _DATATYPE_CODES.items()}


def structured_fields(dtype: np.dtype, topic: str | None = None) -> dict[str, tuple[np.dtype, int]]:
    """``{name: (dtype, offset)}`` of a structured dtype in field order; CodecError for a plain dtype."""
    if dtype.names is None or dtype.fields is None:
        raise CodecError(f"a structured array is needed, got dtype {dtype}", topic=topic)
    fields = dtype.fields
    return {name: (fields[name][0], fields[name][1]) for name in dtype.names}


@dataclass(frozen=True)
class Field:
    """One PointField, detached from any ROS message class."""

    name: str
    offset: int
    datatype: int
    count: int = 1

    @property
    def size(self) -> int:
        """Bytes the field occupies inside a point."""
        return np.dtype(_DATATYPE_CODES[self.datatype]).itemsize * self.count


def read_fields(fields: Iterable[Any]) -> list[Field]:
    """Plain :class:`Field` records from message PointFields (rclpy, rosbags or mcap-ros2 objects)."""
    return [Field(str(f.name), int(f.offset), int(f.datatype), int(f.count)) for f in fields]


def fields_to_dtype(fields: list[Field], point_step: int, is_bigendian: bool, *,
                    topic: str | None = None) -> np.dtype:
    """Structured dtype (itemsize ``point_step``) viewing one point; CodecError on any impossible layout."""
    names: set[str] = set()
    for f in fields:
        if f.datatype not in _DATATYPE_CODES:
            raise CodecError(f"field '{f.name}' has unknown datatype {f.datatype} (PointField knows 1..8)",
                             topic=topic)
        if not f.name or f.name in names:
            raise CodecError(f"field name '{f.name}' is empty or repeated", topic=topic)
        if f.count < 1:
            raise CodecError(f"field '{f.name}' has count {f.count} (must be >= 1)", topic=topic)
        if f.offset + f.size > point_step:
            raise CodecError(f"field '{f.name}' (offset {f.offset}, {f.size} bytes) extends beyond "
                             f"point_step {point_step}", topic=topic)
        names.add(f.name)
    by_offset = sorted(fields, key=lambda f: f.offset)
    for a, b in zip(by_offset, by_offset[1:], strict=False):
        if a.offset + a.size > b.offset:
            raise CodecError(f"fields '{a.name}' (bytes {a.offset}..{a.offset + a.size - 1}) and '{b.name}' "
                             f"(bytes {b.offset}..{b.offset + b.size - 1}) overlap", topic=topic)
    order = ">" if is_bigendian else "<"
    formats = [(order + _DATATYPE_CODES[f.datatype], (f.count,)) if f.count > 1
               else order + _DATATYPE_CODES[f.datatype] for f in fields]
    return np.dtype({"names": [f.name for f in fields], "formats": formats,
                     "offsets": [f.offset for f in fields], "itemsize": point_step})


def dtype_to_fields(dtype: np.dtype, *, topic: str | None = None) -> list[Field]:
    """PointFields describing a structured dtype whose fields are all PointField-representable."""
    out = []
    for name, (sub, offset) in structured_fields(dtype, topic).items():
        base, shape = (sub.base, sub.shape) if sub.shape else (sub, ())
        datatype = _CODE_DATATYPES.get(f"{base.kind}{base.itemsize}")
        if datatype is None:
            raise CodecError(f"field '{name}' has dtype {base}, which PointField cannot carry "
                             f"(int8..int32, uint8..uint32, float32, float64)", topic=topic)
        out.append(Field(name, offset, datatype, int(np.prod(shape, dtype=np.int64))))
    return out
