"""Approximate-time synchronization: an executor-free core (greedy and optimal policies) and a
message_filters-compatible face (``from mmfusion_annotate.sync import ApproximateTimeSynchronizer``)."""

from mmfusion_annotate.sync.config import InputSpec, SyncConfig
from mmfusion_annotate.sync.core import SyncCore
from mmfusion_annotate.sync.filters import (
    ApproximateTimeSynchronizer,
    Cache,
    Chain,
    SimpleFilter,
    Subscriber,
    TimeSynchronizer,
)
from mmfusion_annotate.sync.model import DropReason, SyncedSet
from mmfusion_annotate.sync.stats import SyncStats

__all__ = [
    "ApproximateTimeSynchronizer",
    "Cache",
    "Chain",
    "DropReason",
    "InputSpec",
    "SimpleFilter",
    "Subscriber",
    "SyncConfig",
    "SyncCore",
    "SyncStats",
    "SyncedSet",
    "TimeSynchronizer",
]
