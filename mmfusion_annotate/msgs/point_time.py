"""Per-point time fields of LiDAR clouds -> absolute integer nanoseconds.

Drivers disagree on the name, unit and reference of the per-point time (Ouster ``t`` uint32 ns after
the header stamp, Velodyne ``time`` float32 s after it, Hesai ``timestamp`` float64 epoch seconds,
Livox ``offset_time`` uint32 ns, livox_ros_driver2 ``timestamp`` float64 epoch ns). Motion compensation
needs one meaning, so every cloud is read through one documented rule:

* field: the first present of ``t``, ``time``, ``timestamp``, ``time_stamp``, ``offset_time``;
* 32-bit integers: nanoseconds relative to the header stamp (absolute ns cannot fit 32 bits);
* floats: relative seconds if the largest finite magnitude is below 1e6 (11.6 days), else absolute
  epoch time whose unit follows the magnitude: < 1e11 s, < 1e14 ms, < 1e17 us, else ns;
* 8/16-bit integers are refused (no driver stores time that way) unless a unit is given.

``unit`` and ``relative`` override the rule; an explicit unit with ``relative=None`` keeps the 1e6 s
threshold, and an explicit ``relative=False`` without a unit picks the unit by magnitude as above.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.types import Stamp

TIME_FIELD_NAMES = ("t", "time", "timestamp", "time_stamp", "offset_time")
Unit = Literal["s", "ms", "us", "ns"]
NS_PER_UNIT: dict[str, int] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
RELATIVE_LIMIT_S = 1e6
"""Time values spanning less than this many seconds are offsets from the header stamp."""
_ABSOLUTE_UNIT_LIMITS: tuple[tuple[float, Unit], ...] = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))


@dataclass(frozen=True)
class TimeRule:
    """How one cloud's time field was read: which field, in which unit, relative or absolute."""

    field: str
    unit: Unit
    relative: bool


def find_time_field(names: Collection[str] | None) -> str | None:
    """The per-point time field of a cloud (``names``: its dtype's, None for a plain dtype) by the
    priority of :data:`TIME_FIELD_NAMES`."""
    return next((name for name in TIME_FIELD_NAMES if name in names), None) if names else None


def infer_rule(field: str, values: np.ndarray, *, unit: Unit | None = None, relative: bool | None = None,
               topic: str | None = None) -> TimeRule:
    """Apply the module's rule to one time field's values (explicit ``unit``/``relative`` win)."""
    if unit is not None and unit not in NS_PER_UNIT:
        raise CodecError(f"time unit must be one of {sorted(NS_PER_UNIT)}, not '{unit}'", topic=topic)
    is_int = values.dtype.kind in "iu"
    if is_int and values.dtype.itemsize < 4 and unit is None:
        raise CodecError(f"time field '{field}' is a {values.dtype.itemsize * 8}-bit integer; "
                         "pass time_unit to read it", topic=topic)
    finite = values[np.isfinite(values)] if not is_int else values
    magnitude = float(np.max(np.abs(finite))) if finite.size else 0.0
    if relative is None:
        if is_int and unit is None:
            relative = True
        else:
            relative = magnitude * NS_PER_UNIT[unit or "s"] < RELATIVE_LIMIT_S * NS_PER_UNIT["s"]
    resolved: Unit
    if unit is not None:
        resolved = unit
    elif relative:
        resolved = "ns" if is_int else "s"
    else:
        resolved = next((u for limit, u in _ABSOLUTE_UNIT_LIMITS if magnitude < limit), "ns")
    return TimeRule(field, resolved, relative)


def to_absolute_ns(values: np.ndarray, rule: TimeRule, stamp_ns: Stamp, *, topic: str | None = None
                   ) -> np.ndarray:
    """Absolute int64 nanoseconds; floats are split into whole and fractional units to keep precision."""
    scale = NS_PER_UNIT[rule.unit]
    if values.dtype.kind in "iu":
        ns = values.astype(np.int64) * scale
    else:
        v = values.astype(np.float64)
        bad = int(np.count_nonzero(~np.isfinite(v)))
        if bad:
            raise CodecError(f"time field '{rule.field}' has {bad} non-finite values", topic=topic)
        whole = np.floor(v)
        ns = whole.astype(np.int64) * scale + np.rint((v - whole) * scale).astype(np.int64)
    if rule.relative:
        ns += np.int64(stamp_ns)
    return ns
