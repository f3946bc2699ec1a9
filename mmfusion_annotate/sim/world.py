"""The simulated world: flat ground with a marked road, static boxes and moving actors.

Everything is an oriented box standing on the ground (z = 0 in the world frame); the world answers
"where is every box at these times" in one vectorized call, which is what the ray casters need.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numba
import numpy as np

from mmfusion_annotate.sim.motion import Tracks, TrackStates
from mmfusion_annotate.sim.scenario import MotionSpec, Pose2D, RoadSpec, Scenario


@dataclass(frozen=True)
class ClassStyle:
    """How a class looks to each sensor: camera colour (RGB), LiDAR reflectivity, radar RCS (dBsm) and
    how many radar scatterers it shows."""

    color: tuple[int, int, int]
    reflectivity: float
    rcs_dbsm: float
    scatterers: int


CLASS_STYLES: dict[str, ClassStyle] = {
    "car": ClassStyle((220, 40, 40), 0.5, 10.0, 3),
    "truck": ClassStyle((240, 140, 20), 0.5, 20.0, 5),
    "pedestrian": ClassStyle((40, 200, 60), 0.3, -8.0, 1),
    "cyclist": ClassStyle((220, 40, 220), 0.35, -3.0, 1),
    "pole": ClassStyle((40, 100, 240), 0.6, 5.0, 1),
    "wall": ClassStyle((140, 90, 50), 0.4, 15.0, 4),
    "barrier": ClassStyle((230, 220, 30), 0.7, 8.0, 2),
}
CLASS_NAMES = tuple(CLASS_STYLES)

# ground materials (codes) with their camera colour and LiDAR reflectivity
OFFROAD, ASPHALT, PAINT = 0, 1, 2
GROUND_COLORS = np.array([[95, 120, 80], [85, 85, 90], [235, 235, 235]], dtype=np.float32)
GROUND_REFLECTIVITY = np.array([0.2, 0.1, 0.7], dtype=np.float32)


@numba.njit(cache=True, nogil=True)
def material_at(x: float, y: float, road: np.ndarray) -> int:  # pragma: no cover - compiled
    """Material code at a world point; ``road`` = [right edge y, lane width, lanes, marking half width,
    dash length, dash + gap]. Solid edge lines, dashed lane lines."""
    right, lane_w, lanes, half, dash, period = road[0], road[1], road[2], road[3], road[4], road[5]
    code = ASPHALT if right <= y <= right + lanes * lane_w else OFFROAD
    nearest = min(max(round((y - right) / lane_w), 0.0), lanes)
    if abs(y - (right + nearest * lane_w)) <= half:
        if nearest == 0 or nearest == lanes or (x % period) < dash:
            code = PAINT
    return code


@numba.njit(cache=True, nogil=True)
def _material_many(
    x: np.ndarray, y: np.ndarray, road: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty(x.shape, np.uint8)
    for i in range(x.size):
        out.flat[i] = material_at(x.flat[i], y.flat[i], road)
    return out


class Road:
    """Straight road along world x: asphalt between the outer edges, solid edge lines, dashed lane lines."""

    def __init__(self, spec: RoadSpec) -> None:
        self.spec = spec
        self.params = np.array(
            [
                spec.boundaries_y()[0],
                spec.lane_width_m,
                spec.lanes,
                spec.marking_width_m / 2,
                spec.dash_m,
                spec.dash_m + spec.gap_m,
            ],
            dtype=np.float64,
        )

    def material(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Material code at world (x, y) points."""
        x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
        return _material_many(np.ascontiguousarray(x), np.ascontiguousarray(y), self.params)


@dataclass(frozen=True)
class WorldObject:
    """One box of the world: id, class, size (length, width, height) and whether it moves."""

    id: int
    cls: str
    size: tuple[float, float, float]
    moving: bool


@dataclass(frozen=True)
class BoxStates:
    """K boxes at M times: centre (K, M, 3) in the world frame, yaw, velocity (K, M, 3), yaw rate (K, M)."""

    center: np.ndarray
    yaw: np.ndarray
    velocity: np.ndarray
    yaw_rate: np.ndarray


class World:
    """Road plus every object of a scenario, with their trajectories."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.road = Road(scenario.road)
        objects: list[WorldObject] = []
        specs: list[MotionSpec] = []
        for static in scenario.statics:
            for k in range(static.repeat):
                pose = Pose2D(
                    x_m=static.pose.x_m + k * static.spacing_m,
                    y_m=static.pose.y_m,
                    yaw_deg=static.pose.yaw_deg,
                )
                object_id = static.id if k == 0 else static.id * 1000 + k
                objects.append(WorldObject(object_id, static.cls, static.size_m, moving=False))
                specs.append(MotionSpec(start=pose))
        for actor in scenario.actors:
            objects.append(WorldObject(actor.id, actor.cls, actor.size_m, moving=True))
            specs.append(actor)
        ids = [o.id for o in objects]
        if len(set(ids)) != len(ids):
            raise ValueError(f"repeated static ids collide with other ids in scenario '{scenario.name}'")
        self.objects = tuple(objects)
        self.ids = np.array(ids, dtype=np.int32)
        self.sizes = np.array([o.size for o in objects], dtype=np.float64).reshape(-1, 3)
        self.class_index = np.array([CLASS_NAMES.index(o.cls) for o in objects], dtype=np.int32)
        self.radius = np.linalg.norm(self.sizes, axis=1) / 2
        self.moving = np.array([o.moving for o in objects], dtype=bool)
        self.tracks = Tracks(specs, scenario.duration_s)
        self.ego_tracks = Tracks([scenario.ego], scenario.duration_s)

    def __len__(self) -> int:
        return len(self.objects)

    def boxes(self, t_ns: np.ndarray, rows: np.ndarray | slice = slice(None)) -> BoxStates:
        """Boxes of the selected objects at the given times (static boxes are evaluated once)."""
        t_ns = np.atleast_1d(t_ns)
        idx = np.arange(len(self.objects))[rows]
        moving = self.moving[idx]
        if moving.all() or len(t_ns) == 1:
            s: TrackStates = self.tracks.states(t_ns, idx)
        else:
            live = self.tracks.states(t_ns, idx[moving])
            still = self.tracks.states(t_ns[:1], idx[~moving])
            s = TrackStates(*(np.empty((len(idx), len(t_ns))) for _ in fields(TrackStates)))
            for f in fields(TrackStates):
                out = getattr(s, f.name)
                out[moving], out[~moving] = getattr(live, f.name), getattr(still, f.name)
        z = np.broadcast_to((self.sizes[idx, 2] / 2)[:, None], s.x.shape)
        center = np.stack([s.x, s.y, z], axis=-1)
        velocity = np.stack([s.vx, s.vy, np.zeros_like(s.vx)], axis=-1)
        return BoxStates(center, s.yaw, velocity, s.yaw_rate)
