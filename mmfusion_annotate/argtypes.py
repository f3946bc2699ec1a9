"""argparse value types shared by ``mmfusion`` and the node entry points: a bad value is a usage error
(exit 2, one line naming the option) before any file is opened or ROS is initialised."""

from __future__ import annotations

import argparse
from pathlib import Path

MAX_SECONDS = 1.0e6
"""Longest duration or time window an option takes (11.6 days: more than any drive or clip). Beyond it,
nanosecond stamps overflow int64 arithmetic and a loop waits for ever."""
SPEED_RANGE = (1.0e-3, 1.0e3)
"""Replay and simulation speed factors: 1/1000 to 1000 times real time."""


def _number(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """A duration in seconds: finite, > 0, at most ``MAX_SECONDS``."""
    value = _number(text)
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= {MAX_SECONDS:g}, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A time window or delay in seconds: finite, >= 0, at most ``MAX_SECONDS``."""
    value = _number(text)
    if not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be >= 0 and <= {MAX_SECONDS:g}, got {text}")
    return value


def speed_factor(text: str) -> float:
    """A speed relative to real time, within ``SPEED_RANGE``."""
    value = _number(text)
    low, high = SPEED_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {text}")
    return value


def existing_path(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"'{text}' does not exist")
    return path


def frame_range(text: str) -> tuple[int, int]:
    """``A-B`` (or ``A``) -> (A, B): frame numbers, inclusive."""
    first, _, last = text.partition("-")
    try:
        a, b = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a frame range A-B") from None
    if a < 0 or b < a:
        raise argparse.ArgumentTypeError(f"'{text}': need 0 <= A <= B")
    return a, b


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}") from None


def entry_count(text: str) -> int:
    """How many entries (of a list) to take: an integer >= 0, 0 meaning all."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0: all), got {text}")
    return value


def worker_count(text: str) -> int:
    """How many processes or CPUs to use: an integer from 1 to 1024."""
    value = _whole(text)
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1024, got {text}")
    return value
