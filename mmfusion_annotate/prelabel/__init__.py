"""Pre-labels from fused frames: cuboids, tracks, 2D boxes, radar velocity, and cross-modal review items.

``Prelabeler(rig, PrelabelConfig()).process(frame) -> PrelabelResult`` is the one entry point (with a
camera detector configured, its detections are fused with the frame's LiDAR clusters there); the data
model is in ``model``. The single-frame LiDAR part (``detect``) also runs on bare point arrays.
"""

from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.model import (
    Box2D,
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
