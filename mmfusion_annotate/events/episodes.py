"""Hysteresis and merging: turn a per-stamp condition into one event per situation.

Every rule reduces its input to (stamp, enter, hold, value, evidence) per key (a track id, a sensor, a
camera). ``Episode`` confirms a situation once ``enter`` (then ``hold``) held continuously for the
rule's minimum duration, keeps the most extreme ``value`` as the peak, and closes the event once ``hold``
has been false for the merge gap, so a flickering signal gives one event, not a burst. A rule with a
``max_duration`` closes a longer episode there and begins the next at once (with its own evidence), so a
condition that never clears is a run of bounded events, never one silent drive-long event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mmfusion_annotate.events.model import Category, Event, Severity, event_id
from mmfusion_annotate.types import Stamp, seconds_to_ns


@dataclass(frozen=True)
class RuleIdentity:
    """What every event of one rule shares."""

    type: str
    category: Category
    rule_version: str
    min_duration_ns: int
    merge_gap_ns: int
    worse: Callable[[float, float], bool]
    """worse(a, b): a is more extreme than b (decides the peak)."""
    severity: Callable[[float], Severity]
    max_duration_ns: int | None = None


def identity(
    type_: str,
    category: Category,
    version: str,
    min_duration_s: float,
    merge_gap_s: float,
    *,
    lower_is_worse: bool,
    severity: Callable[[float], Severity],
    max_duration_s: float | None = None,
) -> RuleIdentity:
    worse = (lambda a, b: a < b) if lower_is_worse else (lambda a, b: a > b)
    return RuleIdentity(
        type_, category, version, seconds_to_ns(min_duration_s), seconds_to_ns(merge_gap_s), worse, severity,
        None if max_duration_s is None else seconds_to_ns(max_duration_s),
    )


class Episode:
    """The state of one rule for one key (not shared: one instance per rule and key)."""

    def __init__(self, rule: RuleIdentity, key: str, object_ids: tuple[int, ...] = (),
                 sensor: str | None = None) -> None:
        self.rule = rule
        self.key = key
        self.object_ids = object_ids
        self.sensor = sensor
        self._candidate: Stamp | None = None
        self._open = False
        self._start = self._last_true = self._peak_stamp = self._detected = 0
        self._peak_value = 0.0
        self._evidence: Mapping[str, float] = {}

    @property
    def is_open(self) -> bool:
        return self._open

    def step(self, stamp: Stamp, enter: bool, hold: bool, value: float = 0.0,
             evidence: Mapping[str, float] | None = None, since: Stamp | None = None,
             observed: Stamp | None = None) -> Event | None:
        """Feed one observation (stamps increasing); returns the event this observation closed, if any.

        ``since`` backdates the start of a new episode (a dropout starts at the last message, not when the
        gap became long enough to notice); ``observed`` is when a judgement about ``stamp`` was made, if
        later (a dropout judged behind the newest input): the event's ``detected``.
        """
        if self._open:
            limit = self.rule.max_duration_ns
            if hold and limit is not None and stamp - self._start >= limit:
                event = self._close()
                self._open, self._start, self._last_true = True, stamp, stamp
                self._detected = stamp if observed is None else observed
                self._peak_stamp, self._peak_value, self._evidence = stamp, value, dict(evidence or {})
                return event
            if hold:
                self._last_true = stamp
                self._track_peak(stamp, value, evidence)
                return None
            return self._close() if stamp - self._last_true > self.rule.merge_gap_ns else None
        if not (hold if self._candidate is not None else enter):
            self._candidate = None
            return None
        if self._candidate is None:
            self._candidate = stamp if since is None else since
            self._peak_stamp, self._peak_value, self._evidence = stamp, value, dict(evidence or {})
        self._track_peak(stamp, value, evidence)
        if stamp - self._candidate >= self.rule.min_duration_ns:
            self._open = True
            self._start, self._last_true = self._candidate, stamp
            self._detected = stamp if observed is None else observed
        return None

    def _track_peak(self, stamp: Stamp, value: float, evidence: Mapping[str, float] | None) -> None:
        if self.rule.worse(value, self._peak_value):
            self._peak_stamp, self._peak_value, self._evidence = stamp, value, dict(evidence or {})

    def flush(self) -> Event | None:
        """Close an open event at the end of the input (it ends at the last stamp its condition held)."""
        self._candidate = None
        return self._close() if self._open else None

    def _close(self) -> Event:
        self._open = False
        self._candidate = None
        evidence = {**self._evidence, "duration_s": (self._last_true - self._start) / 1e9}
        return Event(
            id=event_id(self.rule.type, self._start, self.key),
            type=self.rule.type,
            category=self.rule.category,
            severity=self.rule.severity(self._peak_value),
            start=self._start,
            peak=self._peak_stamp,
            end=self._last_true,
            detected=self._detected,
            object_ids=self.object_ids,
            sensor=self.sensor,
            evidence=tuple(sorted((k, float(v)) for k, v in evidence.items())),
            rule=self.rule.type,
            rule_version=self.rule.rule_version,
        )


class EpisodeSet:
    """Episodes of one rule keyed by track id / sensor; keys not seen in a step count as inactive."""

    def __init__(self, rule: RuleIdentity) -> None:
        self.rule = rule
        self._episodes: dict[str, Episode] = {}

    def step(self, stamp: Stamp, updates: Mapping[str, tuple[bool, bool, float, Mapping[str, float]]],
             object_ids: Mapping[str, tuple[int, ...]] | None = None,
             sensors: Mapping[str, str] | None = None) -> list[Event]:
        out = []
        for key in sorted(set(self._episodes) | set(updates)):
            episode = self._episodes.get(key)
            if episode is None:
                episode = self._episodes[key] = Episode(
                    self.rule, key, (object_ids or {}).get(key, ()), (sensors or {}).get(key)
                )
            enter, hold, value, evidence = updates.get(key, (False, False, 0.0, {}))
            event = episode.step(stamp, enter, hold, value, evidence)
            if event is not None:
                out.append(event)
            if not episode.is_open and key not in updates:
                del self._episodes[key]
        return out

    def flush(self) -> list[Event]:
        events = [e for k in sorted(self._episodes) if (e := self._episodes[k].flush()) is not None]
        self._episodes.clear()
        return events
