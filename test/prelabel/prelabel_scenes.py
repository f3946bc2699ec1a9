"""Constructed point clouds for pre-label tests: a ramp-shaped ground and box surfaces on it."""

from __future__ import annotations

import math

import numpy as np

RAMP_START_M = 15.0
RAMP_SLOPE_DEG = 8.0


def ground_height(x: np.ndarray) -> np.ndarray:
    """Flat at z = -1.8 (sensor 1.8 m up) until 15 m ahead, then an 8 degree up-slope."""
    return -1.8 + np.maximum(x - RAMP_START_M, 0.0) * math.tan(math.radians(RAMP_SLOPE_DEG))


def ground_points(rng: np.random.Generator, n: int = 40000, radius: float = 60.0) -> np.ndarray:
    r = np.sqrt(rng.uniform(4.0, radius**2, n))
    a = rng.uniform(-math.pi, math.pi, n)
    x, y = r * np.cos(a), r * np.sin(a)
    return np.stack([x, y, ground_height(x) + rng.normal(0, 0.02, n)], axis=1)


def box_surface(
    rng: np.random.Generator, center_xy, size, yaw: float, n: int = 600, sensor=(0.0, 0.0)
) -> np.ndarray:
    """Points on the two box sides facing the sensor (what a LiDAR sees), standing on the ramp."""
    length, width, height = size
    c, s = math.cos(yaw), math.sin(yaw)
    rel = np.array(sensor) - np.array(center_xy)
    face_u = math.copysign(length / 2, rel[0] * c + rel[1] * s)
    face_v = math.copysign(width / 2, -rel[0] * s + rel[1] * c)
    half = n // 2
    u = np.concatenate([np.full(half, face_u), rng.uniform(-length / 2, length / 2, n - half)])
    v = np.concatenate([rng.uniform(-width / 2, width / 2, half), np.full(n - half, face_v)])
    x = center_xy[0] + c * u - s * v
    y = center_xy[1] + s * u + c * v
    z = ground_height(x) + rng.uniform(0.05, height, n)
    return np.stack([x, y, z], axis=1)
