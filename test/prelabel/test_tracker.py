import math

import numpy as np

from mmfusion_annotate.prelabel.config import TrackerConfig
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.prelabel.tracker import Measurement, Tracker


def _crossing(t: float):
    """Two cars crossing in an X at 10 m/s, paths meeting at t = 2 s."""
    a = (-20.0 + 10.0 * t, -20.0 + 10.0 * t)
    b = (-20.0 + 10.0 * t, 20.0 - 10.0 * t)
    return a, b


def test_crossing_objects_keep_their_ids_and_velocity():
    tracker = Tracker(TrackerConfig())
    first = None
    for k in range(41):
        t = 0.1 * k
        a, b = _crossing(t)
        update = tracker.step(
            t,
            [Measurement(a, math.pi / 4, ObjectClass.CAR), Measurement(b, -math.pi / 4, ObjectClass.CAR)],
        )
        first = first or update.ids
        if k < 19 or k > 21:  # at the crossing itself both are at the same point
            assert update.ids == first
    states = {s.object_id: s for s in tracker.tracks}
    np.testing.assert_allclose(states[first[0]].x[2:], [10.0, 10.0], atol=0.5)
    np.testing.assert_allclose(states[first[1]].x[2:], [10.0, -10.0], atol=0.5)
    assert abs(states[first[0]].heading - math.pi / 4) < 0.1


def test_birth_and_retire_hysteresis():
    cfg = TrackerConfig(birth_hits=2, retire_misses=3)
    tracker = Tracker(cfg)
    m = [Measurement((5.0, 0.0), 0.0, ObjectClass.CAR)]
    (oid,) = tracker.step(0.0, m).ids
    assert not tracker.tracks[0].confirmed
    tracker.step(0.1, [])  # a tentative track dies on its first miss
    assert tracker.tracks == []
    (oid,) = tracker.step(0.2, m).ids
    tracker.step(0.3, m)
    assert tracker.tracks[0].confirmed
    for k in range(2):
        tracker.step(0.4 + 0.1 * k, [])
        assert [t.object_id for t in tracker.tracks] == [oid]
    update = tracker.step(0.6, [])
    assert update.retired == (oid,)
    assert tracker.step(0.7, m).ids != (oid,)  # ids are never reused


def test_class_changes_only_after_consecutive_votes_and_is_reported():
    tracker = Tracker(TrackerConfig(class_flip_votes=3))
    pos = (5.0, 0.0)
    for k in range(5):
        tracker.step(0.1 * k, [Measurement(pos, 0.0, ObjectClass.CAR)])
    flips = []
    labels = [ObjectClass.TRUCK, ObjectClass.CAR, ObjectClass.TRUCK, ObjectClass.TRUCK, ObjectClass.TRUCK]
    for k, label in enumerate(labels):
        flips += tracker.step(0.5 + 0.1 * k, [Measurement(pos, 0.0, label)]).class_flips
    assert tracker.tracks[0].label is ObjectClass.TRUCK
    assert [(f[1], f[2]) for f in flips] == [(ObjectClass.CAR, ObjectClass.TRUCK)]
