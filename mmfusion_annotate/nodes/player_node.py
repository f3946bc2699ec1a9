"""``player_node``: publish a bag's messages on their topics at the recorded pace, with ``/clock``.

For machines without ``ros2 bag play``. Messages are published as their stored CDR bytes (rclpy's
``Publisher.publish`` accepts ``bytes`` and hands them to ``publish_raw``), so nothing is deserialized.
A publisher still needs the type's compiled type support, so a topic is played only when its message
package is installed (``<pkg>.msg`` imports, which is what ``rosidl_runtime_py``'s ``get_message`` does);
other topics (``foxglove_msgs``, the project's own event type, ``tf2_msgs`` where it is not installed)
are skipped with one warning each at the start, and the messages they hold are counted in the result.
Each topic is offered with the QoS it was recorded with (``offered_qos_profiles``), or, with ``qos``, every
volatile topic with that sensor QoS (``nodes.qos``: e.g. ``reliable`` for subscribers on a host that loses
large best-effort samples); ``/clock`` is reliable (compatible with rclpy's best-effort time source).
Static topics (latched ones, ``/tf_static``, camera info: ``source.is_static``) are offered transient-local,
deep enough for every ``/tf_static`` message, so a subscriber that joins late still gets them; with a
start offset, their messages from before it are published first.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mmfusion_annotate.bagtools.play import MAX_GAP_S, Pacer, PlaybackControl, play_messages
from mmfusion_annotate.bagtools.source import (
    BagFile,
    Channel,
    channels,
    is_static,
    open_bag,
    parse_qos,
    read_messages,
)
from mmfusion_annotate.errors import BagError, MmfusionError
from mmfusion_annotate.interfaces.cdr import installed_message_class
from mmfusion_annotate.nodes.dds_profile import use_large_data_profile
from mmfusion_annotate.nodes.discovery import unmatched_warning, wait_for_subscribers
from mmfusion_annotate.nodes.player_args import add_play_arguments
from mmfusion_annotate.recording.qos import QosProfile
from mmfusion_annotate.recording.reader import BagMessage
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.types import NS_PER_S

if TYPE_CHECKING:
    from mmfusion_annotate.nodes.qos import SensorQos

MAX_STATIC_DEPTH = 1000
"""Most ``/tf_static`` messages a late subscriber is offered (one per publisher that was recorded)."""


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
    not_played: dict[str, int] = field(default_factory=dict)
    """Messages of the skipped topics that playback went past, per topic."""
    remapped: dict[str, str] = field(default_factory=dict)


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
    exclude: re.Pattern[str] | None = None,
    remap: Sequence[tuple[str, str]] = (),
    start_offset_s: float = 0.0,
    wait_for_subscribers_s: float = 0.0,
    delay_s: float = 0.0,
    stop: threading.Event | None = None,
    control: PlaybackControl | None = None,
    context=None,
    qos: SensorQos | None = None,
) -> PlayResult:
    """Play a bag (directory or ``.mcap``) until its end (or ``stop``, or Ctrl-C when looping).

    ``topics`` limits playback to those topics and ``exclude`` leaves out the topics it matches
    (``re.search``); ``remap`` publishes a recorded topic under another name; ``start_offset_s`` starts
    that far into the bag (every pass of a loop too); ``control`` pauses and steps.
    ``wait_for_subscribers_s`` waits up to that long for every publisher to be matched before the first
    message (late-joining volatile subscribers miss messages, as with ``ros2 bag play``). A publisher that
    counts a subscriber has discovered it, but the subscriber may not have discovered the publisher yet,
    and a best-effort one drops what arrives before that: ``delay_s`` (``ros2 bag play --delay``) then
    sleeps that long to let discovery settle. ``context`` is an initialised rclpy context, or None to use
    (and, if needed, initialise and then shut down) the default one. ``qos`` (``sensor_data`` or
    ``reliable``) replaces the recorded QoS of every volatile topic.
    """
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.qos import QoSProfile
    from rclpy.signals import SignalHandlerOptions
    from rosgraph_msgs.msg import Clock

    pacer = Pacer(rate, clock_period_s=1.0 / clock_hz)
    if not (delay_s >= 0 and wait_for_subscribers_s >= 0):
        raise BagError(f"waits must be >= 0 s (delay {delay_s}, for subscribers {wait_for_subscribers_s})")
    if not start_offset_s >= 0:
        raise BagError(f"--start-offset must be >= 0 s (got {start_offset_s})")
    files = open_bag(path)
    for bag_file in files:
        bag_file.require_complete()
    recorded = channels(files)
    wanted = [c for c in recorded.values() if topics is None or c.topic in topics]
    if topics is not None and not wanted:
        raise BagError(f"{path}: none of the topics {sorted(topics)} is in the bag")
    if exclude is not None:
        wanted = [c for c in wanted if not exclude.search(c.topic)]
        if not wanted:
            raise BagError(f"{path}: --exclude {exclude.pattern!r} leaves no topic to play")
    names = _remapped_names(recorded, wanted, remap)
    start_ns = _start_ns(files, start_offset_s)
    owns_context = context is None and not rclpy.ok()
    if owns_context:
        use_large_data_profile()  # before the first participant: sweeps do not fit Fast DDS's default
        # no rclpy signal handlers: Ctrl-C/SIGTERM raise here and unwind (exit 130/143), rather than
        # shutting the context down under a publisher in use (two tracebacks)
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("mmfusion_player", context=context)
    try:
        publishers, skipped = _publishers(node, wanted, qos, names, _message_counts(files))
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
            if clock_pub is not None:
                clock_pub.publish(Clock(clock=Time(sec=bag_ns // NS_PER_S, nanosec=bag_ns % NS_PER_S)))

        passes: list[ReadLosses] = []
        not_played: Counter = Counter()
        statics = [c.topic for c in wanted if c.topic in publishers and is_static(c)]

        def messages() -> Iterator[BagMessage]:
            passes.append(ReadLosses())  # one per pass: a looped bag's damage is reported once
            if start_ns is not None:
                yield from _statics_before(files, statics, start_ns)
            stream = read_messages(files, topics=[c.topic for c in wanted], starting_at=start_ns,
                                   losses=passes[-1])  # fmt: skip
            for message in stream:
                if message.topic in publishers:
                    yield message
                else:
                    not_played[message.topic] += 1

        started = time.monotonic()
        stats = play_messages(
            messages,
            publish,
            pacer,
            clock=tick if clock_pub else None,
            loop=loop,
            stop=stop,
            control=control,
        )
        return PlayResult(
            stats.messages, dict(stats.per_topic), skipped, stats.clock_ticks, stats.loops,
            time.monotonic() - started, stats.gaps_skipped, passes[-1] if passes else ReadLosses(),
            dict(not_played), {t: n for t, n in names.items() if t != n and t in publishers},
        )  # fmt: skip
    finally:
        node.destroy_node()
        if owns_context:
            rclpy.try_shutdown()


def _remapped_names(
    recorded: Mapping[str, Channel], wanted: list[Channel], remap: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """Recorded topic -> the name it is published under; a rule naming no recorded topic, or two topics
    landing on one name, is a BagError."""
    rules = dict(remap)
    for source, target in rules.items():
        if source not in recorded:
            raise BagError(f"--remap {source}:={target}: the bag has no topic {source}")
    names = {c.topic: rules.get(c.topic, c.topic) for c in wanted}
    seen: dict[str, str] = {}
    for topic, name in names.items():
        if name in seen:
            raise BagError(f"--remap: {seen[name]} and {topic} would both be published on {name}")
        seen[name] = topic
    return names


def _start_ns(files: Sequence[BagFile], offset_s: float) -> int | None:
    """The log time playback starts at, ``offset_s`` into the bag (None: from the start)."""
    starts = [f.start_ns for f in files if f.start_ns is not None]
    if not offset_s or not starts:
        return None
    first, last = min(starts), max(f.end_ns for f in files if f.end_ns is not None)
    start = first + int(offset_s * NS_PER_S)
    if start > last:
        length = (last - first) / NS_PER_S
        raise BagError(f"--start-offset {offset_s:g} s is past the bag's end ({length:.1f} s)")
    return start


def _message_counts(files: Sequence[BagFile]) -> Counter:
    """Messages per topic over the bag's files, from their summaries (nothing is read)."""
    counts: Counter = Counter()
    for bag_file in files:
        summary = bag_file.summary
        if summary is None or summary.statistics is None:
            continue
        for channel_id, count in summary.statistics.channel_message_counts.items():
            if channel_id in summary.channels:
                counts[summary.channels[channel_id].topic] += count
    return counts


def _statics_before(files: Sequence[BagFile], topics: list[str], start_ns: int) -> Iterator[BagMessage]:
    """The static topics' state at ``start_ns``, due at ``start_ns``: every distinct ``/tf_static``
    message (one per recorded publisher), the latest message of the others."""
    if not topics:
        return
    kept: dict[str, list[BagMessage]] = {}
    for message in read_messages(files, topics=topics, ending_at=start_ns - 1):
        history = kept.setdefault(message.topic, [])
        if message.topic.endswith("tf_static"):
            if all(message.data != old.data for old in history):
                history.append(message)
        else:
            history[:] = [message]
    for history in kept.values():
        for message in history:
            yield message._replace(log_time_ns=start_ns)


def _publishers(
    node,
    wanted: list[Channel],
    qos: SensorQos | None = None,
    names: Mapping[str, str] | None = None,
    counts: Mapping[str, int] | None = None,
) -> tuple[dict, dict[str, str]]:
    """Recorded topic -> publisher (on its remapped name), and the topics skipped with the reason."""
    from rclpy.qos import DurabilityPolicy

    from mmfusion_annotate.nodes.qos import sensor_qos

    publishers, skipped = {}, {}
    for channel in wanted:
        cls = installed_message_class(channel.msgtype)
        if cls is None:
            skipped[channel.topic] = f"message type {channel.msgtype} is not installed"
            continue
        profile = rclpy_qos(parse_qos(channel.qos_yaml))
        if is_static(channel):
            profile.durability = DurabilityPolicy.TRANSIENT_LOCAL
            if channel.topic.endswith("tf_static"):
                count = (counts or {}).get(channel.topic, 1)
                profile.depth = max(profile.depth, min(count, MAX_STATIC_DEPTH))
        elif qos is not None:
            profile = sensor_qos(qos)
        name = (names or {}).get(channel.topic, channel.topic)
        publishers[channel.topic] = node.create_publisher(cls, name, profile)
    return publishers, skipped


def play_from_args(args: argparse.Namespace, keys_from=None) -> PlayResult:
    """``play_bag`` with the options of ``player_args.add_play_arguments``; keys typed on ``keys_from``
    (default stdin) pause and step when it is a terminal."""
    from mmfusion_annotate.bagtools.play_keys import HELP, KeyboardReader, is_foreground_terminal

    keys_from = sys.stdin if keys_from is None else keys_from
    control = PlaybackControl(paused=args.start_paused)
    interactive = keys_from is not None and is_foreground_terminal(keys_from)
    if args.start_paused and not interactive:
        raise BagError("--start-paused needs a terminal on stdin, in the foreground (space resumes playback)")
    with contextlib.ExitStack() as keys:
        if interactive:
            print(HELP + (" (paused)" if args.start_paused else ""), file=sys.stderr)
            say = lambda line: print(line, file=sys.stderr)  # noqa: E731
            keys.enter_context(KeyboardReader(keys_from.fileno(), control, say))
        return play_bag(
            args.bag, args.rate, args.loop, clock=not args.no_clock, clock_hz=args.clock, topics=args.topics,
            exclude=args.exclude, remap=args.remap, start_offset_s=args.start_offset, control=control,
            qos=args.qos, wait_for_subscribers_s=args.wait_for_subscribers, delay_s=args.delay,
        )  # fmt: skip


def format_play(result: PlayResult) -> str:
    """One line of totals, then the remapped topics, then one line per skipped topic with its count."""
    lines = [
        f"played {result.messages} messages on {len(result.per_topic)} topics in {result.wall_s:.1f} s"
        f" ({result.loops} pass{'es' if result.loops != 1 else ''}, {result.clock_messages} /clock)"
    ]
    lines += [f"remapped {topic} -> {name}" for topic, name in sorted(result.remapped.items())]
    lines += [
        f"skipped {topic}: {reason} ({result.not_played.get(topic, 0)} messages not played)"
        for topic, reason in sorted(result.skipped.items())
    ]
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
