"""EgoMotion: SE(3) interpolation, constant-velocity / IMU extrapolation, bounded history, PoseTrack."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from mmfusion_annotate.errors import FusionError
from mmfusion_annotate.fusion import EgoMotion, PoseTrack, track_points
from mmfusion_annotate.fusion.measure import arc_pose
from mmfusion_annotate.fusion.poses import invert_pose, make_pose
from mmfusion_annotate.types import SensorSample

MS = 1_000_000


def _fed(speed=20.0, yaw_rate=0.3, start=0, end=300 * MS, step=10 * MS, twist=True) -> EgoMotion:
    ego = EgoMotion(max_extrapolation_ns=200 * MS)
    for stamp in range(start, end + 1, step):
        pose = arc_pose(stamp, speed, yaw_rate)
        quat = Rotation.from_matrix(pose[:3, :3]).as_quat()
        if twist:
            ego.add_odometry(stamp, pose[:3, 3], quat, [speed, 0, 0], [0, 0, yaw_rate])
        else:
            ego.add_odometry(stamp, pose[:3, 3], quat)
    return ego


def _pose_error(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    delta = invert_pose(a) @ b
    return float(np.linalg.norm(delta[:3, 3])), float(Rotation.from_matrix(delta[:3, :3]).magnitude())


@pytest.mark.parametrize("stamp", [0, 5 * MS, 123 * MS, 299 * MS, 300 * MS])
def test_interpolation_inside_the_odometry_follows_the_arc(stamp):
    ego = _fed()
    metres, radians = _pose_error(ego.pose(stamp), arc_pose(stamp, 20.0, 0.3))
    assert metres < 2e-4  # linear translation between 10 ms knots on a 67 m radius arc
    assert radians < 1e-12


@pytest.mark.parametrize("twist", [True, False])
def test_constant_velocity_extrapolation_past_the_last_sample(twist):
    ego = _fed(twist=twist)
    metres, radians = _pose_error(ego.pose(380 * MS), arc_pose(380 * MS, 20.0, 0.3))
    assert metres < 1e-3 and radians < 1e-6
    with pytest.raises(FusionError, match="outside the odometry history"):
        ego.pose(600 * MS)


def test_imu_gyro_turns_the_extrapolation():
    ego = _fed(yaw_rate=0.0, end=100 * MS)
    for stamp in range(100 * MS, 201 * MS, 10 * MS):
        ego.add_imu(stamp, np.array([0.0, 0.0, 0.5]))
    yaw = Rotation.from_matrix(ego.pose(200 * MS)[:3, :3]).as_euler("xyz")[2]
    assert yaw == pytest.approx(0.05, abs=1e-9)
    ego_without_imu = _fed(yaw_rate=0.0, end=100 * MS)
    assert Rotation.from_matrix(ego_without_imu.pose(200 * MS)[:3, :3]).magnitude() == pytest.approx(0.0)


def test_history_is_bounded_and_feed_dispatches_samples():
    ego = EgoMotion(max_history_ns=50 * MS)
    for k in range(100):
        stamp = k * 10 * MS
        ego.feed(
            SensorSample(
                "odom",
                stamp,
                {"position": np.array([k * 0.1, 0, 0]), "orientation": np.array([0, 0, 0, 1.0])},
            )
        )
        ego.feed(SensorSample("imu", stamp, {"gyro": np.zeros(3), "accel": np.zeros(3)}))
    assert len(ego._odometry) <= 6 and len(ego._imu) <= 6
    with pytest.raises(FusionError, match="neither odometry nor IMU"):
        ego.feed(SensorSample("cam", 0, {"image": np.zeros((2, 2, 3))}))
    with pytest.raises(FusionError, match="no odometry"):
        EgoMotion().pose(0)


def test_track_points_matches_slerp_per_point():
    ego = _fed()
    track = ego.track(40 * MS, 160 * MS)
    rng = np.random.default_rng(3)
    stamps = rng.integers(40 * MS, 160 * MS, 500)
    points = rng.normal(size=(500, 3)) * 20
    expected = []
    for stamp, p in zip(stamps, points, strict=True):
        k = np.searchsorted(track.times_ns, stamp, side="right") - 1
        k = min(k, len(track.times_ns) - 2)
        t0, t1 = track.times_ns[k], track.times_ns[k + 1]
        rot = Slerp([t0, t1], Rotation.from_matrix(track.rotations[k : k + 2]))([stamp]).as_matrix()[0]
        s = (stamp - t0) / (t1 - t0)
        expected.append(
            rot @ p + track.translations[k] + s * (track.translations[k + 1] - track.translations[k])
        )
    assert np.abs(track_points(points, stamps, track) - np.array(expected)).max() < 1e-9


def test_track_relative_to_reference_is_identity_there():
    ego = _fed()
    track = ego.track(0, 200 * MS).relative_to(ego.pose(100 * MS))
    assert np.allclose(track.pose(100 * MS), np.eye(4), atol=1e-12)
    with pytest.raises(FusionError):
        PoseTrack.from_poses(np.array([5, 5]), np.stack([np.eye(4)] * 2))


@pytest.mark.parametrize("start, end", [(15 * MS, 95 * MS), (-40 * MS, 60 * MS), (250 * MS, 420 * MS)])
def test_track_knots_are_the_poses_there(start, end):
    ego = _fed()  # odometry every 10 ms over [0, 300] ms: ends inside, before and after it
    track = ego.track(start, end)
    assert track.times_ns[0] == start and track.times_ns[-1] == end
    inner = track.times_ns[1:-1]
    assert np.all((inner > start) & (inner < end)) and np.all(inner % (10 * MS) == 0)
    for stamp, rotation, translation in zip(track.times_ns, track.rotations, track.translations, strict=True):
        trans_err, rot_err = _pose_error(ego.pose(int(stamp)), make_pose(rotation, translation))
        assert rot_err < 1e-12 and trans_err < 1e-12
