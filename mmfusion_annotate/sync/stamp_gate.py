"""Which stamps may move the stream clock: one input's wild stamp is rejected, a jump of the whole clock
is followed.

A single message stamped far from the others (a driver's clock glitch, a flipped bit, 1e6 s ahead) must
not move the clock every input is judged by, or every later message looks late (no frame ever again)
or early (a restart that closes every track and event). The rule, judged on stamps alone (so live and
replay agree):

- The stream clock is the newest *accepted* stamp of any input.
- A stamp more than ``future_ns`` ahead of it, or more than ``past_ns`` behind it, is *far*. A far
  stamp is held, not yet used.
- It is confirmed when another input's far stamp lands within ``future_ns`` of it (the whole car's
  clock moved: a bag looped, a simulation restarted, every sensor back after a gap), or, while no other
  input speaks at all, when ``alone_confirm`` messages of the one input agree (a rig with one sensor
  streaming). Then the held messages go through in their order; a jump back restarts the stream first.
- Otherwise it is rejected and counted (``stamp_far_future`` / ``stamp_far_past``, for its input): when
  its own input sends a stamp near the clock again, when the clock has moved ``future_ns`` on without
  it, or when too many are held. A rejected stamp never moves the clock, so it resets nothing.
- After a restart, an input's stamps within the stream before it (its late messages, live: topics are
  not ordered with each other, but each topic is in order) are rejected until that input has sent one
  of the new stream, instead of being taken for a jump forward. A jump forward ends this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mmfusion_annotate.types import Stamp

T = TypeVar("T")
FAR_FUTURE = "stamp_far_future"
FAR_PAST = "stamp_far_past"
HELD_LIMIT = 64
"""Far messages held at most, all candidates together; beyond it the oldest candidate is rejected."""


@dataclass
class _Candidate(Generic[T]):
    """Far messages that agree with each other: a clock the stream may be jumping to."""

    clock: Stamp  # the stream clock when the first of them arrived
    held: list[tuple[str, Stamp, T]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # far future or past, as judged when each arrived
    interrupted: bool = False  # another input spoke since: the one input alone cannot confirm it

    def near(self, stamp: Stamp, span_ns: int) -> bool:
        return any(abs(stamp - s) <= span_ns for _, s, _ in self.held)

    def inputs(self) -> set[str]:
        return {name for name, _, _ in self.held}


@dataclass
class GateResult(Generic[T]):
    """What one ``offer`` decided: ``restart`` (the clock jumped back) comes before ``released``."""

    released: list[tuple[str, Stamp, T]] = field(default_factory=list)
    restart: bool = False
    rejected: list[tuple[str, str, T]] = field(default_factory=list)  # (input, reason, item)


class StampGate(Generic[T]):
    """Holds, releases or rejects each (input, stamp, item) by the rule of the module docstring."""

    def __init__(self, future_ns: int, past_ns: int, *, alone_confirm: int = 3,
                 on_reject: Callable[[str, str], None] | None = None) -> None:
        self.future_ns, self.past_ns, self.alone_confirm = int(future_ns), int(past_ns), alone_confirm
        self._on_reject = on_reject
        self._clock: Stamp | None = None
        self._candidates: list[_Candidate[T]] = []
        # after a jump back: the old stream's clock, and the inputs heard since in the new one
        self._restarted: tuple[Stamp, set[str]] | None = None

    @property
    def clock(self) -> Stamp | None:
        """The newest accepted stamp (None before the first one or right after a restart)."""
        return self._clock

    def offer(self, name: str, stamp: Stamp, item: T) -> GateResult[T]:
        """Judge one message of input ``name``; items come back in ``released`` (often this one alone)."""
        out: GateResult[T] = GateResult()
        for pending in self._candidates:
            pending.interrupted |= name not in pending.inputs()
        far = self._far(stamp)
        if far is None:
            self._expire(out, lambda c: name in c.inputs())  # its own input is back: that was a glitch
            self._accept(name, stamp, item, out)
            self._expire(out, lambda c: self._clock is not None and self._clock - c.clock > self.future_ns)
            return out
        if far == FAR_FUTURE and self._straggler(name, stamp):
            self._reject(out, name, FAR_FUTURE, item)
            return out
        candidate = next((c for c in self._candidates if c.near(stamp, self.future_ns)), None)
        if candidate is None:
            candidate = _Candidate(self._clock if self._clock is not None else stamp)
            self._candidates.append(candidate)
        candidate.held.append((name, stamp, item))
        candidate.reasons.append(far)
        others = candidate.inputs() - {name}
        alone = not candidate.interrupted and len(candidate.held) >= self.alone_confirm
        if others or alone:
            self._jump(candidate, out)
        elif sum(len(c.held) for c in self._candidates) > HELD_LIMIT:
            self._expire(out, lambda c: c is self._candidates[0])
        return out

    def finish(self) -> list[tuple[str, str, T]]:
        """End of stream: every message still held is rejected (returned, and counted)."""
        out: GateResult[T] = GateResult()
        self._expire(out, lambda c: True)
        return out.rejected

    # ------------------------------------------------------------------ internals
    def _far(self, stamp: Stamp) -> str | None:
        if self._clock is None:
            return None
        if stamp > self._clock + self.future_ns:
            return FAR_FUTURE
        if stamp < self._clock - self.past_ns:
            return FAR_PAST
        return None

    def _straggler(self, name: str, stamp: Stamp) -> bool:
        """A stamp of the stream before the last restart, from an input not heard in the new one yet."""
        if self._restarted is None:
            return False
        old_clock, heard = self._restarted
        return name not in heard and stamp <= old_clock + self.future_ns

    def _accept(self, name: str, stamp: Stamp, item: T, out: GateResult[T]) -> None:
        self._clock = stamp if self._clock is None else max(self._clock, stamp)
        if self._restarted is not None:
            self._restarted[1].add(name)
        out.released.append((name, stamp, item))

    def _jump(self, chosen: _Candidate[T], out: GateResult[T]) -> None:
        """The clock moved: reject the other candidates, restart on a jump back, release the held ones."""
        self._candidates.remove(chosen)
        self._expire(out, lambda c: True)
        first = chosen.held[0][1]
        self._restarted = None
        if self._clock is not None and first < self._clock:
            out.restart = True
            self._restarted = (self._clock, set())
            self._clock = None
        for name, stamp, item in chosen.held:
            self._accept(name, stamp, item, out)

    def _expire(self, out: GateResult[T], which: Callable[[_Candidate[T]], bool]) -> None:
        for candidate in [c for c in self._candidates if which(c)]:
            self._candidates.remove(candidate)
            for (name, _, item), reason in zip(candidate.held, candidate.reasons, strict=True):
                self._reject(out, name, reason, item)

    def _reject(self, out: GateResult[T], name: str, reason: str, item: T) -> None:
        out.rejected.append((name, reason, item))
        if self._on_reject is not None:
            self._on_reject(name, reason)
