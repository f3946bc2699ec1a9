"""The loaded rig: sensors with their extrinsics and models, and the frame tree between them.

A ``Rig`` is built once (``load_rig`` or a calibration reader), validated, and shared read-only by
every stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import RigError
from mmfusion_annotate.interfaces.msgtypes import sensor_msgtype
from mmfusion_annotate.rig.camera_model import CameraModel
from mmfusion_annotate.rig.frames import FrameTree
from mmfusion_annotate.rig.schema import LidarSpec, RadarSpec
from mmfusion_annotate.types import NS_PER_S

SensorKindName = Literal["camera", "lidar", "radar", "imu", "odometry"]


def default_info_topic(image_topic: str) -> str:
    """``<ns>/camera_info`` next to ``<ns>/image_raw`` (or its ``/compressed`` transport topic)."""
    base = image_topic.removesuffix("/compressed")
    namespace = base.rsplit("/", 1)[0]
    return f"{namespace}/camera_info"


@dataclass(frozen=True, eq=False)
class Sensor:
    """One sensor: identity, timing, where it sits (``T_parent_sensor``) and its kind-specific model.

    ``rate_tolerance``: how much shorter than the period (as a fraction of it) a gap between two stamps can
    be; None leaves it to the synchronizer's default. The tighter it is, the sooner a synced set is proven
    complete, so a clock-locked LiDAR or a triggered camera deserves a smaller one than a jittery radar.
    ``time_offset_ns`` is the known delay between the message stamp and the true sampling time
    (true = stamp + offset), e.g. a camera triggered as the LiDAR beam passes its field of view.
    """

    name: str
    kind: SensorKindName
    topic: str
    frame_id: str
    rate_hz: float
    optional: bool = False
    time_offset_ns: int = 0
    rate_tolerance: float | None = None
    parent_frame: str = "base_link"
    T_parent_sensor: np.ndarray = field(default_factory=lambda: np.eye(4))
    camera: CameraModel | None = None
    info_topic: str | None = None
    compressed: bool = False
    lidar: LidarSpec | None = None
    radar: RadarSpec | None = None

    def __post_init__(self) -> None:
        T = np.array(self.T_parent_sensor, dtype=np.float64).reshape(4, 4)
        T.setflags(write=False)
        object.__setattr__(self, "T_parent_sensor", T)
        if self.kind == "camera" and self.info_topic is None:
            object.__setattr__(self, "info_topic", default_info_topic(self.topic))

    @property
    def camera_model(self) -> CameraModel:
        """``camera`` where a camera is required: RigError for a sensor without a camera model."""
        if self.camera is None:
            raise RigError(f"sensor '{self.name}' ({self.kind}) has no camera model", key=self.name)
        return self.camera

    @property
    def camera_info_topic(self) -> str:
        """``info_topic`` where a camera is required: RigError for a sensor that is not a camera."""
        if self.info_topic is None:
            raise RigError(f"sensor '{self.name}' ({self.kind}) has no camera-info topic", key=self.name)
        return self.info_topic

    @property
    def msgtype(self) -> str:
        """The message type the sensor publishes (``interfaces.msgtypes.sensor_msgtype``)."""
        return sensor_msgtype(self.kind, self.compressed)

    @property
    def translation(self) -> tuple[float, float, float]:
        """Sensor origin in the parent frame (m)."""
        x, y, z = self.T_parent_sensor[:3, 3]
        return float(x), float(y), float(z)

    @property
    def rotation_xyzw(self) -> tuple[float, float, float, float]:
        """Sensor orientation in the parent frame as a unit quaternion (x, y, z, w)."""
        x, y, z, w = Rotation.from_matrix(self.T_parent_sensor[:3, :3]).as_quat()
        return float(x), float(y), float(z), float(w)

    @property
    def period_ns(self) -> int:
        """Nominal time between two messages."""
        return int(round(NS_PER_S / self.rate_hz))


@dataclass(frozen=True, eq=False)
class Rig:
    """Sensors (in file order) and the frame tree rooted at ``base_frame``."""

    name: str
    sensors: dict[str, Sensor]
    tree: FrameTree
    source: str | None = None

    @property
    def base_frame(self) -> str:
        return self.tree.base_frame

    def sensor(self, name: str) -> Sensor:
        """The sensor called ``name``; RigError naming the known ones otherwise."""
        try:
            return self.sensors[name]
        except KeyError:
            raise RigError(
                f"unknown sensor '{name}' (known: {', '.join(self.sensors)})", file=self.source
            ) from None

    def of_kind(self, kind: SensorKindName) -> list[Sensor]:
        """Sensors of one kind, in file order."""
        return [s for s in self.sensors.values() if s.kind == kind]

    def cameras(self) -> list[Sensor]:
        return self.of_kind("camera")

    def lidars(self) -> list[Sensor]:
        return self.of_kind("lidar")

    def radars(self) -> list[Sensor]:
        return self.of_kind("radar")

    def frames(self) -> tuple[str, ...]:
        """Every frame of the tree, base frame first."""
        return self.tree.frames

    def transform(self, target_frame: str, source_frame: str) -> np.ndarray:
        """4x4 float64 T with p_target = T @ p_source (homogeneous), between any two frames."""
        return self.tree.transform(target_frame, source_frame)

    def sensor_to_base(self, name: str) -> np.ndarray:
        """Pose of a sensor's frame in the base frame (p_base = T @ p_sensor)."""
        return self.tree.in_base(self.sensor(name).frame_id)
