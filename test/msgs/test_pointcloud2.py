"""PointCloud2 codec: layouts of every kind decode to the values an independent writer packed."""

from __future__ import annotations

import array
import struct
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import PointCloud2

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs import pointcloud2 as pc
from mmfusion_annotate.msgs.rgb import pack_rgb, unpack_rgb

XYZ = [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1)]
SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 8: 8}
RANGES = {1: (-128, 127), 2: (0, 255), 3: (-(2**15), 2**15 - 1), 4: (0, 2**16 - 1),
          5: (-(2**31), 2**31 - 1), 6: (0, 2**32 - 1)}


def _value(datatype: int) -> st.SearchStrategy:
    if datatype == 7:
        return st.floats(width=32, allow_nan=False)
    if datatype == 8:
        return st.floats(allow_nan=False)
    return st.integers(*RANGES[datatype])


@st.composite
def layouts(draw: st.DrawFn) -> dict:
    """A random legal layout: shuffled declaration order, gaps, tail padding, row padding, endianness."""
    n = draw(st.integers(1, 5))
    names = draw(st.lists(st.sampled_from(["a", "b", "x", "intensity", "ring", "v", "w"]),
                          min_size=n, max_size=n, unique=True))
    fields, offset = [], 0
    for name in names:
        datatype, count = draw(st.integers(1, 8)), draw(st.integers(1, 3))
        offset += draw(st.integers(0, 3))
        fields.append((name, offset, datatype, count))
        offset += SIZES[datatype] * count
    point_step = offset + draw(st.integers(0, 5))
    height, width = draw(st.integers(1, 3)), draw(st.integers(0, 4))
    rows = [[{name: draw(st.tuples(*[_value(dt)] * k)) if k > 1 else draw(_value(dt))
              for name, _, dt, k in fields} for _ in range(width)] for _ in range(height)]
    return {"fields": draw(st.permutations(fields)), "rows": rows, "point_step": point_step,
            "row_step": width * point_step + draw(st.integers(0, 7)), "bigendian": draw(st.booleans())}


@settings(max_examples=150, deadline=None)
@given(layouts())
def test_any_layout_decodes_to_the_packed_values_without_copy(make_raw_cloud, layout):
    msg = make_raw_cloud(**layout)
    points = pc.decode(msg)
    height, width = len(layout["rows"]), len(layout["rows"][0])
    assert points.shape == ((height, width) if height > 1 else (width,))
    assert np.shares_memory(points, np.frombuffer(msg.data, np.uint8)) or points.size == 0
    grid = points.reshape(height, width)
    for r, row in enumerate(layout["rows"]):
        for c, point in enumerate(row):
            for name, value in point.items():
                np.testing.assert_array_equal(grid[name][r, c], np.asarray(value, dtype=grid[name].dtype))


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("datatype", range(1, 9))
def test_every_datatype_in_both_byte_orders(make_raw_cloud, datatype, bigendian):
    lo, hi = RANGES.get(datatype, (-1e30, 1e30))
    values = [lo, hi, 0, 1] if datatype < 7 else [-1.5, 2.25, 1e-3 if datatype == 8 else 0.5, hi]
    fields = [*XYZ, ("v", 13, datatype, 1)]
    rows = [[{"x": 1.0, "y": 2.0, "z": 3.0, "v": v} for v in values]]
    points = pc.decode(make_raw_cloud(fields, rows, point_step=24, bigendian=bigendian))
    expected = np.array(values, dtype=points["v"].dtype.newbyteorder("="))
    np.testing.assert_array_equal(points["v"], expected)
    np.testing.assert_array_equal(pc.points_xyz(points), np.tile([1.0, 2.0, 3.0], (4, 1)))


def test_organized_cloud_with_row_padding_keeps_its_grid(make_raw_cloud):
    rows = [[{"x": float(r), "y": float(c), "z": 0.0} for c in range(5)] for r in range(4)]
    msg = make_raw_cloud(XYZ, rows, point_step=16, row_step=5 * 16 + 12)
    points = pc.decode(msg)
    assert points.shape == (4, 5)
    np.testing.assert_array_equal(points["x"], np.repeat(np.arange(4.0), 5).reshape(4, 5))
    np.testing.assert_array_equal(points["y"], np.tile(np.arange(5.0), (4, 1)))
    assert pc.points_xyz(points).shape == (4, 5, 3)


def test_count_greater_than_one_is_a_subarray(make_raw_cloud):
    fields = [*XYZ, ("normal", 12, 7, 3)]
    msg = make_raw_cloud(fields, [[{"x": 0.0, "y": 0.0, "z": 0.0, "normal": (0.0, 0.6, 0.8)}] * 3],
                         point_step=24)
    points = pc.decode(msg)
    assert points["normal"].shape == (3, 3)
    np.testing.assert_allclose(points["normal"][2], [0.0, 0.6, 0.8], rtol=1e-7)


@pytest.mark.parametrize("data", ["array", "bytes", "ndarray"])
def test_duck_typed_messages_decode(make_raw_cloud, data):
    """rosbags gives an ndarray, mcap-ros2 gives bytes: both must decode like an rclpy message."""
    msg = make_raw_cloud(XYZ, [[{"x": 1.0, "y": 2.0, "z": 3.0}]], point_step=12, stamp_ns=5_000_000_007)
    raw = bytes(msg.data)
    payload = {"array": msg.data, "bytes": raw, "ndarray": np.frombuffer(raw, np.uint8)}[data]
    duck = SimpleNamespace(**{name: getattr(msg, name) for name in
                              ("header", "height", "width", "fields", "is_bigendian", "point_step",
                               "row_step", "is_dense")}, data=payload)
    cloud = pc.decode_cloud(duck)
    assert (cloud.frame_id, cloud.stamp_ns) == ("lidar", 5_000_000_007)
    np.testing.assert_array_equal(pc.points_xyz(cloud.points), [[1.0, 2.0, 3.0]])


def _malformed(msg: PointCloud2, change: str) -> PointCloud2:
    if change == "short_data":
        msg.data = msg.data[:-1]
    elif change == "row_step":
        msg.row_step = msg.width * msg.point_step - 1
    elif change == "overlap":
        msg.fields[1].offset = 2
    elif change == "beyond":
        msg.fields[2].offset = 10
    elif change == "datatype":
        msg.fields[0].datatype = 9
    elif change == "duplicate":
        msg.fields[1].name = "x"
    elif change == "count":
        msg.fields[2].count = 0
    return msg


@pytest.mark.parametrize(("change", "reason"), [
    ("short_data", "data length 35 != height x row_step = 1 x 36"),
    ("row_step", "row_step 35 < width x point_step = 3 x 12"),
    ("overlap", "fields 'x' (bytes 0..3) and 'y' (bytes 2..5) overlap"),
    ("beyond", "field 'z' (offset 10, 4 bytes) extends beyond point_step 12"),
    ("datatype", "field 'x' has unknown datatype 9"),
    ("duplicate", "field name 'x' is empty or repeated"),
    ("count", "field 'z' has count 0"),
])
def test_malformed_clouds_raise_codec_error_naming_topic_and_reason(make_raw_cloud, change, reason):
    msg = _malformed(make_raw_cloud(XYZ, [[{"x": 1.0, "y": 2.0, "z": 3.0}] * 3], point_step=12), change)
    with pytest.raises(CodecError, match=r"^/lidar/points: ") as info:
        pc.decode(msg, topic="/lidar/points")
    assert reason in str(info.value)
    assert info.value.topic == "/lidar/points"


def test_drop_nan_removes_and_counts_nonfinite_points(make_raw_cloud):
    values = [(1.0, 2.0, 3.0), (float("nan"), 0.0, 0.0), (0.0, float("inf"), 0.0), (4.0, 5.0, 6.0),
              (0.0, 0.0, -float("inf")), (7.0, 8.0, 9.0)]
    rows = [[{"x": x, "y": y, "z": z} for x, y, z in values[:3]], [{"x": x, "y": y, "z": z} for x, y, z in
                                                                    values[3:]]]
    msg = make_raw_cloud(XYZ, rows, point_step=12)
    cloud = pc.decode_cloud(msg, drop_nan=True)
    assert cloud.dropped_nonfinite == 3
    np.testing.assert_array_equal(pc.points_xyz(cloud.points), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert pc.decode(msg).shape == (2, 3)  # kept as a grid when not asked
    assert np.isnan(pc.decode(msg)["x"][0, 1])
    with pytest.raises(CodecError, match="3 of 6 points have NaN/inf coordinates"):
        pc.decode(msg, reject_nan=True)


def test_drop_nan_on_a_clean_cloud_keeps_the_zero_copy_view(make_raw_cloud):
    msg = make_raw_cloud(XYZ, [[{"x": 1.0, "y": 2.0, "z": 3.0}] * 4], point_step=12)
    cloud = pc.decode_cloud(msg, drop_nan=True, reject_nan=True)
    assert cloud.dropped_nonfinite == 0
    assert np.shares_memory(cloud.points, np.frombuffer(msg.data, np.uint8))


def test_drop_nan_needs_coordinates(make_raw_cloud):
    msg = make_raw_cloud([("intensity", 0, 7, 1)], [[{"intensity": 1.0}]], point_step=4)
    with pytest.raises(CodecError, match="cloud has no field x, y, z"):
        pc.decode(msg, drop_nan=True)


def _reference_unpack(msg: PointCloud2) -> list[tuple]:
    """Per-point struct unpacking of a little-endian packed cloud, from its PointFields."""
    codes = {f.name: "<" + {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 8: "d"}[f.datatype]
             for f in msg.fields}
    data = bytes(msg.data)
    return [tuple(struct.unpack_from(codes[f.name], data, i * msg.point_step + f.offset)[0]
                  for f in msg.fields) for i in range(msg.width * msg.height)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 20), st.sampled_from(["i1", "u1", "i2", "u2", "i4", "u4", "f4", "f8", ">f8", ">u2"]),
       st.booleans(), st.data())
def test_encode_writes_the_packed_layout_its_fields_declare(n, extra, with_time, data):
    rng = np.random.default_rng(n)
    columns = {"value": (rng.random(n) * 100).astype(extra), "flag": rng.random(n) > 0.5}
    stamp = 1_700_000_000_123_456_789
    if with_time:
        offsets = data.draw(st.lists(st.integers(0, 99_999_999), min_size=n, max_size=n))
        columns["t_ns"] = stamp + np.array(offsets, np.int64)
    points = pc.make_points(rng.normal(size=(n, 3)) * 50, **columns)
    msg = pc.encode(points, "lidar", stamp)
    assert msg.row_step == msg.width * msg.point_step and len(msg.data) == msg.point_step * n
    assert [f.name for f in msg.fields] == ["x", "y", "z", "value", "flag"] + (["t"] if with_time else [])
    rows = _reference_unpack(msg)
    expected = np.asarray(points["value"], dtype=points["value"].dtype.newbyteorder("="))
    assert [row[3] for row in rows] == expected.tolist()
    assert [row[4] for row in rows] == points["flag"].astype(int).tolist()
    if with_time:
        assert [row[5] for row in rows] == (points["t_ns"] - stamp).tolist()
        np.testing.assert_array_equal(pc.decode(msg)["t_ns"], points["t_ns"])


def test_encode_decode_round_trip_through_cdr():
    rng = np.random.default_rng(1)
    points = pc.make_points(rng.normal(size=(1000, 3)), intensity=rng.random(1000).astype(np.float32),
                            ring=rng.integers(0, 64, 1000).astype(np.uint16),
                            label=rng.integers(-5, 5, (1000, 2)).astype(np.int8))
    msg = deserialize_message(serialize_message(pc.encode(points, "lidar_top", 42)), PointCloud2)
    back = pc.decode_cloud(msg)
    assert (back.frame_id, back.stamp_ns, back.time_rule) == ("lidar_top", 42, None)
    for name in points.dtype.names:
        np.testing.assert_array_equal(back.points[name], points[name])


def test_organized_encode_and_decoded_cloud_reencodes():
    grid = np.zeros((3, 4), pc.make_points(np.zeros((0, 3)), t_ns=np.zeros(0, np.int64)).dtype)
    grid["x"] = np.arange(12).reshape(3, 4)
    grid["t_ns"] = 1_000 - 5  # points 5 ns before the stamp: int32 't'
    msg = pc.encode(grid, "lidar", 1_000)
    assert (msg.height, msg.width, msg.row_step) == (3, 4, 4 * msg.point_step)
    assert msg.fields[-1].datatype == 5
    decoded = pc.decode(msg)
    again = pc.decode(pc.encode(decoded, "lidar", 1_000))  # source 't' is replaced by t_ns, not duplicated
    assert again.dtype.names == ("x", "y", "z", "t", "t_ns")
    np.testing.assert_array_equal(again["x"], grid["x"])
    np.testing.assert_array_equal(again["t_ns"], grid["t_ns"])


@pytest.mark.parametrize(("columns", "reason"), [
    ({"big": np.array([2**40])}, "field 'big' has 64-bit values outside int32"),
    ({"t_ns": np.array([0, 5 * 10**9])}, "t_ns spans 0..5000000000 ns around the header stamp"),
    ({"c": np.array([1 + 2j])}, "field 'c' has dtype complex128, which PointField cannot carry"),
])
def test_encode_refuses_what_pointfield_cannot_carry(columns, reason):
    points = pc.make_points(np.zeros((len(next(iter(columns.values()))), 3)), **columns)
    with pytest.raises(CodecError, match=reason):
        pc.encode(points, "lidar", 0)


def test_encode_narrows_fitting_int64_and_marks_density():
    points = pc.make_points(np.array([[0.0, 0.0, np.nan], [1.0, 1.0, 1.0]]), id=np.array([7, -3]))
    msg = pc.encode(points, "lidar", 0)
    assert msg.fields[3].datatype == 5 and not msg.is_dense
    np.testing.assert_array_equal(pc.decode(msg)["id"], [7, -3])


def test_xyzirt_convenience_layout():
    msg = pc.encode_xyzirt(np.ones((2, 3)), [1.5, 2.5], [3, 63], [10, 20], "lidar", 10)
    assert [(f.name, f.datatype) for f in msg.fields] == [("x", 7), ("y", 7), ("z", 7), ("intensity", 7),
                                                           ("ring", 4), ("t", 6)]
    points = pc.decode(msg)
    np.testing.assert_array_equal(points["t_ns"], [10, 20])
    np.testing.assert_array_equal(points["ring"], [3, 63])


def test_rgb_field_holds_pcl_bit_pattern():
    rgb = np.array([[255, 0, 0], [0, 128, 1], [12, 34, 56]], np.uint8)
    msg = pc.encode_xyzrgb(np.zeros((3, 3)), rgb, "map", 0)
    assert msg.fields[3].name == "rgb" and msg.fields[3].datatype == 7
    bits = [struct.unpack_from("<I", bytes(msg.data), i * msg.point_step + 12)[0] for i in range(3)]
    assert bits == [(r << 16) | (g << 8) | b for r, g, b in rgb.tolist()]
    np.testing.assert_array_equal(unpack_rgb(pc.decode(msg)["rgb"]), rgb)


def test_empty_cloud_round_trips():
    msg = pc.encode(pc.make_points(np.zeros((0, 3)), intensity=np.zeros(0, np.float32)), "lidar", 0)
    assert (msg.width, len(msg.data)) == (0, 0)
    assert pc.decode(msg).shape == (0,)
    msg.height = 0
    assert pc.decode(msg).shape == (0, 0)
    msg.height = 1
    msg.data = array.array("B", b"\x00")
    with pytest.raises(CodecError, match="data length 1"):
        pc.decode(msg)


def test_rosbags_decoded_message_decodes_like_the_rclpy_one():
    typestore = get_typestore(Stores.ROS2_JAZZY)
    msg = pc.encode_xyzirt(np.arange(12.0).reshape(4, 3), [1, 2, 3, 4], [0, 1, 2, 3], [7, 8, 9, 10],
                           "lidar", 7)
    other = typestore.deserialize_cdr(serialize_message(msg), "sensor_msgs/msg/PointCloud2")
    mine, theirs = pc.decode(msg), pc.decode(other)
    assert theirs.dtype == mine.dtype
    np.testing.assert_array_equal(theirs, mine)


def test_rgb_packing_errors_and_byte_order():
    with pytest.raises(CodecError, match="pack_rgb needs \\(..., 3\\) uint8 colours"):
        pack_rgb(np.zeros((2, 3), np.float32))
    with pytest.raises(CodecError, match="packed colours must be float32 or uint32"):
        unpack_rgb(np.zeros(2, np.float64))
    big = np.array([0x00102030, 0xFF405060], ">u4")  # an rgba uint32 field of a big-endian cloud
    np.testing.assert_array_equal(unpack_rgb(big), [[0x10, 0x20, 0x30], [0x40, 0x50, 0x60]])
