"""PandaSet calibration -> the rig a car with these sensors would carry (``Rig``, written as rig.yaml).

PandaSet gives poses, not a rig: one LiDAR pose per frame (``lidar/poses.json``, the ego frame: x right,
y forward, z up, origin above the road) and one pose per camera and frame, each at its own timestamp.

- ``base_link`` follows REP 103 (x forward, y left, z up) on the road under the pose origin; the road
  height is measured from the points labelled Road (``ground_offset``).
- ``pandar64`` and ``pandargt`` keep PandaSet's axes (a yaw of -90 degrees from base_link) with their origin
  ``LIDAR_HEAD_ABOVE_POSE_M`` above the pose origin, where the sensor heads are. PandaSet has no
  separate PandarGT extrinsic (both LiDARs' points come through the one pose), so both frames coincide.
- Each camera hangs from ``pandar64`` at the constant ``T_lidar_cam``: the median over frames of the
  camera pose relative to the LiDAR pose *at the camera's own timestamp* (interpolated). Pairing poses
  of the same frame index instead would fold the ego motion between the two stamps into the extrinsic.
  Cameras are pinholes without distortion (``intrinsics.json`` has none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.datasets.pandaset import LIDARS, Camera, PandaSetSequence
from mmfusion_annotate.datasets.poses import interpolate_poses
from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.fusion.poses import invert_pose, make_pose
from mmfusion_annotate.rig import Rig, rig_from_dict

ROAD_CLASS = 7
"""``Road`` in ``annotations/semseg/classes.json``."""
LIDAR_HEAD_ABOVE_POSE_M = 1.8
"""Height of the LiDAR heads above PandaSet's pose origin: only from there does the Pandar64's top beam
(+15 degrees in its datasheet) read one constant elevation on walls from 5 m to 40 m away, and the
PandarGT's top edge one constant elevation too."""
IMAGE_WH = (1920, 1080)
BASE_FROM_PANDASET = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
"""Rotation taking PandaSet ego axes (x right, y forward, z up) to REP 103 (x forward, y left, z up)."""
LIDAR_SPECS = {
    # Pandar64 datasheet: 64 channels from -25 to +15 degrees (denser near the horizon than this even
    # spacing), 0.2 degree azimuth steps at 10 Hz, 0.3 to 200 m.
    "pandar64": {"beams": 64, "vertical_range_deg": [-25.0, 15.0], "azimuth_resolution_deg": 0.2,
                 "min_range_m": 0.3, "max_range_m": 200.0},
    # PandarGT is solid state (60 x 20 degree field of view, front only): the block only bounds its field
    # of view, as the points show it from the head (top and bottom edges).
    "pandargt": {"beams": 150, "vertical_range_deg": [-13.0, 7.0], "azimuth_resolution_deg": 0.1,
                 "min_range_m": 0.5, "max_range_m": 300.0},
}  # fmt: skip


@dataclass(frozen=True)
class ExtrinsicSpread:
    """How far the per-frame ``T_lidar_cam`` stray from the median: metres and radians."""

    frames: int
    max_m: float
    p95_m: float
    max_rad: float
    p95_rad: float


def camera_extrinsic(
    camera: Camera, stamps_ns: np.ndarray, lidar_poses: np.ndarray
) -> tuple[np.ndarray, ExtrinsicSpread]:
    """Median ``T_pose_cam`` over the frames whose camera stamp lies inside the LiDAR stamps, with its
    spread (rotation median taken as rotation vectors about the first frame's, all close to it)."""
    inside = np.flatnonzero((camera.stamps_ns >= stamps_ns[0]) & (camera.stamps_ns <= stamps_ns[-1]))
    if len(inside) == 0:
        raise ConfigError(f"camera '{camera.name}': no timestamp inside the LiDAR's, cannot place it")
    rotation, translation = interpolate_poses(stamps_ns, lidar_poses, camera.stamps_ns[inside])
    cam_rotation = Rotation.from_matrix(camera.poses[inside, :3, :3])
    relative_rotation = rotation.inv() * cam_rotation
    relative_translation = rotation.inv().apply(camera.poses[inside, :3, 3] - translation)
    position = np.median(relative_translation, axis=0)
    reference = relative_rotation[0]
    median = reference * Rotation.from_rotvec(np.median((reference.inv() * relative_rotation).as_rotvec(), 0))
    offsets = np.linalg.norm(relative_translation - position, axis=1)
    angles = (median.inv() * relative_rotation).magnitude()
    spread = ExtrinsicSpread(
        len(inside),
        float(offsets.max()),
        float(np.percentile(offsets, 95)),
        float(angles.max()),
        float(np.percentile(angles, 95)),
    )
    return make_pose(median.as_matrix(), position), spread


def base_from_pose(road_z: float) -> np.ndarray:
    """T_base_pose: PandaSet's ego frame in base_link (on the road, REP 103 axes)."""
    return make_pose(BASE_FROM_PANDASET, np.array([0.0, 0.0, -road_z]))


def pose_from_lidar() -> np.ndarray:
    """T_pose_lidar: the LiDAR frames in PandaSet's ego frame (same axes, at the sensor heads)."""
    return make_pose(np.eye(3), np.array([0.0, 0.0, LIDAR_HEAD_ABOVE_POSE_M]))


def _extrinsic(parent: str, T: np.ndarray) -> dict:
    return {"parent": parent, "translation": T[:3, 3].tolist(), "rotation_matrix": T[:3, :3].tolist()}


def pandaset_rig(
    sequence: PandaSetSequence, road_z: float, image_wh: dict[str, tuple[int, int]] | None = None
) -> tuple[Rig, dict[str, ExtrinsicSpread]]:
    """The rig of ``sequence`` for a road ``road_z`` below the pose origin, and each camera's spread.

    ``image_wh``: camera -> (width, height) read from its images (``IMAGE_WH`` for the others).
    """
    lidar_in_base = base_from_pose(road_z) @ pose_from_lidar()
    sensors: list[dict] = [
        {
            "name": name,
            "kind": "lidar",
            "topic": f"/{name}/points",
            "frame_id": name,
            "rate_hz": 10.0,
            "rate_tolerance": 0.02,
            "extrinsic": _extrinsic("base_link", lidar_in_base),
            "lidar": LIDAR_SPECS[name],
        }
        for name in LIDARS
    ]
    spreads = {}
    lidar_from_pose = invert_pose(pose_from_lidar())
    for name, camera in sequence.cameras.items():
        T_pose_cam, spreads[name] = camera_extrinsic(camera, sequence.stamps_ns, sequence.lidar_poses)
        width, height = (image_wh or {}).get(name, IMAGE_WH)
        sensors.append(
            {
                "name": name,
                "kind": "camera",
                "topic": f"/{name}/image_raw/compressed",
                "frame_id": f"{name}_optical",
                "rate_hz": 10.0,
                "rate_tolerance": 0.02,
                "extrinsic": _extrinsic(LIDARS[0], lidar_from_pose @ T_pose_cam),
                "camera": {
                    "width": width,
                    "height": height,
                    "K": camera.K.ravel().tolist(),
                    "distortion_model": "plumb_bob",
                    "D": [0.0] * 5,
                    "compressed": True,
                },
            }
        )
    sensors.append(
        {"name": "odometry", "kind": "odometry", "topic": "/odom", "frame_id": "base_link", "rate_hz": 10.0}
    )
    rig = rig_from_dict({"name": f"pandaset_{sequence.name}", "sensors": sensors}, source=str(sequence.root))
    return rig, spreads
