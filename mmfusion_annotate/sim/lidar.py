"""Spinning multi-beam LiDAR: ray casting per azimuth column, at that column's own time.

A real spinning LiDAR fires one column after another while the car (and everything else) moves, so
the points of one sweep are each in the sensor frame *at their own time*: the sweep is skewed by
ego motion. Casting every column from the ego pose at the column's time, against the boxes at that
time, reproduces the skew exactly; each point carries its absolute time ``t_ns`` and the id of the
object it hit (0 for the ground).
"""

from __future__ import annotations

import math

import numpy as np

from mmfusion_annotate.rig import Sensor
from mmfusion_annotate.sim.config import NoiseConfig, TimingConfig
from mmfusion_annotate.sim.ego import ScenarioEgo, rng_for
from mmfusion_annotate.sim.raycast import lidar_sweep
from mmfusion_annotate.sim.world import CLASS_NAMES, CLASS_STYLES, GROUND_REFLECTIVITY, World
from mmfusion_annotate.types import Stamp

_AZIMUTH_MARGIN = math.radians(1.5)
_CORNER_SIGNS = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64)
_CLASS_REFLECTIVITY = np.array([CLASS_STYLES[c].reflectivity for c in CLASS_NAMES], dtype=np.float32)


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles to [-pi, pi] (rint is several times faster than a floating-point modulo)."""
    return angle - (2 * np.pi) * np.rint(angle / (2 * np.pi))


class LidarModel:
    """Ray caster of one rig LiDAR (columns spin clockwise from ``timing.lidar_start_azimuth_deg``)."""

    def __init__(
        self,
        sensor: Sensor,
        T_base_sensor: np.ndarray,
        world: World,
        ego: ScenarioEgo,
        timing: TimingConfig,
        noise: NoiseConfig,
        seed: int,
    ) -> None:
        spec = sensor.lidar
        assert spec is not None
        self.sensor = sensor
        self._world, self._ego, self._noise, self._seed = world, ego, noise, seed
        self.columns = int(round(360.0 / spec.azimuth_resolution_deg))
        self.period_ns = sensor.period_ns
        self.min_range, self.max_range = spec.min_range_m, spec.max_range_m
        elevation = np.radians(np.sort(np.asarray(spec.vertical_angles_deg, dtype=np.float64)))
        azimuth = (
            math.radians(timing.lidar_start_azimuth_deg) - 2 * np.pi * np.arange(self.columns) / self.columns
        )
        ce = np.cos(elevation)
        self._dirs = np.stack(
            [
                np.cos(azimuth)[:, None] * ce,
                np.sin(azimuth)[:, None] * ce,
                np.broadcast_to(np.sin(elevation), (self.columns, len(elevation))),
            ],
            axis=-1,
        )  # (columns, beams, 3) in the lidar frame
        R = T_base_sensor[:3, :3]
        self._dirs_base = self._dirs @ R.T
        self._origin_base = T_base_sensor[:3, 3].copy()
        flat = R @ np.stack([np.cos(azimuth), np.sin(azimuth), np.zeros_like(azimuth)])
        self._azimuth_base = np.arctan2(flat[1], flat[0])
        self.column_offsets_ns = np.round(np.arange(self.columns) * (self.period_ns / self.columns)).astype(
            np.int64
        )

    def sweep(self, start_ns: Stamp, index: int) -> dict[str, np.ndarray]:
        """One sweep starting at ``start_ns``: xyz (lidar frame at each point's time), intensity,
        ring, t_ns, object_id."""
        t_col = start_ns + self.column_offsets_ns
        ego = self._ego.state(t_col)
        pose = np.ascontiguousarray(np.stack([ego.position[:, 0], ego.position[:, 1], ego.yaw], axis=-1))
        near, row_ok = self._candidates(start_ns, pose)
        world = self._world
        boxes = world.boxes(t_col, rows=near)
        noise = self._noise
        xyz, intensity, column, beam, object_id = lidar_sweep(
            pose,
            self._origin_base,
            self._dirs_base,
            self._dirs,
            np.array([self.min_range, self.max_range]),
            boxes.center,
            boxes.yaw,
            world.sizes[near] / 2,
            row_ok,
            _CLASS_REFLECTIVITY[world.class_index[near]],
            world.ids[near],
            world.road.params,
            GROUND_REFLECTIVITY,
            np.array([noise.lidar_dropout, noise.lidar_range_m, noise.lidar_intensity]),
            rng_for(self._seed, self.sensor.name, index),
        )
        return {
            "xyz": xyz,
            "intensity": intensity,
            "ring": beam,
            "t_ns": t_col[column],
            "object_id": object_id,
        }

    def _candidates(self, start_ns: Stamp, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objects in range and, per object, the columns whose rays may hit it (azimuth over the sweep);
        ``pose`` (columns, 3) is the ego x, y, yaw per column."""
        world = self._world
        ends = np.array([start_ns, start_ns + self.period_ns], dtype=np.int64)
        boxes = world.boxes(ends)
        yaw = pose[:, 2]
        c, s = np.cos(yaw[[0, -1]]), np.sin(yaw[[0, -1]])
        ox, oy = self._origin_base[0], self._origin_base[1]
        o = pose[[0, -1], :2] + np.stack([c * ox - s * oy, s * ox + c * oy], axis=-1)  # sensor at start/end
        rel = boxes.center[..., :2] - o[None]  # (K, 2, 2)
        dist = np.linalg.norm(rel, axis=-1).min(axis=1)
        near = np.nonzero(dist - world.radius <= self.max_range)[0]
        half = world.sizes[near, None, None, :2] / 2 * _CORNER_SIGNS[None, None]  # (Kn, 1, 4, 2)
        c, s = np.cos(boxes.yaw[near]), np.sin(boxes.yaw[near])  # (Kn, 2)
        cx = rel[near, :, None, 0] + c[..., None] * half[..., 0] - s[..., None] * half[..., 1]
        cy = rel[near, :, None, 1] + s[..., None] * half[..., 0] + c[..., None] * half[..., 1]
        mid = np.arctan2(rel[near, 0, 1], rel[near, 0, 0])  # (Kn,)
        spread = _wrap(np.arctan2(cy, cx).reshape(len(near), 8) - mid[:, None])  # 2 instants x 4 corners
        lo = spread.min(axis=1) - _AZIMUTH_MARGIN
        hi = spread.max(axis=1) + _AZIMUTH_MARGIN
        offset = _wrap((yaw + self._azimuth_base)[None, :] - mid[:, None])  # (Kn, columns)
        row_ok = (offset >= lo[:, None]) & (offset <= hi[:, None])
        row_ok |= (dist[near] <= world.radius[near] + 0.5)[
            :, None
        ]  # the sensor is (almost) inside: all columns
        return near, row_ok
