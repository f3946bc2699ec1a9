"""Paced playback of bag messages, ROS-free: when each message is due and what the clock says meanwhile.

``nodes/player_node.py`` plugs publishers into ``play_messages``; keeping the timing here lets it be
tested with a fake clock. Bag time maps to wall time as ``wall = (bag - first) / rate``; while waiting for
the next message the clock is ticked every ``clock_period_s`` (so ``/clock`` advances smoothly through gaps),
and each message is preceded by a tick at its own log time. With ``loop`` the bag restarts and the clock
jumps back to its first stamp (consumers that keep time, such as the synchronizer, reset on that jump).
A gap of more than ``MAX_GAP_S`` of bag time between two messages (a recorder paused by a full disk, one
message stamped years ahead) is not waited out: playback goes on at once from the later message and
counts the gap, so a bad stamp cannot make the player sleep for years. A ``PlaybackControl`` (driven by
the keyboard, ``bagtools/play_keys.py``, or by a caller) pauses playback: bag time then stands still, the
clock keeps ticking at the frozen time, and each ``step`` publishes the next message at once.
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


class PlaybackControl:
    """Pause, resume and step, shared between whoever drives them (a keyboard thread) and the player."""

    def __init__(self, paused: bool = False) -> None:
        self._cond = threading.Condition()
        self._paused = paused
        self._steps = 0

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def pause(self) -> None:
        self._set(True)

    def resume(self) -> None:
        self._set(False)

    def toggle(self) -> bool:
        """Pause when playing, resume when paused; returns whether it is paused now."""
        with self._cond:
            self._paused = not self._paused
            self._steps = 0
            self._cond.notify_all()
            return self._paused

    def step(self) -> bool:
        """While paused, let one more message through; False (and nothing happens) while playing."""
        with self._cond:
            if not self._paused:
                return False
            self._steps += 1
            self._cond.notify_all()
            return True

    def hold(self, timeout_s: float) -> str:
        """Wait up to ``timeout_s`` while paused: ``"play"`` (not paused), ``"step"`` (a step was taken)
        or ``"paused"`` (still paused when the time was up)."""
        with self._cond:
            if self._paused and not self._steps:
                self._cond.wait(timeout_s)
            if not self._paused:
                return "play"
            if self._steps:
                self._steps -= 1
                return "step"
            return "paused"

    def _set(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._steps = 0
            self._cond.notify_all()


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
        control: PlaybackControl | None = None,
    ) -> bool:
        """Sleep until ``bag_ns`` is due, calling ``tick(bag time)`` every clock period; False if stopped.

        While ``control`` is paused, bag time stands still (the clock ticks at the frozen time) and the
        wait ends at once on a step; on resume the bag picks up where it stood, with no burst.
        """
        due = self._wall0 + (bag_ns - self._bag0) / (self.rate * NS_PER_S)
        while True:
            if stop is not None and stop.is_set():
                return False
            if control is not None and control.paused:
                frozen = min(self.bag_now(), bag_ns)
                while (state := control.hold(self.clock_period_s)) == "paused":
                    if stop is not None and stop.is_set():
                        return False
                    if tick is not None:
                        tick(frozen)
                self.start(bag_ns if state == "step" else frozen)
                if state == "step":
                    return True
                due = self._wall0 + (bag_ns - self._bag0) / (self.rate * NS_PER_S)
                continue
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
    control: PlaybackControl | None = None,
) -> PlayStats:
    """Publish ``messages()`` (in log-time order) at their recorded pace; ``messages`` is called once
    per pass, so ``loop`` replays from the start until ``stop`` is set. ``control`` pauses and steps."""
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
            if not pacer.wait(message.log_time_ns, tick, stop, control):
                return stats
            tick(message.log_time_ns)
            publish(message)
            stats.per_topic[message.topic] += 1
        stats.loops += 1
        if not loop or not started or (stop is not None and stop.is_set()):
            return stats
