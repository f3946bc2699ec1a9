"""Camera model with the semantics of sensor_msgs/CameraInfo, and the reference projection math.

``project`` maps points in the camera's optical frame (x right, y down, z forward) to pixels of the
*raw* image the camera publishes (K and D); ``project_rectified`` uses R and P, as image_geometry
does for the rectified image. All array methods are written once against ``xp`` (numpy or cupy).

Pixel convention (OpenCV / ROS): pixel (i, j) has its centre at u = i, v = j; a projected point is
inside the image when 0 <= u < width and 0 <= v < height (``floor(u)`` is the column index).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from mmfusion_annotate.errors import RigError
from mmfusion_annotate.rig import distortion
from mmfusion_annotate.xp import array_module

DistortionModel = Literal["plumb_bob", "rational_polynomial", "equidistant"]

_ORTHONORMAL_TOL = 1e-5


def _frozen(values: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    if array.size != math.prod(shape):
        raise RigError(f"{name} needs {math.prod(shape)} values, got {array.size}", key=name)
    array = array.reshape(shape)
    if not np.all(np.isfinite(array)):
        raise RigError(f"{name} has non-finite values", key=name)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False, init=False)
class CameraModel:
    """Intrinsics of one camera exactly as CameraInfo carries them (K, D, R, P, image size).

    The constructor takes any array-likes (nested lists from YAML, tuples) and stores them validated
    and read-only: K (3, 3), R (3, 3, identity if omitted), P (3, 4, ``[K | 0]`` if omitted), D with
    the model's coefficient count (zeros if omitted). ``max_fov_deg`` (optional, full cone angle)
    narrows the valid field of view below the angle where the distortion polynomial stops being
    monotonic, which is always enforced.
    """

    width: int
    height: int
    K: np.ndarray
    D: tuple[float, ...]
    distortion_model: DistortionModel
    R: np.ndarray
    P: np.ndarray
    max_fov_deg: float | None
    theta_max: float = field(init=False, repr=False)

    def __init__(self, width: int, height: int, K: ArrayLike, D: Iterable[float] = (),
                 distortion_model: DistortionModel = "plumb_bob", R: ArrayLike | None = None,
                 P: ArrayLike | None = None, max_fov_deg: float | None = None) -> None:
        set_ = object.__setattr__
        if distortion_model not in distortion.DISTORTION_MODELS:
            raise RigError(
                f"unknown distortion model '{distortion_model}' "
                f"(expected one of {', '.join(distortion.DISTORTION_MODELS)})",
                key="distortion_model",
            )
        set_(self, "distortion_model", distortion_model)
        if int(width) <= 0 or int(height) <= 0:
            raise RigError(f"image size must be positive, got {width}x{height}", key="width")
        set_(self, "width", int(width))
        set_(self, "height", int(height))
        K_ = _frozen(K, (3, 3), "K")
        if K_[0, 0] <= 0 or K_[1, 1] <= 0 or K_[1, 0] != 0 or not np.array_equal(K_[2], [0.0, 0.0, 1.0]):
            raise RigError("K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0", key="K")
        set_(self, "K", K_)
        D_ = tuple(float(c) for c in D)
        expected = distortion.COEFFICIENT_COUNT[distortion_model]
        if len(D_) == 0:
            D_ = (0.0,) * expected
        if len(D_) != expected:
            raise RigError(f"{distortion_model} needs {expected} coefficients in D, got {len(D_)}", key="D")
        set_(self, "D", D_)
        R_ = _frozen(np.eye(3) if R is None else R, (3, 3), "R")
        if np.abs(R_.T @ R_ - np.eye(3)).max() > _ORTHONORMAL_TOL or np.linalg.det(R_) <= 0:
            raise RigError("R is not a rotation (orthonormal, det +1)", key="R")
        set_(self, "R", R_)
        set_(self, "P", _frozen(np.hstack([K_, np.zeros((3, 1))]) if P is None else P, (3, 4), "P"))
        theta = distortion.max_incidence_angle(distortion_model, D_)
        if max_fov_deg is not None:
            if not 0 < max_fov_deg <= 360:
                raise RigError(f"max_fov_deg must be in (0, 360], got {max_fov_deg}", key="max_fov_deg")
            theta = min(theta, math.radians(max_fov_deg) / 2)
        set_(self, "max_fov_deg", max_fov_deg)
        set_(self, "theta_max", theta)

    # ------------------------------------------------------------------ comparisons
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CameraModel):
            return NotImplemented
        return self.isclose(other, atol=0.0)

    __hash__ = None  # type: ignore[assignment]  # equal models compare by value, so none is hashable

    def isclose(self, other: CameraModel, atol: float = 1e-9) -> bool:
        """Same model, size and (within ``atol``) the same K, D, R, P."""
        return (
            self.width == other.width
            and self.height == other.height
            and self.distortion_model == other.distortion_model
            and self.max_fov_deg == other.max_fov_deg
            and np.allclose(self.D, other.D, rtol=0, atol=atol)
            and all(
                np.allclose(a, b, rtol=0, atol=atol)
                for a, b in ((self.K, other.K), (self.R, other.R), (self.P, other.P))
            )
        )

    # ------------------------------------------------------------------ projection
    def project(self, points_cam: Any, xp: ModuleType | None = None) -> tuple[Any, Any, Any]:
        """Points (N, 3) in the optical frame -> raw-image pixels ``uv`` (N, 2), ``depth`` = z, ``valid``.

        ``valid``: in front (z > 0), inside the lens' valid field of view (no fold-back of the
        distortion polynomial), and inside the image. ``uv`` is NaN for points outside the field of
        view; it is finite (possibly outside the image) for the others.
        """
        xp = xp or array_module(points_cam)
        pts = xp.asarray(points_cam)
        if pts.dtype.kind != "f":
            pts = pts.astype(xp.float64)
        X, Y, Z = xp.ascontiguousarray(pts.T)  # contiguous columns: the element-wise work runs ~2x faster
        rxy = xp.sqrt(X * X + Y * Y)
        if self.distortion_model == "equidistant":
            theta = xp.arctan2(rxy, Z)
            in_fov = (Z > 0) & (theta < self.theta_max)
            theta_d = distortion.distort_equidistant(theta, self.D)
            tiny = rxy <= 1e-12 * xp.abs(Z)
            scale = xp.where(tiny, 1.0 / xp.where(in_fov, Z, 1.0), theta_d / xp.where(tiny, 1.0, rxy))
            xd, yd = X * scale, Y * scale
        else:
            in_fov = (Z > 0) & (rxy < math.tan(self.theta_max) * Z)
            inv_z = 1.0 / xp.where(in_fov, Z, 1.0)  # points outside the FOV give finite junk, masked below
            x, y = X * inv_z, Y * inv_z
            xd, yd = distortion.distort_pinhole(x, y, self.D)
        u, v = self._to_pixels(xd, yd)
        nan = xp.asarray(xp.nan, dtype=u.dtype)
        u = xp.where(in_fov, u, nan)
        v = xp.where(in_fov, v, nan)
        valid = in_fov & (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)
        return xp.stack([u, v], axis=1), Z, valid

    def project_rectified(self, points_cam: Any, xp: ModuleType | None = None) -> tuple[Any, Any, Any]:
        """Points in the (unrectified) camera frame -> rectified-image pixels via R then P (CameraInfo).

        Returns ``(uv, depth, valid)`` with depth = z in the rectified frame; no distortion is applied.
        """
        xp = xp or array_module(points_cam)
        pts = xp.asarray(points_cam)
        if pts.dtype.kind != "f":
            pts = pts.astype(xp.float64)
        rect = pts @ xp.asarray(self.R.T, dtype=pts.dtype)
        P = self.P
        uvw = rect @ xp.asarray(P[:, :3].T, dtype=pts.dtype) + xp.asarray(P[:, 3], dtype=pts.dtype)
        w = uvw[:, 2]
        front = (rect[:, 2] > 0) & (w > 0)
        w_safe = xp.where(front, w, 1.0)
        u = xp.where(front, uvw[:, 0] / w_safe, xp.nan)
        v = xp.where(front, uvw[:, 1] / w_safe, xp.nan)
        valid = front & (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)
        return xp.stack([u, v], axis=1), rect[:, 2], valid

    def pixel_to_ray(self, uv: Any, xp: ModuleType | None = None) -> Any:
        """Raw-image pixels (N, 2) -> unit rays (N, 3) in the optical frame (NaN where no ray exists)."""
        xp = xp or array_module(uv)
        uv = xp.asarray(uv)
        if uv.dtype.kind != "f":
            uv = uv.astype(xp.float64)
        xd, yd = self._from_pixels(uv[:, 0], uv[:, 1])
        if self.distortion_model == "equidistant":
            theta_d = xp.sqrt(xd * xd + yd * yd)
            theta = distortion.undistort_equidistant(theta_d, self.D, self.theta_max, xp)
            residual = xp.abs(distortion.distort_equidistant(theta, self.D) - theta_d)
            s = xp.where(theta_d > 0, xp.sin(theta) / xp.where(theta_d > 0, theta_d, 1.0), 1.0)
            rays = xp.stack([xd * s, yd * s, xp.cos(theta)], axis=1)
        else:
            x, y = distortion.undistort_pinhole(xd, yd, self.D, math.tan(self.theta_max), xp)
            ex, ey = distortion.distort_pinhole(x, y, self.D)
            residual = xp.sqrt((ex - xd) ** 2 + (ey - yd) ** 2)
            rays = xp.stack([x, y, xp.ones_like(x)], axis=1)
            rays = rays / xp.sqrt(x * x + y * y + 1.0)[:, None]
        # a pixel with no pre-image inside the valid field of view gets no ray
        converged = residual * float(self.K[0, 0]) < 1e-6 * (1.0 + xp.abs(xd) + xp.abs(yd))
        return xp.where(converged[:, None], rays, xp.nan)

    def unproject(self, uv: Any, depth: Any, xp: ModuleType | None = None) -> Any:
        """Raw-image pixels (N, 2) and depth (z, N) -> points (N, 3) in the optical frame."""
        xp = xp or array_module(uv)
        rays = self.pixel_to_ray(uv, xp)
        z = rays[:, 2]
        ok = z > 0
        scale = xp.where(ok, xp.asarray(depth) / xp.where(ok, z, 1.0), xp.nan)
        return rays * scale[:, None]

    def rectify_pixels(self, uv: Any, xp: ModuleType | None = None) -> Any:
        """Raw-image pixels -> rectified-image pixels (undistort, rotate by R, apply P), like
        ``cv2.undistortPoints(uv, K, D, R=R, P=P)``."""
        xp = xp or array_module(uv)
        rays = self.pixel_to_ray(uv, xp)
        rect = rays @ xp.asarray(self.R.T, dtype=rays.dtype)
        uvw = rect @ xp.asarray(self.P[:, :3].T, dtype=rays.dtype)
        return uvw[:, :2] / uvw[:, 2:3]

    def _to_pixels(self, xd: Any, yd: Any) -> tuple[Any, Any]:
        K = self.K
        return float(K[0, 0]) * xd + float(K[0, 1]) * yd + float(K[0, 2]), float(K[1, 1]) * yd + float(
            K[1, 2]
        )

    def _from_pixels(self, u: Any, v: Any) -> tuple[Any, Any]:
        K = self.K
        yd = (v - float(K[1, 2])) / float(K[1, 1])
        return (u - float(K[0, 2]) - float(K[0, 1]) * yd) / float(K[0, 0]), yd

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_camera_info(cls, msg: Any) -> CameraModel:
        """Build from a sensor_msgs/CameraInfo (all-zero R or P read as identity / [K|0])."""
        from mmfusion_annotate.rig.camera_io import model_from_camera_info  # noqa: PLC0415 - cycle

        return model_from_camera_info(msg)

    def to_camera_info(self, frame_id: str, stamp: int = 0) -> Any:
        """A sensor_msgs/CameraInfo with this model (``stamp`` in integer ns)."""
        from mmfusion_annotate.rig.camera_io import model_to_camera_info  # noqa: PLC0415 - cycle

        return model_to_camera_info(self, frame_id, stamp)

    @classmethod
    def from_calibration_yaml(cls, path_or_text: str | Path) -> CameraModel:
        """Read a ROS camera_calibration YAML file (a Path, or the YAML text itself)."""
        from mmfusion_annotate.rig.camera_io import load_calibration_yaml  # noqa: PLC0415 - cycle

        return load_calibration_yaml(path_or_text)

    def to_calibration_yaml(self, camera_name: str = "camera") -> str:
        """The ROS camera_calibration YAML text of this model."""
        from mmfusion_annotate.rig.camera_io import dump_calibration_yaml  # noqa: PLC0415 - cycle

        return dump_calibration_yaml(self, camera_name)
