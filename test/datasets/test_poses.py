"""Pose interpolation of imports: the inverse of fusion's own compensation, and odometry twists."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.datasets.poses import body_twist, interpolate_poses, world_to_moving_frame
from mmfusion_annotate.fusion.compensation import track_points
from mmfusion_annotate.fusion.ego import EgoMotion
from mmfusion_annotate.fusion.poses import make_pose

MS = 1_000_000


def _turning_drive(n: int = 6, speed: float = 8.0, yaw_rate: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Poses every 100 ms of a car on a circle, with a little pitch wobble so all three axes turn."""
    t = np.arange(n) * 100 * MS + 1_557_539_958_000_000_000
    s = (t - t[0]) / 1e9
    yaw = yaw_rate * s
    radius = speed / yaw_rate
    poses = np.stack(
        [
            make_pose(
                Rotation.from_euler("zyx", [y, 0.02 * np.sin(3 * si), 0.01]).as_matrix(),
                np.array([radius * np.sin(y), radius * (1 - np.cos(y)), 0.1 * si]),
            )
            for y, si in zip(yaw, s, strict=True)
        ]
    )
    return t, poses


def test_world_to_moving_frame_is_undone_by_fusions_compensation():
    knots, poses = _turning_drive()
    rng = np.random.default_rng(3)
    t = rng.integers(knots[0] - 20 * MS, knots[-1] + 20 * MS, 5000)  # both ends extrapolate
    world = rng.uniform(-60, 60, (5000, 3))
    local = world_to_moving_frame(knots, poses, world, t)
    ego = EgoMotion(max_extrapolation_ns=10**9)
    for stamp, pose in zip(knots, poses, strict=True):
        ego.add_odometry(int(stamp), pose[:3, 3], Rotation.from_matrix(pose[:3, :3]).as_quat())
    track = ego.track(int(t.min()), int(t.max()))
    inside = (t >= knots[0]) & (t <= knots[-1])
    back = track_points(local[inside], t[inside], track)
    assert np.abs(back - world[inside]).max() < 1e-6
    # the same interpolation as the odometry's: rotation and translation at an odd instant
    rotation, translation = interpolate_poses(knots, poses, np.array([knots[2] + 37 * MS]))
    expected = ego.pose(int(knots[2] + 37 * MS))
    assert np.allclose(rotation.as_matrix()[0], expected[:3, :3], atol=1e-12)
    assert np.allclose(translation[0], expected[:3, 3], atol=1e-9)


def test_body_twist_of_a_circle_is_speed_forward_and_yaw_rate():
    knots, poses = _turning_drive(n=12, speed=8.0, yaw_rate=0.4)
    linear, angular = body_twist(knots, poses)
    middle = slice(2, -2)
    assert np.allclose(np.linalg.norm(linear[middle, :2], axis=1), 8.0, rtol=0.01)
    assert np.all(np.abs(linear[middle, 1]) < 0.2)  # forward, not sideways
    assert np.allclose(angular[middle, 2], 0.4, rtol=0.05)
