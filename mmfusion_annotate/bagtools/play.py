"""Paced playback of bag messages, ROS-free: when each message is due and what the clock says meanwhile.

``nodes/player_node.py`` plugs publishers into ``play_messages``; keeping the timing here lets it be
tested with a fake clock. Bag time maps to wall time as ``wall = (bag - first) / rate``; while waiting for
the next message the clock is ticked every ``clock_period_s`` (so ``/clock`` advances smoothly through gaps),
and each message is preceded by a tick at its own log time. With ``loop`` the bag restarts and the clock
jumps back to its first stamp (consumers that keep time, such as the synchronizer, reset on that jump).
A gap of more than ``MAX_GAP_S`` of bag time between two messages (a recorder paused by a full disk, one
message stamped years ahead) is not waited out: playback goes on at once from the later message and
counts the gap, so a bad stamp cannot make the player sleep for years.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording.reader import BagMessage
from mmfusion_annotate.types import NS_PER_S

MAX_GAP_S = 60.0
"""Longest gap in bag time between two messages that playback waits out; longer ones are skipped."""


class Pacer:
    """Maps bag time to wall time at ``rate`` and sleeps until a bag stamp is due, ticking a clock."""

    def __init__(
        self,
        rate: float,
        *,
        clock_period_s: float = 0.01,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise BagError(f"playback rate must be positive (got {rate})")
        self.rate = rate
        self.clock_period_s = clock_period_s
        self._now = now
        self._sleep = sleep
        self._bag0 = 0
        self._wall0 = 0.0

    def start(self, bag_start_ns: int) -> None:
        """Bag time ``bag_start_ns`` is now."""
        self._bag0 = bag_start_ns
        self._wall0 = self._now()

    def bag_now(self) -> int:
        """The bag time that corresponds to the current wall time."""
        return self._bag0 + int((self._now() - self._wall0) * self.rate * NS_PER_S)

    def wait(
        self,
        bag_ns: int,
        tick: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> bool:
        """Sleep until ``bag_ns`` is due, calling ``tick(bag time)`` every clock period; False if stopped."""
        due = self._wall0 + (bag_ns - self._bag0) / (self.rate * NS_PER_S)
        while True:
            if stop is not None and stop.is_set():
                return False
            remaining = due - self._now()
            if remaining <= 0:
                return True
            self._sleep(min(remaining, self.clock_period_s))
            if tick is not None:
                tick(min(self.bag_now(), bag_ns))


@dataclass
class PlayStats:
    """What a playback did: messages per topic, clock ticks, passes through the bag."""

    per_topic: Counter = field(default_factory=Counter)
    clock_ticks: int = 0
    loops: int = 0
    gaps_skipped: int = 0

    @property
    def messages(self) -> int:
        return sum(self.per_topic.values())


def play_messages(
    messages: Callable[[], Iterable[BagMessage]],
    publish: Callable[[BagMessage], None],
    pacer: Pacer,
    *,
    clock: Callable[[int], None] | None = None,
    loop: bool = False,
    stop: threading.Event | None = None,
) -> PlayStats:
    """Publish ``messages()`` (in log-time order) at their recorded pace; ``messages`` is called once
    per pass, so ``loop`` replays from the start until ``stop`` is set."""
    stats = PlayStats()

    def tick(bag_ns: int) -> None:
        if clock is not None:
            clock(bag_ns)
            stats.clock_ticks += 1

    max_gap_ns = int(MAX_GAP_S * NS_PER_S)
    while True:
        started = False
        previous_ns = 0
        for message in messages():
            if not started:
                pacer.start(message.log_time_ns)
                started = True
            elif message.log_time_ns - previous_ns > max_gap_ns:
                pacer.start(message.log_time_ns)
                stats.gaps_skipped += 1
            previous_ns = message.log_time_ns
            if not pacer.wait(message.log_time_ns, tick, stop):
                return stats
            tick(message.log_time_ns)
            publish(message)
            stats.per_topic[message.topic] += 1
        stats.loops += 1
        if not loop or not started or (stop is not None and stop.is_set()):
            return stats
