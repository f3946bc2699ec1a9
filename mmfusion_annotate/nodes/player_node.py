"""``player_node``: publish a bag's messages on their topics at the recorded pace, with ``/clock``.

For machines without ``ros2 bag play``. Messages are published as their stored CDR bytes (rclpy's
``Publisher.publish`` accepts ``bytes`` and hands them to ``publish_raw``), so nothing is deserialized.
A publisher still needs the type's compiled type support, so a topic is played only when its message
package is installed (``<pkg>.msg`` imports, which is what ``rosidl_runtime_py``'s ``get_message`` does);
other topics (``foxglove_msgs``, the project's own event type, ``tf2_msgs`` where it is not installed)
are skipped with a warning and listed in the result. Each topic is offered with the QoS it was recorded
with (``offered_qos_profiles``), or, with ``qos``, every volatile topic with that sensor QoS
(``nodes.qos``: e.g. ``reliable`` for subscribers on a host that loses large best-effort samples; latched
topics keep theirs); ``/clock`` is reliable (compatible with rclpy's best-effort time source).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from mmfusion_annotate.bagtools.play import MAX_GAP_S, Pacer, play_messages
from mmfusion_annotate.bagtools.source import Channel, channels, open_bag, parse_qos, read_messages
from mmfusion_annotate.errors import BagError, MmfusionError
from mmfusion_annotate.interfaces.cdr import installed_message_class
from mmfusion_annotate.nodes.dds_profile import use_large_data_profile
from mmfusion_annotate.nodes.discovery import unmatched_warning, wait_for_subscribers
from mmfusion_annotate.nodes.player_args import add_play_arguments
from mmfusion_annotate.recording.qos import QosProfile
from mmfusion_annotate.recording.reader import BagMessage
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.types import NS_PER_S


@dataclass(frozen=True)
class PlayResult:
    """``play_bag``'s answer: messages published (total and per topic), topics skipped and why."""

    messages: int
    per_topic: dict[str, int]
    skipped: dict[str, str] = field(default_factory=dict)
    clock_messages: int = 0
    loops: int = 0
    wall_s: float = 0.0
    gaps_skipped: int = 0
    losses: ReadLosses = field(default_factory=ReadLosses)
    """What the last pass could not read (damaged chunks, skipped at their place in the stream)."""


def rclpy_qos(profile: QosProfile):
    """An rclpy ``QoSProfile`` from the recorded one (both use rmw's integer enums)."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy(profile.history),
        depth=profile.depth,
        reliability=ReliabilityPolicy(profile.reliability),
        durability=DurabilityPolicy(profile.durability),
    )


def play_bag(
    path: str | os.PathLike,
    rate: float = 1.0,
    loop: bool = False,
    *,
    clock: bool = True,
    clock_hz: float = 100.0,
    topics: Collection[str] | None = None,
    wait_for_subscribers_s: float = 0.0,
    delay_s: float = 0.0,
    stop: threading.Event | None = None,
    context=None,
    qos: str | None = None,
) -> PlayResult:
    """Play a bag (directory or ``.mcap``) until its end (or ``stop``, or Ctrl-C when looping).

    ``topics`` limits playback to those topics; ``wait_for_subscribers_s`` waits up to that long for every
    publisher to be matched before the first message (late-joining volatile subscribers miss messages, as
    with ``ros2 bag play``). A publisher that counts a subscriber has discovered it, but the subscriber may
    not have discovered the publisher yet, and a best-effort one drops what arrives before that:
    ``delay_s`` (``ros2 bag play --delay``) then sleeps that long to let discovery settle. ``context`` is an
    initialised rclpy context, or None to use (and, if needed, initialise and then shut down) the default
    one. ``qos`` (``sensor_data`` or ``reliable``) replaces the recorded QoS of every volatile topic.
    """
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.qos import QoSProfile
    from rclpy.signals import SignalHandlerOptions
    from rosgraph_msgs.msg import Clock

    pacer = Pacer(rate, clock_period_s=1.0 / clock_hz)
    if not (delay_s >= 0 and wait_for_subscribers_s >= 0):
        raise BagError(f"waits must be >= 0 s (delay {delay_s}, for subscribers {wait_for_subscribers_s})")
    files = open_bag(path)
    for bag_file in files:
        bag_file.require_complete()
    wanted = [c for c in channels(files).values() if topics is None or c.topic in topics]
    if topics is not None and not wanted:
        raise BagError(f"{path}: none of the topics {sorted(topics)} is in the bag")
    owns_context = context is None and not rclpy.ok()
    if owns_context:
        use_large_data_profile()  # before the first participant: sweeps do not fit Fast DDS's default
        # no rclpy signal handlers: Ctrl-C/SIGTERM raise here and unwind (exit 130/143), rather than
        # shutting the context down under a publisher in use (two tracebacks)
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("mmfusion_player", context=context)
    try:
        publishers, skipped = _publishers(node, wanted, qos)
        for topic, reason in skipped.items():
            node.get_logger().warning(f"{topic}: not played ({reason})")
        clock_pub = node.create_publisher(Clock, "/clock", QoSProfile(depth=10)) if clock else None
        unmatched = wait_for_subscribers(
            [*publishers.values(), *([clock_pub] if clock_pub else [])], wait_for_subscribers_s
        )
        if (warning := unmatched_warning(unmatched, wait_for_subscribers_s)) is not None:
            node.get_logger().warning(warning)
        time.sleep(delay_s)

        def publish(message: BagMessage) -> None:
            publishers[message.topic].publish(message.data)

        def tick(bag_ns: int) -> None:
            clock_pub.publish(Clock(clock=Time(sec=bag_ns // NS_PER_S, nanosec=bag_ns % NS_PER_S)))

        passes: list[ReadLosses] = []

        def messages():
            passes.append(ReadLosses())  # one per pass: a looped bag's damage is reported once
            return read_messages(files, topics=list(publishers), losses=passes[-1])

        started = time.monotonic()
        stats = play_messages(
            messages,
            publish,
            pacer,
            clock=tick if clock_pub else None,
            loop=loop,
            stop=stop,
        )
        return PlayResult(
            stats.messages, dict(stats.per_topic), skipped, stats.clock_ticks, stats.loops,
            time.monotonic() - started, stats.gaps_skipped, passes[-1] if passes else ReadLosses(),
        )  # fmt: skip
    finally:
        node.destroy_node()
        if owns_context:
            rclpy.try_shutdown()


def _publishers(node, wanted: list[Channel], qos: str | None = None) -> tuple[dict, dict[str, str]]:
    from rclpy.qos import DurabilityPolicy

    from mmfusion_annotate.nodes.qos import sensor_qos

    publishers, skipped = {}, {}
    for channel in wanted:
        cls = installed_message_class(channel.msgtype)
        if cls is None:
            skipped[channel.topic] = f"message type {channel.msgtype} is not installed"
            continue
        profile = rclpy_qos(parse_qos(channel.qos_yaml))
        if qos is not None and profile.durability != DurabilityPolicy.TRANSIENT_LOCAL:
            profile = sensor_qos(qos)  # type: ignore[arg-type]
        publishers[channel.topic] = node.create_publisher(cls, channel.topic, profile)
    return publishers, skipped


def play_from_args(args: argparse.Namespace) -> PlayResult:
    """``play_bag`` with the options of ``player_args.add_play_arguments``."""
    return play_bag(
        args.bag, args.rate, args.loop, clock=not args.no_clock, topics=args.topics, qos=args.qos,
        wait_for_subscribers_s=args.wait_for_subscribers, delay_s=args.delay,
    )  # fmt: skip


def format_play(result: PlayResult) -> str:
    """One line of totals, then one line per skipped topic."""
    lines = [
        f"played {result.messages} messages on {len(result.per_topic)} topics in {result.wall_s:.1f} s"
        f" ({result.loops} pass{'es' if result.loops != 1 else ''}, {result.clock_messages} /clock)"
    ]
    lines += [f"skipped {topic}: {reason}" for topic, reason in sorted(result.skipped.items())]
    if result.gaps_skipped:
        lines.append(f"skipped {result.gaps_skipped} gap(s) of more than {MAX_GAP_S:g} s of bag time")
    if result.losses.lossy:
        lines += [*result.losses.lines(), result.losses.summary()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``ros2 run mmfusion_annotate player_node BAG [options]`` (``player_args``); ``argv``: no program."""
    from rclpy.utilities import remove_ros_args

    parser = argparse.ArgumentParser(prog="player_node", description="publish a bag at its recorded pace")
    add_play_arguments(parser)
    args = parser.parse_args(remove_ros_args(sys.argv[1:] if argv is None else argv))
    try:
        result = play_from_args(args)
    except MmfusionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(format_play(result))
    return play_exit_code(result)


def play_exit_code(result: PlayResult) -> int:
    """0 when everything was played, 1 when something was skipped (a topic, a damaged chunk)."""
    return 1 if result.skipped or result.losses.lossy else 0


if __name__ == "__main__":
    sys.exit(main())
