import math

import numpy as np
from prelabel_scenes import box_surface, ground_height, ground_points

from mmfusion_annotate.prelabel.config import GroundConfig, PrelabelConfig
from mmfusion_annotate.prelabel.detect import detect
from mmfusion_annotate.prelabel.ground import remove_ground
from mmfusion_annotate.prelabel.model import ObjectClass


def _axis_error(a: float, b: float) -> float:
    d = (a - b) % math.pi
    return min(d, math.pi - d)


def test_ground_filter_follows_a_ramp_and_keeps_objects_on_it():
    rng = np.random.default_rng(0)
    ground = ground_points(rng)
    car = box_surface(rng, (25.0, 3.0), (4.5, 1.8, 1.5), 0.3)
    xyz = np.vstack([ground, car]).astype(np.float32)
    result = remove_ground(xyz, GroundConfig(), 65.0)
    is_ground = np.asarray(result.is_ground)
    assert is_ground[: len(ground)].mean() > 0.98
    # object points higher than the tolerance above the ramp stay object points
    high = car[:, 2] - ground_height(car[:, 0]) > 0.45  # point + step tolerance
    assert not is_ground[len(ground) :][high].any()
    heights = np.asarray(result.height)[len(ground) :]
    np.testing.assert_allclose(heights, car[:, 2] - ground_height(car[:, 0]), atol=0.25)


def test_car_on_a_ramp_becomes_one_car_cuboid_with_its_heading():
    rng = np.random.default_rng(1)
    yaw = 0.4
    xyz = np.vstack([ground_points(rng), box_surface(rng, (24.0, -4.0), (4.6, 1.9, 1.5), yaw)])
    dets, _ = detect(xyz.astype(np.float32), PrelabelConfig())
    cars = [d for d in dets if d.label is ObjectClass.CAR]
    assert len(cars) == 1
    car = cars[0]
    assert _axis_error(car.box.yaw, yaw) < math.radians(5)
    assert abs(car.box.length - 4.6) < 0.3 and abs(car.box.width - 1.9) < 0.3
    assert math.hypot(car.box.cx - 24.0, car.box.cy + 4.0) < 0.3
    # the ground under the car is extrapolated from the ramp below it: within 0.3 m on 8 degrees
    assert abs(car.z_bottom - ground_height(np.array([24.0]))[0]) < 0.3


def test_partly_seen_car_is_completed_away_from_the_sensor():
    rng = np.random.default_rng(2)
    # only the rear (1.8 m wide) and 1.5 m of one side are hit: far side is hidden
    rear = box_surface(rng, (10.0, 0.0), (1.5, 1.8, 1.4), 0.0)
    xyz = np.vstack([ground_points(rng), rear]).astype(np.float32)
    cars = [d for d in detect(xyz, PrelabelConfig())[0] if d.label is ObjectClass.CAR]
    assert len(cars) == 1
    box = cars[0].box
    assert box.length > 4.0
    assert box.cx > 10.5  # grown away from the sensor at the origin


def test_pedestrian_and_pole_are_told_apart_by_height():
    rng = np.random.default_rng(3)
    ped = box_surface(rng, (8.0, 2.0), (0.5, 0.5, 1.75), 0.0, n=300)
    pole = box_surface(rng, (8.0, -4.0), (0.3, 0.3, 3.9), 0.0, n=300)
    dets, _ = detect(np.vstack([ground_points(rng), ped, pole]).astype(np.float32), PrelabelConfig())
    labels = {round(d.box.cy): d.label for d in dets}
    assert labels[2] is ObjectClass.PEDESTRIAN
    assert labels[-4] is ObjectClass.UNKNOWN


def test_ground_walk_kernel_matches_the_array_walk_bit_for_bit():
    """The CPU kernel of the outward walk gives the same float32 heights as the numpy/CuPy loop, on a
    ramp with objects, empty cells (inf), steps and several seed levels."""
    from mmfusion_annotate.prelabel.ground import _walk_bins, _walk_bins_kernel, polar_cells, walk_parameters

    rng = np.random.default_rng(7)
    cfg = GroundConfig()
    xyz = np.vstack([ground_points(rng, 60000, 80.0), box_surface(rng, (24.0, -4.0), (4.6, 1.9, 1.5), 0.3)])
    zmin = polar_cells(xyz, cfg, 85.0)[2].copy()
    zmin[rng.random(zmin.shape) < 0.05] += rng.uniform(0.1, 0.6)  # steps within and beyond the tolerance
    # occluded stretches of up to 25 m (the allowance stops growing at 10 m) ending in rises of up to 4 m
    for sector in rng.choice(len(zmin), 60, replace=False):
        start, length = rng.integers(10, 110), rng.integers(1, 50)
        zmin[sector, start : start + length] = np.inf
        zmin[sector, start + length :] += np.float32(rng.uniform(0.0, 4.0))
    assert np.isinf(zmin).any() and np.isfinite(zmin).any()
    for ground0 in (-1.8, -1.55, 0.3):
        args = (zmin, *walk_parameters(cfg, ground0))
        expected, got = _walk_bins(*args), _walk_bins_kernel(*args)
        assert got.dtype == expected.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def _behind(points: np.ndarray, occluder: np.ndarray) -> np.ndarray:
    """``points`` without those hidden behind ``occluder`` seen from the origin (same azimuth, farther)."""
    az, occ_az = np.arctan2(points[:, 1], points[:, 0]), np.arctan2(occluder[:, 1], occluder[:, 0])
    hidden = (az >= occ_az.min()) & (az <= occ_az.max())
    hidden &= np.hypot(points[:, 0], points[:, 1]) > np.hypot(occluder[:, 0], occluder[:, 1]).max()
    return points[~hidden]


def test_a_car_cut_off_by_a_nearer_object_is_a_car():
    rng = np.random.default_rng(4)
    # a post hides the far end of a car parked ahead on the left: its rear face (x = 11.8) and the first
    # 2.2 m of its side are all that is seen
    occluder = box_surface(rng, (10.5, 3.4), (0.6, 0.6, 1.45), 0.0, n=400)
    far = _behind(box_surface(rng, (14.0, 6.0), (4.4, 1.8, 1.45), 0.0, n=4000), occluder)
    xyz = np.vstack([ground_points(rng), occluder, far]).astype(np.float32)
    (seen,) = [d for d in detect(xyz, PrelabelConfig())[0] if abs(d.measured.cy - 6.0) < 0.6]
    assert seen.measured.length < 2.5
    assert seen.hidden_ends == 1 and seen.label is ObjectClass.CAR and seen.box.length > 4.0


def test_a_car_seen_whole_has_no_hidden_end_and_a_short_thing_alone_stays_unknown():
    rng = np.random.default_rng(5)
    whole = box_surface(rng, (12.0, 5.0), (4.5, 1.8, 1.5), 0.0, n=2000)
    stub = box_surface(rng, (12.0, -6.0), (2.7, 1.8, 1.45), 0.0, n=1200)  # too long for a car's width
    dets, _ = detect(np.vstack([ground_points(rng), whole, stub]).astype(np.float32), PrelabelConfig())
    by_side = {round(d.measured.cy / 5): d for d in dets}
    assert by_side[1].hidden_ends == 0 and by_side[1].label is ObjectClass.CAR
    assert by_side[-1].hidden_ends == 0 and by_side[-1].label is ObjectClass.UNKNOWN


def test_two_parked_cars_bumper_to_bumper_are_split():
    rng = np.random.default_rng(6)
    a = box_surface(rng, (10.0, 6.0), (4.4, 1.8, 1.5), 0.0, n=1500)
    b = box_surface(rng, (14.9, 6.0), (4.6, 1.8, 1.5), 0.0, n=1500)  # a 0.4 m gap: one grid component
    dets, stages = detect(np.vstack([ground_points(rng), a, b]).astype(np.float32), PrelabelConfig())
    assert len(np.unique(stages.labels[stages.labels >= 0])) < len(dets) + 1  # the grid joined them
    cars = sorted((d for d in dets if d.label is ObjectClass.CAR), key=lambda d: d.box.cx)
    assert len(cars) == 2
    assert abs(cars[0].box.cx - 10.0) < 0.4 and abs(cars[1].box.cx - 14.9) < 0.4


def test_a_branch_over_a_car_and_a_stray_return_do_not_make_it_tall():
    rng = np.random.default_rng(7)
    car = box_surface(rng, (12.0, 4.0), (4.5, 1.8, 1.5), 0.0, n=2000)
    branch = np.column_stack([rng.uniform(11, 13, 80), rng.uniform(3.5, 4.5, 80), rng.uniform(2.9, 3.3, 80)])
    stray = np.array([[12.5, 4.2, 2.4]])
    xyz = np.vstack([ground_points(rng), car, branch, stray]).astype(np.float32)
    (det,) = [d for d in detect(xyz, PrelabelConfig())[0] if abs(d.measured.cy - 4.0) < 1.0]
    assert det.label is ObjectClass.CAR
    assert abs((det.z_top - det.z_bottom) - 1.5) < 0.25


def test_point_semantics_keep_vegetation_and_walls_out_and_veto_people_without_a_person(shared_path):
    """A real PandaSet scoring frame (44-55, never trained on): with the point classifier no cluster holds
    mostly vegetation or wall points, and no pedestrian or cyclist is called without person points."""

    from mmfusion_annotate.datasets.semantics_data import read_sweep
    from mmfusion_annotate.prelabel.config import SemanticsConfig
    from mmfusion_annotate.prelabel.semantics import PointClass, load_model

    data = shared_path("data", "pandaset_seq002")
    sweep = read_sweep(data, 50, road_offset_m=0.314)
    cfg = PrelabelConfig(semantics=SemanticsConfig(enabled=True))
    semantics = (load_model(), sweep.intensity)
    plain, _ = detect(sweep.xyz, cfg)
    learned, stages = detect(sweep.xyz, cfg, semantics=semantics)
    truth = sweep.labels
    background = (PointClass.VEGETATION, PointClass.BUILDING)

    def background_share(dets) -> float:  # of all the points the clusters hold
        held = np.concatenate([d.point_index for d in dets])
        return float(np.isin(truth[held], background).mean())

    assert background_share(learned) < 0.08 and background_share(plain) > 5 * background_share(learned)
    people = (ObjectClass.PEDESTRIAN, ObjectClass.CYCLIST)
    for d in learned:
        if d.label in people:
            assert np.mean(stages.point_classes[d.point_index] == PointClass.PERSON) >= 0.1
    assert sum(d.label in people for d in learned) < sum(d.label in people for d in plain)
