"""How much motion compensation buys: pixel and 3D error against exact truth, with and without it.

The world is static, so ego motion is the only motion and every error is the sweep skew. Points are
placed in the world ahead of and around the vehicle, each captured at its own instant of a 100 ms
sweep while the ego drives a constant-twist arc (odometry fed to ``EgoMotion`` at 100 Hz, so the
interpolation is part of what is measured). The truth pixel of a point is where the camera sees that
world point at its exposure instant; the truth 3D position is the point in base_link at the sweep stamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.fusion.ego import EgoMotion
from mmfusion_annotate.fusion.pipeline import FusionPipeline
from mmfusion_annotate.fusion.poses import invert_pose, make_pose
from mmfusion_annotate.types import NS_PER_S, SensorSample

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

SWEEP_NS = 100_000_000


@dataclass(frozen=True)
class CompensationError:
    """Median errors over the points seen by the cameras (pixels) and over the sweep (metres)."""

    speed_mps: float
    yaw_rate: float
    pixel_with: float
    pixel_without: float
    metres_with: float
    metres_without: float
    points: int


def arc_pose(t_ns: int, speed: float, yaw_rate: float) -> np.ndarray:
    """T_world_base on a constant-twist arc (straight line when yaw_rate == 0), at the origin at t=0."""
    t = t_ns / NS_PER_S
    yaw = yaw_rate * t
    if abs(yaw_rate) < 1e-12:
        position = [speed * t, 0.0, 0.0]
    else:
        position = [speed / yaw_rate * np.sin(yaw), speed / yaw_rate * (1.0 - np.cos(yaw)), 0.0]
    return make_pose(Rotation.from_euler("z", yaw).as_matrix(), np.array(position))


def measure_compensation(
    rig: Rig, speed: float, yaw_rate: float, *, points: int = 20_000, seed: int = 0, backend: str = "cpu"
) -> CompensationError:
    """Fuse one synthetic sweep with and without compensation and compare both with the truth."""
    rng = np.random.default_rng(seed)
    lidar = rig.lidars()[0]
    ego = EgoMotion()
    for stamp in range(-SWEEP_NS, 3 * SWEEP_NS + 1, NS_PER_S // 100):
        pose = arc_pose(stamp, speed, yaw_rate)
        quat = Rotation.from_matrix(pose[:3, :3]).as_quat()
        velocity, rates = np.array([speed, 0.0, 0.0]), np.array([0.0, 0.0, yaw_rate])
        ego.add_odometry(stamp, pose[:3, 3], quat, velocity, rates)

    # world points on surfaces 6-40 m around the vehicle at the sweep stamp, 0-3 m high
    sweep_stamp = SWEEP_NS // 2
    azimuth = rng.uniform(-np.pi, np.pi, points)
    distance = rng.uniform(6.0, 40.0, points)
    local = np.stack(
        [distance * np.cos(azimuth), distance * np.sin(azimuth), rng.uniform(0.0, 3.0, points)], 1
    )
    world = (
        local @ arc_pose(sweep_stamp, speed, yaw_rate)[:3, :3].T
        + arc_pose(sweep_stamp, speed, yaw_rate)[:3, 3]
    )
    # a spinning LiDAR: capture time follows azimuth across the sweep
    t_ns = ((azimuth + np.pi) / (2 * np.pi) * SWEEP_NS).astype(np.int64)
    lidar_from_base = invert_pose(rig.sensor_to_base(lidar.name))
    measured = np.empty_like(world)
    for k, t in enumerate(t_ns):  # each point seen from where the LiDAR was at its own instant
        base_from_world = invert_pose(arc_pose(int(t), speed, yaw_rate))
        measured[k] = (lidar_from_base @ base_from_world @ np.append(world[k], 1.0))[:3]

    samples = {
        lidar.name: SensorSample(lidar.name, sweep_stamp, {"xyz": measured.astype(np.float32), "t_ns": t_ns})
    }
    cameras = rig.cameras()
    for k, camera in enumerate(cameras):  # exposures spread over the sweep, as free-running cameras are
        samples[camera.name] = SensorSample(camera.name, int((k + 0.5) * SWEEP_NS / len(cameras)), {})

    truth_ref = (invert_pose(arc_pose(sweep_stamp, speed, yaw_rate)) @ np.c_[world, np.ones(points)].T).T[
        :, :3
    ]
    errors = {}
    for compensate in (True, False):
        config = FusionConfig(backend=backend, motion_compensation=compensate, zbuffer_neighbourhood=0)
        frame = FusionPipeline(rig, config).fuse(samples, ego)
        pixel = []
        for camera in cameras:
            view = frame.cameras[camera.name]
            cam_from_world = invert_pose(
                arc_pose(view.exposure_stamp, speed, yaw_rate) @ rig.sensor_to_base(camera.name)
            )
            truth_cam = world[view.index] @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
            truth_uv, _, ok = camera.camera_model.project(truth_cam)
            pixel.append(np.linalg.norm(view.uv[ok] - truth_uv[ok], axis=1))
        positions = frame.sweep.xyz_deskewed if compensate else frame.sweep.xyz
        errors[compensate] = (
            float(np.median(np.concatenate(pixel))),
            float(np.median(np.linalg.norm(positions - truth_ref, axis=1))),
        )
    return CompensationError(
        speed, yaw_rate, errors[True][0], errors[False][0], errors[True][1], errors[False][1], points
    )
