"""Radar detections carried as ``sensor_msgs/PointCloud2`` (no radar message package is needed).

Fields, all float32: x, y, z (m, radar frame), range (m), azimuth and elevation (rad, azimuth
counter-clockwise from +x, elevation up from the x-y plane), range_rate (m/s, positive = moving away),
rcs (dBsm). Decoding returns the same dict of arrays the simulator puts in a radar SensorSample payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.pointcloud2 import decode, encode, make_points, points_xyz
from mmfusion_annotate.types import Stamp

RADAR_FIELDS = ("range", "azimuth", "elevation", "range_rate", "rcs")


def encode_radar(detections: Mapping[str, np.ndarray], frame_id: str, stamp_ns: Stamp, *,
                 topic: str | None = None) -> Any:
    """PointCloud2 of detections given as ``xyz`` (N, 3) plus one (N,) array per :data:`RADAR_FIELDS`."""
    missing = [name for name in ("xyz", *RADAR_FIELDS) if name not in detections]
    if missing:
        raise CodecError(f"radar detections lack {', '.join(missing)}", topic=topic)
    columns = {name: np.asarray(detections[name], np.float32) for name in RADAR_FIELDS}
    return encode(make_points(detections["xyz"], **columns), frame_id, stamp_ns, topic=topic)


def decode_radar(msg: Any, *, topic: str | None = None) -> dict[str, np.ndarray]:
    """``{"xyz": (N, 3), "range": (N,), ...}`` float32 arrays from a radar PointCloud2."""
    points = decode(msg, normalize_time=False, topic=topic).reshape(-1)
    missing = [name for name in RADAR_FIELDS if name not in (points.dtype.names or ())]
    if missing:
        raise CodecError(f"radar cloud lacks field {', '.join(missing)}", topic=topic)
    detections = {"xyz": points_xyz(points, topic=topic)}
    detections.update({name: points[name].astype(np.float32) for name in RADAR_FIELDS})
    return detections
