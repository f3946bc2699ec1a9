"""Per-point time normalization: each driver convention lands on the same absolute nanoseconds."""

from __future__ import annotations

import numpy as np
import pytest

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs import pointcloud2 as pc
from mmfusion_annotate.msgs.point_time import TimeRule, infer_rule

STAMP = 1_700_000_000_250_000_000  # header stamp, ns
OFFSETS_NS = [0, 1_250, 50_000_000, 99_999_000]  # per-point times after the stamp
XYZ = [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1)]


def _cloud(make_raw_cloud, name, datatype, values, *, offset=16, point_step=32, bigendian=False):
    rows = [[{"x": 0.0, "y": 0.0, "z": 0.0, name: v} for v in values]]
    return make_raw_cloud([*XYZ, (name, offset, datatype, 1)], rows, point_step=point_step,
                          bigendian=bigendian, stamp_ns=STAMP)


@pytest.mark.parametrize(("driver", "name", "datatype", "values", "rule"), [
    ("ouster", "t", 6, OFFSETS_NS, TimeRule("t", "ns", True)),
    ("livox", "offset_time", 6, OFFSETS_NS, TimeRule("offset_time", "ns", True)),
    ("velodyne", "time", 7, [o / 1e9 for o in OFFSETS_NS], TimeRule("time", "s", True)),
    ("hesai", "timestamp", 8, [(STAMP + o) / 1e9 for o in OFFSETS_NS], TimeRule("timestamp", "s", False)),
    ("livox2", "timestamp", 8, [float(STAMP + o) for o in OFFSETS_NS], TimeRule("timestamp", "ns", False)),
    ("abs_us", "time_stamp", 8, [(STAMP + o) / 1e3 for o in OFFSETS_NS], TimeRule("time_stamp", "us", False)),
    ("abs_ms", "t", 8, [(STAMP + o) / 1e6 for o in OFFSETS_NS], TimeRule("t", "ms", False)),
])
def test_driver_conventions_normalize_to_absolute_ns(make_raw_cloud, driver, name, datatype, values, rule):
    cloud = pc.decode_cloud(_cloud(make_raw_cloud, name, datatype, values))
    assert cloud.time_rule == rule
    assert cloud.points["t_ns"].dtype == np.int64
    # integers are exact; floats are as exact as their own spacing allows (float64 epoch ns: 256 ns)
    stored = np.asarray(values, cloud.points[name].dtype.newbyteorder("="))
    ns_per_unit = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}[rule.unit]
    tolerance = float(np.spacing(np.abs(stored)).max()) * ns_per_unit if datatype >= 7 else 0
    np.testing.assert_allclose(cloud.points["t_ns"] - STAMP, OFFSETS_NS, atol=tolerance, rtol=0)
    np.testing.assert_array_equal(cloud.points[name], np.asarray(values, cloud.points[name].dtype))


def test_time_field_on_big_endian_padded_cloud(make_raw_cloud):
    msg = _cloud(make_raw_cloud, "t", 6, OFFSETS_NS, offset=20, point_step=28, bigendian=True)
    np.testing.assert_array_equal(pc.decode(msg)["t_ns"], np.add(OFFSETS_NS, STAMP))


def test_organized_cloud_gets_a_t_ns_grid(make_raw_cloud):
    rows = [[{"x": 0.0, "y": 0.0, "z": 0.0, "t": 1000 * (4 * r + c)} for c in range(4)] for r in range(2)]
    msg = make_raw_cloud([*XYZ, ("t", 12, 6, 1)], rows, point_step=16, row_step=80, stamp_ns=STAMP)
    points = pc.decode(msg)
    assert points.shape == (2, 4)
    np.testing.assert_array_equal(points["t_ns"], STAMP + 1000 * np.arange(8).reshape(2, 4))


def test_field_priority_and_opt_out(make_raw_cloud):
    rows = [[{"x": 0.0, "y": 0.0, "z": 0.0, "timestamp": 1.0, "t": 7}]]
    fields = [*XYZ, ("timestamp", 16, 8, 1), ("t", 12, 6, 1)]
    msg = make_raw_cloud(fields, rows, point_step=24, stamp_ns=STAMP)
    assert pc.decode_cloud(msg).time_rule.field == "t"
    assert pc.decode(msg)["t_ns"][0] == STAMP + 7
    off = pc.decode_cloud(msg, normalize_time=False)
    assert off.time_rule is None and "t_ns" not in off.points.dtype.names


def test_explicit_unit_and_reference_override_the_rule(make_raw_cloud):
    msg = _cloud(make_raw_cloud, "t", 6, [0, 5, 100])  # a driver writing microseconds into uint32 t
    np.testing.assert_array_equal(pc.decode(msg, time_unit="us")["t_ns"],
                                  STAMP + np.array([0, 5_000, 100_000]))
    absolute = _cloud(make_raw_cloud, "time", 8, [10.5, 11.0])  # small absolute seconds (a simulated clock)
    assert pc.decode_cloud(absolute).time_rule.relative  # the magnitude rule alone says relative...
    np.testing.assert_array_equal(pc.decode(absolute, time_relative=False)["t_ns"],
                                  [10_500_000_000, 11_000_000_000])


def test_small_integers_need_an_explicit_unit(make_raw_cloud):
    msg = _cloud(make_raw_cloud, "time", 4, [0, 10])
    with pytest.raises(CodecError, match="time field 'time' is a 16-bit integer; pass time_unit"):
        pc.decode(msg, topic="/lidar")
    np.testing.assert_array_equal(pc.decode(msg, time_unit="us")["t_ns"], [STAMP, STAMP + 10_000])


def test_nonfinite_times_and_bad_units_are_codec_errors(make_raw_cloud):
    msg = _cloud(make_raw_cloud, "time", 7, [0.0, float("nan")])
    with pytest.raises(CodecError, match="time field 'time' has 1 non-finite values"):
        pc.decode(msg)
    with pytest.raises(CodecError, match="time unit must be one of"):
        pc.decode(_cloud(make_raw_cloud, "t", 6, [0]), time_unit="days")


def test_negative_relative_offsets_and_the_relative_threshold():
    rule = infer_rule("time", np.array([-0.1, 0.0], np.float32))
    assert rule == TimeRule("time", "s", True)
    assert infer_rule("time", np.array([999_999.0])).relative
    assert not infer_rule("time", np.array([1_000_000.0])).relative
    assert infer_rule("t", np.array([5], np.int32), unit="ms") == TimeRule("t", "ms", True)
