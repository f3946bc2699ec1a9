"""Ground truth of a simulated drive: objects and ego at any time, per-frame labels, events, faults.

Object and ego truth are functions of time (exact at any stamp); per-frame truth (which object each
LiDAR point or radar detection came from, each camera's visible 2D boxes, the sensor's true pose)
is recorded as frames are generated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mmfusion_annotate.sim.camera import VisibleBox
from mmfusion_annotate.sim.ego import ScenarioEgo, ScenarioEgoStates
from mmfusion_annotate.sim.faults import FaultTruth
from mmfusion_annotate.sim.geometry import planar_pose
from mmfusion_annotate.sim.scenario import Scenario
from mmfusion_annotate.sim.world import World
from mmfusion_annotate.types import Stamp, seconds_to_ns


@dataclass(frozen=True)
class ObjectTruth:
    """One object at one time: box (centre, yaw, size = length, width, height) and motion, in the world
    frame and in base_link (velocities are absolute, expressed in each frame's axes)."""

    id: int
    cls: str
    size: tuple[float, float, float]
    center_world: np.ndarray
    yaw_world: float
    velocity_world: np.ndarray
    yaw_rate: float
    center_base: np.ndarray
    yaw_base: float
    velocity_base: np.ndarray


@dataclass(frozen=True)
class EventTruth:
    """A scripted situation: type, time, objects taking part ("ego" or object ids)."""

    type: str
    t_ns: Stamp
    objects: tuple[int | str, ...]
    note: str = ""


@dataclass(frozen=True)
class FrameTruth:
    """Truth of one generated frame. ``true_ns`` is when it was measured (``stamp`` may be off by a clock
    fault); ``object_ids`` labels each LiDAR point / radar detection (0: ground, clutter);
    ``boxes_2d`` are a camera's visible objects (true pose: ``DriveTruth.sensor_pose``)."""

    sensor: str
    kind: str
    stamp: Stamp
    true_ns: Stamp
    object_ids: np.ndarray | None = None
    boxes_2d: tuple[VisibleBox, ...] = ()


@dataclass
class DriveTruth:
    """Everything that is true about a drive."""

    scenario: Scenario
    world: World
    ego: ScenarioEgo
    mounts: dict[str, np.ndarray]
    """True pose of each simulated sensor in base_link (a calibration fault differs from the rig file)."""
    faults: tuple[FaultTruth, ...]
    frames: dict[tuple[str, Stamp], FrameTruth] = field(default_factory=dict)

    @property
    def events(self) -> tuple[EventTruth, ...]:
        return tuple(
            EventTruth(e.type, seconds_to_ns(e.t_s), tuple(e.objects), e.note) for e in self.scenario.events
        )

    def ego_state(self, t_ns: Stamp) -> ScenarioEgoStates:
        return self.ego.state(t_ns)

    def ego_pose(self, t_ns: Stamp) -> np.ndarray:
        """4x4 world <- base_link at ``t_ns``."""
        return self.ego.pose(t_ns)

    def sensor_pose(self, sensor: str, t_ns: Stamp) -> np.ndarray:
        """True 4x4 world <- sensor at ``t_ns``."""
        return self.ego.pose(t_ns) @ self.mounts[sensor]

    def objects(self, t_ns: Stamp) -> tuple[ObjectTruth, ...]:
        """Every object of the world at ``t_ns``."""
        boxes = self.world.boxes(np.array([t_ns], dtype=np.int64))
        st = self.ego.state(t_ns)
        ex, ey, eyaw = float(st.position[0, 0]), float(st.position[0, 1]), float(st.yaw[0])
        to_base = np.linalg.inv(planar_pose(ex, ey, eyaw))
        out = []
        for k, obj in enumerate(self.world.objects):
            center = boxes.center[k, 0]
            velocity = boxes.velocity[k, 0]
            yaw = float(boxes.yaw[k, 0])
            out.append(
                ObjectTruth(
                    id=obj.id,
                    cls=obj.cls,
                    size=obj.size,
                    center_world=center.copy(),
                    yaw_world=yaw,
                    velocity_world=velocity.copy(),
                    yaw_rate=float(boxes.yaw_rate[k, 0]),
                    center_base=(to_base @ np.append(center, 1.0))[:3],
                    yaw_base=math.remainder(yaw - eyaw, 2 * math.pi),
                    velocity_base=to_base[:3, :3] @ velocity,
                )
            )
        return tuple(out)
