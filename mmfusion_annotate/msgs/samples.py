"""ROS sensor messages -> ``SensorSample`` (the core's input), per sensor kind of the rig.

The live nodes and the bag replay both decode through here, which is half of what makes replay give
the live results. Payload keys are the ones the simulator produces (see the sim section of the README):
lidar ``xyz, intensity, ring, t_ns``; camera ``image`` (RGB); radar ``xyz, range, azimuth, elevation,
range_rate, rcs``; imu ``accel, gyro``; odometry ``position, orientation, linear_velocity,
angular_velocity``. Bad messages raise ``CodecError`` naming the topic; callers count and drop them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs import image, pointcloud2, radar
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.types import SensorSample


def _vector3(v: Any) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=np.float64)


def _lidar(msg: Any, topic: str) -> dict[str, np.ndarray]:
    cloud = pointcloud2.decode_cloud(msg, drop_nan=True, topic=topic)
    points = cloud.points.reshape(-1)
    names = points.dtype.names or ()
    n = len(points)
    stamp = from_ros_time(msg.header.stamp)
    return {
        "xyz": pointcloud2.points_xyz(points, topic=topic),
        "intensity": points["intensity"].astype(np.float32)
        if "intensity" in names
        else np.zeros(n, np.float32),
        "ring": points["ring"].astype(np.int16) if "ring" in names else np.zeros(n, np.int16),
        "t_ns": points["t_ns"] if "t_ns" in names else np.full(n, stamp, dtype=np.int64),
    }


def _camera(msg: Any, topic: str) -> dict[str, np.ndarray]:
    if hasattr(msg, "format"):
        rgb = image.decode_compressed(msg, topic=topic)
    else:
        rgb = image.decode_image(msg, topic=topic)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2) if rgb.dtype == np.uint8 else rgb
    return {"image": rgb}


def _imu(msg: Any, topic: str) -> dict[str, np.ndarray]:
    return {"accel": _vector3(msg.linear_acceleration), "gyro": _vector3(msg.angular_velocity)}


def _odometry(msg: Any, topic: str) -> dict[str, np.ndarray]:
    pose, twist = msg.pose.pose, msg.twist.twist
    q = pose.orientation
    return {
        "position": _vector3(pose.position),
        "orientation": np.array([q.x, q.y, q.z, q.w], dtype=np.float64),
        "linear_velocity": _vector3(twist.linear),
        "angular_velocity": _vector3(twist.angular),
    }


_DECODERS = {
    "lidar": _lidar,
    "camera": _camera,
    "radar": lambda msg, topic: radar.decode_radar(msg, topic=topic),
    "imu": _imu,
    "odometry": _odometry,
}


def decode_sample(sensor: Any, msg: Any) -> SensorSample:
    """Decode ``msg`` received on ``sensor.topic`` into a sample stamped with its header stamp.

    ``sensor`` is a ``rig.Sensor``; the message is kept in ``SensorSample.message`` for recording.
    """
    decoder = _DECODERS.get(sensor.kind)
    if decoder is None:
        raise CodecError(f"no decoder for sensor kind '{sensor.kind}'", topic=sensor.topic)
    try:
        stamp = from_ros_time(msg.header.stamp)
        payload = decoder(msg, sensor.topic)
    except CodecError:
        raise
    except (AttributeError, KeyError, ValueError, TypeError) as exc:
        raise CodecError(f"not a valid {sensor.kind} message ({exc})", topic=sensor.topic) from None
    return SensorSample(sensor.name, stamp, payload, msg)
