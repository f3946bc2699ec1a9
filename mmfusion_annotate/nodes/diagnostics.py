"""``diagnostic_msgs`` from the flat counter dicts the core keeps, and the rate meter they report.

The core's stats are plain ``key -> number`` dicts (``SyncStats.snapshot()``, worker and annotator
counters); this module is the only place that turns them into ``DiagnosticStatus`` key/values, so
every node reports the same way and RViz / Foxglove / ``ros2 topic echo /diagnostics`` show them.
Events go out live as ``DiagnosticStatus`` too (see ``event_status``): the project's own Event type has
no type support rclpy could publish, and a status per event is something every ROS tool can show.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from mmfusion_annotate.events.model import Event, Severity
from mmfusion_annotate.msgs.time import to_ros_time
from mmfusion_annotate.types import NS_PER_S, Stamp

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR

_EVENT_LEVEL = {Severity.INFO: OK, Severity.WATCH: WARN, Severity.CRITICAL: ERROR, Severity.SEVERE: ERROR}


def format_value(value: object) -> str:
    """Numbers as people read them (floats to 4 significant digits); everything else as ``str``."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def status(
    name: str,
    values: Mapping[str, object],
    *,
    level: bytes = OK,
    message: str = "",
    hardware_id: str = "",
) -> DiagnosticStatus:
    """One ``DiagnosticStatus`` whose key/values are ``values`` in their given order."""
    return DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=str(k), value=format_value(v)) for k, v in values.items()],
    )


def diagnostic_array(stamp_ns: Stamp, statuses: Iterable[DiagnosticStatus]) -> DiagnosticArray:
    array = DiagnosticArray(status=list(statuses))
    array.header.stamp = to_ros_time(stamp_ns)
    return array


def event_status(event: Event) -> DiagnosticStatus:
    """An event as a status: name ``mmfusion event: <type>``, level by severity, hardware_id = event id."""
    values: dict[str, object] = {
        "id": event.id,
        "category": event.category.value,
        "severity": event.severity.value,
        "start_ns": event.start,
        "peak_ns": event.peak,
        "end_ns": event.end,
        "detected_ns": event.detected,
        "object_ids": ",".join(str(i) for i in event.object_ids),
        "sensor": event.sensor or "",
        "rule": f"{event.rule} {event.rule_version}".strip(),
    }
    values.update({f"evidence.{k}": v for k, v in event.evidence})
    duration = (event.end - event.start) / NS_PER_S
    return status(
        f"mmfusion event: {event.type}",
        values,
        level=_EVENT_LEVEL[event.severity],
        message=f"{event.severity.value} {event.type} at {event.peak / NS_PER_S:.3f} s ({duration:.2f} s)",
        hardware_id=event.id,
    )


class RateMeter:
    """Message rate from header stamps over a sliding window (data time, so it is right under sim time)."""

    def __init__(self, window_s: float = 2.0, max_samples: int = 1024) -> None:
        self._window_ns = int(window_s * NS_PER_S)
        self._stamps: deque[Stamp] = deque(maxlen=max_samples)

    def add(self, stamp: Stamp) -> None:
        self._stamps.append(stamp)
        while self._stamps and self._stamps[0] < stamp - self._window_ns:
            self._stamps.popleft()

    def rate_hz(self) -> float:
        """Messages per second over the window; 0 with fewer than two stamps."""
        stamps = list(self._stamps)
        span = max(stamps) - min(stamps) if len(stamps) > 1 else 0
        return (len(stamps) - 1) * NS_PER_S / span if span > 0 else 0.0
