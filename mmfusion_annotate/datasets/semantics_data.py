"""Labelled sweeps for point semantics: PandaSet frames moved into base_link with the seven classes.

Used by ``scripts/train_point_semantics.py``, its test and its benchmark, so that all three read the
real data the same way. The files are read by ``datasets.pandaset.PandaSetSequence`` (the project's one
PandaSet reader, also behind ``mmfusion import pandaset``); this module only adds the class mapping and
the frame change. PandaSet (by Hesai and Scale AI, CC BY 4.0) stores points in a world frame and the
LiDAR pose per frame; its ego frame has +y forward and +x right, base_link has x forward, y left, z up,
with z = 0 on the road (the offset is measured from the road points, ``road_offset``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfusion_annotate.datasets.pandaset import PandaSetSequence
from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.fusion.poses import invert_pose, make_pose
from mmfusion_annotate.prelabel.semantics import PointClass

_C = PointClass
# PandaSet's 42 semantic classes (semseg/classes.json) onto the seven point classes. Sidewalks, driveways
# and road markings are ground; two-wheelers are vehicles (the rider is labelled with them); barriers
# are wall-like structure; cones, bins, animals, smoke, spray and reflections are "other", and so are
# PandaSet's "Other Static Object" (fences, hydrants, and most bare poles: only signs and pylons have a
# class of their own, so the pole/sign class learns sign posts and sign boards).
PANDASET_CLASSES: dict[str, PointClass] = {
    "Smoke": _C.OTHER,
    "Exhaust": _C.OTHER,
    "Spray or rain": _C.OTHER,
    "Reflection": _C.OTHER,
    "Vegetation": _C.VEGETATION,
    "Ground": _C.GROUND,
    "Road": _C.GROUND,
    "Lane Line Marking": _C.GROUND,
    "Stop Line Marking": _C.GROUND,
    "Other Road Marking": _C.GROUND,
    "Sidewalk": _C.GROUND,
    "Driveway": _C.GROUND,
    "Car": _C.VEHICLE,
    "Pickup Truck": _C.VEHICLE,
    "Medium-sized Truck": _C.VEHICLE,
    "Semi-truck": _C.VEHICLE,
    "Towed Object": _C.VEHICLE,
    "Motorcycle": _C.VEHICLE,
    "Other Vehicle - Construction Vehicle": _C.VEHICLE,
    "Other Vehicle - Uncommon": _C.VEHICLE,
    "Other Vehicle - Pedicab": _C.VEHICLE,
    "Emergency Vehicle": _C.VEHICLE,
    "Bus": _C.VEHICLE,
    "Personal Mobility Device": _C.VEHICLE,
    "Motorized Scooter": _C.VEHICLE,
    "Bicycle": _C.VEHICLE,
    "Train": _C.VEHICLE,
    "Trolley": _C.VEHICLE,
    "Tram / Subway": _C.VEHICLE,
    "Pedestrian": _C.PERSON,
    "Pedestrian with Object": _C.PERSON,
    "Animals - Bird": _C.OTHER,
    "Animals - Other": _C.OTHER,
    "Pylons": _C.POLE,
    "Road Barriers": _C.BUILDING,
    "Signs": _C.POLE,
    "Cones": _C.OTHER,
    "Construction Signs": _C.POLE,
    "Temporary Construction Barriers": _C.BUILDING,
    "Rolling Containers": _C.OTHER,
    "Building": _C.BUILDING,
    "Other Static Object": _C.OTHER,
}


@dataclass(frozen=True)
class LabelledSweep:
    """One frame: ``xyz`` (N,3) float32 base_link, ``intensity`` (N,) float32 0-255, ``labels`` (N,)
    uint8 ``PointClass``."""

    xyz: np.ndarray
    intensity: np.ndarray
    labels: np.ndarray


Sequence = Path | str | PandaSetSequence
"""A sequence folder (or the folder holding its only one, ``pandaset_seq002``), or one already open."""

# base_link from PandaSet's LiDAR ego frame (x = ego +y, y = ego -x, z = ego z); the road offset is
# added as a translation in ``read_sweep``.
_BASE_FROM_EGO = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def open_sequence(data: Sequence) -> PandaSetSequence:
    """``data`` itself when already open, else the sequence it names (``datasets.pandaset.find_sequence``):
    callers reading many frames can open it once and pass it on."""
    return data if isinstance(data, PandaSetSequence) else PandaSetSequence(data)


def class_lookup(seq: PandaSetSequence) -> np.ndarray:
    """PandaSet class id -> ``PointClass`` (uint8 array indexed by id), from ``semseg/classes.json``;
    ConfigError for a class without a point class, so a new PandaSet class is never silently "other"."""
    path = seq.root / "annotations" / "semseg" / "classes.json"
    names = seq.semseg_classes()
    if not names:
        raise ConfigError("PandaSet semantic classes missing", file=str(path))
    lookup = np.full(max(names) + 1, PointClass.OTHER, np.uint8)
    for key, name in names.items():
        if name not in PANDASET_CLASSES:
            raise ConfigError(f"class '{name}' has no point class", file=str(path), key=str(key))
        lookup[key] = PANDASET_CLASSES[name]
    return lookup


def _world_points(seq: PandaSetSequence, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(world points (N,3) float64, intensity (N,) float32, PandaSet class ids (N,)) of one frame."""
    sweep = seq.read_sweep(frame)
    classes = seq.read_semseg(frame)
    if len(classes) != len(sweep.xyz_world):
        message = f"{len(classes)} semantic labels for {len(sweep.xyz_world)} points"
        raise ConfigError(message, file=str(seq.semseg_path(frame)))
    return sweep.xyz_world, sweep.intensity, classes


def _transform(pose: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Points (N,3) moved by the 4x4 ``pose``."""
    return xyz @ pose[:3, :3].T + pose[:3, 3]


def road_offset(data_dir: Sequence, frames: list[int], near_m: tuple[float, float] = (3.0, 15.0)) -> float:
    """Height of the ego frame's origin above the road: minus the median z of the points labelled Road
    between ``near_m`` from the ego, over ``frames``."""
    seq = open_sequence(data_dir)
    road_ids = [key for key, name in seq.semseg_classes().items() if name == "Road"]
    if not road_ids:
        raise ConfigError("no 'Road' class", file=str(seq.root / "annotations" / "semseg" / "classes.json"))
    heights = []
    for frame in frames:
        xyz, _, classes = _world_points(seq, frame)
        ego = _transform(invert_pose(seq.lidar_poses[frame]), xyz)
        r = np.hypot(ego[:, 0], ego[:, 1])
        heights.append(ego[(classes == road_ids[0]) & (r >= near_m[0]) & (r <= near_m[1]), 2])
    return -float(np.median(np.concatenate(heights)))


def read_sweep(data_dir: Sequence, frame: int, road_offset_m: float) -> LabelledSweep:
    """Frame ``frame`` in base_link (x forward = PandaSet ego +y, y left = ego -x, z up + offset)."""
    seq = open_sequence(data_dir)
    xyz, intensity, classes = _world_points(seq, frame)
    base_from_ego = make_pose(_BASE_FROM_EGO, np.array([0.0, 0.0, road_offset_m]))
    base_from_world = base_from_ego @ invert_pose(seq.lidar_poses[frame])
    return LabelledSweep(
        _transform(base_from_world, xyz).astype(np.float32), intensity, class_lookup(seq)[classes]
    )
