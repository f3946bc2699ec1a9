"""Fast CPU backend: the reference pipeline fused into two numba kernels.

Chosen by measurement (``bench/bench_fusion.py``): numpy spends its time allocating and streaming
(N, 3) float64 temporaries through memory once per operation; here each point is read once, moved
to the reference frame (motion compensation: the pose once per firing time, from the same
``compensation`` functions the reference evaluates on arrays), and for every camera whose depth range
and image box the chunk's bounding box touches, transformed, culled (depth range, image box, lens
field of view), distorted and tested against the image bounds in registers. A second kernel, one
call for all cameras, fills each camera's block z-buffer (cameras side by side) and then tests and
colours every hit (hits split evenly over the threads). The float64 expressions repeat the reference
ones (rig ``CameraModel.project``, ``compensation.track_points``, ``zbuffer``, ``sampling``) term by
term; ``fastmath`` stays off so both paths round alike (test_fusion_backends checks 1e-3 px).
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Sequence

import numba
import numpy as np
from numba import njit, prange

from mmfusion_annotate.fusion import compensation
from mmfusion_annotate.fusion.backends import CameraJob, Projection, numba_thread_limit
from mmfusion_annotate.fusion.compensation import PoseTrack
from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.fusion.zbuffer import grid_shape

_PINHOLE, _EQUIDISTANT = 0, 1


@njit(cache=True, inline="always")
def _knot(times: np.ndarray, stamp: np.int64) -> int:
    """searchsorted(times, stamp, 'right') - 1 clipped to a valid interval index."""
    lo, hi = 0, times.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] <= stamp:
            lo = mid + 1
        else:
            hi = mid
    return min(max(lo - 1, 0), times.shape[0] - 2)


_series = njit(cache=True, inline="always")(compensation.rodrigues_series)
_exp_entries = njit(cache=True, inline="always")(compensation.exp_entries)
_apply = njit(cache=True, inline="always")(compensation.apply_entries)


@njit(cache=True, inline="always")
def _rodrigues_factors(theta2: float) -> tuple[float, float]:
    """Scalar form of ``compensation.rodrigues_factors`` (the same series and sin/cos)."""
    if theta2 < compensation.SERIES_THETA2:
        return _series(theta2)
    theta = math.sqrt(theta2)
    return math.sin(theta) / theta, (1.0 - math.cos(theta)) / theta2


@njit(cache=True)
def _box_misses(low, high, rot, trans, box, min_depth, max_depth) -> np.bool_:
    """True when every point of the axis-aligned box [low, high] is outside one of the camera's
    half-spaces (depth range, the four planes of ``image_box``): checked on the 8 corners, exact for
    half-spaces because they are convex."""
    out = np.zeros(6, dtype=np.bool_)
    out[:] = True
    for corner in range(8):
        x = high[0] if corner & 1 else low[0]
        y = high[1] if corner & 2 else low[1]
        z = high[2] if corner & 4 else low[2]
        X = rot[0, 0] * x + rot[0, 1] * y + rot[0, 2] * z + trans[0]
        Y = rot[1, 0] * x + rot[1, 1] * y + rot[1, 2] * z + trans[1]
        Z = rot[2, 0] * x + rot[2, 1] * y + rot[2, 2] * z + trans[2]
        out[0] &= Z < min_depth
        out[1] &= Z > max_depth
        out[2] &= X < box[0] * Z
        out[3] &= X > box[1] * Z
        out[4] &= Y < box[2] * Z
        out[5] &= Y > box[3] * Z
    return out.any()


@njit(cache=True, parallel=True, fastmath=False, nogil=True)
def _project_kernel(
    points, base_rot, base_trans, t_ns, compensate, times, rotations, translations, steps,
    cam_rot, cam_trans, model, dist, intr, limit, size, box, min_depth, max_depth, block, pad, pitch, chunk,
    out_base, out_ref, s_index, s_uv, s_depth, s_cell, counts,
):  # fmt: skip
    """Per chunk of points: deskew, then per camera cull/distort/bounds; in-image results are written
    compactly from the chunk's start (``counts[c, j]`` of them), so memory traffic follows the hits."""
    n = points.shape[0]
    cameras = cam_rot.shape[0]
    single = times.shape[0] == 1
    identity = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    for j in prange(counts.shape[1]):
        start = j * chunk
        end = min(start + chunk, n)
        ref = np.empty((end - start, 3))  # float64 reference-frame points of this chunk
        lx = ly = lz = np.inf
        hx = hy = hz = -np.inf
        for i in range(start, end):
            px = np.float64(points[i, 0])
            py = np.float64(points[i, 1])
            pz = np.float64(points[i, 2])
            x = base_rot[0, 0] * px + base_rot[0, 1] * py + base_rot[0, 2] * pz + base_trans[0]
            y = base_rot[1, 0] * px + base_rot[1, 1] * py + base_rot[1, 2] * pz + base_trans[1]
            z = base_rot[2, 0] * px + base_rot[2, 1] * py + base_rot[2, 2] * pz + base_trans[2]
            out_base[i, 0] = x
            out_base[i, 1] = y
            out_base[i, 2] = z
            if compensate:
                if i == start or t_ns[i] != t_ns[i - 1]:  # a new firing time: its pose, once
                    k = 0
                    f = 0.0
                    turn = identity
                    if not single:
                        k = _knot(times, t_ns[i])
                        f = np.float64(t_ns[i] - times[k]) / np.float64(times[k + 1] - times[k])
                        rx = f * steps[k, 0]
                        ry = f * steps[k, 1]
                        rz = f * steps[k, 2]
                        a, b = _rodrigues_factors(rx * rx + ry * ry + rz * rz)
                        turn = _exp_entries(rx, ry, rz, a, b)
                    rot = (
                        rotations[k, 0, 0], rotations[k, 0, 1], rotations[k, 0, 2],
                        rotations[k, 1, 0], rotations[k, 1, 1], rotations[k, 1, 2],
                        rotations[k, 2, 0], rotations[k, 2, 1], rotations[k, 2, 2],
                    )  # fmt: skip
                    k1 = k if single else k + 1
                    sx = translations[k, 0] + f * (translations[k1, 0] - translations[k, 0])
                    sy = translations[k, 1] + f * (translations[k1, 1] - translations[k, 1])
                    sz = translations[k, 2] + f * (translations[k1, 2] - translations[k, 2])
                if not single:
                    x, y, z = _apply(turn, x, y, z)
                x, y, z = _apply(rot, x, y, z)
                x += sx
                y += sy
                z += sz
            out_ref[i, 0] = x
            out_ref[i, 1] = y
            out_ref[i, 2] = z
            ref[i - start, 0] = x
            ref[i - start, 1] = y
            ref[i - start, 2] = z
            lx, ly, lz = min(lx, x), min(ly, y), min(lz, z)
            hx, hy, hz = max(hx, x), max(hy, y), max(hz, z)
        low, high = (lx, ly, lz), (hx, hy, hz)
        for c in range(cameras):
            counts[c, j] = 0
            if _box_misses(low, high, cam_rot[c], cam_trans[c], box[c], min_depth, max_depth):
                continue  # the whole chunk (a few degrees of azimuth in firing order) is beside this camera
            for i in range(start, end):
                x = ref[i - start, 0]
                y = ref[i - start, 1]
                z = ref[i - start, 2]
                Z = cam_rot[c, 2, 0] * x + cam_rot[c, 2, 1] * y + cam_rot[c, 2, 2] * z + cam_trans[c, 2]
                if Z < min_depth or Z > max_depth:  # frustum cull before any distortion work
                    continue
                X = cam_rot[c, 0, 0] * x + cam_rot[c, 0, 1] * y + cam_rot[c, 0, 2] * z + cam_trans[c, 0]
                if X < box[c, 0] * Z or X > box[c, 1] * Z:  # beside the image: no distortion work
                    continue
                Y = cam_rot[c, 1, 0] * x + cam_rot[c, 1, 1] * y + cam_rot[c, 1, 2] * z + cam_trans[c, 1]
                if Y < box[c, 2] * Z or Y > box[c, 3] * Z:
                    continue
                rxy = math.sqrt(X * X + Y * Y)
                if model[c] == _EQUIDISTANT:
                    theta = math.atan2(rxy, Z)
                    if not theta < limit[c]:
                        continue
                    t2 = theta * theta
                    k1, k2, k3, k4 = dist[c, 0], dist[c, 1], dist[c, 2], dist[c, 3]
                    theta_d = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
                    if rxy <= 1e-12 * abs(Z):
                        scale = 1.0 / Z
                    else:
                        scale = theta_d / rxy
                    xd = X * scale
                    yd = Y * scale
                else:
                    if not rxy < limit[c] * Z:
                        continue
                    xn = X / Z
                    yn = Y / Z
                    r2 = xn * xn + yn * yn
                    num = 1.0 + r2 * (dist[c, 0] + r2 * (dist[c, 1] + r2 * dist[c, 4]))
                    den = 1.0 + r2 * (dist[c, 5] + r2 * (dist[c, 6] + r2 * dist[c, 7]))
                    g = num / den
                    xy = xn * yn
                    p1 = dist[c, 2]
                    p2 = dist[c, 3]
                    xd = xn * g + 2.0 * p1 * xy + p2 * (r2 + 2.0 * xn * xn)
                    yd = yn * g + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xy
                u = intr[c, 0] * xd + intr[c, 1] * yd + intr[c, 2]
                v = intr[c, 3] * yd + intr[c, 4]
                if not (u >= 0.0 and u < size[c, 0] and v >= 0.0 and v < size[c, 1]):
                    continue
                w = start + counts[c, j]
                counts[c, j] += 1
                s_index[c, w] = i
                s_uv[c, w, 0] = np.float32(u)
                s_uv[c, w, 1] = np.float32(v)
                s_depth[c, w] = np.float32(Z)
                # u, v >= 0: truncation is floor, and an integer below 2^53 divided in float64 floors exactly
                row = np.int64(np.float64(np.int64(v)) / block) + pad
                s_cell[c, w] = row * pitch[c] + np.int64(np.float64(np.int64(u)) / block) + pad


@njit(cache=True, parallel=True, fastmath=False, nogil=True)
def _visibility_kernel(
    counts, chunk, s_index, s_uv, s_depth, s_cell, images, has_image, bilinear, grid_rows, pitch,
    radius, tol_abs, tol_rel, offsets, index, uv, depth, visible, colors,
):  # fmt: skip
    """All cameras in one call. First one thread per camera gathers its chunk hits into its slice of the
    outputs (``offsets[c]:offsets[c + 1]``) while filling its block z-buffer (serial per camera, so
    cameras run side by side); then all hits, split evenly over the threads, are tested against the
    nearest depth of the cells around them, and the visible ones coloured."""
    cameras = counts.shape[0]
    # each camera's cell grid with a border of ``radius`` empty cells, ``pitch`` cells a row (the hits'
    # cells index it, see ``_project_kernel``), one after the other: the neighbourhood needs no bounds tests
    grid_at = np.zeros(cameras + 1, dtype=np.int64)
    for c in range(cameras):
        grid_at[c + 1] = grid_at[c] + (grid_rows[c] + 2 * radius) * pitch[c]
    grid = np.full(grid_at[cameras], np.inf)
    m = offsets[cameras]
    cell = np.empty(m, dtype=np.int64)
    camera = np.empty(m, dtype=np.int64)
    for c in prange(cameras):
        dst = offsets[c]
        for j in range(counts.shape[1]):
            for q in range(counts[c, j]):
                src = j * chunk + q
                index[dst] = s_index[c, src]
                uv[dst, 0] = s_uv[c, src, 0]
                uv[dst, 1] = s_uv[c, src, 1]
                depth[dst] = s_depth[c, src]
                at = grid_at[c] + s_cell[c, src]
                cell[dst] = at
                camera[dst] = c
                d = np.float64(s_depth[c, src])
                if d < grid[at]:
                    grid[at] = d
                dst += 1
    for i in prange(m):
        c = camera[i]
        d = np.float64(depth[i])
        nearest = np.inf  # the nearest depth among the cells around this point's cell (zbuffer.py)
        for rr in range(-radius, radius + 1):
            row_at = cell[i] + rr * pitch[c]
            for qq in range(-radius, radius + 1):
                nearest = min(nearest, grid[row_at + qq])
        if not d <= nearest + (tol_abs + tol_rel * d):
            continue
        visible[i] = True
        if not has_image[c]:
            continue
        image = images[c]
        height = image.shape[0]
        width = image.shape[1]
        u = np.float64(uv[i, 0])
        v = np.float64(uv[i, 1])
        if not bilinear:
            col = min(np.int64(math.floor(u + 0.5)), width - 1)
            row = min(np.int64(math.floor(v + 0.5)), height - 1)
            for ch in range(3):
                colors[i, ch] = image[row, col, ch]
            continue
        x0f = math.floor(u)
        y0f = math.floor(v)
        fx = u - x0f
        fy = v - y0f
        x0 = min(np.int64(x0f), width - 1)  # u == width after float32 rounding: no read past the image
        y0 = min(np.int64(y0f), height - 1)
        x1 = min(x0 + 1, width - 1)
        y1 = min(y0 + 1, height - 1)
        for ch in range(3):
            top = np.float64(image[y0, x0, ch]) * (1.0 - fx) + np.float64(image[y0, x1, ch]) * fx
            bottom = np.float64(image[y1, x0, ch]) * (1.0 - fx) + np.float64(image[y1, x1, ch]) * fx
            colors[i, ch] = np.uint8(math.floor(top * (1.0 - fy) + bottom * fy + 0.5))


def image_box(model, margin: float = 0.02, samples: int = 4000) -> np.ndarray:
    """Conservative bounds (x_lo, x_hi, y_lo, y_hi) of X/Z and Y/Z over the rays that land in the image.

    The kernel rejects a point outside them before any distortion work (the cheap cull of points
    beside a camera). The rays of the image border, widened by ``margin`` of the span, enclose every
    in-image ray because the lens model is one-to-one inside its valid field of view; that is checked
    on a band of rays just outside the box, and the box is unbounded where it cannot be trusted
    (border pixels without a ray, rays at or beyond 90 degrees)."""
    unbounded = np.array([-np.inf, np.inf, -np.inf, np.inf])
    w, h = float(model.width), float(model.height)
    s = np.linspace(0.0, 1.0, samples)
    border = np.concatenate(
        [np.stack([s * w, np.zeros_like(s)], 1), np.stack([s * w, np.full_like(s, h)], 1),
         np.stack([np.zeros_like(s), s * h], 1), np.stack([np.full_like(s, w), s * h], 1)]
    )  # fmt: skip
    rays = model.pixel_to_ray(border, np)
    if not np.all(np.isfinite(rays)) or rays[:, 2].min() < 1e-3:
        return unbounded
    x, y = rays[:, 0] / rays[:, 2], rays[:, 1] / rays[:, 2]
    pad_x, pad_y = margin * (x.max() - x.min()), margin * (y.max() - y.min())
    box = np.array([x.min() - pad_x, x.max() + pad_x, y.min() - pad_y, y.max() + pad_y])
    # the check: rays on a grid over a band as wide again as the box on every side must all miss
    gx, gy = np.meshgrid(
        np.linspace(2 * box[0] - box[1], 2 * box[1] - box[0], 601),
        np.linspace(2 * box[2] - box[3], 2 * box[3] - box[2], 601),
    )
    outside = (gx < box[0]) | (gx > box[1]) | (gy < box[2]) | (gy > box[3])
    probe = np.stack([gx[outside], gy[outside], np.ones(int(outside.sum()))], axis=1)
    uv, _, valid = model.project(probe, np)
    hit = valid & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    return unbounded if hit.any() else box


def _camera_params(models: Sequence, boxes: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per-camera arrays for the kernel: model id, coefficients, intrinsics, FOV limit, image size, box."""
    cams = len(models)
    equidistant = [m.distortion_model == "equidistant" for m in models]
    dist = np.zeros((cams, 8))
    for c, m in enumerate(models):
        dist[c, : len(m.D)] = m.D  # plumb_bob's 5 are the first 5 of the rational 8, zeros after
    intrinsics = np.array([[m.K[0, 0], m.K[0, 1], m.K[0, 2], m.K[1, 1], m.K[1, 2]] for m in models])
    # the same float the reference compares with: theta_max (fisheye) or tan(theta_max) (pinhole)
    limit = np.array(
        [m.theta_max if eq else math.tan(m.theta_max) for m, eq in zip(models, equidistant, strict=True)]
    )
    return (
        np.array([_EQUIDISTANT if eq else _PINHOLE for eq in equidistant], dtype=np.int64),
        dist,
        intrinsics.reshape(cams, 5),
        limit,
        np.array([[m.width, m.height] for m in models], dtype=np.int64).reshape(cams, 2),
        np.array(boxes).reshape(cams, 4),
    )


def _serial(kernel):
    """``kernel`` compiled without ``parallel``: each ``prange`` runs as ``range`` on the calling thread.

    For one thread (``fusion.kernel_threads: 1``): no threading layer, so no OpenMP team beside the
    pipeline, and no thread masking with ``numba.set_num_threads`` (numba#5890 reports crashes under
    it). A copy of the function under its own qualified name gets its own cache files: numba's cache key
    does not tell parallel from serial.
    """
    f = kernel.py_func
    name = f"{f.__name__}_serial"
    copy = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    copy.__qualname__ = f"{f.__qualname__}_serial"
    return njit(cache=True, fastmath=False, nogil=True)(copy)


@functools.cache
def _serial_kernels() -> tuple:
    """The projection and visibility kernels without ``parallel``, built once per process."""
    return _serial(_project_kernel), _serial(_visibility_kernel)


_NO_IMAGE = np.zeros((1, 1, 3), dtype=np.uint8)


def _read_only(image: np.ndarray) -> np.ndarray:
    """A contiguous read-only view (or copy) of ``image``: numba types read-only and writable arrays
    apart, and a tuple mixing them (a frozen image fused again beside fresh ones) cannot be indexed."""
    view = np.ascontiguousarray(image).view()
    view.setflags(write=False)
    return view


class NumbaBackend:
    """The fast CPU path on ``threads`` threads (None: numba's default, ``NUMBA_NUM_THREADS``).

    One thread runs serial builds of the kernels on the calling thread (``_serial``). More run the
    parallel kernels; numba's thread count is a setting of the calling thread, so it is set at every
    ``project`` on the thread that calls it, not on the one that built the backend. Scratch buffers (one
    slot per point and camera) are kept between frames: only the hits are written, and reusing the pages
    avoids faulting fresh memory in every frame.
    """

    name = "cpu"
    chunk = 4096

    def __init__(self, threads: int | None = None) -> None:
        if threads is not None and not 1 <= threads <= numba_thread_limit():
            raise ValueError(f"threads must be 1..{numba_thread_limit()} (got {threads})")
        self.threads = threads
        parallel = (_project_kernel, _visibility_kernel)
        self._project, self._visibility = _serial_kernels() if threads == 1 else parallel
        self._scratch: tuple[np.ndarray, ...] = ()
        self._boxes: dict[int, tuple[object, np.ndarray]] = {}

    def _box(self, model) -> np.ndarray:
        """``image_box`` once per camera model (keyed by identity; the model is kept alive with it)."""
        if id(model) not in self._boxes:
            self._boxes[id(model)] = (model, image_box(model))
        return self._boxes[id(model)][1]

    def _buffers(self, cams: int, n: int) -> tuple[np.ndarray, ...]:
        if not self._scratch or self._scratch[0].shape != (cams, n):
            self._scratch = (
                np.empty((cams, n), dtype=np.int32),
                np.empty((cams, n, 2), dtype=np.float32),
                np.empty((cams, n), dtype=np.float32),
                np.empty((cams, n), dtype=np.int32),
            )
        return self._scratch

    def project(
        self,
        points: np.ndarray,
        base_from_sensor: np.ndarray,
        t_ns: np.ndarray,
        track: PoseTrack | None,
        jobs: Sequence[CameraJob],
        config: FusionConfig,
    ) -> tuple[np.ndarray, np.ndarray, list[Projection]]:
        if self.threads is not None and self.threads > 1:
            numba.set_num_threads(self.threads)
        n, cams = len(points), len(jobs)
        block = config.zbuffer_block_px
        models = [job.model for job in jobs]
        grids = [grid_shape(m.width, m.height, block) for m in models]
        transforms = np.stack([job.cam_from_ref for job in jobs]) if jobs else np.zeros((0, 4, 4))
        pose_track = track or PoseTrack.from_poses(np.zeros(1, np.int64), np.eye(4)[None])
        out_base = np.empty((n, 3), dtype=np.float32)
        out_ref = np.empty((n, 3), dtype=np.float32)
        s_index, s_uv, s_depth, s_cell = self._buffers(cams, n)
        counts = np.empty((cams, -(-n // self.chunk)), dtype=np.int64)
        radius = config.zbuffer_neighbourhood
        pitch = np.array([g[1] + 2 * radius for g in grids], dtype=np.int64)  # grid row, border included
        self._project(
            np.ascontiguousarray(points),
            np.ascontiguousarray(base_from_sensor[:3, :3], dtype=np.float64),
            np.ascontiguousarray(base_from_sensor[:3, 3], dtype=np.float64),
            np.ascontiguousarray(t_ns, dtype=np.int64),
            track is not None,
            pose_track.times_ns,
            pose_track.rotations,
            pose_track.translations,
            pose_track.steps,
            np.ascontiguousarray(transforms[:, :3, :3]),
            np.ascontiguousarray(transforms[:, :3, 3]),
            *_camera_params(models, [self._box(m) for m in models]),
            float(config.min_depth_m),
            float(config.max_depth_m),
            block,
            radius,
            pitch,
            self.chunk,
            out_base,
            out_ref,
            s_index,
            s_uv,
            s_depth,
            s_cell,
            counts,
        )
        if not jobs:
            return out_base, out_ref, []
        offsets = np.zeros(cams + 1, dtype=np.int64)
        np.cumsum(counts.sum(axis=1), out=offsets[1:])
        m = int(offsets[-1])
        index, uv, depth = np.empty(m, np.int32), np.empty((m, 2), np.float32), np.empty(m, np.float32)
        visible, colors = np.zeros(m, np.bool_), np.zeros((m, 3), np.uint8)
        images = tuple(_read_only(_NO_IMAGE if j.image is None else j.image[..., :3]) for j in jobs)
        self._visibility(
            counts,
            self.chunk,
            s_index,
            s_uv,
            s_depth,
            s_cell,
            images,
            np.array([job.image is not None for job in jobs], dtype=np.bool_),
            config.color_sampling == "bilinear",
            np.array([g[0] for g in grids], dtype=np.int64),
            pitch,
            radius,
            float(config.zbuffer_tolerance_m),
            float(config.zbuffer_tolerance_rel),
            offsets,
            index,
            uv,
            depth,
            visible,
            colors,
        )
        results = [
            Projection(*(a[offsets[c] : offsets[c + 1]] for a in (index, uv, depth, visible, colors)))
            for c in range(cams)
        ]
        return out_base, out_ref, results

