"""Pydantic models of the rig YAML file: types, required keys and per-key checks.

Cross-sensor checks (duplicate names/topics, the frame tree) live in ``loader``; this module only
knows one entry at a time, so each error points at one key.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from scipy.spatial.transform import Rotation

from mmfusion_annotate.rig.distortion import COEFFICIENT_COUNT

Float = StrictFloat
PositiveFloat = Annotated[StrictFloat, Field(gt=0)]
NonNegativeFloat = Annotated[StrictFloat, Field(ge=0)]
Vector3 = tuple[Float, Float, Float]

QUATERNION_NORM_TOL = 1e-4
ORTHONORMAL_TOL = 1e-5
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOPIC = re.compile(r"^/?[A-Za-z_~][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")

SensorKind = Literal["camera", "lidar", "radar", "imu", "odometry"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _matrix(values: Any, rows: int, cols: int) -> tuple[float, ...]:
    """Accept a flat row-major list (as CameraInfo stores it) or nested rows; return the flat tuple."""
    if isinstance(values, list | tuple) and values and all(isinstance(r, list | tuple) for r in values):
        if len(values) != rows or any(len(r) != cols for r in values):
            raise ValueError(f"must be {rows}x{cols}")
        values = [v for r in values for v in r]
    if not isinstance(values, list | tuple) or len(values) != rows * cols:
        raise ValueError(f"must be {rows * cols} numbers (row-major {rows}x{cols}) or {rows} rows of {cols}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ValueError("must contain numbers only")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("must contain finite numbers")
    return tuple(float(v) for v in values)


def _check_rotation_matrix(values: tuple[float, ...]) -> tuple[float, ...]:
    R = np.array(values).reshape(3, 3)
    if np.abs(R.T @ R - np.eye(3)).max() > ORTHONORMAL_TOL:
        raise ValueError(f"is not orthonormal (max |RᵀR - I| = {np.abs(R.T @ R - np.eye(3)).max():.2g})")
    if np.linalg.det(R) <= 0:
        raise ValueError("has determinant -1 (a reflection, not a rotation)")
    return values


class Extrinsic(_Strict):
    """Pose of a frame in its parent: p_parent = T @ p_frame.

    Rotation as one of ``quaternion`` [x, y, z, w], ``rpy`` (rad) / ``rpy_deg`` (fixed axes X, Y, Z,
    as tf2 uses), or ``rotation_matrix`` (3x3); none given means identity.
    """

    parent: StrictStr = "base_link"
    translation: Vector3 = (0.0, 0.0, 0.0)
    quaternion: tuple[Float, Float, Float, Float] | None = None
    rpy: Vector3 | None = None
    rpy_deg: Vector3 | None = None
    rotation_matrix: tuple[float, ...] | None = None

    @field_validator("quaternion")
    @classmethod
    def _unit_quaternion(cls, q: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if q is not None and abs(math.sqrt(sum(c * c for c in q)) - 1.0) > QUATERNION_NORM_TOL:
            raise ValueError(f"is not a unit quaternion (norm {math.sqrt(sum(c * c for c in q)):.6g})")
        return q

    @field_validator("rotation_matrix", mode="before")
    @classmethod
    def _rotation_matrix(cls, values: Any) -> tuple[float, ...] | None:
        return None if values is None else _check_rotation_matrix(_matrix(values, 3, 3))

    @model_validator(mode="after")
    def _one_rotation(self) -> Extrinsic:
        given = [
            k for k in ("quaternion", "rpy", "rpy_deg", "rotation_matrix") if getattr(self, k) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give one rotation, not {' and '.join(given)}")
        return self

    def matrix(self) -> np.ndarray:
        """4x4 homogeneous transform (rotation matrices are kept as written, not re-orthonormalized)."""
        T = np.eye(4)
        if self.quaternion is not None:
            T[:3, :3] = Rotation.from_quat(self.quaternion).as_matrix()
        elif self.rpy is not None:
            T[:3, :3] = Rotation.from_euler("xyz", self.rpy).as_matrix()
        elif self.rpy_deg is not None:
            T[:3, :3] = Rotation.from_euler("xyz", self.rpy_deg, degrees=True).as_matrix()
        elif self.rotation_matrix is not None:
            T[:3, :3] = np.array(self.rotation_matrix).reshape(3, 3)
        T[:3, 3] = self.translation
        return T


class FrameEntry(_Strict):
    """An intermediate frame (e.g. a roof mount) other frames can hang from."""

    name: StrictStr
    extrinsic: Extrinsic


class CameraBlock(_Strict):
    """Camera intrinsics in CameraInfo terms, plus how the image is published."""

    width: Annotated[StrictInt, Field(gt=0)]
    height: Annotated[StrictInt, Field(gt=0)]
    K: tuple[float, ...]
    distortion_model: Literal["plumb_bob", "rational_polynomial", "equidistant"]
    D: tuple[Float, ...] = ()
    R: tuple[float, ...] | None = None
    P: tuple[float, ...] | None = None
    max_fov_deg: Annotated[StrictFloat, Field(gt=0, le=360)] | None = None
    compressed: StrictBool = False
    info_topic: StrictStr | None = None

    @field_validator("K", mode="before")
    @classmethod
    def _k(cls, values: Any) -> tuple[float, ...]:
        K = _matrix(values, 3, 3)
        if K[0] <= 0 or K[4] <= 0 or K[3] != 0 or K[6:] != (0.0, 0.0, 1.0):
            raise ValueError("must be [fx, s, cx, 0, fy, cy, 0, 0, 1] with fx, fy > 0")
        return K

    @field_validator("R", mode="before")
    @classmethod
    def _r(cls, values: Any) -> tuple[float, ...] | None:
        return None if values is None else _check_rotation_matrix(_matrix(values, 3, 3))

    @field_validator("P", mode="before")
    @classmethod
    def _p(cls, values: Any) -> tuple[float, ...] | None:
        return None if values is None else _matrix(values, 3, 4)

    @field_validator("D")
    @classmethod
    def _d(cls, D: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        model = info.data.get("distortion_model")
        if model is not None and len(D) not in (0, COEFFICIENT_COUNT[model]):
            raise ValueError(f"{model} needs {COEFFICIENT_COUNT[model]} coefficients, got {len(D)}")
        return D

    @field_validator("info_topic")
    @classmethod
    def _info_topic(cls, topic: str | None) -> str | None:
        if topic is not None and not _TOPIC.match(topic):
            raise ValueError(f"'{topic}' is not a valid ROS topic name")
        return topic


class LidarSpec(_Strict):
    """Scan pattern of a spinning LiDAR; ``vertical_range_deg: [lowest, highest]`` spaces the beams evenly."""

    beams: Annotated[StrictInt, Field(gt=0)]
    vertical_angles_deg: tuple[Float, ...]
    azimuth_resolution_deg: PositiveFloat
    min_range_m: NonNegativeFloat = 0.5
    max_range_m: PositiveFloat = 120.0

    @model_validator(mode="before")
    @classmethod
    def _even_beams(cls, data: Any) -> Any:
        if isinstance(data, dict) and "vertical_range_deg" in data:
            data = dict(data)
            low_high = data.pop("vertical_range_deg")
            if "vertical_angles_deg" in data:
                raise ValueError("give vertical_angles_deg or vertical_range_deg, not both")
            if not (
                isinstance(low_high, list | tuple)
                and len(low_high) == 2
                and isinstance(data.get("beams"), int)
            ):
                raise ValueError(
                    "vertical_range_deg must be [lowest, highest] together with an integer beams"
                )
            data["vertical_angles_deg"] = tuple(
                np.linspace(float(low_high[0]), float(low_high[1]), data["beams"]).tolist()
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> LidarSpec:
        if len(self.vertical_angles_deg) != self.beams:
            raise ValueError(
                f"vertical_angles_deg has {len(self.vertical_angles_deg)} angles for {self.beams} beams"
            )
        if self.max_range_m <= self.min_range_m:
            raise ValueError("max_range_m must be greater than min_range_m")
        return self


class RadarSpec(_Strict):
    """Field of view and range of a radar."""

    hfov_deg: Annotated[StrictFloat, Field(gt=0, le=360)]
    vfov_deg: Annotated[StrictFloat, Field(gt=0, le=180)]
    min_range_m: NonNegativeFloat = 0.2
    max_range_m: PositiveFloat = 200.0

    @model_validator(mode="after")
    def _ranges(self) -> RadarSpec:
        if self.max_range_m <= self.min_range_m:
            raise ValueError("max_range_m must be greater than min_range_m")
        return self


class SensorEntry(_Strict):
    """One sensor of the rig file."""

    name: StrictStr
    kind: SensorKind
    topic: StrictStr
    frame_id: StrictStr
    rate_hz: PositiveFloat
    rate_tolerance: Annotated[StrictFloat, Field(ge=0, lt=1)] | None = None
    optional: StrictBool = False
    time_offset_ns: StrictInt | None = None
    time_offset_s: StrictFloat | None = None
    extrinsic: Extrinsic | None = None
    camera: CameraBlock | None = None
    lidar: LidarSpec | None = None
    radar: RadarSpec | None = None

    @field_validator("name", "frame_id")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"'{name}' must be letters, digits and '_' (not starting with a digit)")
        return name

    @field_validator("topic")
    @classmethod
    def _topic(cls, topic: str) -> str:
        if not _TOPIC.match(topic):
            raise ValueError(f"'{topic}' is not a valid ROS topic name")
        return topic

    @model_validator(mode="after")
    def _blocks_match_kind(self) -> SensorEntry:
        if self.time_offset_ns is not None and self.time_offset_s is not None:
            raise ValueError("give time_offset_ns or time_offset_s, not both")
        for block in ("camera", "lidar", "radar"):
            present = getattr(self, block) is not None
            if block == self.kind and not present:
                raise ValueError(f"a {self.kind} sensor needs a '{block}' block")
            if block != self.kind and present:
                raise ValueError(f"a {self.kind} sensor cannot have a '{block}' block")
        return self


class RigFile(_Strict):
    """The whole rig file."""

    name: StrictStr
    base_frame: StrictStr = "base_link"
    frames: tuple[FrameEntry, ...] = ()
    sensors: Annotated[tuple[SensorEntry, ...], Field(min_length=1)]
