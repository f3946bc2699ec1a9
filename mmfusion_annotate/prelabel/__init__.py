"""Pre-labels from fused frames: cuboids, tracks, 2D boxes, radar velocity, and cross-modal review items.

``Prelabeler(rig, PrelabelConfig()).process(frame) -> PrelabelResult`` is the one entry point, and
``take_people() -> CameraOnlyPeople`` hands over the camera-only people detector's finds a few frames later;
the data model is in ``model``. The single-frame LiDAR part (``detect``) also runs on bare point arrays.
"""

from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.model import (
    Box2D,
    CameraOnlyPeople,
    Cuboid,
    Modality,
    ObjectClass,
    PrelabelResult,
    Provenance,
    RadarCandidate,
    ReviewItem,
    Track,
)
from mmfusion_annotate.prelabel.prelabeler import Prelabeler

__all__ = [
    "Box2D",
    "CameraOnlyPeople",
    "Cuboid",
    "Modality",
    "ObjectClass",
    "PrelabelConfig",
    "PrelabelResult",
    "Prelabeler",
    "Provenance",
    "RadarCandidate",
    "ReviewItem",
    "Track",
]
