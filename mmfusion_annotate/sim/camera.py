"""Camera rendering by casting each pixel's own ray (``CameraModel.pixel_to_ray``) into the scene.

Casting the lens' rays gives its distortion and correct occlusion for free: every pixel shows the
nearest of ground (road, markings) and boxes (per-class colour, shaded by face), or sky. Rays are cast
on a grid ``render.scale`` times the image size and the result is upsampled to full size; the
object-id buffer of the same cast yields each object's visible 2D box and occlusion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numba
import numpy as np

from mmfusion_annotate.rig import Sensor
from mmfusion_annotate.sim.config import RenderConfig
from mmfusion_annotate.sim.ego import EgoMotion
from mmfusion_annotate.sim.geometry import box_corners, yaw_matrix
from mmfusion_annotate.sim.raycast import cast
from mmfusion_annotate.sim.world import CLASS_NAMES, CLASS_STYLES, GROUND_COLORS, World, material_at
from mmfusion_annotate.types import Stamp

CLASS_COLORS = np.array([CLASS_STYLES[c].color for c in CLASS_NAMES], dtype=np.float32)
SKY_HORIZON = np.array([200, 220, 245], dtype=np.float32)
SKY_ZENITH = np.array([110, 150, 215], dtype=np.float32)
SUN_WORLD = np.array([0.35, 0.25, 0.90]) / np.linalg.norm([0.35, 0.25, 0.90])
AMBIENT = 0.45
_FACE_SAMPLES = 5


@dataclass(frozen=True)
class VisibleBox:
    """An object's visible 2D box in full-resolution pixels [x0, y0, x1, y1) and how much of it is hidden."""

    object_id: int
    cls: str
    box: tuple[float, float, float, float]
    visible_pixels: int
    occlusion: float
    """Fraction of the object's in-image silhouette hidden behind nearer objects."""
    truncation: float
    """Fraction of the object's camera-facing surface outside the image."""


@dataclass(frozen=True)
class Rendered:
    image: np.ndarray
    """RGB uint8 at the camera's full resolution."""
    object_ids: np.ndarray
    """Object id per internal pixel (0: ground or sky), shape (h, w) at the render scale."""
    boxes: tuple[VisibleBox, ...]


class CameraRenderer:
    """Renders one rig camera; ``T_base_sensor`` is the true mount (a calibration fault rotates it)."""

    def __init__(
        self, sensor: Sensor, T_base_sensor: np.ndarray, world: World, ego: EgoMotion, render: RenderConfig
    ) -> None:
        cam = sensor.camera
        assert cam is not None
        self.sensor, self.model = sensor, cam
        self._world, self._ego, self._render = world, ego, render
        self.w = max(1, int(round(cam.width * render.scale)))
        self.h = max(1, int(round(cam.height * render.scale)))
        self._sx, self._sy = cam.width / self.w, cam.height / self.h
        u = (np.arange(self.w) + 0.5) * self._sx - 0.5
        v = (np.arange(self.h) + 0.5) * self._sy - 0.5
        uu, vv = np.meshgrid(u, v)
        rays = cam.pixel_to_ray(np.stack([uu.ravel(), vv.ravel()], axis=1)).reshape(self.h, self.w, 3)
        self._has_ray = np.isfinite(rays[..., 0])
        rays = np.where(self._has_ray[..., None], rays, np.array([0.0, 0.0, 1.0]))
        self._R_cam = T_base_sensor[:3, :3]
        self._origin = T_base_sensor[:3, 3].copy()
        self._rays_base = np.ascontiguousarray(rays @ self._R_cam.T)
        self._origins = np.broadcast_to(T_base_sensor[:3, 3], (self.h, 3))
        with np.errstate(divide="ignore", invalid="ignore"):
            tg = np.where(self._rays_base[..., 2] < -1e-9, -self._origin[2] / self._rays_base[..., 2], np.inf)
        tg[tg > render.max_distance_m] = np.inf
        self._ground_t = tg
        self._ground = np.isfinite(tg)
        self._ground_xy = (
            self._origin[:2] + self._rays_base[..., :2] * np.where(self._ground, tg, 0.0)[..., None]
        )
        self._ground_fade = np.clip(np.where(self._ground, tg, 0.0) / render.max_distance_m, 0.0, 1.0)
        up = np.clip(self._rays_base[..., 2], 0.0, 1.0)[..., None]
        self._sky = (SKY_HORIZON * (1 - up) + SKY_ZENITH * up).astype(np.float32)
        # normalized-plane extents of each pixel column / row, for conservative box culling
        with np.errstate(divide="ignore", invalid="ignore"):
            nx = np.where(rays[..., 2] > 0, rays[..., 0] / rays[..., 2], np.nan)
            ny = np.where(rays[..., 2] > 0, rays[..., 1] / rays[..., 2], np.nan)
        self._col_lo, self._col_hi = np.nanmin(nx, axis=0), np.nanmax(nx, axis=0)
        self._row_lo, self._row_hi = np.nanmin(ny, axis=1), np.nanmax(ny, axis=1)

    def render(self, t_ns: Stamp) -> Rendered:
        """The image at ``t_ns`` with its id buffer and visible boxes."""
        state = self._ego.state(t_ns)
        ex, ey, eyaw = float(state.position[0, 0]), float(state.position[0, 1]), float(state.yaw[0])
        c, s = math.cos(eyaw), math.sin(eyaw)
        boxes = self._world.boxes(np.array([t_ns], dtype=np.int64))
        drawn, blocks, centers, yaws = [], [], [], []
        for k in range(len(self._world)):
            center_w = boxes.center[k, 0]
            dx, dy = center_w[0] - ex, center_w[1] - ey
            center_b = np.array([c * dx + s * dy, -s * dx + c * dy, center_w[2]])
            yaw_b = float(boxes.yaw[k, 0]) - eyaw
            rel_cam = self._R_cam.T @ (center_b - self._origin)
            radius = self._world.radius[k]
            if rel_cam[2] < -radius or np.linalg.norm(rel_cam) - radius > self._render.max_distance_m:
                continue
            block = self._block(center_b, yaw_b, self._world.sizes[k])
            if block is not None:
                drawn.append(k)
                blocks.append(block)
                centers.append(center_b)
                yaws.append(yaw_b)
        n = len(drawn)
        row_ok = np.zeros((n, self.h), dtype=bool)
        for b, (rows, _) in enumerate(blocks):
            row_ok[b, rows] = True
        col_lo = np.array([cols.start for _, cols in blocks], dtype=np.int64)
        col_hi = np.array([cols.stop for _, cols in blocks], dtype=np.int64)
        center = np.broadcast_to(np.array(centers).reshape(n, 1, 3), (n, self.h, 3))
        yaw = np.broadcast_to(np.array(yaws, dtype=np.float64).reshape(n, 1), (n, self.h))
        drawn_idx = np.array(drawn, dtype=np.int64)
        _, which, normal, full = cast(
            self._origins,
            self._rays_base,
            self._ground_t,
            center,
            yaw,
            self._world.sizes[drawn_idx] / 2,
            row_ok,
            col_lo,
            col_hi,
        )
        sun_base = np.array(
            [c * SUN_WORLD[0] + s * SUN_WORLD[1], -s * SUN_WORLD[0] + c * SUN_WORLD[1], SUN_WORLD[2]]
        )
        small = np.empty((self.h, self.w, 3), dtype=np.uint8)
        _compose(
            self._ground_t,
            self._ground_xy,
            self._ground_fade,
            self._sky,
            self._has_ray,
            np.array([ex, ey, c, s]),
            self._world.road.params,
            which,
            normal,
            CLASS_COLORS[self._world.class_index[drawn_idx]],
            sun_base,
            small,
        )
        ids = np.where(which >= 0, self._world.ids[drawn_idx][np.maximum(which, 0)] if n else 0, 0).astype(
            np.int32
        )
        visible = tuple(
            vb
            for b, k in enumerate(drawn)
            if full[b]
            and (vb := self._visible_box(k, int(full[b]), blocks[b], centers[b], yaws[b], ids)) is not None
        )
        full_image = cv2.resize(small, (self.model.width, self.model.height), interpolation=cv2.INTER_LINEAR)
        return Rendered(full_image, ids, visible)

    def _block(self, center_b: np.ndarray, yaw_b: float, size: np.ndarray) -> tuple[slice, slice] | None:
        """Rows x columns of the internal grid whose rays may hit the box (all when it reaches behind)."""
        corners = (box_corners(center_b, yaw_b, size) - self._origin) @ self._R_cam
        z = corners[:, 2]
        if z.min() <= 0.05:
            return (slice(0, self.h), slice(0, self.w)) if z.max() > 0 else None
        nx, ny = corners[:, 0] / z, corners[:, 1] / z
        cols = np.nonzero((self._col_hi >= nx.min()) & (self._col_lo <= nx.max()))[0]
        rows = np.nonzero((self._row_hi >= ny.min()) & (self._row_lo <= ny.max()))[0]
        if cols.size == 0 or rows.size == 0:
            return None
        return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)

    def _visible_box(
        self,
        k: int,
        full: int,
        block: tuple[slice, slice],
        center_b: np.ndarray,
        yaw_b: float,
        ids: np.ndarray,
    ) -> VisibleBox | None:
        mask = ids[block] == self._world.ids[k]
        count = int(mask.sum())
        if count == 0:
            return None
        rows = np.nonzero(mask.any(axis=1))[0] + block[0].start
        cols = np.nonzero(mask.any(axis=0))[0] + block[1].start
        box = (
            float(cols[0] * self._sx),
            float(rows[0] * self._sy),
            float((cols[-1] + 1) * self._sx),
            float((rows[-1] + 1) * self._sy),
        )
        return VisibleBox(
            object_id=int(self._world.ids[k]),
            cls=CLASS_NAMES[self._world.class_index[k]],
            box=box,
            visible_pixels=int(round(count * self._sx * self._sy)),
            occlusion=1.0 - count / full,
            truncation=self._truncation(k, center_b, yaw_b),
        )

    def _truncation(self, k: int, center_b: np.ndarray, yaw_b: float) -> float:
        """Share of sample points on the camera-facing faces that fall outside the image."""
        points = _facing_samples(center_b, yaw_b, self._world.sizes[k], self._origin)
        _, _, valid = self.model.project((points - self._origin) @ self._R_cam)
        return float(1.0 - valid.mean()) if len(valid) else 0.0


@numba.njit(cache=True, nogil=True)
def _compose(ground_t, ground_xy, fade, sky, has_ray, pose, road, which, normal, box_colors, sun, out):
    """Colour every internal pixel: its box face (class colour, sun shading), the ground material at its
    world point (hazed with distance), or sky."""  # pragma: no cover - compiled
    ex, ey, c, s = pose[0], pose[1], pose[2], pose[3]
    h, w = ground_t.shape
    for i in range(h):
        for j in range(w):
            if not has_ray[i, j]:
                out[i, j, :] = 0
                continue
            b = which[i, j]
            for ch in range(3):
                if b >= 0:
                    lit = normal[i, j, 0] * sun[0] + normal[i, j, 1] * sun[1] + normal[i, j, 2] * sun[2]
                    value = box_colors[b, ch] * (AMBIENT + (1.0 - AMBIENT) * max(lit, 0.0))
                elif ground_t[i, j] < np.inf:
                    gx = ex + c * ground_xy[i, j, 0] - s * ground_xy[i, j, 1]
                    gy = ey + s * ground_xy[i, j, 0] + c * ground_xy[i, j, 1]
                    f = 0.5 * fade[i, j]
                    value = GROUND_COLORS[material_at(gx, gy, road), ch] * (1.0 - f) + SKY_HORIZON[ch] * f
                else:
                    value = sky[i, j, ch]
                out[i, j, ch] = min(value + 0.5, 255.0)


def _facing_samples(center: np.ndarray, yaw: float, size: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """Grid points on the faces of a box that face ``eye`` (all frames the same)."""
    g = (np.arange(_FACE_SAMPLES) + 0.5) / _FACE_SAMPLES - 0.5
    a, b = np.meshgrid(g, g)
    a, b = a.ravel(), b.ravel()
    R = yaw_matrix(yaw)
    eye_local = R.T @ (eye - center)
    half = np.asarray(size) / 2
    faces = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            if sign * eye_local[axis] <= half[axis]:
                continue
            others = [i for i in range(3) if i != axis]
            pts = np.zeros((a.size, 3))
            pts[:, axis] = sign * half[axis]
            pts[:, others[0]] = a * 2 * half[others[0]]
            pts[:, others[1]] = b * 2 * half[others[1]]
            faces.append(pts)
    if not faces:
        return np.zeros((0, 3))
    return np.concatenate(faces) @ R.T + center
