"""Frame-tree look-ups: inverses, chains, conventions (tf2's fixed-axis roll/pitch/yaw)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import RigError
from mmfusion_annotate.rig import default_rig_path, load_rig, rig_from_dict


@pytest.fixture(scope="module")
def rig():
    return load_rig(default_rig_path())


def test_inverse_and_identity(rig) -> None:
    frames = rig.frames()
    assert frames[0] == "base_link" and len(frames) == 14  # odometry lives in base_link itself
    for a, b in itertools.combinations(frames, 2):
        np.testing.assert_allclose(rig.transform(a, b) @ rig.transform(b, a), np.eye(4), atol=1e-12)
    np.testing.assert_array_equal(rig.transform("lidar_top", "lidar_top"), np.eye(4))


def test_chains_compose(rig) -> None:
    frames = rig.frames()
    for a, b, c in itertools.islice(itertools.permutations(frames, 3), 0, None, 7):
        np.testing.assert_allclose(rig.transform(a, c), rig.transform(a, b) @ rig.transform(b, c), atol=1e-12)


def test_lookups_are_rigid_transforms(rig) -> None:
    T = rig.transform("cam_back_left_optical", "radar_front_right")
    assert T.dtype == np.float64 and T.shape == (4, 4)
    np.testing.assert_allclose(T[:3, :3].T @ T[:3, :3], np.eye(3), atol=1e-12)
    np.testing.assert_array_equal(T[3], [0, 0, 0, 1])


def test_known_values(rig) -> None:
    # the roof LiDAR origin in base_link, and a point 10 m ahead of the car seen from the front camera
    np.testing.assert_allclose(rig.transform("base_link", "lidar_top")[:3, 3], [0.94, 0.0, 1.84])
    ahead = rig.transform("cam_front_optical", "base_link") @ np.array([11.70, 0.016, 1.51, 1.0])
    np.testing.assert_allclose(ahead[:3], [0.0, 0.0, 10.0], atol=1e-12)
    left = rig.transform("radar_front_left", "base_link") @ np.array([2.42, 10.80, 0.78, 1.0])
    angle = np.degrees(np.arctan2(left[1], left[0]))
    assert angle == pytest.approx(10.0)  # radar_front_left is yawed 80 deg; +y of base is 10 deg to its left


def test_rpy_is_fixed_axis_xyz_like_tf2() -> None:
    doc: dict[str, Any] = {
        "name": "t",
        "sensors": [
            {
                "name": "imu",
                "kind": "imu",
                "topic": "/imu",
                "frame_id": "imu_link",
                "rate_hz": 100.0,
                "extrinsic": {"translation": [1.0, 2.0, 3.0], "rpy": [0.1, -0.2, 0.3]},
            },
        ],
    }
    T = rig_from_dict(doc).transform("base_link", "imu_link")
    Rz, Ry, Rx = (Rotation.from_rotvec(v).as_matrix() for v in ([0, 0, 0.3], [0, -0.2, 0], [0.1, 0, 0]))
    np.testing.assert_allclose(T[:3, :3], Rz @ Ry @ Rx, atol=1e-15)
    np.testing.assert_array_equal(T[:3, 3], [1.0, 2.0, 3.0])


def test_intermediate_frames_chain(rig_doc: dict[str, Any]) -> None:
    rig_doc["frames"] = [
        {"name": "roof", "extrinsic": {"translation": [1.0, 0.0, 1.5], "rpy_deg": [0.0, 0.0, 90.0]}},
        {"name": "roof_bar", "extrinsic": {"parent": "roof", "translation": [0.0, 0.5, 0.1]}},
    ]
    lidar = next(s for s in rig_doc["sensors"] if s["name"] == "lidar_top")
    lidar["extrinsic"] = {"parent": "roof_bar", "translation": [0.2, 0.0, 0.0]}
    rig = rig_from_dict(rig_doc)
    assert rig.sensor("lidar_top").parent_frame == "roof_bar"
    # roof yawed 90 deg: roof_bar +0.5 along roof y = base -x; lidar +0.2 along roof x = base +y
    np.testing.assert_allclose(rig.transform("base_link", "lidar_top")[:3, 3], [0.5, 0.2, 1.6], atol=1e-12)
    np.testing.assert_allclose(
        rig.transform("roof", "lidar_top"),
        rig.transform("roof", "roof_bar") @ rig.transform("roof_bar", "lidar_top"),
    )


def test_unknown_frame(rig) -> None:
    with pytest.raises(RigError, match="unknown frame 'map'"):
        rig.transform("map", "base_link")
