"""Pre-label data model: what the pre-labeller hands to annotators, the bag and the review queue.

All records are frozen dataclasses of plain Python values (no arrays), so they serialize to JSON/ROS
messages unchanged and compare by value in tests. ``object_id`` is the tracker's id: it is stable across
frames, is what the bag records, and is what review items and 2D boxes point to. Every label carries a
``Provenance`` so a reviewer can always tell a machine label (and which algorithm/parameters made it)
from a human one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from mmfusion_annotate.types import Stamp


class ObjectClass(str, Enum):
    """Object classes the pre-labeller assigns (KITTI/nuScenes-compatible coarse set)."""

    CAR = "car"
    TRUCK = "truck"
    BUS = "bus"
    PEDESTRIAN = "pedestrian"
    CYCLIST = "cyclist"
    UNKNOWN = "unknown"


PERSON_CLASSES = (ObjectClass.PEDESTRIAN, ObjectClass.CYCLIST)
VEHICLE_CLASSES = (ObjectClass.CAR, ObjectClass.TRUCK, ObjectClass.BUS)


class Modality(str, Enum):
    LIDAR = "lidar"
    CAMERA = "camera"
    RADAR = "radar"
    TRACK = "track"


@dataclass(frozen=True)
class Provenance:
    """Where a label came from: ``source`` is ``machine`` for every pre-label (``human`` after review)."""

    algorithm: str
    params_version: str
    confidence: float
    source: str = "machine"


@dataclass(frozen=True)
class Cuboid:
    """A 3D box in ``base_link`` at the sweep stamp; ``center`` is the box centre (not the bottom).

    ``size`` is (length along ``yaw``, width, height). ``velocity`` is the tracker's smoothed velocity
    over ground expressed in ``base_link`` axes (m/s); ``radial_velocity`` is the median ego-compensated
    radar range-rate of associated detections (None without radar support).
    """

    object_id: int
    stamp: Stamp
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    label: ObjectClass
    num_points: int
    provenance: Provenance
    velocity: tuple[float, float] = (0.0, 0.0)
    radial_velocity: float | None = None
    radar_hits: int = 0


@dataclass(frozen=True)
class Track:
    """Tracker state of one object: ``confirmed`` after the birth hysteresis, ``misses`` since last hit."""

    object_id: int
    label: ObjectClass
    position: tuple[float, float]
    velocity: tuple[float, float]
    heading: float
    age: int
    hits: int
    misses: int
    confirmed: bool
    provenance: Provenance


@dataclass(frozen=True)
class Box2D:
    """The projection of a cuboid (or a camera-only detection) into one camera, clipped to the image.

    ``truncation`` is 1 - clipped area / unclipped area of the projected box; ``visible_fraction`` is the
    share of the object's LiDAR points the camera's z-buffer marks visible; ``evidence`` is the camera
    evidence score in [0, 1]. ``object_id`` is -1 for camera-only detections (a detector's box whose
    frustum holds too few LiDAR points for a cuboid: ``evidence`` is its score, ``provenance`` names the
    model).

    ``image_offset`` is where the image itself puts the box: the shift (px) of its centre onto the image's
    edges (``evidence.ImageEvidence.locate``; None where not judged), and ``image_velocity`` how fast the
    projected box moves (px per second of the camera's stamp): a camera rotated by a small error shifts
    every box alike, a clock error of dt by dt x ``image_velocity``, which ``events`` fits over many boxes.
    """

    object_id: int
    camera: str
    stamp: Stamp
    box: tuple[float, float, float, float]
    truncation: float
    visible_fraction: float
    evidence: float
    label: ObjectClass
    provenance: Provenance
    image_offset: tuple[float, float] | None = None
    image_velocity: tuple[float, float] | None = None


@dataclass(frozen=True)
class RadarCandidate:
    """A radar target (group of detections) with no LiDAR cuboid: low confidence, kept for review."""

    candidate_id: int
    radar: str
    stamp: Stamp
    position: tuple[float, float, float]
    range_rate: float
    rcs: float
    num_detections: int
    provenance: Provenance


@dataclass(frozen=True)
class ReviewItem:
    """A cross-modal disagreement for annotators, highest ``priority`` (0..1) first.

    The fields review tools read (``mmfusion review``, the ``/prelabels/review`` metadata):

    - ``reason``: what disagrees (``prelabel.review`` names the kinds); ``modalities``: which disagree;
    - ``object_ids``: the track(s) concerned (empty for a radar target or camera box with no cuboid);
      ``stamp``: the sweep stamp; ``camera``: the camera judged, None when no camera is involved;
    - ``evidence``: the values compared and the thresholds they were held to, as sorted (name, value)
      pairs (e.g. ``iou`` and ``iou_threshold``; ``x_m``/``y_m`` in base_link where no cuboid locates it);
    - ``severity`` (how much the reason matters, 0..1), ``confidence`` (how sure the machine was of the
      label or detection concerned, 0..1), and ``priority = severity x confidence x modality weight``
      (``prelabel.review.priority``), so a confident label two sensors disagree on comes first;
    - ``detail``: the same in words, for people.
    """

    reason: str
    modalities: tuple[Modality, ...]
    priority: float
    object_ids: tuple[int, ...]
    stamp: Stamp
    camera: str | None = None
    detail: str = ""
    evidence: tuple[tuple[str, float], ...] = ()
    severity: float = 0.0
    confidence: float = 1.0

    def evidence_dict(self) -> dict[str, float]:
        return dict(self.evidence)


@dataclass(frozen=True)
class PrelabelResult:
    """Everything pre-labelled for one fused frame (one call of ``Prelabeler.process``)."""

    stamp: Stamp
    cuboids: tuple[Cuboid, ...] = ()
    tracks: tuple[Track, ...] = ()
    boxes2d: tuple[Box2D, ...] = ()
    radar_candidates: tuple[RadarCandidate, ...] = ()
    review_items: tuple[ReviewItem, ...] = field(default=())
