"""Ego poses known at knot times, evaluated at any instant the way fusion interpolates odometry.

Why the same formula: an import recreates a raw sweep by moving each world point into the sensor frame
with the pose at the point's own time; replay moves it back with ``fusion.EgoMotion`` (slerp rotation,
linear translation between odometry samples). Interpolating here exactly as there makes the pipeline's
compensation undo the import's. Outside the knots both ends extrapolate their last interval.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import FusionError
from mmfusion_annotate.fusion.compensation import apply_entries, exp_entries, rodrigues_factors
from mmfusion_annotate.types import NS_PER_S


def _segments(knots_ns: np.ndarray, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(interval index, fraction) of each time; fractions leave [0, 1] outside the knots."""
    if len(knots_ns) < 2 or np.any(np.diff(knots_ns) <= 0):
        raise FusionError("pose interpolation needs two or more strictly increasing knot stamps")
    k = np.clip(np.searchsorted(knots_ns, t_ns, side="right") - 1, 0, len(knots_ns) - 2)
    start = knots_ns[k]
    return k, (np.asarray(t_ns, np.int64) - start) / (knots_ns[k + 1] - start)


def _steps(poses: np.ndarray) -> np.ndarray:
    """Rotation vector of R_k^T R_(k+1) for each interval (``PoseTrack.steps``)."""
    rotations = Rotation.from_matrix(poses[:, :3, :3])
    return (rotations[:-1].inv() * rotations[1:]).as_rotvec()


def interpolate_poses(
    knots_ns: np.ndarray, poses: np.ndarray, t_ns: np.ndarray
) -> tuple[Rotation, np.ndarray]:
    """Rotations and translations (N, 3) of the 4x4 ``poses`` at ``knots_ns``, evaluated at ``t_ns``."""
    knots_ns = np.asarray(knots_ns, np.int64)
    k, fraction = _segments(knots_ns, np.asarray(t_ns, np.int64))
    turned = Rotation.from_matrix(poses[k, :3, :3]) * Rotation.from_rotvec(
        fraction[:, None] * _steps(poses)[k]
    )
    translations = poses[k, :3, 3] + fraction[:, None] * (poses[k + 1, :3, 3] - poses[k, :3, 3])
    return turned, translations


def world_to_moving_frame(
    knots_ns: np.ndarray, poses: np.ndarray, xyz_world: np.ndarray, t_ns: np.ndarray
) -> np.ndarray:
    """Each world point in the moving frame of ``poses`` (T_world_frame) as it stood at the point's time.

    The inverse of ``fusion.compensation.track_points``, with its per-point rotation terms: a point at
    fraction f of interval k is ``exp(-f step_k) R_k^T (x - p(t))``.
    """
    knots_ns = np.asarray(knots_ns, np.int64)
    k, fraction = _segments(knots_ns, np.asarray(t_ns, np.int64))
    steps = _steps(poses)
    shift = poses[k, :3, 3] + fraction[:, None] * (poses[k + 1, :3, 3] - poses[k, :3, 3])
    local = np.einsum("nji,nj->ni", poses[k, :3, :3], np.asarray(xyz_world, np.float64) - shift)
    r = -fraction[:, None] * steps[k]
    turn = exp_entries(r[:, 0], r[:, 1], r[:, 2], *rodrigues_factors(np.einsum("ni,ni->n", r, r), np))
    return np.stack(apply_entries(turn, local[:, 0], local[:, 1], local[:, 2]), axis=1)


def body_twist(knots_ns: np.ndarray, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(linear, angular) velocity (K, 3) at each knot in the moving frame's own axes, by central
    differences of the neighbouring poses (one-sided at both ends), as ``nav_msgs/Odometry`` carries it."""
    knots_ns = np.asarray(knots_ns, np.int64)
    if len(knots_ns) < 2:
        return np.zeros((len(knots_ns), 3)), np.zeros((len(knots_ns), 3))
    index = np.arange(len(knots_ns))
    before, after = np.maximum(index - 1, 0), np.minimum(index + 1, len(knots_ns) - 1)
    dt = (knots_ns[after] - knots_ns[before]) / NS_PER_S
    rotations = Rotation.from_matrix(poses[:, :3, :3])
    world_velocity = (poses[after, :3, 3] - poses[before, :3, 3]) / dt[:, None]
    linear = np.einsum("kji,kj->ki", poses[:, :3, :3], world_velocity)
    angular = (rotations[before].inv() * rotations[after]).as_rotvec() / dt[:, None]
    return linear, angular
