"""LiDAR-to-image edge alignment (Levinson & Thrun, "Automatic Online Calibration of Cameras and Lasers",
RSS 2013), the measurement behind the sync-drift and calibration-drift checks.

Depth edges of the sweep (a return much nearer than its neighbour on the same scan line) should land on
image edges. The image side is an edge map spread by an inverse distance transform,
``D = alpha E + (1 - alpha) gamma^d`` (E: normalised 3x3 morphological gradient, d: pixel distance to the
strongest edges), so the score ``J = sum_i X_i D(project(p_i))`` (X_i: square root of the depth jump)
rises smoothly as the projection approaches the edges. Evaluating J for many hypotheses (small rotations
of the extrinsic, small time shifts of the motion compensation) is the hot path: all hypotheses go
through the camera model in one stacked call, written once against ``xp`` (numpy or CuPy).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.events.config import EdgeConfig
from mmfusion_annotate.rig import CameraModel


def image_edge_map(image: np.ndarray, config: EdgeConfig) -> np.ndarray:
    """Spread edge map D (H, W) float32 in [0, 1] of an RGB or grey image.

    The raw edges E are kept at full resolution; the spread term (a distance transform, the costliest
    step) is computed ``config.spread_scale`` times coarser and interpolated back, which moves the
    distance to the nearest strong edge by about a pixel (the spread changes by about ``1 - gamma``).
    8-bit images stay in 8 bits up to the final blend (the gradient of 8-bit grey is exact in 8 bits).
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if gray.dtype != np.uint8:
        gray = gray.astype(np.float32)
    edges = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    peak = float(edges.max())
    if peak <= 0:
        return np.zeros(edges.shape, np.float32)
    sample = edges[::4, ::4].ravel()  # the quantile of a regular subsample: same edges, 16x less sorting
    k = min(len(sample) - 1, int(config.edge_quantile * len(sample)))
    threshold = max(float(np.partition(sample, k)[k]), 1e-6 * peak)
    if gray.dtype == np.uint8:
        threshold = np.ceil(threshold)  # the same pixels as comparing the normalised values
    # 255 on the strong edges; OpenCV compares with a scalar, its stubs know only the array form
    strong = cv2.compare(edges, threshold, cv2.CMP_GE)  # type: ignore[call-overload]
    spread = _spread(strong, config.gamma, config.spread_scale)
    return cv2.addWeighted(edges, config.alpha / peak, spread, 1.0 - config.alpha, 0.0, dtype=cv2.CV_32F)


def _spread(strong: np.ndarray, gamma: float, scale: int) -> np.ndarray:
    """``gamma ** d`` (float32), d the pixel distance to the nearest ``strong`` (non-zero) pixel, computed
    at 1/``scale`` of the size: a coarse pixel is a seed if any of its fine pixels is."""
    height, width = strong.shape
    if scale > 1:
        size = (-(-width // scale), -(-height // scale))
        strong = cv2.resize(strong, size, interpolation=cv2.INTER_AREA)  # area average > 0: any seed
    seeds = cv2.compare(strong, 0, cv2.CMP_EQ)  # type: ignore[call-overload]  # a scalar, as above
    distance = cv2.distanceTransform(seeds, cv2.DIST_L2, cv2.DIST_MASK_3)
    spread = cv2.exp(distance * np.float32(scale * np.log(gamma)))
    if scale > 1:
        spread = cv2.resize(spread, (width, height), interpolation=cv2.INTER_LINEAR)
    return spread


def depth_edges(points: np.ndarray, ring: np.ndarray, origin: np.ndarray, config: EdgeConfig
                ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights ``X = sqrt(jump)`` of all foreground points at depth discontinuities.

    Neighbours are the previous/next return on the same ring in azimuth order; only the nearer side of a
    jump is kept (the occluding contour, which is what the camera sees as an edge).
    """
    rel = np.asarray(points, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
    rng = np.linalg.norm(rel, axis=1)
    azimuth = np.arctan2(rel[:, 1], rel[:, 0])
    order = np.lexsort((azimuth, ring))
    r, ring_sorted = rng[order], np.asarray(ring)[order]
    same = ring_sorted[1:] == ring_sorted[:-1]
    jump = np.zeros(len(r))
    forward = np.where(same, r[1:] - r[:-1], 0.0)  # positive: the next return is farther
    jump[:-1] = np.maximum(jump[:-1], forward)
    jump[1:] = np.maximum(jump[1:], np.where(same, -forward, 0.0))
    keep = np.flatnonzero(jump >= config.min_depth_jump_m)
    return order[keep], np.sqrt(jump[keep])


def strongest(indices: np.ndarray, weights: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``count`` edges, the heaviest, in their original order (deterministic ties)."""
    if len(indices) <= count:
        return indices, weights
    keep = np.sort(np.argsort(-weights, kind="stable")[:count])
    return indices[keep], weights[keep]


def move_planar(points: Any, dt_s: Any, velocity: tuple[float, float], yaw_rate: float,
                xp: ModuleType) -> Any:
    """Points in base_link at their own times into base_link ``dt_s`` later (constant planar twist).

    The ego moved by ``v dt`` (along the chord, i.e. rotated by half the turn) and turned by
    ``yaw_rate dt``; ``points`` (..., N, 3) and ``dt_s`` broadcast against each other.
    """
    theta = yaw_rate * dt_s
    half_c, half_s = xp.cos(0.5 * theta), xp.sin(0.5 * theta)
    dx = (velocity[0] * half_c - velocity[1] * half_s) * dt_s
    dy = (velocity[0] * half_s + velocity[1] * half_c) * dt_s
    px, py = points[..., 0] - dx, points[..., 1] - dy
    c, s = xp.cos(theta), xp.sin(theta)
    return xp.stack([c * px + s * py, -s * px + c * py, xp.broadcast_to(points[..., 2], px.shape)], axis=-1)


def perturbations(step_deg: float, *, scan_steps: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rotation vectors (deg, camera optical axes) to test: identity first, then the 26 neighbours of the
    3x3x3 grid at ``step_deg``, then per-axis scans out to ``scan_steps`` steps (for estimating the error).
    Returns (rotvecs_deg (K, 3), matrices (K, 3, 3))."""
    grid = np.stack(np.meshgrid(*[(-1, 0, 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    grid = grid[np.argsort(np.abs(grid).sum(1), kind="stable")]
    steps = [k for k in range(-scan_steps, scan_steps + 1) if abs(k) > 1]
    scans = [np.eye(3)[axis] * k for axis in range(3) for k in steps]
    rotvecs = np.vstack([grid, *scans]) * step_deg if scans else grid * step_deg
    return rotvecs, Rotation.from_rotvec(np.radians(rotvecs)).as_matrix()


def perturbations_about(axis: int, angles_deg: np.ndarray) -> np.ndarray:
    """Rotation matrices (K, 3, 3) about one camera optical axis (0: x tilt, 1: y pan, 2: z roll)."""
    rotvecs = np.zeros((len(angles_deg), 3))
    rotvecs[:, axis] = angles_deg
    return Rotation.from_rotvec(np.radians(rotvecs)).as_matrix()


def alignment_scores(
    edge_map: Any,
    points_base: Any,
    dt_s: Any,
    weights: Any,
    shifts_s: Any,
    rotations: Any,
    T_cam_base: np.ndarray,
    model: CameraModel,
    velocity: tuple[float, float],
    yaw_rate: float,
    xp: ModuleType = np,
) -> Any:
    """Edge score J for every (time shift, camera rotation) hypothesis: an array (M, K).

    ``dt_s`` (N,) is each point's time from capture to the camera stamp; hypothesis (m, k) moves the
    points to the stamp plus ``shifts_s[m]`` and views them through ``rotations[k] @ T_cam_base``.
    """
    pts = xp.asarray(points_base, dtype=xp.float64)
    shifts = xp.asarray(shifts_s, dtype=xp.float64)
    rots = xp.asarray(rotations, dtype=xp.float64)
    T = xp.asarray(T_cam_base, dtype=xp.float64)
    moved = move_planar(pts[None], xp.asarray(dt_s)[None, :] + shifts[:, None], velocity, yaw_rate, xp)
    cam = moved @ T[:3, :3].T + T[:3, 3]  # (M, N, 3)
    views = xp.einsum("kij,mnj->mkni", rots, cam)  # (M, K, N, 3)
    m, k, n = views.shape[:3]
    uv, _, valid = model.project(views.reshape(-1, 3), xp)
    u = xp.where(valid, uv[:, 0], 0).astype(xp.int64)
    v = xp.where(valid, uv[:, 1], 0).astype(xp.int64)
    sampled = xp.where(valid, xp.asarray(edge_map)[v, u], 0.0).reshape(m, k, n)
    return sampled @ xp.asarray(weights, dtype=xp.float64)
