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


def _left_jacobian(phi: np.ndarray) -> np.ndarray:
    """V(phi): the translation of exp(v, phi) is V(phi) @ v (SE(3) left Jacobian of SO(3))."""
    theta = float(np.linalg.norm(phi))
    hat = np.array([[0.0, -phi[2], phi[1]], [phi[2], 0.0, -phi[0]], [-phi[1], phi[0], 0.0]])
    if theta < 1e-9:
        return np.eye(3) + 0.5 * hat
    return (
        np.eye(3) + (1.0 - np.cos(theta)) / theta**2 * hat + (theta - np.sin(theta)) / theta**3 * (hat @ hat)
    )


def exp_se3(translation_step: np.ndarray, rotation_step: np.ndarray) -> np.ndarray:
    """Pose reached after a constant body twist: ``v*dt`` (translation_step) and ``w*dt`` (rotation_step)."""
    phi = np.asarray(rotation_step, dtype=np.float64)
    translation = _left_jacobian(phi) @ np.asarray(translation_step, dtype=np.float64)
    return make_pose(Rotation.from_rotvec(phi).as_matrix(), translation)


def log_se3(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`exp_se3`: the (translation_step, rotation_step) of the constant twist."""
    phi = Rotation.from_matrix(pose[:3, :3]).as_rotvec()
    return np.linalg.solve(_left_jacobian(phi), pose[:3, 3]), phi
