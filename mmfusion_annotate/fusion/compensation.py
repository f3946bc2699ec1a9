"""Motion compensation: every point moved from its own capture time into one reference frame.

The sweep's points are captured over ~100 ms while the vehicle moves. With the ego poses as a
``PoseTrack`` relative to the pose at the sweep stamp (t_ref), a point p captured at t_i becomes
``p_ref = T_ref_base(t_i) p``; a camera exposed at t_c then sees it at
``T_cam_base T_ref_base(t_c)^-1 p_ref``, which is p_base(t_c) = T_world_base(t_c)^-1 T_world_base(t_i) p.
The per-point formula is written once against ``xp`` (numpy / CuPy); the numba kernel mirrors it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import FusionError
from mmfusion_annotate.fusion.poses import invert_pose, make_pose
from mmfusion_annotate.types import Stamp


@dataclass(frozen=True)
class PoseTrack:
    """Poses of base_link at knot times, between knots interpolated like ``Slerp`` + linear translation.

    ``steps[k]`` is the rotation vector of ``R_k^T R_{k+1}``, so the pose at fraction s of interval k is
    ``R_k exp(s steps[k])``, ``p_k + s (p_{k+1} - p_k)``: cheap per point and identical in every backend.
    """

    times_ns: np.ndarray  # (K,) int64, increasing
    rotations: np.ndarray  # (K, 3, 3) float64
    translations: np.ndarray  # (K, 3) float64
    steps: np.ndarray  # (max(K-1, 1), 3) float64

    @staticmethod
    def from_poses(times_ns: np.ndarray, poses: np.ndarray) -> PoseTrack:
        """Build from (K,) stamps and (K,4,4) poses."""
        times = np.asarray(times_ns, dtype=np.int64)
        if times.ndim != 1 or len(times) == 0 or np.any(np.diff(times) <= 0):
            raise FusionError("pose track needs at least one knot and strictly increasing stamps")
        rotations = np.ascontiguousarray(poses[:, :3, :3], dtype=np.float64)
        translations = np.ascontiguousarray(poses[:, :3, 3], dtype=np.float64)
        if len(times) > 1:
            relative = Rotation.from_matrix(np.einsum("kji,kjl->kil", rotations[:-1], rotations[1:]))
            steps = relative.as_rotvec()
        else:
            steps = np.zeros((1, 3))
        return PoseTrack(times, rotations, translations, np.ascontiguousarray(steps))

    def relative_to(self, reference: np.ndarray) -> PoseTrack:
        """The same motion expressed in the frame of ``reference`` (keeps numbers small, world-free)."""
        inv = invert_pose(reference)
        rotations = np.einsum("ij,kjl->kil", inv[:3, :3], self.rotations)
        translations = self.translations @ inv[:3, :3].T + inv[:3, 3]
        return PoseTrack(self.times_ns, rotations, translations, self.steps)

    def pose(self, stamp: Stamp) -> np.ndarray:
        """4x4 pose at one stamp with the per-point formula (so cameras and points agree exactly)."""
        origin_and_axes = np.vstack([np.zeros(3), np.eye(3)])
        moved = track_points(origin_and_axes, np.full(4, stamp, dtype=np.int64), self, np)
        return make_pose((moved[1:] - moved[0]).T, moved[0])


def _rotate_by_rotvec(vectors: Any, rotvecs: Any, xp: ModuleType) -> Any:
    """Rodrigues' formula applied to vectors directly (no per-point 3x3 matrices)."""
    theta = xp.sqrt(xp.sum(rotvecs * rotvecs, axis=1, keepdims=True))
    small = theta < 1e-12
    safe = xp.where(small, 1.0, theta)
    axis = rotvecs / safe
    cross = xp.cross(axis, vectors)
    dot = xp.sum(axis * vectors, axis=1, keepdims=True)
    rotated = vectors * xp.cos(theta) + cross * xp.sin(theta) + axis * dot * (1.0 - xp.cos(theta))
    return xp.where(small, vectors + xp.cross(rotvecs, vectors), rotated)


def track_points(points: Any, t_ns: Any, track: PoseTrack, xp: ModuleType = np) -> Any:
    """Points (N,3) captured at t_ns (N,) moved into the track's frame: ``R(t) p + p(t)``, float64."""
    pts = xp.asarray(points, dtype=xp.float64)
    times = xp.asarray(track.times_ns)
    rotations = xp.asarray(track.rotations)
    translations = xp.asarray(track.translations)
    if len(track.times_ns) == 1:
        return pts @ rotations[0].T + translations[0]
    stamps = xp.asarray(t_ns, dtype=xp.int64)
    k = xp.clip(xp.searchsorted(times, stamps, side="right") - 1, 0, len(track.times_ns) - 2)
    start = times[k]
    fraction = ((stamps - start).astype(xp.float64) / (times[k + 1] - start).astype(xp.float64))[:, None]
    turned = _rotate_by_rotvec(pts, fraction * xp.asarray(track.steps)[k], xp)
    moved = xp.einsum("nij,nj->ni", rotations[k], turned)
    return moved + translations[k] + fraction * (translations[k + 1] - translations[k])
