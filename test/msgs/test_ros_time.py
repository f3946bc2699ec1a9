"""Integer nanoseconds <-> builtin_interfaces/Time and std_msgs/Header."""

from __future__ import annotations

import pytest
from builtin_interfaces.msg import Time
from hypothesis import given
from hypothesis import strategies as st

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.time import from_ros_time, header, make_header, to_ros_time


def test_split_keeps_every_nanosecond():
    t = to_ros_time(1_700_000_000_999_999_999)
    assert (t.sec, t.nanosec) == (1_700_000_000, 999_999_999)
    t = to_ros_time(-1)  # before the epoch: seconds floor, nanoseconds stay positive (ROS convention)
    assert (t.sec, t.nanosec) == (-1, 999_999_999)


@given(st.integers(-(2**31) * 10**9, (2**31) * 10**9 - 1))
def test_round_trip(ns):
    assert from_ros_time(to_ros_time(ns)) == ns


def test_out_of_range_and_header():
    with pytest.raises(CodecError, match="does not fit builtin_interfaces/Time"):
        to_ros_time(2**31 * 10**9)
    h = make_header("cam_front", 5_000_000_001)
    assert (h.frame_id, h.stamp.sec, h.stamp.nanosec) == ("cam_front", 5, 1)
    assert header is make_header
    assert from_ros_time(Time(sec=3, nanosec=4)) == 3_000_000_004
