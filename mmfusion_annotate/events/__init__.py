"""Critical-event tagging: driving events and sensor health from plain, typed observations.

``EventTagger(load_rules())`` takes ``EgoKinematics`` / ``TrackFrame`` / ``Arrival`` / ``ReviewCounts`` /
``BoxOffsets`` / ``AlignmentFrame`` observations in time order and returns ``Event`` records;
``EgoEstimator`` builds ``EgoKinematics`` from IMU and odometry. Thresholds live in the rule file
(``default_rules.yaml``).
"""

from mmfusion_annotate.events.config import EventRules, default_rules_path, load_rules
from mmfusion_annotate.events.ego import EgoEstimator
from mmfusion_annotate.events.model import (
    AlignmentFrame,
    Arrival,
    BoxOffsets,
    Category,
    EgoKinematics,
    Event,
    ReviewCounts,
    Severity,
    TrackedObject,
    TrackFrame,
)
from mmfusion_annotate.events.tagger import EventTagger

__all__ = [
    "AlignmentFrame",
    "Arrival",
    "BoxOffsets",
    "Category",
    "EgoEstimator",
    "EgoKinematics",
    "Event",
    "EventRules",
    "EventTagger",
    "ReviewCounts",
    "Severity",
    "TrackFrame",
    "TrackedObject",
    "default_rules_path",
    "load_rules",
]
