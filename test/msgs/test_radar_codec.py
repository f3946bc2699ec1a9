"""Radar detections as PointCloud2: the schema on the wire and the round trip."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import PointCloud2

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs import pointcloud2 as pc
from mmfusion_annotate.msgs.radar import RADAR_FIELDS, decode_radar, encode_radar


def _detections(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    xyz = rng.normal(size=(n, 3)) * [40.0, 10.0, 1.0]
    rng_ = np.linalg.norm(xyz, axis=1)
    return {"xyz": xyz, "range": rng_, "azimuth": np.arctan2(xyz[:, 1], xyz[:, 0]),
            "elevation": np.arcsin(xyz[:, 2] / rng_), "range_rate": rng.normal(size=n) * 5,
            "rcs": rng.normal(size=n) * 10}


def test_radar_round_trip_with_float32_schema():
    det = _detections(64)
    msg = deserialize_message(serialize_message(encode_radar(det, "radar_front", 7)), PointCloud2)
    assert [(f.name, f.datatype) for f in msg.fields] == [(n, 7) for n in ("x", "y", "z", *RADAR_FIELDS)]
    back = decode_radar(msg)
    assert set(back) == {"xyz", *RADAR_FIELDS}
    for name, values in det.items():
        assert back[name].dtype == np.float32
        np.testing.assert_allclose(back[name], values, rtol=1e-6, atol=1e-6)


def test_missing_radar_fields_are_codec_errors():
    det = _detections(3)
    del det["rcs"]
    with pytest.raises(CodecError, match="/radar: radar detections lack rcs"):
        encode_radar(det, "radar", 0, topic="/radar")
    lidar_like = pc.encode(pc.make_points(det["xyz"], range=det["range"]), "radar", 0)
    with pytest.raises(CodecError, match="radar cloud lacks field azimuth, elevation, range_rate, rcs"):
        decode_radar(lidar_like)
