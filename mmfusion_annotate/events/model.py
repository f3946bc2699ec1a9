"""Event data model and the small plain inputs the rules read.

The rules never see another stage's internals: adapters turn odometry/IMU into ``EgoKinematics``, tracks into
``TrackedObject``, message stamps into ``Arrival``, review items into ``ReviewCounts``, located 2D boxes into
``BoxOffsets`` and a camera image plus a LiDAR sweep into ``AlignmentFrame``. Every record is a frozen
dataclass of plain values (arrays only in ``AlignmentFrame``), so the same inputs give the same events live
and replayed from a bag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from mmfusion_annotate.types import Stamp

if TYPE_CHECKING:
    from mmfusion_annotate.rig import CameraModel


class Severity(str, Enum):
    """Ordered from mildest to worst; ``rank`` compares them."""

    INFO = "info"
    WATCH = "watch"
    CRITICAL = "critical"
    SEVERE = "severe"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Category(str, Enum):
    DRIVING = "driving"
    SENSOR_HEALTH = "sensor_health"


@dataclass(frozen=True)
class Event:
    """One tagged situation.

    ``detected`` is the input stamp at which the rule confirmed it (a live consumer could have known
    then); ``end`` is the last stamp the condition held. ``evidence`` holds the values that justify the
    tag (e.g. ``min_ttc_s``, ``peak_accel_mps2``) as sorted (name, value) pairs.
    """

    id: str
    type: str
    category: Category
    severity: Severity
    start: Stamp
    peak: Stamp
    end: Stamp
    detected: Stamp
    object_ids: tuple[int, ...] = ()
    sensor: str | None = None
    evidence: tuple[tuple[str, float], ...] = ()
    rule: str = ""
    rule_version: str = ""

    def evidence_dict(self) -> dict[str, float]:
        return dict(self.evidence)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (what the bag and the CLI list)."""
        return {
            "id": self.id,
            "type": self.type,
            "category": self.category.value,
            "severity": self.severity.value,
            "start_ns": self.start,
            "peak_ns": self.peak,
            "end_ns": self.end,
            "detected_ns": self.detected,
            "object_ids": list(self.object_ids),
            "sensor": self.sensor,
            "evidence": self.evidence_dict(),
            "rule": self.rule,
            "rule_version": self.rule_version,
        }


def event_id(event_type: str, start: Stamp, key: str) -> str:
    """Deterministic id: the same situation found from the same input always gets the same id."""
    return hashlib.sha1(f"{event_type}|{start}|{key}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class EgoKinematics:
    """Ego kinematics at one stamp, in ``base_link`` (x forward, y left); accelerations filtered.

    ``jerk_long`` is None when the source cannot provide a filtered derivative (jerk rule skipped).
    """

    stamp: Stamp
    speed: float
    accel_long: float
    accel_lat: float
    yaw_rate: float
    jerk_long: float | None = None


@dataclass(frozen=True)
class TrackedObject:
    """One tracked object at a stamp, in ``base_link`` of that stamp.

    ``velocity`` is over ground in ``base_link`` axes (the tracker's convention); ``radial_velocity`` is the
    ego-compensated radar range-rate (over ground, along the line of sight) when radar supports the
    track, and replaces the tracked velocity for the closing speed. ``confidence`` is the pre-label's
    confidence in ``cls`` (1 for truth), so a rule about one class can ignore unsure labels.
    """

    track_id: int
    cls: str
    position: tuple[float, float]
    velocity: tuple[float, float]
    size: tuple[float, float] = (4.5, 1.9)
    radial_velocity: float | None = None
    confidence: float = 1.0


@dataclass(frozen=True)
class TrackFrame:
    """All tracked objects at one stamp (the tracker's output for one sweep)."""

    stamp: Stamp
    objects: tuple[TrackedObject, ...]


@dataclass(frozen=True)
class Arrival:
    """One message of one sensor arrived with this (header) stamp."""

    sensor: str
    stamp: Stamp


@dataclass(frozen=True)
class ReviewCounts:
    """Pre-label review items (cross-modal disagreements) and labelled objects in one frame; ``cameras``
    splits them per camera as (camera, items, labelled objects in its view), so a rate names its camera."""

    stamp: Stamp
    review_items: int
    objects: int
    cameras: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class BoxOffsets:
    """Where one camera's image put the projected cuboids of one frame: per located box (track id, the
    track's speed over ground in m/s, offset x, offset y, image velocity x, image velocity y) in px and
    px/s (``prelabel`` ``Box2D.object_id``, ``image_offset`` and ``image_velocity``), and the camera's
    focal lengths (fx, fy, px) that turn a shift into an angle."""

    stamp: Stamp
    camera: str
    focal_px: tuple[float, float]
    boxes: tuple[tuple[int, float, float, float, float, float], ...] = ()


@dataclass(frozen=True)
class AlignmentFrame:
    """A camera image and the LiDAR sweep around its exposure, for the data-driven sync/calibration checks.

    ``points_base`` are LiDAR returns in ``base_link`` *at their own capture time* ``point_stamps`` (raw,
    not motion-compensated); ``ring`` and ``lidar_origin`` (base_link) let the check find depth edges along
    scan lines. ``ego_velocity`` (vx, vy over ground, base_link) and ``yaw_rate`` describe ego motion around
    the exposure, assumed constant over the ~0.1 s involved. ``T_cam_base`` is the extrinsic under test.
    """

    stamp: Stamp
    camera: str
    image: np.ndarray
    model: CameraModel
    T_cam_base: np.ndarray
    points_base: np.ndarray
    point_stamps: np.ndarray
    ring: np.ndarray
    lidar_origin: tuple[float, float, float]
    ego_velocity: tuple[float, float]
    yaw_rate: float


Observation = EgoKinematics | TrackFrame | Arrival | ReviewCounts | BoxOffsets | AlignmentFrame
