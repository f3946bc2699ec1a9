"""``sensor_msgs/PointCloud2`` <-> numpy structured arrays, zero-copy where the layout allows.

Decoding views the message buffer through a dtype built from the PointFields (any field set and
order, padding, row padding, organized clouds, big-endian data, fields with count > 1), so a 260k-point
sweep costs microseconds instead of a Python loop. Copies happen only where the caller asks for a
new array: ``drop_nan`` (removes points) and the per-point time normalization (adds field ``t_ns``,
absolute int64 ns, see :mod:`point_time` for the rule). Views share memory with the message: copy
before writing if the message is still in use.

Encoding writes little-endian, packed fields in the array's order; ``x, y, z`` become float32, an
int64 ``t_ns`` becomes ``t`` in ns relative to the header stamp (uint32 as Ouster, int32 if some points
precede the stamp) and replaces any other time field, 64-bit integers narrow to 32 bits when their values
fit, bool becomes uint8.
"""

from __future__ import annotations

import array
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.point_time import (
    TIME_FIELD_NAMES,
    TimeRule,
    Unit,
    find_time_field,
    infer_rule,
    to_absolute_ns,
)
from mmfusion_annotate.msgs.pointfield import dtype_to_fields, fields_to_dtype, read_fields, structured_fields
from mmfusion_annotate.msgs.rgb import pack_rgb
from mmfusion_annotate.msgs.time import from_ros_time, make_header
from mmfusion_annotate.types import Stamp

XYZ = ("x", "y", "z")
_UINT32_MAX, _INT32_MIN, _INT32_MAX = 2**32 - 1, -(2**31), 2**31 - 1


@dataclass(frozen=True)
class DecodedCloud:
    """A decoded cloud with what the decoder learnt on the way (header, dropped points, time rule)."""

    points: np.ndarray
    frame_id: str
    stamp_ns: Stamp
    dropped_nonfinite: int
    """Points removed by ``drop_nan`` (0 when not asked)."""
    time_rule: TimeRule | None
    """How ``t_ns`` was derived; None when the cloud has no time field or normalization was off."""


def view_points(msg: Any, *, topic: str | None = None) -> np.ndarray:
    """Zero-copy structured view of the points: shape (width,) if height == 1, else (height, width)."""
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    dtype = fields_to_dtype(read_fields(msg.fields), point_step, bool(msg.is_bigendian), topic=topic)
    if row_step < width * point_step:
        raise CodecError(f"row_step {row_step} < width x point_step = {width} x {point_step}", topic=topic)
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size != height * row_step:
        raise CodecError(f"data length {buf.size} != height x row_step = {height} x {row_step}", topic=topic)
    points = np.ndarray((height, width), dtype=dtype, buffer=buf, strides=(row_step, point_step))
    return points.reshape(width) if height == 1 else points


def _require_xyz(points: np.ndarray, topic: str | None) -> None:
    missing = [axis for axis in XYZ if axis not in (points.dtype.names or ())]
    if missing:
        raise CodecError(f"cloud has no field {', '.join(missing)}", topic=topic)


def finite_xyz(points: np.ndarray, *, topic: str | None = None) -> np.ndarray:
    """Boolean mask of points whose x, y and z are all finite."""
    _require_xyz(points, topic)
    return np.isfinite(points["x"]) & np.isfinite(points["y"]) & np.isfinite(points["z"])


def with_t_ns(points: np.ndarray, t_ns: np.ndarray, *, topic: str | None = None) -> np.ndarray:
    """Copy of ``points`` with an int64 ``t_ns`` field appended (one raw byte copy, fields keep offsets)."""
    src = points.dtype
    fields = structured_fields(src, topic)
    if "t_ns" in fields:
        raise CodecError("cloud already has a field 't_ns'", topic=topic)
    offset = -(-src.itemsize // 8) * 8
    dtype = np.dtype({"names": [*fields, "t_ns"],
                      "formats": [sub for sub, _ in fields.values()] + [np.dtype(np.int64)],
                      "offsets": [at for _, at in fields.values()] + [offset],
                      "itemsize": offset + 8})
    out = np.empty(points.shape, dtype)
    out_bytes = out.view(np.uint8).reshape(*points.shape, dtype.itemsize)
    out_bytes[..., :src.itemsize] = points.view(np.uint8).reshape(*points.shape, src.itemsize)
    out["t_ns"] = t_ns
    return out


def decode_cloud(msg: Any, *, drop_nan: bool = False, reject_nan: bool = False, normalize_time: bool = True,
                 time_unit: Unit | None = None, time_relative: bool | None = None,
                 topic: str | None = None) -> DecodedCloud:
    """Decode a PointCloud2 (see the module doc); ``reject_nan`` turns NaN/inf coordinates into CodecError.

    ``drop_nan`` always returns a 1-D array (an organized cloud loses its grid when points go).
    ``time_unit`` / ``time_relative`` override the time-field rule of :mod:`point_time`.
    """
    points = view_points(msg, topic=topic)
    stamp_ns = from_ros_time(msg.header.stamp)
    dropped = 0
    if drop_nan or reject_nan:
        finite = finite_xyz(points, topic=topic)
        bad = finite.size - int(np.count_nonzero(finite))
        if bad and reject_nan:
            raise CodecError(f"{bad} of {finite.size} points have NaN/inf coordinates", topic=topic)
        if drop_nan:
            points = points[finite] if bad else points.reshape(-1)
            dropped = bad
    rule = None
    name = find_time_field(points.dtype.names) if normalize_time else None
    if name is not None:
        values = points[name]
        if values.ndim != points.ndim:
            raise CodecError(f"time field '{name}' has count {values.shape[-1]} (must be 1)", topic=topic)
        rule = infer_rule(name, values, unit=time_unit, relative=time_relative, topic=topic)
        points = with_t_ns(points, to_absolute_ns(values, rule, stamp_ns, topic=topic), topic=topic)
    return DecodedCloud(points, str(msg.header.frame_id), stamp_ns, dropped, rule)


def decode(msg: Any, *, drop_nan: bool = False, reject_nan: bool = False, normalize_time: bool = True,
           time_unit: Unit | None = None, time_relative: bool | None = None,
           topic: str | None = None) -> np.ndarray:
    """The points of :func:`decode_cloud` alone (structured array, ``t_ns`` added when timed)."""
    return decode_cloud(msg, drop_nan=drop_nan, reject_nan=reject_nan, normalize_time=normalize_time,
                        time_unit=time_unit, time_relative=time_relative, topic=topic).points


def points_xyz(points: np.ndarray, *, topic: str | None = None) -> np.ndarray:
    """(..., 3) float32 coordinates of a structured cloud (a contiguous copy, ready for math)."""
    _require_xyz(points, topic)
    xyz = np.empty((*points.shape, 3), np.float32)
    for i, axis in enumerate(XYZ):
        xyz[..., i] = points[axis]
    return xyz


def make_points(xyz: np.ndarray, **columns: np.ndarray) -> np.ndarray:
    """Structured array: float32 x, y, z, then ``columns`` in order ((N,) or (N, k) arrays, dtypes kept)."""
    xyz = np.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise CodecError(f"xyz must be (N, 3), got {xyz.shape}")
    cols = {name: np.asarray(col) for name, col in columns.items()}
    for name, col in cols.items():
        if col.shape[:1] != xyz.shape[:1]:
            raise CodecError(f"column '{name}' has {col.shape[:1]} rows, xyz has {xyz.shape[0]}")
    dtype = np.dtype([(axis, np.float32) for axis in XYZ]
                     + [(name, col.dtype, col.shape[1:]) for name, col in cols.items()])
    points = np.empty(xyz.shape[0], dtype)
    for i, axis in enumerate(XYZ):
        points[axis] = xyz[:, i]
    for name, col in cols.items():
        points[name] = col
    return points


def _wire_field(name: str, sub: np.dtype, values: np.ndarray, stamp_ns: Stamp, topic: str | None
                ) -> tuple[str, np.dtype, np.ndarray]:
    """(wire name, wire dtype, values) of one field, following the module's encoding conventions."""
    base, shape = (sub.base, sub.shape) if sub.shape else (sub, ())
    if name == "t_ns":
        rel = values.astype(np.int64) - np.int64(stamp_ns)
        lo, hi = (int(rel.min()), int(rel.max())) if rel.size else (0, 0)
        if lo >= 0 and hi <= _UINT32_MAX:
            return "t", np.dtype("<u4"), rel
        if lo >= _INT32_MIN and hi <= _INT32_MAX:
            return "t", np.dtype("<i4"), rel
        raise CodecError(f"t_ns spans {lo}..{hi} ns around the header stamp; it must fit 32 bits",
                         topic=topic)
    if name in XYZ:
        return name, np.dtype("<f4"), values
    if base.kind == "b":
        return name, np.dtype(("u1", shape)), values
    if base.kind in "iu" and base.itemsize == 8:
        narrow = np.dtype(f"<{base.kind}4")
        info = np.iinfo(narrow)
        if values.size and (values.min() < info.min or values.max() > info.max):
            raise CodecError(f"field '{name}' has 64-bit values outside {narrow}; PointField has no 64-bit "
                             "integers", topic=topic)
        return name, np.dtype((narrow, shape)), values
    return name, np.dtype((base.newbyteorder("<"), shape)), values


def to_wire(points: np.ndarray, stamp_ns: Stamp, *, topic: str | None = None) -> np.ndarray:
    """C-contiguous, packed, little-endian copy of ``points`` in PointField types (no copy if already so)."""
    fields = structured_fields(points.dtype, topic)
    names = tuple(fields)
    if "t_ns" in names:  # authoritative: a decoded cloud's source time field must not travel beside it
        names = tuple(n for n in names if n not in TIME_FIELD_NAMES)
    wire = [_wire_field(n, fields[n][0], points[n], stamp_ns, topic) for n in names]
    dtype = np.dtype([(name, dt) for name, dt, _ in wire])
    if points.dtype == dtype and points.flags.c_contiguous:
        return points
    out = np.empty(points.shape, dtype)
    for name, _, values in wire:
        out[name] = values
    return out


def encode(points: np.ndarray, frame_id: str, stamp_ns: Stamp, *, topic: str | None = None) -> Any:
    """``sensor_msgs.msg.PointCloud2`` of a structured array; a 2-D array becomes an organized cloud."""
    from sensor_msgs.msg import PointCloud2, PointField

    if points.ndim not in (1, 2):
        raise CodecError(f"points must be 1-D or 2-D (organized), got shape {points.shape}", topic=topic)
    wire = to_wire(points, stamp_ns, topic=topic)
    height, width = wire.shape if wire.ndim == 2 else (1, wire.shape[0])
    names = wire.dtype.names or ()
    dense = bool(finite_xyz(wire, topic=topic).all()) if all(a in names for a in XYZ) else True
    data = array.array("B")
    data.frombytes(wire.reshape(-1).view(np.uint8).data)
    msg = PointCloud2(header=make_header(frame_id, stamp_ns), height=height, width=width,
                      fields=[PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                              for f in dtype_to_fields(wire.dtype, topic=topic)],
                      is_bigendian=False, point_step=wire.dtype.itemsize,
                      row_step=wire.dtype.itemsize * width, is_dense=dense)
    msg.data = data
    return msg


def encode_xyzirt(xyz: np.ndarray, intensity: np.ndarray, ring: np.ndarray, t_ns: np.ndarray,
                  frame_id: str, stamp_ns: Stamp) -> Any:
    """A LiDAR sweep as PointCloud2: x, y, z, intensity (float32), ring (uint16), t (ns after the stamp)."""
    return encode(make_points(xyz, intensity=np.asarray(intensity, np.float32),
                              ring=np.asarray(ring, np.uint16), t_ns=np.asarray(t_ns, np.int64)),
                  frame_id, stamp_ns)


def encode_xyzrgb(xyz: np.ndarray, rgb: np.ndarray, frame_id: str, stamp_ns: Stamp) -> Any:
    """A coloured cloud as PCL/RViz expect it: x, y, z and a float32 ``rgb`` holding 0x00RRGGBB bits."""
    return encode(make_points(xyz, rgb=pack_rgb(rgb)), frame_id, stamp_ns)
