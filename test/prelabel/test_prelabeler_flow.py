"""The whole ``Prelabeler.process`` flow over constructed fused frames: ego motion, tracks, radar.

The ego drives at 10 m/s while turning gently (0.1 rad/s); a parked car, a car overtaking at 15 m/s and
radar returns on it are generated in the world frame and seen from the moving base_link, so the
tracker must keep ids and ground speeds while everything moves in the sensor frame.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmfusion_annotate.fusion.compensation import PoseTrack
from mmfusion_annotate.fusion.frame import FrameEgo, FusedFrame, RadarView, Sweep
from mmfusion_annotate.prelabel import ObjectClass, PrelabelConfig, Prelabeler
from mmfusion_annotate.prelabel.review import RADAR_WITHOUT_LIDAR
from mmfusion_annotate.rig import default_rig_path, load_rig

EGO_SPEED, EGO_YAW_RATE = 10.0, 0.1
CAR_SPEED = 15.0
PARKED = (32.0, -4.0)
RADAR = "radar_front"
DT = 0.1


@pytest.fixture(scope="module")
def rig():
    return load_rig(default_rig_path())


def _ego_pose(t: float) -> np.ndarray:
    """world <- base_link: constant speed and yaw rate from the origin."""
    yaw = EGO_YAW_RATE * t
    radius = EGO_SPEED / EGO_YAW_RATE
    T = np.eye(4)
    T[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    T[:2, 3] = [radius * math.sin(yaw), radius * (1 - math.cos(yaw))]
    return T


def _moving_car(t: float) -> tuple[float, float]:
    return (8.0 + CAR_SPEED * t, 3.5)


def _box_points(rng, centre, size, n=900) -> np.ndarray:
    """Points on the whole surface of an axis-aligned box standing on z = 0 (world)."""
    length, width, height = size
    u = rng.uniform(-0.5, 0.5, (n, 3)) * (length, width, height)
    face = rng.integers(0, 4, n)
    u[face == 0, 0], u[face == 1, 0] = length / 2, -length / 2
    u[face == 2, 1], u[face == 3, 1] = width / 2, -width / 2
    return u + (centre[0], centre[1], height / 2)


def _frame(rig, k: int, rng) -> FusedFrame:
    t = k * DT
    stamp = int(round(t * 1e9))
    T_world_base = _ego_pose(t)
    ego_xy = T_world_base[:2, 3]
    g = rng.uniform(-1, 1, (20000, 2)) * 45 + ego_xy
    world = np.vstack(
        [
            np.column_stack([g, rng.normal(0, 0.02, len(g))]),
            _box_points(rng, PARKED, (4.5, 1.9, 1.5)),
            _box_points(rng, _moving_car(t), (4.6, 1.9, 1.5)),
        ]
    )
    T_base_world = np.linalg.inv(T_world_base)
    base = (world @ T_base_world[:3, :3].T + T_base_world[:3, 3]).astype(np.float32)
    n = len(base)
    sweep = Sweep(
        "lidar_top",
        stamp,
        base,
        base,
        np.zeros(n, np.float32),
        np.zeros(n, np.uint16),
        np.full(n, stamp, np.int64),
    )
    # radar: three returns on the moving car, a moving target nobody else sees, a static guard rail
    v_car_base = T_base_world[:3, :3] @ np.array([CAR_SPEED, 0.0, 0.0])
    v_ego_base = np.array([EGO_SPEED, 0.0, 0.0])
    car_base = T_base_world[:3, :3] @ np.array([*_moving_car(t), 0.7]) + T_base_world[:3, 3]
    targets = [(car_base + off, v_car_base) for off in ([-2.3, 0, 0], [-2.3, 0.6, 0], [-2.3, -0.6, 0])]
    targets += [(np.array([40.0, -12.0, 0.5]), np.array([-8.0, 0.0, 0.0]))]
    targets += [(np.array([25.0, -9.0, 0.5]), T_base_world[:3, :3] @ np.zeros(3))]
    origin = rig.sensor_to_base(RADAR)[:3, 3]
    xyz = np.array([p for p, _ in targets])
    los = (xyz - origin) / np.linalg.norm(xyz - origin, axis=1, keepdims=True)
    v_radar = v_ego_base + np.cross([0.0, 0.0, EGO_YAW_RATE], origin)
    range_rate = np.array([(v - v_radar) @ d for (_, v), d in zip(targets, los, strict=True)])
    radar = RadarView(
        RADAR, stamp, {"range_rate": range_rate, "rcs": np.full(len(xyz), 10.0)}, xyz.astype(np.float32), {}
    )
    times = np.array([stamp - 50_000_000, stamp + 50_000_000])
    track = PoseTrack.from_poses(times, np.stack([T_base_world @ _ego_pose(ns / 1e9) for ns in times]))
    ego = FrameEgo(stamp, T_world_base, v_ego_base, np.array([0.0, 0.0, EGO_YAW_RATE]), track)
    return FusedFrame(stamp, sweep, {}, {RADAR: radar}, ego, rig, "cpu")


@pytest.fixture(scope="module")
def results(rig):
    rng = np.random.default_rng(7)
    pre = Prelabeler(rig, PrelabelConfig())
    frames = [_frame(rig, k, rng) for k in range(20)]
    return frames, [pre.process(f) for f in frames]


def _nearest(result, frame, world_xy):
    T_base_world = np.linalg.inv(frame.ego.pose)
    target = T_base_world[:2, :2] @ np.asarray(world_xy) + T_base_world[:2, 3]
    cuboid = min(result.cuboids, key=lambda c: math.dist(c.center[:2], target))
    assert math.dist(cuboid.center[:2], target) < 1.0, "object not detected"
    return cuboid


def test_ids_stay_while_the_ego_moves_and_turns(results):
    frames, out = results
    parked = {_nearest(r, f, PARKED).object_id for f, r in zip(frames, out, strict=True)}
    moving = {
        _nearest(r, f, _moving_car(k * DT)).object_id
        for k, (f, r) in enumerate(zip(frames, out, strict=True))
    }
    assert len(parked) == 1 and len(moving) == 1 and parked != moving
    assert not [i for r in out for i in r.review_items if i.reason in ("id_switch", "class_flip")]


def test_velocities_are_over_ground_in_base_link_axes(results):
    frames, out = results
    for k in range(10, 20):
        T_base_world = np.linalg.inv(frames[k].ego.pose)
        parked = _nearest(out[k], frames[k], PARKED)
        moving = _nearest(out[k], frames[k], _moving_car(k * DT))
        assert parked.label is ObjectClass.CAR and moving.label is ObjectClass.CAR
        assert math.hypot(*parked.velocity) < 0.5  # stands still although it moves past the ego
        expected = T_base_world[:2, :2] @ np.array([CAR_SPEED, 0.0])
        assert math.dist(moving.velocity, expected) < 0.7


def test_radar_gives_the_moving_car_its_radial_velocity_and_keeps_lone_targets(results):
    frames, out = results
    for k in range(5, 20):
        moving = _nearest(out[k], frames[k], _moving_car(k * DT))
        assert moving.radar_hits == 3
        # the ego-compensated radial velocity is the car's over-ground speed along the lines of sight
        origin = frames[k].rig.sensor_to_base(RADAR)[:3, 3]
        los = frames[k].radars[RADAR].xyz[:3] - origin
        v = np.linalg.inv(frames[k].ego.pose)[:3, :3] @ np.array([CAR_SPEED, 0.0, 0.0])
        expected = np.median(los @ v / np.linalg.norm(los, axis=1))
        assert moving.radial_velocity == pytest.approx(expected, abs=0.05)
        # the moving target without LiDAR points is a candidate and a review item; the guard rail is neither
        (cand,) = out[k].radar_candidates
        assert cand.position[:2] == pytest.approx((40.0, -12.0), abs=0.01)
        d = np.array([40.0, -12.0, 0.5]) - origin
        assert cand.range_rate == pytest.approx(-8.0 * d[0] / np.linalg.norm(d), abs=0.01)
        assert [i.reason for i in out[k].review_items] == [RADAR_WITHOUT_LIDAR]


def test_objects_below_min_confidence_are_tracked_but_not_labelled(rig):
    """``min_confidence``: a cuboid less confident than it is no pre-label (its track lives on)."""
    rng = np.random.default_rng(8)
    frames = [_frame(rig, k, rng) for k in range(4)]
    strict = Prelabeler(rig, PrelabelConfig(min_confidence=0.99))
    every = Prelabeler(rig, PrelabelConfig(min_confidence=0.0))
    strict_out = [strict.process(f) for f in frames]
    every_out = [every.process(f) for f in frames]
    assert all(r.cuboids for r in every_out)
    assert not any(r.cuboids for r in strict_out) and all(r.tracks for r in strict_out[1:])
