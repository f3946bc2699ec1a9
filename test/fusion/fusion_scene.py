"""A small rig (one camera per distortion model, a LiDAR, a radar) and a truth scene built from geometry.

The scene is a car-sized box on a flat ground: LiDAR points come from ray casting from the LiDAR,
the image from ray casting from the camera, so which points the camera cannot see is known exactly.
"""

from __future__ import annotations

import numpy as np

from mmfusion_annotate.rig import rig_from_dict

CAR_RGB = np.array([200, 30, 30], dtype=np.uint8)
GROUND_RGB = np.array([110, 110, 110], dtype=np.uint8)
SKY_RGB = np.array([120, 170, 230], dtype=np.uint8)
WALL_RGB = np.array([40, 140, 60], dtype=np.uint8)
# the car: axis-aligned box in base_link, 12-16.5 m ahead, 1.9 m wide, 1.4 m high; a wall behind it
CAR_MIN = np.array([12.0, -0.95, 0.0])
CAR_MAX = np.array([16.5, 0.95, 1.4])
WALL_MIN = np.array([30.0, -8.0, 0.0])
WALL_MAX = np.array([30.6, 8.0, 4.0])
LIDAR_XYZ = [0.0, 0.5, 2.4]  # roof LiDAR, higher than the cameras and off-centre: parallax


def _camera(name, yaw_deg, model, D, width=800, height=450, f=600.0):
    return {
        "name": name,
        "kind": "camera",
        "topic": f"/{name}/image_raw",
        "frame_id": f"{name}_optical",
        "rate_hz": 12.0,
        "extrinsic": {
            "parent": "base_link",
            "translation": [1.5, 0.0, 1.5],
            "rpy_deg": [-90.0, 0.0, yaw_deg - 90],
        },
        "camera": {
            "width": width,
            "height": height,
            "K": [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0],
            "distortion_model": model,
            "D": D,
        },
    }


def small_rig():
    """front: plumb_bob, left: rational_polynomial, right: equidistant fisheye; LiDAR on the roof."""
    return rig_from_dict(
        {
            "name": "test_small",
            "sensors": [
                _camera("front", 0.0, "plumb_bob", [-0.05, 0.01, 0.001, -0.001, 0.0]),
                _camera(
                    "left", 70.0, "rational_polynomial", [0.1, -0.02, 0.0, 0.0, 0.001, 0.12, -0.01, 0.002]
                ),
                _camera("right", -80.0, "equidistant", [0.02, -0.01, 0.002, -0.0005], f=300.0),
                {
                    "name": "lidar",
                    "kind": "lidar",
                    "topic": "/lidar/points",
                    "frame_id": "lidar",
                    "rate_hz": 10.0,
                    "extrinsic": {"parent": "base_link", "translation": LIDAR_XYZ},
                    "lidar": {"beams": 64, "vertical_range_deg": [-25.0, 3.0], "azimuth_resolution_deg": 0.2},
                },
                {
                    "name": "radar",
                    "kind": "radar",
                    "topic": "/radar/detections",
                    "frame_id": "radar",
                    "rate_hz": 13.0,
                    "extrinsic": {"parent": "base_link", "translation": [3.5, 0.0, 0.5]},
                    "radar": {"hfov_deg": 90.0, "vfov_deg": 14.0},
                },
            ],
        }
    )


def ray_box(origin: np.ndarray, directions: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance along each unit ray to the box (inf where it misses), slab method."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo - origin) / directions
        t2 = (hi - origin) / directions
    near = np.nanmax(np.minimum(t1, t2), axis=1)
    far = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((far >= near) & (far > 0), np.maximum(near, 0.0), np.inf)


def ray_ground(origin: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Distance along each ray to the ground plane z = 0 (inf when it points up)."""
    with np.errstate(divide="ignore"):
        t = -origin[2] / directions[:, 2]
    return np.where(directions[:, 2] < -1e-9, t, np.inf)


def scan_scene(beams=64, azimuth_steps=1800, max_range=80.0):
    """LiDAR points in the LiDAR frame and what each one hit: 0 ground, 1 car, 2 wall."""
    azimuth = np.repeat(np.linspace(-np.pi, np.pi, azimuth_steps, endpoint=False), beams)
    elevation = np.tile(np.radians(np.linspace(-25.0, 3.0, beams)), azimuth_steps)
    directions = np.stack(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)], axis=1
    )
    origin = np.array(LIDAR_XYZ)
    hits = np.stack(
        [
            ray_ground(origin, directions),
            ray_box(origin, directions, CAR_MIN, CAR_MAX),
            ray_box(origin, directions, WALL_MIN, WALL_MAX),
        ],
        axis=1,
    )
    label = np.argmin(hits, axis=1)
    distance = hits[np.arange(len(hits)), label]
    keep = distance < max_range
    xyz = directions[keep] * distance[keep, None]  # the LiDAR frame is base_link shifted to LIDAR_XYZ
    return xyz.astype(np.float32), label[keep]


def render(rig, camera_name):
    """The camera's image by ray casting: car red, wall green, ground grey, sky blue."""
    sensor = rig.sensor(camera_name)
    model = sensor.camera
    v, u = np.mgrid[0 : model.height, 0 : model.width]
    rays_cam = model.pixel_to_ray(np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64))
    base_from_cam = rig.sensor_to_base(camera_name)
    rays = rays_cam @ base_from_cam[:3, :3].T
    origin = base_from_cam[:3, 3]
    ok = np.isfinite(rays).all(axis=1)
    rays = np.where(ok[:, None], rays, [0.0, 0.0, 1.0])
    hits = np.stack(
        [
            ray_ground(origin, rays),
            ray_box(origin, rays, CAR_MIN, CAR_MAX),
            ray_box(origin, rays, WALL_MIN, WALL_MAX),
        ],
        axis=1,
    )
    palette = np.stack([GROUND_RGB, CAR_RGB, WALL_RGB, SKY_RGB])
    image = palette[np.where(np.isfinite(hits).any(axis=1), np.argmin(hits, axis=1), 3)]
    return image.reshape(model.height, model.width, 3).astype(np.uint8)


def hidden_from(rig, camera_name, points_base: np.ndarray) -> np.ndarray:
    """Truth occlusion: the camera's ray to the point (base_link) meets the car first."""
    origin = rig.sensor_to_base(camera_name)[:3, 3]
    offset = points_base - origin
    distance = np.linalg.norm(offset, axis=1)
    car = ray_box(origin, offset / distance[:, None], CAR_MIN, CAR_MAX)
    return car < distance - 0.05
