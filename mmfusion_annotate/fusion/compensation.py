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


SERIES_THETA2 = 2.5e-3  # below this squared angle (0.05 rad) the series are exact to the last bit


def rodrigues_series(theta2: Any) -> tuple[Any, Any]:
    """sin(t)/t and (1 - cos(t))/t^2 for t^2 = theta2 by their Taylor series: the per-point turn of a
    sweep is ~1e-3 rad, so this is the common case, and it needs no sin/cos. Scalars or xp arrays."""
    return (
        1.0 - theta2 / 6.0 * (1.0 - theta2 / 20.0 * (1.0 - theta2 / 42.0)),
        0.5 * (1.0 - theta2 / 12.0 * (1.0 - theta2 / 30.0 * (1.0 - theta2 / 56.0))),
    )


def rodrigues_factors(theta2: Any, xp: ModuleType) -> tuple[Any, Any]:
    """:func:`rodrigues_series` below ``SERIES_THETA2``, sin/cos above (xp arrays)."""
    small = theta2 < SERIES_THETA2
    safe = xp.where(small, 1.0, theta2)
    theta = xp.sqrt(safe)
    series_a, series_b = rodrigues_series(theta2)
    return (
        xp.where(small, series_a, xp.sin(theta) / theta),
        xp.where(small, series_b, (1.0 - xp.cos(theta)) / safe),
    )


def exp_entries(rx: Any, ry: Any, rz: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """Row-major entries of exp([r]x) = I + a [r]x + b [r]x^2 for the rotation vector r; scalars (the
    numba kernel) or xp arrays (the reference) alike, so both evaluate the same terms in the same order."""
    xy, xz, yz = rx * ry, rx * rz, ry * rz
    return (
        1.0 - b * (ry * ry + rz * rz), b * xy - a * rz, b * xz + a * ry,
        b * xy + a * rz, 1.0 - b * (rx * rx + rz * rz), b * yz - a * rx,
        b * xz - a * ry, b * yz + a * rx, 1.0 - b * (rx * rx + ry * ry),
    )  # fmt: skip


def apply_entries(m: tuple[Any, ...], x: Any, y: Any, z: Any) -> tuple[Any, Any, Any]:
    """(x, y, z) multiplied by the 3x3 matrix given as 9 row-major entries (scalars or arrays)."""
    return (
        m[0] * x + m[1] * y + m[2] * z,
        m[3] * x + m[4] * y + m[5] * z,
        m[6] * x + m[7] * y + m[8] * z,
    )


def track_points(points: Any, t_ns: Any, track: PoseTrack, xp: ModuleType = np) -> Any:
    """Points (N,3) captured at t_ns (N,) moved into the track's frame: ``R(t) p + p(t)``, float64.

    Per point: knot interval k and fraction f, then ``R_k (exp(f steps[k]) p) + (p_k + f (p_{k+1} - p_k))``
    from :func:`exp_entries` / :func:`apply_entries`, the functions the numba kernel compiles."""
    pts = xp.asarray(points, dtype=xp.float64)
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    times = xp.asarray(track.times_ns)
    rotations = xp.asarray(track.rotations).reshape(-1, 9)
    translations = xp.asarray(track.translations)
    if len(track.times_ns) == 1:
        moved = apply_entries(tuple(rotations[0]), x, y, z)
        return xp.stack([moved[d] + translations[0, d] for d in range(3)], axis=1)
    stamps = xp.asarray(t_ns, dtype=xp.int64)
    k = xp.clip(xp.searchsorted(times, stamps, side="right") - 1, 0, len(track.times_ns) - 2)
    start = times[k]
    fraction = (stamps - start).astype(xp.float64) / (times[k + 1] - start).astype(xp.float64)
    step = xp.asarray(track.steps)[k]
    rx, ry, rz = fraction * step[:, 0], fraction * step[:, 1], fraction * step[:, 2]
    turned = apply_entries(
        exp_entries(rx, ry, rz, *rodrigues_factors(rx * rx + ry * ry + rz * rz, xp)), x, y, z
    )
    rot = rotations[k]
    moved = apply_entries(tuple(rot[:, e] for e in range(9)), *turned)
    shift = translations[k] + fraction[:, None] * (translations[k + 1] - translations[k])
    return xp.stack([moved[d] + shift[:, d] for d in range(3)], axis=1)
