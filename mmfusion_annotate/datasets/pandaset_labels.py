"""PandaSet's human cuboids -> the project's truth objects (``outputs.truth``), one per object and frame.

- Classes: PandaSet's labels map onto ``ObjectClass`` by what the pre-labeller is asked to find (a
  pickup truck is car-sized, so it is a car; nuScenes would call it a truck); a Bicycle or Motorcycle
  with a rider is a cyclist, without one it is ``unknown`` like cones, signs and towed objects. The
  original label and uuid travel in the metadata so an evaluator can regroup.
- Objects in the overlap of the two LiDARs are labelled twice (``cuboids.sensor_id`` 0/1, linked by
  ``cuboids.sibling_id``, each copy with its own uuid): linked uuids are one object, kept once per frame
  (the Pandar64 copy, the LiDAR the pipeline fuses).
- Integer ids are given in order of first appearance over the whole sequence, so any imported range
  gives an object the same id.
- ``velocity_base`` comes from the object's centres in the neighbouring frames (central difference,
  one-sided at the ends; zero for ``stationary`` ones); it is left out when no neighbour has it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmfusion_annotate.datasets.pandaset import PandaCuboid
from mmfusion_annotate.outputs.truth import truth_entity
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.types import NS_PER_S, Stamp

CLASS_OF_LABEL: dict[str, ObjectClass] = {
    "Car": ObjectClass.CAR,
    "Pickup Truck": ObjectClass.CAR,
    "Medium-sized Truck": ObjectClass.TRUCK,
    "Semi-truck": ObjectClass.TRUCK,
    "Bus": ObjectClass.BUS,
    "Pedestrian": ObjectClass.PEDESTRIAN,
    "Pedestrian with Object": ObjectClass.PEDESTRIAN,
}
"""Every other label is ``unknown`` (except ridden two-wheelers, ``RIDDEN``)."""
RIDDEN = frozenset({"Bicycle", "Motorcycle"})
WITH_RIDER = "With Rider"
_SENSOR_PREFERENCE = {0: 0, -1: 1, 1: 2}  # Pandar64's copy first, then an unpaired one, then PandarGT's


def object_class(label: str, rider_status: str | None) -> ObjectClass:
    """The project's class of a PandaSet label (see the module doc)."""
    if label in RIDDEN:
        return ObjectClass.CYCLIST if rider_status == WITH_RIDER else ObjectClass.UNKNOWN
    return CLASS_OF_LABEL.get(label, ObjectClass.UNKNOWN)


@dataclass(frozen=True)
class TruthObject:
    """One de-duplicated cuboid of one frame with its sequence-wide integer id."""

    object_id: int
    cuboid: PandaCuboid

    @property
    def object_class(self) -> ObjectClass:
        return object_class(self.cuboid.label, self.cuboid.rider_status)


class _Links:
    """Union-find over uuids (sibling links make one object of two uuids)."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, uuid: str) -> str:
        root = self._parent.setdefault(uuid, uuid)
        while root != self._parent[root]:
            root = self._parent[root]
        self._parent[uuid] = root
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)


class TruthTracks:
    """The cuboids of every annotated frame of a sequence, de-duplicated, with stable integer ids."""

    def __init__(self, cuboids: Mapping[int, list[PandaCuboid]]) -> None:
        links = _Links()
        for frame in sorted(cuboids):
            for c in cuboids[frame]:
                links.find(c.uuid)
                if c.sibling_id is not None:
                    links.join(c.uuid, c.sibling_id)
        ids: dict[str, int] = {}
        for frame in sorted(cuboids):
            for root in sorted({links.find(c.uuid) for c in cuboids[frame]} - ids.keys()):
                ids[root] = len(ids) + 1
        self.frames: dict[int, list[TruthObject]] = {}
        for frame, frame_cuboids in cuboids.items():
            best: dict[int, PandaCuboid] = {}
            for c in frame_cuboids:
                object_id = ids[links.find(c.uuid)]
                kept = best.get(object_id)
                if kept is None or _SENSOR_PREFERENCE.get(c.sensor_id, 3) < _SENSOR_PREFERENCE.get(
                    kept.sensor_id, 3
                ):
                    best[object_id] = c
            self.frames[frame] = [TruthObject(i, c) for i, c in sorted(best.items())]
        self._centres = {
            frame: {o.object_id: np.asarray(o.cuboid.center) for o in objects}
            for frame, objects in self.frames.items()
        }

    def velocity_world(self, frame: int, obj: TruthObject, stamps_ns: np.ndarray) -> np.ndarray | None:
        """Velocity over ground (world axes, m/s) from the neighbouring frames; None without one."""
        if obj.cuboid.stationary:
            return np.zeros(3)
        ends = [f for f in (frame - 1, frame + 1) if obj.object_id in self._centres.get(f, {})]
        if not ends:
            return None
        first, last = (ends[0], ends[-1]) if len(ends) == 2 else sorted((ends[0], frame))
        dt = (stamps_ns[last] - stamps_ns[first]) / NS_PER_S
        return (self._centres[last][obj.object_id] - self._centres[first][obj.object_id]) / dt


def truth_entities(
    tracks: TruthTracks,
    frame: int,
    T_base_world: np.ndarray,
    stamp: Stamp,
    stamps_ns: np.ndarray,
    base_frame: str,
) -> list[dict[str, Any]]:
    """The ``/truth/objects`` entities of one frame in base_link as it stood at ``stamp``
    (``T_base_world`` then).

    PandaSet labels a frame at its timestamp (the sweep's end); ``stamp`` may be another instant (the
    sweep's start, where the pre-labels stand): a moving object is moved there by its velocity. The box
    stays upright: only its yaw is carried (base_link tilts from the world by the road's slope).
    """
    R = T_base_world[:3, :3]
    entities = []
    for obj in tracks.frames.get(frame, []):
        c = obj.cuboid
        velocity = tracks.velocity_world(frame, obj, stamps_ns)
        moved = (stamp - int(stamps_ns[frame])) / NS_PER_S * velocity if velocity is not None else 0.0
        centre = T_base_world[:3, :3] @ (np.asarray(c.center) + moved) + T_base_world[:3, 3]
        along = R @ np.array([-math.sin(c.yaw), math.cos(c.yaw), 0.0])  # the length axis
        metadata = []
        if velocity is not None:
            metadata.append(("velocity_base", " ".join(f"{v:.4f}" for v in R @ velocity)))
        metadata += [("label", c.label), ("uuid", c.uuid), ("stationary", str(c.stationary).lower())]
        entities.append(
            truth_entity(
                obj.object_id,
                obj.object_class.value,
                centre,
                math.atan2(along[1], along[0]),
                (c.length, c.width, c.height),
                base_frame,
                stamp,
                metadata,
            )
        )
    return entities
