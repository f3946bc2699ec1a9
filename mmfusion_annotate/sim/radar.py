"""Automotive radar: a few scatterers per object, Doppler relative to the moving radar, noise, misses
and false alarms.

Scatterers are drawn on the faces of an object's box that face the radar (hidden ones, behind other
boxes, are dropped). The range rate is the relative velocity of the scatterer and the radar along
the line of sight, with both rigid motions (ego yaw rate at the radar's lever arm, object yaw rate
at the scatterer) included; false alarms are static clutter (they move with the world).
"""

from __future__ import annotations

import math

import numpy as np

from mmfusion_annotate.rig import Sensor
from mmfusion_annotate.sim.config import NoiseConfig
from mmfusion_annotate.sim.ego import ScenarioEgo, rng_for
from mmfusion_annotate.sim.geometry import ray_boxes, yaw_matrix
from mmfusion_annotate.sim.world import CLASS_NAMES, CLASS_STYLES, World
from mmfusion_annotate.types import Stamp

_FIELDS = ("range", "azimuth", "elevation", "range_rate", "rcs")


def _cross_z(omega: np.ndarray, r: np.ndarray) -> np.ndarray:
    """omega (..., ) about z cross r (..., 3)."""
    return np.stack([-omega * r[..., 1], omega * r[..., 0], np.zeros_like(omega * r[..., 0])], axis=-1)


class RadarModel:
    """Detections of one rig radar."""

    def __init__(
        self,
        sensor: Sensor,
        T_base_sensor: np.ndarray,
        world: World,
        ego: ScenarioEgo,
        noise: NoiseConfig,
        seed: int,
    ) -> None:
        spec = sensor.radar
        assert spec is not None
        self.sensor, self.spec = sensor, spec
        self._world, self._ego, self._noise, self._seed = world, ego, noise, seed
        self._R = T_base_sensor[:3, :3]
        self._t = T_base_sensor[:3, 3].copy()

    def pose_world(self, t_ns: Stamp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(R_world_radar, origin, velocity of the radar origin) in the world frame."""
        st = self._ego.state(t_ns)
        yaw = float(st.yaw[0])
        Rz = yaw_matrix(yaw)
        lever = Rz @ self._t
        velocity = st.velocity[0] + _cross_z(st.yaw_rate, lever[None])[0]
        return Rz @ self._R, st.position[0] + lever, velocity

    def scan(self, t_ns: Stamp, index: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Detections at ``t_ns`` (payload arrays, radar frame) and each one's object id
        (0: false alarm)."""
        rng = rng_for(self._seed, self.sensor.name, index)
        noise, spec, world = self._noise, self.spec, self._world
        R, origin, v_radar = self.pose_world(t_ns)
        boxes = world.boxes(np.array([t_ns], dtype=np.int64))
        centers = boxes.center[:, 0]
        dist = np.linalg.norm(centers - origin, axis=1)
        near = np.nonzero(
            (dist - world.radius <= spec.max_range_m) & (dist + world.radius >= spec.min_range_m)
        )[0]
        local_c = (centers[near] - origin) @ R
        angular = np.arcsin(np.clip(world.radius[near] / np.maximum(dist[near], 1e-9), 0.0, 1.0))
        in_view = (
            np.abs(np.arctan2(local_c[:, 1], local_c[:, 0])) <= math.radians(spec.hfov_deg) / 2 + angular
        )
        points, owners, rcs = [], [], []
        for j in np.nonzero(in_view)[0]:
            k = near[j]
            style = CLASS_STYLES[CLASS_NAMES[world.class_index[k]]]
            pts = _facing_points(
                centers[k], float(boxes.yaw[k, 0]), world.sizes[k], origin, style.scatterers, rng
            )
            points.append(pts)
            owners.append(np.full(len(pts), j))
            rcs.append(np.full(len(pts), style.rcs_dbsm - 10 * math.log10(style.scatterers)))
        pts_w = np.concatenate(points) if points else np.zeros((0, 3))
        owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        rcs_true = np.concatenate(rcs) if rcs else np.zeros(0)
        seen = _unoccluded(origin, pts_w, owner, centers[near], boxes.yaw[near, 0], world.sizes[near] / 2)
        pts_w, owner, rcs_true = pts_w[seen], owner[seen], rcs_true[seen]
        k_of = near[owner]
        vel_w = boxes.velocity[k_of, 0] + _cross_z(boxes.yaw_rate[k_of, 0], pts_w - centers[k_of])
        obj = world.ids[k_of].astype(np.int32)
        local = (pts_w - origin) @ R
        rng_true = np.linalg.norm(local, axis=1)
        az = np.arctan2(local[:, 1], local[:, 0])
        el = np.arcsin(np.clip(local[:, 2] / np.maximum(rng_true, 1e-9), -1, 1))
        los = (pts_w - origin) / np.maximum(rng_true, 1e-9)[:, None]
        rr = np.einsum("ij,ij->i", vel_w - v_radar, los)
        in_fov = (
            (np.abs(az) <= math.radians(spec.hfov_deg) / 2)
            & (np.abs(el) <= math.radians(spec.vfov_deg) / 2)
            & (rng_true >= spec.min_range_m)
            & (rng_true <= spec.max_range_m)
        )
        p_detect = noise.radar_detection_probability * (1.0 - 0.3 * rng_true / spec.max_range_m)
        detected = in_fov & (rng.random(len(rng_true)) < p_detect)
        rng_true, az, el, rr, rcs_true, obj = (a[detected] for a in (rng_true, az, el, rr, rcs_true, obj))
        # false alarms: static clutter uniformly inside the field of view
        n_false = int(rng.poisson(noise.radar_false_alarms_per_scan))
        fa_range = rng.uniform(spec.min_range_m, spec.max_range_m, n_false)
        fa_az = rng.uniform(-1, 1, n_false) * math.radians(spec.hfov_deg) / 2
        fa_el = rng.uniform(-1, 1, n_false) * math.radians(spec.vfov_deg) / 2
        fa_los = R @ np.stack([np.cos(fa_el) * np.cos(fa_az), np.cos(fa_el) * np.sin(fa_az), np.sin(fa_el)])
        fa_rr = -(v_radar @ fa_los)
        rng_true = np.concatenate([rng_true, fa_range])
        az, el = np.concatenate([az, fa_az]), np.concatenate([el, fa_el])
        rr = np.concatenate([rr, fa_rr])
        rcs_true = np.concatenate([rcs_true, rng.uniform(-15.0, 0.0, n_false)])
        obj = np.concatenate([obj, np.zeros(n_false, np.int32)])
        n = len(rng_true)
        measured = {
            "range": rng_true + rng.normal(0, noise.radar_range_m, n),
            "azimuth": az + rng.normal(0, math.radians(noise.radar_azimuth_deg), n),
            "elevation": el + rng.normal(0, math.radians(noise.radar_elevation_deg), n),
            "range_rate": rr + rng.normal(0, noise.radar_range_rate_mps, n),
            "rcs": rcs_true + rng.normal(0, noise.radar_rcs_dbsm, n),
        }
        order = np.argsort(measured["azimuth"], kind="stable")
        payload = {k: v[order].astype(np.float32) for k, v in measured.items()}
        r, a, e = payload["range"], payload["azimuth"], payload["elevation"]
        payload["xyz"] = np.stack(
            [r * np.cos(e) * np.cos(a), r * np.cos(e) * np.sin(a), r * np.sin(e)], axis=1
        )
        return {"xyz": payload["xyz"], **{k: payload[k] for k in _FIELDS}}, obj[order]


def _unoccluded(
    origin: np.ndarray,
    pts: np.ndarray,
    owner: np.ndarray,
    centers: np.ndarray,
    yaw: np.ndarray,
    half: np.ndarray,
) -> np.ndarray:
    """Per scatterer: no box other than its own lies between the radar and it."""
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    d = pts - origin
    length = np.linalg.norm(d, axis=1)
    t, _ = ray_boxes(origin, (d / length[:, None])[:, None, :], centers[None], yaw[None], half[None])
    t[np.arange(len(pts)), owner] = np.inf
    return t.min(axis=1) >= length - 0.05


def _facing_points(
    center: np.ndarray, yaw: float, size: np.ndarray, eye: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` random points on the vertical faces of a box that face ``eye`` (area-weighted)."""
    c, s = math.cos(yaw), math.sin(yaw)
    rel = eye - center
    eye_local = np.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1]])
    half = np.asarray(size) / 2
    faces = [(axis, sign) for axis in (0, 1) for sign in (-1.0, 1.0) if sign * eye_local[axis] > half[axis]]
    if not faces:
        return np.zeros((0, 3))
    areas = np.array([2 * half[1 - axis] for axis, _ in faces])
    pick = rng.choice(len(faces), size=count, p=areas / areas.sum())
    local = np.zeros((count, 3))
    for i, f in enumerate(pick):
        axis, sign = faces[f]
        local[i, axis] = sign * half[axis]
        local[i, 1 - axis] = rng.uniform(-1, 1) * half[1 - axis]
        local[i, 2] = rng.uniform(-0.5, 0.3) * half[2]
    return local @ yaw_matrix(yaw).T + center
