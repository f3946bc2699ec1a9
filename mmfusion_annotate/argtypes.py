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
