"""The player's command-line options, shared by ``mmfusion play`` and ``player_node`` so the two cannot
drift apart. Kept free of rclpy and the bag reader so that building the ``mmfusion`` parser stays instant."""

from __future__ import annotations

import argparse

from mmfusion_annotate.argtypes import existing_path, non_negative_float, speed_factor

QOS_CHOICES = ("sensor_data", "reliable")
"""``nodes.qos.SENSOR_QOS_NAMES``, spelled out here because that module imports rclpy (a test pins them)."""


def add_play_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``BAG --rate --loop --no-clock --topics --qos --wait-for-subscribers --delay`` to ``parser``."""
    parser.add_argument("bag", type=existing_path, help="bag directory or .mcap file")
    parser.add_argument("--rate", type=speed_factor, default=1.0, help="speed vs real time (default 1.0)")
    parser.add_argument("--loop", action="store_true", help="start again at the end (the clock jumps back)")
    parser.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="play only these topics")
    parser.add_argument("--qos", choices=QOS_CHOICES,
                        help="offer every volatile topic with this QoS, not the recorded one")  # fmt: skip
    parser.add_argument("--wait-for-subscribers", type=non_negative_float, default=0.0, metavar="S",
                        help="wait up to S seconds for every topic to have a subscriber")  # fmt: skip
    parser.add_argument("--delay", type=non_negative_float, default=0.0, metavar="S",
                        help="then sleep S seconds, for subscribers to discover the player")  # fmt: skip
