"""The truth topics a bag carries beside its sensor topics, in one format for every source of truth.

The synthetic drive (``sim``) and imported real sequences (``datasets``) both write them, so one evaluator
(``bagtools.evaluate_bag``) scores either. ``/truth/objects`` is a foxglove ``SceneUpdate`` at the LiDAR
frame stamp with one entity per object in base_link: ``id`` = the integer object (track) id, stable across
frames; metadata ``class`` = an ``ObjectClass`` value first, then source-specific keys (``velocity_base``:
velocity over ground in base_link axes, "vx vy vz"); one cube whose size is (length along the yaw, width,
height). Per-point truth goes on ``/truth/<sensor>/<what>`` PointCloud2 topics in the sensor's own
frame and point order (``labels``: ``object_id``; ``semantics``: ``semantic_class``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from mmfusion_annotate.interfaces.cdr import new_message
from mmfusion_annotate.msgs.time import to_ros_time
from mmfusion_annotate.outputs.labels import SCENE_UPDATE
from mmfusion_annotate.types import Stamp

TRUTH_OBJECTS = "/truth/objects"
TRUTH_COLOR = {"r": 1.0, "g": 0.5, "b": 0.0, "a": 0.5}


def truth_topic(sensor: str, what: str) -> str:
    """``/truth/<sensor>/<what>``: per-point (or per-image) truth of one sensor."""
    return f"/truth/{sensor}/{what}"


def truth_entity(
    object_id: int,
    cls: str,
    center: Iterable[float],
    yaw: float,
    size: Iterable[float],
    frame_id: str,
    stamp: Stamp,
    metadata: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """One truth object as a SceneEntity mapping (see the module doc for the conventions)."""
    half = yaw / 2
    return {
        "timestamp": to_ros_time(stamp),
        "frame_id": frame_id,
        "id": str(int(object_id)),
        "metadata": [{"key": "class", "value": cls}] + [{"key": k, "value": v} for k, v in metadata],
        "cubes": [
            {
                "pose": {
                    "position": dict(zip("xyz", map(float, center), strict=True)),
                    "orientation": {"x": 0.0, "y": 0.0, "z": float(np.sin(half)), "w": float(np.cos(half))},
                },
                "size": dict(zip("xyz", map(float, size), strict=True)),
                "color": TRUTH_COLOR,
            }
        ],
    }


def truth_scene_update(entities: list[dict[str, Any]]) -> Any:
    """The ``/truth/objects`` message of one frame."""
    return new_message(SCENE_UPDATE, entities=entities)
