"""The box-bias cross_modal_disagreement rule on generated box offsets: a rotation error (a shared shift) or
a clock error (a shift along each box's image velocity) is found with its size; noise, badly fitted boxes,
a real but tiny bias and a still car (no clock information) raise nothing."""

import math

import numpy as np
import pytest

from mmfusion_annotate.events import BoxOffsets, EventTagger, load_rules
from mmfusion_annotate.events.box_bias import fit_bias
from mmfusion_annotate.types import seconds_to_ns

FOCAL = 1266.4  # the default rig's cam_front
CAMERA = "cam_front"


def _frames(*, bias_deg=0.0, offset_ms=0.0, from_s=0.0, duration_s=20.0, speed=300.0, seed=0):
    """10 Hz frames of 6 boxes (six new tracks a second): offsets = noise (1.5 px) + a 10 % share of boxes
    8-20 px off, plus the injected bias and clock error from ``from_s`` on."""
    rng = np.random.default_rng(seed)
    bias = FOCAL * math.tan(math.radians(bias_deg))
    frames = []
    for k in range(int(duration_s * 10)):
        t = 0.05 + 0.1 * k
        u = rng.uniform(-speed, speed, size=(6, 2)) * [1.0, 0.3]
        r = rng.normal(0.0, 1.5, size=(6, 2))
        bad = rng.random(6) < 0.1
        r[bad] += rng.choice([-1, 1], size=(bad.sum(), 2)) * rng.uniform(8, 20, size=(bad.sum(), 2))
        if t >= from_s:
            r += [bias, 0.0] + offset_ms * 1e-3 * u
        tracks = 6 * (k // 10) + np.arange(6)  # six new tracks every second
        rows = tuple((int(i), 0.0, *(float(v) for v in (*ri, *ui)))  # still tracks (speed 0)
                     for i, ri, ui in zip(tracks, r, u, strict=True))
        frames.append(BoxOffsets(seconds_to_ns(t), CAMERA, (FOCAL, FOCAL), rows))
    return frames


def _soon_after(start_s: float):
    """A fault is found once it holds about half the fitted window (the fit is robust), plus one fit."""
    bias = load_rules().disagreement.bias
    return seconds_to_ns(start_s + 0.5 * bias.window_s + bias.fit_every_s + 0.1)


def _events(frames, rules=None):
    return [e for e in EventTagger(rules or load_rules()).run(frames) if e.type == "cross_modal_disagreement"]


def test_fit_recovers_bias_and_offset_with_their_standard_errors():
    rng = np.random.default_rng(1)
    u = rng.uniform(-200, 200, size=(400, 2))
    r = [4.0, -2.0] + 0.03 * u + rng.normal(0, 1.0, size=(400, 2))
    tracks = np.arange(400) // 10
    fit = fit_bias(r, u, tracks, 2.0)
    assert fit.bias_px == pytest.approx((4.0, -2.0), abs=0.25)
    assert fit.offset_s == pytest.approx(0.03, abs=0.002)
    assert 0.02 < fit.sigma_bias_px[0] < 0.1 and 0 < fit.sigma_offset_s < 0.001
    still = fit_bias(r, np.zeros_like(u), tracks, 2.0)  # no image motion: the clock cannot be told
    assert math.isinf(still.sigma_offset_s)
    one = fit_bias(r, u, np.zeros(400), 2.0)  # one track: one witness, however many boxes
    assert math.isinf(one.sigma_bias_px[0])


def test_clean_boxes_raise_nothing():
    for seed in range(3):
        assert _events(_frames(seed=seed)) == []


def test_half_degree_rotation_is_found_soon_after_it_starts_with_its_size():
    events = _events(_frames(bias_deg=0.5, from_s=5.0))
    assert events and {e.sensor for e in events} == {CAMERA}
    first = events[0]
    assert seconds_to_ns(5.0) <= first.start <= _soon_after(5.0)
    evidence = first.evidence_dict()
    assert evidence["bias_x_deg"] == pytest.approx(0.5, abs=0.1)
    assert abs(evidence["offset_ms"]) < 15.0
    assert all(e.end - e.start <= seconds_to_ns(load_rules().disagreement.max_duration_s) for e in events)


def test_40ms_clock_offset_is_found_with_its_size_and_sign():
    events = _events(_frames(offset_ms=-40.0, from_s=5.0))
    assert events and seconds_to_ns(5.0) <= events[0].start <= _soon_after(5.0)
    evidence = events[0].evidence_dict()
    assert evidence["offset_ms"] == pytest.approx(-40.0, abs=8.0)
    assert abs(evidence["bias_x_deg"]) < 0.1


def test_tiny_real_bias_is_significant_but_below_the_floor():
    frames = _frames(bias_deg=0.1)
    rules = load_rules()
    assert _events(frames, rules) == []
    lowered = load_rules(overrides={"disagreement": {"bias": {**rules.disagreement.bias.model_dump(),
                                                               "min_bias_deg": 0.05}}})
    assert _events(frames, lowered)  # the statistics alone would have called it


def test_a_still_car_says_nothing_about_the_clock():
    assert _events(_frames(offset_ms=-40.0, speed=0.0)) == []


def test_same_boxes_same_events_and_no_event_spans_the_drive():
    frames = _frames(bias_deg=0.5)
    first, again = _events(frames), _events(frames)
    assert first == again and len(first) >= 2
    assert all(e.end - e.start < seconds_to_ns(20.0) for e in first)


def test_disabled_bias_rule_raises_nothing():
    rules = load_rules()
    off = load_rules(overrides={"disagreement": {"bias": {**rules.disagreement.bias.model_dump(),
                                                          "enabled": False}}})
    assert _events(_frames(bias_deg=1.0), off) == []


def test_moving_objects_lagging_like_a_clock_error_are_left_out():
    """A moving track's cuboid lags along its motion (velocity error, the sweep's capture time): the same
    pattern as a clock error, so only still objects' boxes are fitted."""
    frames = _frames(offset_ms=-40.0)
    moving = [BoxOffsets(f.stamp, f.camera, f.focal_px, tuple((i, 8.0, *rest) for i, _, *rest in f.boxes))
              for f in frames]
    assert _events(frames) and _events(moving) == []
