"""Integer-nanosecond stamps <-> ROS ``builtin_interfaces/Time`` and ``std_msgs/Header``.

The core keeps time as ``int`` nanoseconds (floats lose nanoseconds past ~104 days of epoch time);
these helpers are the only place where the (sec, nanosec) pair is built or read.
"""

from __future__ import annotations

from typing import Any

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.types import NS_PER_S, Stamp

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def split_ns(ns: Stamp) -> tuple[int, int]:
    """(sec, nanosec) with 0 <= nanosec < 1e9, as ROS defines it (negative times floor the seconds)."""
    sec, nanosec = divmod(int(ns), NS_PER_S)
    if not _INT32_MIN <= sec <= _INT32_MAX:
        raise CodecError(f"stamp {ns} ns does not fit builtin_interfaces/Time (int32 seconds)")
    return sec, nanosec


def to_ros_time(ns: Stamp) -> Any:
    """``builtin_interfaces.msg.Time`` for an integer-nanosecond stamp."""
    from builtin_interfaces.msg import Time

    sec, nanosec = split_ns(ns)
    return Time(sec=sec, nanosec=nanosec)


def from_ros_time(t: Any) -> Stamp:
    """Integer nanoseconds from any object with ``sec`` and ``nanosec`` (rclpy, rosbags, mcap-ros2)."""
    return int(t.sec) * NS_PER_S + int(t.nanosec)


def make_header(frame_id: str, ns: Stamp) -> Any:
    """``std_msgs.msg.Header`` stamped with integer nanoseconds."""
    from std_msgs.msg import Header

    return Header(frame_id=frame_id, stamp=to_ros_time(ns))


header = make_header
"""The name the shared contract uses for :func:`make_header`."""
