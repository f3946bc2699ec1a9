"""Core value types shared by every stage.

Time inside the core is always an ``int`` of nanoseconds (``Stamp``); conversion to ROS ``Time`` happens
only at the edges (``msgs`` and ``nodes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Stamp = int
"""Nanoseconds since the epoch (or since the start of a simulated drive)."""

NS_PER_S = 1_000_000_000


Vec3 = tuple[float, float, float]
"""A point, size or velocity as plain floats (what the label models and messages hold)."""


def vec3(values: Iterable[float]) -> Vec3:
    """The three numbers of ``values`` (a 3-vector, a row of an array) as a ``Vec3``; ValueError otherwise."""
    x, y, z = values
    return float(x), float(y), float(z)


def seconds_to_ns(seconds: float) -> Stamp:
    """Round seconds to integer nanoseconds (never truncate: 0.1 s must be 100_000_000 ns)."""
    return int(round(seconds * NS_PER_S))


def ns_to_seconds(stamp: Stamp) -> float:
    """Nanoseconds to float seconds, for display and physics only (never for matching)."""
    return stamp / NS_PER_S


@dataclass(frozen=True)
class SensorSample:
    """One sensor measurement as the core sees it.

    ``payload`` holds the decoded arrays (e.g. ``xyz``, ``intensity``, ``image``); ``message`` keeps the
    source ROS message or its serialized bytes so a recorder can store it untouched.
    """

    sensor: str
    stamp: Stamp
    payload: Mapping[str, np.ndarray] = field(default_factory=dict)
    message: Any = None
