"""The player's command-line options, shared by ``mmfusion play`` and ``player_node`` so the two cannot
drift apart. Kept free of rclpy and the bag reader so that building the ``mmfusion`` parser stays instant."""

from __future__ import annotations

import argparse
import re

from mmfusion_annotate.argtypes import existing_path, non_negative_float, speed_factor

QOS_CHOICES = ("sensor_data", "reliable")
"""``nodes.qos.SENSOR_QOS_NAMES``, spelled out here because that module imports rclpy (a test pins them)."""


CLOCK_HZ = 100.0
"""Default /clock rate while playing (ticks between messages, so time advances smoothly through gaps)."""
CLOCK_HZ_RANGE = (0.1, 1000.0)
_NAME = re.compile(r"^/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")


def clock_hz(text: str) -> float:
    """A /clock rate in Hz within ``CLOCK_HZ_RANGE``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of Hz, got {text}") from None
    low, high = CLOCK_HZ_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g} Hz, got {text}")
    return value


def topic_regex(text: str) -> re.Pattern[str]:
    """A regular expression (Python ``re`` syntax) that compiles."""
    try:
        return re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"'{text}' is not a regular expression ({error})") from None


def remap_rule(text: str) -> tuple[str, str]:
    """``FROM:=TO`` (as ``ros2 bag play --remap``) -> (FROM, TO), both valid ROS topic names; a relative
    name is taken from the root namespace."""
    source, sep, target = text.partition(":=")
    if not sep or not source or not target:
        raise argparse.ArgumentTypeError(f"'{text}' is not FROM:=TO")
    for name in (source, target):
        if not _NAME.match(name):
            raise argparse.ArgumentTypeError(f"'{name}' in '{text}' is not a valid topic name")
    return "/" + source.lstrip("/"), "/" + target.lstrip("/")


def add_play_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``BAG`` and the options ``ros2 bag play`` users reach for (rate, loop, clock, topic selection,
    remapping, start offset, pause) plus the player's own (QoS override, waits) to ``parser``."""
    parser.add_argument("bag", type=existing_path, help="bag directory or .mcap file")
    parser.add_argument("--rate", type=speed_factor, default=1.0, help="speed vs real time (default 1.0)")
    parser.add_argument("--loop", action="store_true", help="start again at the end (the clock jumps back)")
    parser.add_argument("--start-offset", type=non_negative_float, default=0.0, metavar="SEC",
                        help="start SEC seconds into the bag (latched topics still come first)")  # fmt: skip
    parser.add_argument("--start-paused", action="store_true",
                        help="start paused (in a terminal: space plays, s or right arrow steps)")  # fmt: skip
    parser.add_argument("--clock", type=clock_hz, nargs="?", const=CLOCK_HZ, default=CLOCK_HZ, metavar="HZ",
                        help=f"publish /clock at HZ while playing (default {CLOCK_HZ:g})")  # fmt: skip
    parser.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="play only these topics")
    parser.add_argument("--exclude", "--exclude-regex", type=topic_regex, metavar="REGEX",
                        help="do not play the topics REGEX matches (re.search)")  # fmt: skip
    parser.add_argument("--remap", type=remap_rule, action="append", default=[], metavar="FROM:=TO",
                        help="publish topic FROM on TO (repeatable)")  # fmt: skip
    parser.add_argument("--qos", choices=QOS_CHOICES,
                        help="offer every volatile topic with this QoS, not the recorded one")  # fmt: skip
    parser.add_argument("--wait-for-subscribers", type=non_negative_float, default=0.0, metavar="S",
                        help="wait up to S seconds for every topic to have a subscriber")  # fmt: skip
    parser.add_argument("--delay", type=non_negative_float, default=0.0, metavar="S",
                        help="then sleep S seconds, for subscribers to discover the player")  # fmt: skip
