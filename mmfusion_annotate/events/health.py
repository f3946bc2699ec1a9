"""Sensor-health rules from message stamps and pre-label review counts: dropout, rate drop, disagreement.

A dropout is judged against the tagger's clock (the newest stamp of any input) held back by the rule's
``delivery_lag_s``, so a sensor that goes silent, or never speaks at all, is noticed while the others keep
talking, and one whose messages merely arrive late (live DDS under load) is not. The rate is judged only when
the sensor itself delivers (a silent sensor is one dropout event, not a dropout plus a rate drop).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping

from mmfusion_annotate.events.config import EventRules
from mmfusion_annotate.events.episodes import Episode, identity
from mmfusion_annotate.events.model import Arrival, Category, Event, ReviewCounts
from mmfusion_annotate.types import Stamp, seconds_to_ns

PRELABEL_KEY = "prelabel"


class StreamHealth:
    """Dropout and rate-drop rules over the expected sensors (name -> nominal rate in Hz)."""

    def __init__(self, rules: EventRules, nominal_rates_hz: Mapping[str, float]) -> None:
        self.rules = rules
        rates = sorted(nominal_rates_hz.items())
        self._period = {name: seconds_to_ns(1.0 / hz) for name, hz in rates if hz > 0}
        self._rate = dict(nominal_rates_hz)
        drop, rate = rules.dropout, rules.rate_drop
        drop_id = identity("dropout", Category.SENSOR_HEALTH, rules.version_of("dropout"),
                           drop.min_duration_s, drop.merge_gap_s, lower_is_worse=False,
                           severity=lambda _: drop.severity)
        rate_id = identity("rate_drop", Category.SENSOR_HEALTH, rules.version_of("rate_drop"),
                           rate.min_duration_s, rate.merge_gap_s, lower_is_worse=True,
                           severity=lambda _: rate.severity)
        self._dropout = {s: Episode(drop_id, s, sensor=s) for s in self._period} if drop.enabled else {}
        self._ratedrop = {s: Episode(rate_id, s, sensor=s) for s in self._period} if rate.enabled else {}
        self._last: dict[str, Stamp] = {}
        self._arrivals: dict[str, deque[Stamp]] = {s: deque() for s in self._period}
        self._origin: Stamp | None = None
        self._window = seconds_to_ns(rate.window_s)
        self._lag = seconds_to_ns(drop.delivery_lag_s)
        self._pending: dict[str, list[Stamp]] = {s: [] for s in self._period}  # heaps: stamps not yet judged
        self._judged: Stamp = -(2**62)
        self._now: Stamp = -(2**62)

    def on_clock(self, now: Stamp) -> list[Event]:
        """Advance the clock: every expected sensor silent for too long is in dropout."""
        if self._origin is None:
            self._origin = now
        self._now = max(self._now, now)
        return self._judge(max(now - self._lag, self._origin), now, self._origin)

    def _judge(self, at: Stamp, now: Stamp, origin: Stamp) -> list[Event]:
        """Dropouts as of stream time ``at`` (``now`` minus the allowed delivery lag): a message counts
        from its stamp on, whenever it arrived, so episode stamps, start, end and gap stay exact."""
        if at < self._judged:
            return []
        self._judged = at
        out = []
        limit = self.rules.dropout.max_gap_periods
        for sensor, episode in self._dropout.items():
            pending = self._pending[sensor]
            while pending and pending[0] <= at:
                self._last[sensor] = max(heapq.heappop(pending), self._last.get(sensor, -(2**62)))
            last = self._last.get(sensor, origin)
            gap = at - last
            in_gap = gap > limit * self._period[sensor]
            evidence = {"gap_s": gap * 1e-9, "missed_periods": gap / self._period[sensor] - 1.0}
            event = episode.step(at, in_gap, in_gap, gap * 1e-9, evidence, since=last, observed=now)
            if event is not None:
                out.append(event)
        return out

    def on_arrival(self, arrival: Arrival) -> list[Event]:
        sensor, stamp = arrival.sensor, arrival.stamp
        if sensor not in self._period:
            return []
        if stamp <= self._judged:  # later than the allowed lag: counts now
            self._last[sensor] = max(stamp, self._last.get(sensor, stamp))
        else:
            heapq.heappush(self._pending[sensor], stamp)
        out = self.on_clock(stamp)
        episode = self._ratedrop.get(sensor)
        if episode is None:
            return out
        window = self._arrivals[sensor]
        window.append(stamp)
        while window and window[0] <= stamp - self._window:
            window.popleft()
        if self._origin is None or stamp - self._origin < self._window:  # on_clock has set the origin
            return out
        ratio = len(window) / (self.rules.rate_drop.window_s * self._rate[sensor])
        low = ratio < self.rules.rate_drop.min_fraction
        event = episode.step(stamp, low, low, ratio,
                             {"rate_fraction": ratio, "rate_hz": ratio * self._rate[sensor]})
        return out + ([event] if event is not None else [])

    def flush(self) -> list[Event]:
        """End of input: nothing more can arrive, so judge up to the newest stamp, then close."""
        out = self._judge(self._now, self._now, self._origin) if self._origin is not None else []
        episodes = [*self._dropout.values(), *self._ratedrop.values()]
        return out + [e for ep in episodes if (e := ep.flush()) is not None]


class DisagreementHealth:
    """Cross-modal disagreement: camera-LiDAR review items per labelled object over a sliding window, per
    camera when the counts say which (the event names it), else over all; episodes last at most
    ``max_duration_s`` (a disagreement that never clears is a run of events, never one drive-long one)."""

    def __init__(self, rules: EventRules) -> None:
        rule = self.rule = rules.disagreement
        self._identity = identity("cross_modal_disagreement", Category.SENSOR_HEALTH,
                                  rules.version_of("disagreement"), rule.min_duration_s, rule.merge_gap_s,
                                  lower_is_worse=False, severity=lambda _: rule.severity,
                                  max_duration_s=rule.max_duration_s)
        self._episodes: dict[str, Episode] = {}
        self._windows: dict[str, deque[tuple[Stamp, int, int]]] = {}
        self._span = seconds_to_ns(rule.window_s)

    def on_review(self, counts: ReviewCounts) -> list[Event]:
        if not self.rule.enabled:
            return []
        split = list(counts.cameras or ((None, counts.review_items, counts.objects),))
        seen = {camera or PRELABEL_KEY for camera, _, _ in split}
        split += [(self._episodes[k].sensor, 0, 0) for k in sorted(self._episodes) if k not in seen]
        out = []
        for camera, items, objects in split:
            key = camera or PRELABEL_KEY
            if key not in self._episodes:
                self._episodes[key] = Episode(self._identity, key, sensor=camera)
                self._windows[key] = deque()
            window = self._windows[key]
            window.append((counts.stamp, items, objects))
            while window[0][0] <= counts.stamp - self._span:
                window.popleft()
            total_objects = sum(w[2] for w in window)
            total_items = sum(w[1] for w in window)
            if total_objects < self.rule.min_objects:
                continue
            rate = total_items / total_objects
            high = rate > self.rule.max_rate
            event = self._episodes[key].step(counts.stamp, high, high, rate, {
                "disagreement_rate": rate, "review_items": total_items, "objects": total_objects})
            if event is not None:
                out.append(event)
        return out

    def flush(self) -> list[Event]:
        return [e for key in sorted(self._episodes) if (e := self._episodes[key].flush()) is not None]
