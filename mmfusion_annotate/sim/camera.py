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
from mmfusion_annotate.sim.ego import ScenarioEgo
from mmfusion_annotate.sim.geometry import BOX_EDGES, box_corners
from mmfusion_annotate.sim.raycast import cast
from mmfusion_annotate.sim.world import CLASS_NAMES, CLASS_STYLES, GROUND_COLORS, World, material_at
from mmfusion_annotate.types import Stamp

CLASS_COLORS = np.array([CLASS_STYLES[c].color for c in CLASS_NAMES], dtype=np.float32)
SKY_HORIZON = np.array([200, 220, 245], dtype=np.float32)
SKY_ZENITH = np.array([110, 150, 215], dtype=np.float32)
SUN_WORLD = np.array([0.35, 0.25, 0.90]) / np.linalg.norm([0.35, 0.25, 0.90])
AMBIENT = 0.45
_NEAR = 1e-6
"""Boxes are clipped to z > _NEAR (camera frame) before culling."""


def _face_grid(samples: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points on the 6 faces of a unit-half-size box (6, samples**2, 3), with each face's
    normal axis and sign."""
    g = (np.arange(samples) + 0.5) / samples * 2 - 1
    a, b = (m.ravel() for m in np.meshgrid(g, g))
    grid, axes, signs = [], [], []
    for axis in range(3):
        u, v = (i for i in range(3) if i != axis)
        for sign in (-1.0, 1.0):
            pts = np.zeros((a.size, 3))
            pts[:, axis], pts[:, u], pts[:, v] = sign, a, b
            grid.append(pts)
            axes.append(axis)
            signs.append(sign)
    return np.array(grid), np.array(axes), np.array(signs)


_FACE_GRID, _FACE_AXES, _FACE_SIGNS = _face_grid()


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
        self, sensor: Sensor, T_base_sensor: np.ndarray, world: World, ego: ScenarioEgo, render: RenderConfig
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
        self._sees_back = bool((rays[..., 2] <= _NEAR).any())
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
        world = self._world
        boxes = world.boxes(np.array([t_ns], dtype=np.int64))
        dx, dy = boxes.center[:, 0, 0] - ex, boxes.center[:, 0, 1] - ey
        centers = np.stack([c * dx + s * dy, -s * dx + c * dy, boxes.center[:, 0, 2]], axis=-1)
        yaws = boxes.yaw[:, 0] - eyaw
        drawn, rows, cols = self._cull(centers, yaws)
        n = len(drawn)
        lines = np.arange(self.h)
        row_ok = (lines >= rows[:, :1]) & (lines < rows[:, 1:])
        _, which, normal, full = cast(
            self._origins,
            self._rays_base,
            self._ground_t,
            np.broadcast_to(centers[drawn, None, :], (n, self.h, 3)),
            np.broadcast_to(yaws[drawn, None], (n, self.h)),
            world.sizes[drawn] / 2,
            row_ok,
            cols[:, 0],
            cols[:, 1],
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
            world.road.params,
            which,
            normal,
            CLASS_COLORS[world.class_index[drawn]],
            sun_base,
            small,
        )
        ids, count, extent = _id_buffer(which, world.ids[drawn])
        seen = np.nonzero(count)[0]
        truncation = self._truncations(centers[drawn[seen]], yaws[drawn[seen]], world.sizes[drawn[seen]])
        visible = tuple(
            VisibleBox(
                object_id=int(world.ids[drawn[b]]),
                cls=CLASS_NAMES[world.class_index[drawn[b]]],
                box=(
                    float(extent[b, 2] * self._sx),
                    float(extent[b, 0] * self._sy),
                    float(extent[b, 3] * self._sx),
                    float(extent[b, 1] * self._sy),
                ),
                visible_pixels=int(round(count[b] * self._sx * self._sy)),
                occlusion=1.0 - count[b] / full[b],
                truncation=float(truncation[v]),
            )
            for v, b in enumerate(seen)
        )
        full_image = cv2.resize(small, (self.model.width, self.model.height), interpolation=cv2.INTER_LINEAR)
        return Rendered(full_image, ids, visible)

    def _cull(self, centers: np.ndarray, yaws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (base_link centres, yaws) that may show, with the internal-grid rows [lo, hi) and
        columns [lo, hi) their rays may hit: (indices (n,), rows (n, 2), columns (n, 2)).

        The box is clipped to the half-space in front of the camera (each edge that crosses the near
        plane contributes its crossing point), so a long wall reaching behind the camera only costs
        the pixels it can cover; a lens that also sees backwards (rays with z <= 0) casts such boxes
        on the whole image.
        """
        world = self._world
        rel = (centers - self._origin) @ self._R_cam
        near = (rel[:, 2] >= -world.radius) & (
            np.linalg.norm(rel, axis=1) - world.radius <= self._render.max_distance_m
        )
        idx = np.nonzero(near)[0]
        cam = (box_corners(centers[idx], yaws[idx], world.sizes[idx]) - self._origin) @ self._R_cam
        a, b = cam[:, BOX_EDGES[:, 0]], cam[:, BOX_EDGES[:, 1]]
        za, zb = a[..., 2], b[..., 2]
        crossing = (za > _NEAR) != (zb > _NEAR)
        f = (_NEAR - za) / np.where(crossing, zb - za, 1.0)
        points = np.concatenate([cam, a + f[..., None] * (b - a)], axis=1)  # (n, 8 + 12, 3)
        ok = np.concatenate([cam[..., 2] > _NEAR, crossing], axis=1)
        z = np.where(ok, points[..., 2], 1.0)
        nx, ny = points[..., 0] / z, points[..., 1] / z
        col_hit = (self._col_hi >= np.where(ok, nx, np.inf).min(axis=1)[:, None]) & (
            self._col_lo <= np.where(ok, nx, -np.inf).max(axis=1)[:, None]
        )
        row_hit = (self._row_hi >= np.where(ok, ny, np.inf).min(axis=1)[:, None]) & (
            self._row_lo <= np.where(ok, ny, -np.inf).max(axis=1)[:, None]
        )
        if self._sees_back:
            behind = (cam[..., 2] <= _NEAR).any(axis=1) & ok.any(axis=1)
            col_hit[behind], row_hit[behind] = True, True
        keep = col_hit.any(axis=1) & row_hit.any(axis=1)
        col_hit, row_hit = col_hit[keep], row_hit[keep]
        rows = np.stack([row_hit.argmax(axis=1), self.h - row_hit[:, ::-1].argmax(axis=1)], axis=1)
        cols = np.stack([col_hit.argmax(axis=1), self.w - col_hit[:, ::-1].argmax(axis=1)], axis=1)
        return idx[keep], rows, cols.astype(np.int64)

    def _truncations(self, centers: np.ndarray, yaws: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Per box, the share of sample points on its camera-facing faces that fall outside the image."""
        c, s = np.cos(yaws), np.sin(yaws)
        rel = self._origin - centers
        eye = np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]], axis=-1)
        half = sizes / 2
        facing = _FACE_SIGNS * eye[:, _FACE_AXES] > half[:, _FACE_AXES]  # (n, 6)
        local = _FACE_GRID * half[:, None, None, :]  # (n, 6, samples, 3)
        x = c[:, None, None] * local[..., 0] - s[:, None, None] * local[..., 1] + centers[:, None, None, 0]
        y = s[:, None, None] * local[..., 0] + c[:, None, None] * local[..., 1] + centers[:, None, None, 1]
        points = np.stack([x, y, local[..., 2] + centers[:, None, None, 2]], axis=-1)
        _, _, valid = self.model.project((points.reshape(-1, 3) - self._origin) @ self._R_cam)
        inside = (valid.reshape(local.shape[:3]) & facing[..., None]).sum(axis=(1, 2))
        total = facing.sum(axis=1) * _FACE_GRID.shape[1]
        return np.where(total > 0, 1.0 - inside / np.maximum(total, 1), 0.0)


@numba.njit(cache=True, nogil=True)
def _id_buffer(which, box_ids):  # pragma: no cover - compiled
    """Object id per pixel (0: ground/sky) and, per drawn box, its visible pixel count and extent
    [row lo, row hi, col lo, col hi) on the internal grid."""
    h, w = which.shape
    n = box_ids.shape[0]
    ids = np.zeros((h, w), np.int32)
    count = np.zeros(n, np.int64)
    extent = np.empty((n, 4), np.int64)
    extent[:, 0], extent[:, 2] = h, w
    extent[:, 1], extent[:, 3] = 0, 0
    for i in range(h):
        for j in range(w):
            b = which[i, j]
            if b < 0:
                continue
            ids[i, j] = box_ids[b]
            count[b] += 1
            extent[b, 0] = min(extent[b, 0], i)
            extent[b, 1] = max(extent[b, 1], i + 1)
            extent[b, 2] = min(extent[b, 2], j)
            extent[b, 3] = max(extent[b, 3], j + 1)
    return ids, count, extent


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
            if b >= 0:
                lit = normal[i, j, 0] * sun[0] + normal[i, j, 1] * sun[1] + normal[i, j, 2] * sun[2]
                shade = AMBIENT + (1.0 - AMBIENT) * max(lit, 0.0)
                for ch in range(3):
                    out[i, j, ch] = min(box_colors[b, ch] * shade + 0.5, 255.0)
            elif ground_t[i, j] < np.inf:
                gx = ex + c * ground_xy[i, j, 0] - s * ground_xy[i, j, 1]
                gy = ey + s * ground_xy[i, j, 0] + c * ground_xy[i, j, 1]
                material = material_at(gx, gy, road)
                f = 0.5 * fade[i, j]
                for ch in range(3):
                    value = GROUND_COLORS[material, ch] * (1.0 - f) + SKY_HORIZON[ch] * f
                    out[i, j, ch] = min(value + 0.5, 255.0)
            else:
                for ch in range(3):
                    out[i, j, ch] = min(sky[i, j, ch] + 0.5, 255.0)
