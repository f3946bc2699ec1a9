"""argparse value types shared by ``mmfusion`` and the node entry points: a bad value is a usage error
(exit 2, one line naming the option) before any file is opened or ROS is initialised."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
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
