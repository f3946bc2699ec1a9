"""What the point classifier and the neighbours add to one sweep's boxes (``prelabel.detect``)."""

import math

import numpy as np
from prelabel_scenes import box_surface, ground_points

from mmfusion_annotate.prelabel.classify import CLASSES, size_scores
from mmfusion_annotate.prelabel.config import PrelabelConfig, SemanticsConfig
from mmfusion_annotate.prelabel.detect import (
    FRAGMENT_LENGTH_M,
    Detection,
    LidarGeometry,
    PointEvidence,
    complete,
    decide_with_evidence,
    detect,
    reclassify,
    scores_for,
)
from mmfusion_annotate.prelabel.fit import BevBox
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.rig import default_rig_path, load_rig

SEMANTICS = SemanticsConfig(enabled=True)


def _axis_error(a: float, b: float) -> float:
    d = (a - b) % math.pi
    return min(d, math.pi - d)


def test_a_car_sized_hedge_is_unknown_and_a_car_seen_in_part_is_a_car():
    car_sized = size_scores(4.4, 1.8, 1.5)
    hedge = PointEvidence(vehicle=0.2, person=0.0, points=300)
    assert decide_with_evidence(car_sized, None, SEMANTICS)[0] is ObjectClass.CAR
    assert decide_with_evidence(car_sized, hedge, SEMANTICS)[0] is ObjectClass.UNKNOWN

    fragment = size_scores(3.0, 2.6, 1.0)  # a car behind another, with a stray return: no class fits
    assert decide_with_evidence(fragment, None, SEMANTICS)[0] is ObjectClass.UNKNOWN
    mostly_vehicle = PointEvidence(vehicle=0.95, person=0.0, points=60)
    label, confidence = decide_with_evidence(fragment, mostly_vehicle, SEMANTICS)
    assert label is ObjectClass.CAR and confidence < 0.5  # the size did not confirm it
    handful = PointEvidence(vehicle=1.0, person=0.0, points=SEMANTICS.min_points_for_class - 1)
    assert decide_with_evidence(fragment, handful, SEMANTICS)[0] is ObjectClass.UNKNOWN


def test_a_person_sized_post_without_person_points_is_unknown():
    person_sized = size_scores(0.5, 0.4, 1.7)
    assert decide_with_evidence(person_sized, None, SEMANTICS)[0] is ObjectClass.PEDESTRIAN
    post = PointEvidence(vehicle=0.0, person=0.02, points=80)
    assert decide_with_evidence(person_sized, post, SEMANTICS)[0] is ObjectClass.UNKNOWN
    person = PointEvidence(vehicle=0.0, person=0.9, points=80)
    assert decide_with_evidence(person_sized, person, SEMANTICS)[0] is ObjectClass.PEDESTRIAN
    bonnet = PointEvidence(vehicle=1.0, person=0.0, points=80)  # person-sized part of a car: not a car
    assert decide_with_evidence(person_sized, bonnet, SEMANTICS)[0] is ObjectClass.UNKNOWN


def test_a_known_view_decides_which_way_a_short_box_is_grown():
    measured = BevBox(20.0, 6.0, 2.1, 1.6, 0.0)  # a short L: a side and a rear, or a rear and a side
    side = complete(measured, ObjectClass.CAR, (0.0, 0.0), view="side")
    end = complete(measured, ObjectClass.CAR, (0.0, 0.0), view="end")
    assert _axis_error(side.yaw, 0.0) < 1e-9 and side.length > 4.0
    assert _axis_error(end.yaw, math.pi / 2) < 1e-9 and end.length > 4.0


def test_a_car_seen_in_part_takes_the_heading_of_the_car_parked_before_it():
    rng = np.random.default_rng(11)
    whole = box_surface(rng, (12.0, 6.0), (4.5, 1.8, 1.5), 0.0, n=1500)
    part = box_surface(rng, (21.0, 6.0), (2.1, 1.8, 1.4), 0.0, n=800)  # only its rear 2.1 m are seen
    alone, _ = detect(np.vstack([ground_points(rng), part]).astype(np.float32), PrelabelConfig())
    (guess,) = [d for d in alone if abs(d.measured.cx - 21.0) < 1.5]
    assert _axis_error(guess.box.yaw, 0.0) > math.radians(60)  # the size prior alone reads a rear view

    dets, _ = detect(np.vstack([ground_points(rng), whole, part]).astype(np.float32), PrelabelConfig())
    (seen,) = [d for d in dets if abs(d.measured.cx - 21.0) < 1.5]
    assert seen.label is ObjectClass.CAR
    assert _axis_error(seen.box.yaw, 0.0) < math.radians(10) and seen.box.length > 4.0


def test_two_cars_parked_side_by_side_are_split():
    rng = np.random.default_rng(12)
    a = box_surface(rng, (12.0, 5.0), (4.5, 1.8, 1.5), 0.0, n=1500)
    b = box_surface(rng, (12.0, 7.1), (4.5, 1.8, 1.5), 0.0, n=1500)  # 0.3 m apart: one grid component
    ground = ground_points(rng)
    dets, stages = detect(np.vstack([ground, a, b]).astype(np.float32), PrelabelConfig())
    held = stages.labels[len(ground) :]
    assert len(np.unique(held[held >= 0])) == 1  # the grid joined them
    cars = sorted((d for d in dets if d.label is ObjectClass.CAR), key=lambda d: d.box.cy)
    assert len(cars) == 2
    assert abs(cars[0].measured.cy - 5.0) < 0.6 and abs(cars[1].measured.cy - 7.1) < 0.6


RIG_LIDAR = LidarGeometry.from_rig(load_rig(default_rig_path()), "lidar_top")  # 64 beams, 0.43 deg apart


def _scanned(x: float, y: float, size, lidar: LidarGeometry = RIG_LIDAR, z_from: float = 0.0) -> np.ndarray:
    """Returns of an upright box of ``size`` (length, width, height) standing at (x, y) on flat ground at
    z = 0, on the face toward the sensor, where the rig's beams and azimuth steps hit it (from ``z_from``
    up: lower parts hidden)."""
    length, width, height = size
    ox, oy, oz = lidar.origin
    rng_m = math.hypot(x - ox, y - oy) - length / 2
    centre = math.atan2(y - oy, x - ox)
    half = math.atan2(width / 2, rng_m)
    azimuths = np.arange(centre - half, centre + half, math.radians(lidar.azimuth_resolution_deg))
    angles = np.radians(np.arange(lidar.bottom_elevation_deg, lidar.top_elevation_deg + 1e-6,
                                  lidar.beam_spacing_deg))  # fmt: skip
    z = oz + rng_m * np.tan(angles)
    z = z[(z >= z_from) & (z <= height)]
    a, zz = np.meshgrid(azimuths, z)
    return np.column_stack([ox + rng_m * np.cos(a.ravel()), oy + rng_m * np.sin(a.ravel()), zz.ravel()])


def _flat_ground(rng: np.random.Generator, keep=lambda xy: np.ones(len(xy), bool)) -> np.ndarray:
    xy = rng.uniform(-70, 70, (60000, 2))
    xy = xy[keep(xy)]
    return np.column_stack([xy, rng.normal(0.0, 0.01, len(xy))])


def _nearest(dets, x, y):
    return min(dets, key=lambda d: math.hypot(d.measured.cx - x, d.measured.cy - y))


def test_a_far_pole_keeps_its_height_between_beams_and_is_no_pedestrian():
    """At 60 m the beams hit a pole 0.45 m apart in height: that is no gap above an object's top."""
    rng = np.random.default_rng(13)
    pole = _scanned(60.0, 7.5, (0.3, 0.3, 5.0))
    dets, _ = detect(np.vstack([_flat_ground(rng), pole]).astype(np.float32), PrelabelConfig(), RIG_LIDAR)
    found = _nearest(dets, 60.0, 7.5)
    assert found.z_top - found.z_bottom > 3.0
    assert found.label is not ObjectClass.PEDESTRIAN


def test_a_pole_whose_foot_a_parked_car_hides_is_no_pedestrian():
    """Behind a parked car the ground filter takes the pole's lowest visible returns for ground: its
    remaining 1.1 m is person-sized, but it stands far above the road around it."""
    rng = np.random.default_rng(14)
    car = _scanned(9.0, 5.4, (4.5, 1.8, 1.5))
    shadow = lambda xy: ~((xy[:, 0] > 8) & (xy[:, 0] < 20) & (xy[:, 1] > 5) & (xy[:, 1] < 9.5))  # noqa: E731
    pole = _scanned(16.0, 7.5, (0.3, 0.3, 2.5), z_from=1.25)
    xyz = np.vstack([_flat_ground(rng, shadow), car, pole]).astype(np.float32)
    found = _nearest(detect(xyz, PrelabelConfig(), RIG_LIDAR)[0], 16.0, 7.5)
    assert found.foot_hidden and found.label is ObjectClass.UNKNOWN


def test_a_few_returns_of_person_size_are_no_pedestrian_but_a_person_is():
    rng = np.random.default_rng(15)
    person = _scanned(17.0, -4.0, (0.4, 0.5, 1.75))
    corner = person[rng.choice(len(person), 10, replace=False)]  # a mirror, a car's corner: as tall, sparse
    dets, _ = detect(np.vstack([_flat_ground(rng), person]).astype(np.float32), PrelabelConfig(), RIG_LIDAR)
    assert _nearest(dets, 17.0, -4.0).label is ObjectClass.PEDESTRIAN
    dets, _ = detect(np.vstack([_flat_ground(rng), corner]).astype(np.float32), PrelabelConfig(), RIG_LIDAR)
    found = _nearest(dets, 17.0, -4.0)
    assert found.sparse and found.label is ObjectClass.UNKNOWN


def test_a_car_tall_cluster_too_wide_for_a_car_is_a_car_and_a_truck_tall_one_a_truck():
    # two parked cars merged across (2.9 m wide), 1.8 m tall, all vehicle points: no class fits the size
    merged = size_scores(4.7, 2.9, 1.8)
    vehicle = PointEvidence(vehicle=1.0, person=0.0, points=800)
    assert decide_with_evidence(merged, vehicle, SEMANTICS)[0] is ObjectClass.TRUCK  # footprint alone
    assert decide_with_evidence(merged, vehicle, SEMANTICS, height=(1.8, False))[0] is ObjectClass.CAR
    tall = size_scores(4.7, 2.9, 3.0)
    assert decide_with_evidence(tall, vehicle, SEMANTICS, height=(3.0, False))[0] is ObjectClass.TRUCK
    # a height cut by the top beam is only a lower bound: a truck is not ruled out by it
    assert decide_with_evidence(merged, vehicle, SEMANTICS, height=(1.8, True))[0] is ObjectClass.TRUCK


def test_a_car_seen_between_two_nearer_objects_grows_to_both_ends_and_a_too_wide_one_keeps_its_near_side():
    measured = BevBox(0.0, 8.0, 2.7, 1.8, 0.0)  # the middle of a parked car, seen from (0, 0)
    one_end = complete(measured, ObjectClass.CAR, (-10.0, 0.0), hidden_ends=1)
    both = complete(measured, ObjectClass.CAR, (-10.0, 0.0), hidden_ends=2)
    assert one_end.length == both.length == 4.5
    assert one_end.cx > 0.8  # away from the sensor
    assert abs(both.cx) < 1e-9  # the part seen may lie anywhere along it: no end is favoured

    wide = BevBox(0.0, 8.0, 4.6, 2.9, 0.0)  # a car and the next car's edge beside it, seen from (0, 0)
    box = complete(wide, ObjectClass.CAR, (0.0, 0.0))
    assert box.width == 1.85
    assert abs(box.cy - (8.0 - (2.9 - 1.85) / 2)) < 1e-9  # the face the sensor saw stays


def test_a_car_the_points_name_keeps_that_class_alone_and_a_low_fragment_stays_unknown():
    vehicle = PointEvidence(vehicle=1.0, person=0.0, points=200)
    merged = size_scores(4.7, 2.9, 1.8)  # no class fits: the points name it
    label, _ = decide_with_evidence(merged, vehicle, SEMANTICS, height=(1.8, False))
    kept = scores_for(merged, label)
    assert label is ObjectClass.CAR and kept[CLASSES.index(ObjectClass.CAR)] == 1.0 and kept.sum() == 1.0
    # a track's confidence is its class's share of these: the size's vote alone put it under the cut
    assert merged[CLASSES.index(ObjectClass.CAR)] / merged.sum() < PrelabelConfig().min_confidence
    car = size_scores(4.4, 1.8, 1.5)
    assert scores_for(car, ObjectClass.CAR) is car  # the size chose it: its scores stay

    # the upper part of a car seen over another (0.7 m tall) still is one; a bumper's length is not
    low = size_scores(2.6, 1.2, 0.7)
    label, _ = decide_with_evidence(low, vehicle, SEMANTICS, height=(0.7, False), length=2.6)
    assert label is ObjectClass.CAR
    short = FRAGMENT_LENGTH_M - 0.5
    bumper = size_scores(short, 0.3, 0.7)
    label, _ = decide_with_evidence(bumper, vehicle, SEMANTICS, height=(0.7, False), length=short)
    assert label is ObjectClass.UNKNOWN


def test_a_parked_cars_long_side_is_no_end_whatever_a_track_beside_it_says():
    measured = BevBox(13.0, -2.5, 4.4, 1.7, 0.35)
    scores = size_scores(4.4, 1.7, 1.7)
    box = complete(measured, ObjectClass.CAR, (0.0, 0.0), 1)
    car = Detection(np.arange(300), measured, box, 0.0, 1.7, scores, ObjectClass.CAR, 0.77, hidden_ends=1)
    assert reclassify(car, "end", (0.0, 0.0), SEMANTICS) is car
    side = reclassify(car, "side", (0.0, 0.0), SEMANTICS)
    assert side.label is ObjectClass.CAR and side.box.width < 2.0
    # a short L may be either: there the view decides (a rear seen with a bit of its side)
    short = BevBox(13.0, -2.5, 2.0, 1.2, 0.35)
    rear = Detection(np.arange(300), short, complete(short, ObjectClass.CAR, (0.0, 0.0)), 0.0, 1.6,
                     size_scores(2.0, 1.2, 1.6), ObjectClass.CAR, 0.6)  # fmt: skip
    turned = reclassify(rear, "end", (0.0, 0.0), SEMANTICS)
    assert turned.label is ObjectClass.CAR and _axis_error(turned.box.yaw, 0.35 + math.pi / 2) < 1e-9

