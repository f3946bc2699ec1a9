"""sync_drift judges an offset by the ego's travel as well as by time: edge alignment measures where edges
are, so a fixed few-cm bias of its own is a large "time offset" in slow traffic and a small one at speed."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from mmfusion_annotate.events.drift import SyncDriftCheck
from mmfusion_annotate.types import seconds_to_ns

CAMERA = "cam_front"


@dataclass
class _Prepared:
    """A frame whose edge score peaks at ``offset_ms`` (what ``PreparedFrame`` gives the check)."""

    stamp: int
    speed: float
    offset_ms: float
    points = np.zeros((1, 3))  # some points in view

    @property
    def frame(self) -> SimpleNamespace:
        return SimpleNamespace(stamp=self.stamp)

    def scores(self, shifts_s: np.ndarray, rotations: np.ndarray) -> np.ndarray:
        profile = np.exp(-0.5 * ((shifts_s * 1e3 - self.offset_ms) / 8.0) ** 2)
        return np.repeat(profile[:, None], len(rotations), axis=1)


def _events(rules, speed: float, offset_ms: float) -> list:
    check = SyncDriftCheck(rules, CAMERA)
    events = []
    for k in range(30):  # 3 s of frames at 10 Hz, one offset throughout
        events += check.on_frame(_Prepared(seconds_to_ns(0.1 * k), speed, offset_ms))  # type: ignore[arg-type]
    return events + check.flush()


@pytest.mark.parametrize("offset_ms", [-20.0, 25.0])
def test_an_offset_the_ego_travels_few_cm_in_is_no_drift_in_slow_traffic(rules, offset_ms):
    shift_m = abs(offset_ms) * 1e-3 * 4.0  # 4 m/s: 8-10 cm of travel, within min_shift_m
    assert shift_m < rules.sync_drift.min_shift_m
    assert _events(rules, 4.0, offset_ms) == []


@pytest.mark.parametrize("offset_ms", [-20.0, 25.0])
def test_the_same_offset_at_speed_is_drift(rules, offset_ms):
    [event] = _events(rules, 20.0, offset_ms)  # 20 m/s: 40-50 cm of travel
    assert event.type == "sync_drift"
    assert event.evidence_dict()["offset_ms"] == pytest.approx(offset_ms, abs=1)


def test_the_tolerance_is_the_rules_at_speed_and_the_travel_below_it(rules):
    check = SyncDriftCheck(rules, CAMERA)
    rule = rules.sync_drift
    assert check.tolerance_ms(50.0) == rule.tolerance_ms
    assert check.tolerance_ms(3.0) == pytest.approx(1000 * rule.min_shift_m / 3.0)
