"""Scenario files: the world, the actors' behaviours, the ego's motion and the events they make.

A scenario is data (YAML validated by pydantic) so new situations need no code. Actor motion is
written as manoeuvres on top of a start pose and speed (``speed_change``, ``lane_change``,
``turn``); the same model drives the ego. Events carry their known time so every later stage can be
scored against them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.textfile import parse_yaml, read_text_file, validate_model

ObjectClass = Literal["car", "truck", "pedestrian", "cyclist", "pole", "wall", "barrier"]
EGO = "ego"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpeedChange(_Strict):
    """Accelerate (or brake, negative) at ``t_s`` with ``accel_mps2`` until ``target_speed_mps``."""

    type: Literal["speed_change"]
    t_s: Annotated[float, Field(ge=0)]
    accel_mps2: float
    target_speed_mps: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _nonzero(self) -> SpeedChange:
        if self.accel_mps2 == 0:
            raise ValueError("accel_mps2 must not be 0")
        return self


class LaneChange(_Strict):
    """Move sideways by ``offset_m`` (+left) from ``t_s`` over ``duration_s`` (raised-cosine lateral speed,
    peak ``2 * offset / duration`` half-way)."""

    type: Literal["lane_change"]
    t_s: Annotated[float, Field(ge=0)]
    offset_m: float
    duration_s: Annotated[float, Field(gt=0)]


class Turn(_Strict):
    """Constant yaw rate ``yaw_rate_dps`` (deg/s, +left) from ``t_s`` for ``duration_s``."""

    type: Literal["turn"]
    t_s: Annotated[float, Field(ge=0)]
    yaw_rate_dps: float
    duration_s: Annotated[float, Field(gt=0)]


Maneuver = Annotated[SpeedChange | LaneChange | Turn, Field(discriminator="type")]


class Pose2D(_Strict):
    """Position on the ground plane (world frame: x along the road, y left) and heading."""

    x_m: float = 0.0
    y_m: float = 0.0
    yaw_deg: float = 0.0


class MotionSpec(_Strict):
    """Start pose, start speed and manoeuvres (times in seconds from the start of the drive)."""

    start: Pose2D = Pose2D()
    speed_mps: Annotated[float, Field(ge=0)] = 0.0
    maneuvers: tuple[Maneuver, ...] = ()


class ActorSpec(MotionSpec):
    """A moving object: id (>= 1, unique), class, box size [length, width, height] in metres."""

    id: Annotated[int, Field(ge=1)]
    cls: ObjectClass = Field(alias="class")
    size_m: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]]


class StaticSpec(_Strict):
    """A static box (parked car, pole, wall); ``repeat`` copies it every ``spacing_m`` along x."""

    id: Annotated[int, Field(ge=1)]
    cls: ObjectClass = Field(alias="class")
    size_m: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]]
    pose: Pose2D
    repeat: Annotated[int, Field(ge=1)] = 1
    spacing_m: float = 0.0


class RoadSpec(_Strict):
    """A straight road along world x; lane 0 is the rightmost; the ego starts centred in ``ego_lane``."""

    lanes: Annotated[int, Field(ge=1)] = 2
    lane_width_m: Annotated[float, Field(gt=0)] = 3.5
    ego_lane: Annotated[int, Field(ge=0)] = 0
    dash_m: Annotated[float, Field(gt=0)] = 3.0
    gap_m: Annotated[float, Field(gt=0)] = 6.0
    marking_width_m: Annotated[float, Field(gt=0)] = 0.15

    @model_validator(mode="after")
    def _ego_lane(self) -> RoadSpec:
        if self.ego_lane >= self.lanes:
            raise ValueError(f"ego_lane {self.ego_lane} is not one of the {self.lanes} lanes")
        return self

    def lane_center_y(self, lane: int) -> float:
        """World y of a lane's centre line (the ego lane's centre is y = 0)."""
        return (lane - self.ego_lane) * self.lane_width_m

    def boundaries_y(self) -> list[float]:
        """World y of every lane boundary, right edge first."""
        right = self.lane_center_y(0) - self.lane_width_m / 2
        return [right + i * self.lane_width_m for i in range(self.lanes + 1)]


class EventSpec(_Strict):
    """A situation the event tagger must find: type, time, and the objects taking part ("ego" or ids)."""

    type: str
    t_s: Annotated[float, Field(ge=0)]
    objects: tuple[int | Literal["ego"], ...] = ()
    note: str = ""


class Scenario(_Strict):
    """A whole drive description."""

    name: str
    description: str = ""
    duration_s: Annotated[float, Field(gt=0)] = 20.0
    seed: int = 0
    road: RoadSpec = RoadSpec()
    ego: MotionSpec = MotionSpec(speed_mps=12.0)
    actors: tuple[ActorSpec, ...] = ()
    statics: tuple[StaticSpec, ...] = ()
    events: tuple[EventSpec, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        ids = [a.id for a in self.actors] + [s.id for s in self.statics]
        if len(ids) != len(set(ids)):
            raise ValueError(f"object ids must be unique, got {sorted(ids)}")
        known = set(ids)
        for event in self.events:
            for obj in event.objects:
                if obj != EGO and obj not in known:
                    raise ValueError(f"event '{event.type}' names unknown object {obj}")
        return self


_BUILTIN_PACKAGE = "mmfusion_annotate.sim.scenarios"


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped inside the package."""
    files = resources.files(_BUILTIN_PACKAGE).iterdir()
    return sorted(f.name[: -len(".yaml")] for f in files if f.name.endswith(".yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a scenario YAML file; ConfigError names the file and key."""
    text: str
    source = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in builtin_scenarios():
        text = resources.files(_BUILTIN_PACKAGE).joinpath(f"{name_or_path}.yaml").read_text()
        source = f"{name_or_path}.yaml (built-in)"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(
                f"no such scenario file or built-in scenario (built-ins: {', '.join(builtin_scenarios())})",
                file=source,
            )
        text = read_text_file(path, "scenario file")
    data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError("a scenario file must be a mapping", file=source)
    return validate_model(Scenario, data, source)
