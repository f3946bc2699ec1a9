"""PandaSet cuboids -> truth objects: classes, sibling de-duplication, stable ids, velocities, base_link."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmfusion_annotate.datasets.pandaset import PandaCuboid
from mmfusion_annotate.datasets.pandaset_labels import TruthTracks, object_class, truth_entities
from mmfusion_annotate.prelabel.model import ObjectClass

MS = 1_000_000


def _cuboid(uuid, x=0.0, *, label="Car", sensor=-1, sibling=None, stationary=False, rider=None, yaw=0.0):
    return PandaCuboid(uuid, label, (x, 10.0, 0.8), yaw, 1.9, 4.5, 1.6, stationary, rider, sensor, sibling)


@pytest.mark.parametrize(
    ("label", "rider", "expected"),
    [
        ("Car", None, ObjectClass.CAR),
        ("Pickup Truck", None, ObjectClass.CAR),
        ("Medium-sized Truck", None, ObjectClass.TRUCK),
        ("Semi-truck", None, ObjectClass.TRUCK),
        ("Bus", None, ObjectClass.BUS),
        ("Pedestrian with Object", None, ObjectClass.PEDESTRIAN),
        ("Bicycle", "With Rider", ObjectClass.CYCLIST),
        ("Motorcycle", "With Rider", ObjectClass.CYCLIST),
        ("Bicycle", "Without Rider", ObjectClass.UNKNOWN),
        ("Motorcycle", None, ObjectClass.UNKNOWN),
        ("Cones", None, ObjectClass.UNKNOWN),
        ("Towed Object", None, ObjectClass.UNKNOWN),
        ("Other Vehicle - Construction Vehicle", None, ObjectClass.UNKNOWN),
    ],
)
def test_labels_map_to_the_project_classes(label, rider, expected):
    assert object_class(label, rider) is expected


def test_siblings_are_one_object_with_one_id_over_the_sequence():
    frames = {
        10: [
            _cuboid("b1", 1.1, sensor=1, sibling="a0"),
            _cuboid("a0", 1.0, sensor=0, sibling="b1"),
            _cuboid("c"),
        ],
        11: [_cuboid("b1", 2.0, sensor=1, sibling="a0"), _cuboid("c")],  # only PandarGT's copy this time
        12: [_cuboid("d"), _cuboid("a0", 3.0, sensor=0, sibling="b1")],
    }
    tracks = TruthTracks(frames)
    ids = {f: {o.cuboid.uuid: o.object_id for o in objects} for f, objects in tracks.frames.items()}
    assert ids[10] == {"a0": 1, "c": 2}  # the Pandar64 copy is kept, the PandarGT copy dropped
    assert ids[11] == {"b1": 1, "c": 2}  # same object, same id, through the other copy's uuid
    assert ids[12] == {"a0": 1, "d": 3}
    # ids do not depend on which frames are imported: they come from the whole sequence
    assert TruthTracks({12: frames[12], 10: frames[10]}).frames[12][0].object_id == 1


def test_velocity_from_neighbours_and_entities_in_base_link():
    stamps = np.array([0, 100, 200]) * MS
    frames = {
        0: [_cuboid("m", 0.0), _cuboid("p", 5.0, stationary=True)],
        1: [_cuboid("m", 0.5), _cuboid("p", 5.01, stationary=True), _cuboid("lone")],
        2: [_cuboid("m", 1.0)],
    }
    tracks = TruthTracks(frames)
    # base_link: 10 m further along world y, facing world +y (REP 103 x forward)
    T_base_world = np.eye(4)
    T_base_world[:3, :3] = [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    T_base_world[:3, 3] = [-10.0, 0.0, 0.0]
    entities = {e["id"]: e for e in truth_entities(tracks, 1, T_base_world, 100 * MS, stamps, "base_link")}
    meta = {i: dict((m["key"], m["value"]) for m in e["metadata"]) for i, e in entities.items()}
    assert meta["1"]["class"] == "car" and meta["1"]["label"] == "Car" and meta["1"]["uuid"] == "m"
    vx, vy, vz = (float(v) for v in meta["1"]["velocity_base"].split())
    assert (vx, vy, vz) == pytest.approx((0.0, -5.0, 0.0))  # 5 m/s along world x = to the right
    assert meta["2"]["velocity_base"] == "0.0000 0.0000 0.0000"  # stationary: label jitter is no motion
    assert "velocity_base" not in meta["3"]  # seen once: unknown, not zero
    cube = entities["1"]["cubes"][0]
    assert [cube["pose"]["position"][a] for a in "xyz"] == pytest.approx([0.0, -0.5, 0.8])
    assert [cube["size"][a] for a in "xyz"] == pytest.approx([4.5, 1.9, 1.6])  # length first
    q = cube["pose"]["orientation"]
    assert 2 * math.atan2(q["z"], q["w"]) == pytest.approx(0.0)  # yaw 0: the length along world y = forward
