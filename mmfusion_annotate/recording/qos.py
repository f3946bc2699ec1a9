"""Offered QoS profiles as rosbag2 stores them per topic (channel metadata and metadata.yaml).

The YAML uses integer enums (rmw's values), the form rosbag2 metadata version 8 writes and both the Humble
and the Jazzy players parse; durations are rmw's "infinite" (``RMW_DURATION_INFINITE``).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from mmfusion_annotate.errors import BagError

KEEP_LAST, KEEP_ALL = 1, 2
RELIABILITY_RELIABLE, RELIABILITY_BEST_EFFORT = 1, 2
TRANSIENT_LOCAL, VOLATILE = 1, 2
LIVELINESS_AUTOMATIC = 1
INFINITE = {"sec": 9223372036, "nsec": 854775807}


@dataclass(frozen=True)
class QosProfile:
    """The policies a player needs to re-offer a topic (history, depth, reliability, durability)."""

    history: int = KEEP_LAST
    depth: int = 10
    reliability: int = RELIABILITY_RELIABLE
    durability: int = VOLATILE

    def to_yaml(self) -> str:
        """The ``offered_qos_profiles`` string: a YAML list holding this one profile."""
        profile = {
            "history": self.history,
            "depth": self.depth,
            "reliability": self.reliability,
            "durability": self.durability,
            "deadline": dict(INFINITE),
            "lifespan": dict(INFINITE),
            "liveliness": LIVELINESS_AUTOMATIC,
            "liveliness_lease_duration": dict(INFINITE),
            "avoid_ros_namespace_conventions": False,
        }
        return yaml.safe_dump([profile], sort_keys=False, default_flow_style=False).strip()


PROFILES: dict[str, QosProfile] = {
    "sensor_data": QosProfile(depth=5, reliability=RELIABILITY_BEST_EFFORT),
    "reliable": QosProfile(),
    "latched": QosProfile(depth=1, durability=TRANSIENT_LOCAL),
}
"""Named profiles: rclpy's ``qos_profile_sensor_data``, the default, and ``/tf_static``-style latching."""


def qos_profile(qos: str | QosProfile) -> QosProfile:
    """A profile from its name (``sensor_data``, ``reliable``, ``latched``) or as given."""
    if isinstance(qos, QosProfile):
        return qos
    try:
        return PROFILES[qos]
    except KeyError:
        raise BagError(f"unknown QoS profile '{qos}' (use one of {', '.join(PROFILES)})") from None
