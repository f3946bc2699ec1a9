"""Rigid transforms as 4x4 float64 matrices: the few SE(3) operations fusion needs."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def make_pose(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4x4 homogeneous transform from a 3x3 rotation and a translation."""
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = translation
    return pose


def invert_pose(pose: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform (transpose, not a general matrix inverse)."""
    rot_t = pose[:3, :3].T
    return make_pose(rot_t, -rot_t @ pose[:3, 3])


def exp_se3(translation_step: np.ndarray, rotation_step: np.ndarray) -> np.ndarray:
    """Pose reached after a constant body twist: ``v*dt`` (translation_step) and ``w*dt`` (rotation_step)."""
    phi = np.asarray(rotation_step, dtype=np.float64)
    theta = float(np.linalg.norm(phi))
    hat = np.array([[0.0, -phi[2], phi[1]], [phi[2], 0.0, -phi[0]], [-phi[1], phi[0], 0.0]])
    if theta < 1e-9:
        v_matrix = np.eye(3) + 0.5 * hat
    else:
        v_matrix = (
            np.eye(3)
            + (1.0 - np.cos(theta)) / theta**2 * hat
            + (theta - np.sin(theta)) / theta**3 * (hat @ hat)
        )
    return make_pose(Rotation.from_rotvec(phi).as_matrix(), v_matrix @ np.asarray(translation_step, float))
