"""ROS sensor messages -> ``SensorSample`` (the core's input), per sensor kind of the rig.

The live nodes and the bag replay both decode through here, which is half of what makes replay give
the live results. Payload keys are the ones the simulator produces (see the sim section of the README):
lidar ``xyz, intensity, ring, t_ns``; camera ``image`` (RGB); radar ``xyz, range, azimuth, elevation,
range_rate, rcs``; imu ``accel, gyro``; odometry ``position, orientation, linear_velocity,
angular_velocity``. Bad messages raise ``CodecError`` naming the topic; callers count and drop them.
Values no sensor produces (non-finite numbers, coordinates beyond ``MAX_COORDINATE_M``, a quaternion
far from unit length, an image of another size or pixel type than the camera's) are bad messages too:
they are stopped here, before any kernel sees them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs import image, pointcloud2, radar
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.types import SensorSample

MAX_COORDINATE_M = 1.0e4
"""No LiDAR return, radar target or odometry position of a drive lies this far out (odometry: 10 km of a
local frame is plenty; a UTM origin must be subtracted by the driver)."""
MAX_ODOMETRY_M = 1.0e7
MAX_POINT_TIME_NS = 1_000_000_000
"""No return of a sweep is captured this far from the sweep's header stamp (a spinning LiDAR's sweep
takes 0.05-0.2 s); one that is would make the whole frame's ego motion fail."""
QUATERNION_NORM = (0.5, 2.0)
"""Accepted length of an orientation quaternion before it is normalized (a zero one has no rotation)."""


def _vector3(v: Any) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=np.float64)


def _finite(values: np.ndarray, what: str, limit: float, topic: str) -> np.ndarray:
    """``values`` when every one is finite and within ``limit`` in magnitude, else ``CodecError``."""
    if not np.all(np.isfinite(values)) or (values.size and float(np.max(np.abs(values))) > limit):
        raise CodecError(f"{what} not finite or beyond {limit:g}", topic=topic, reason="bad_value")
    return values


def _lidar(msg: Any, topic: str) -> dict[str, np.ndarray]:
    cloud = pointcloud2.decode_cloud(msg, drop_nan=True, topic=topic)
    points = cloud.points.reshape(-1)
    names = points.dtype.names or ()
    n = len(points)
    stamp = from_ros_time(msg.header.stamp)
    t_ns = points["t_ns"] if "t_ns" in names else np.full(n, stamp, dtype=np.int64)
    if n and int(np.max(np.abs(t_ns.astype(np.int64) - stamp))) > MAX_POINT_TIME_NS:
        raise CodecError(f"point times beyond {MAX_POINT_TIME_NS / 1e9:g} s of the sweep's stamp",
                         topic=topic, reason="bad_value")
    return {
        "xyz": _finite(pointcloud2.points_xyz(points, topic=topic), "coordinates", MAX_COORDINATE_M, topic),
        "intensity": points["intensity"].astype(np.float32)
        if "intensity" in names
        else np.zeros(n, np.float32),
        "ring": points["ring"].astype(np.int16) if "ring" in names else np.zeros(n, np.int16),
        "t_ns": t_ns,
    }


def _camera(msg: Any, topic: str) -> dict[str, np.ndarray]:
    if hasattr(msg, "format"):
        rgb = image.decode_compressed(msg, topic=topic)
    else:
        rgb = image.decode_image(msg, topic=topic)
    if rgb.dtype != np.uint8:  # mono16, 32FC1...: the colour and evidence kernels take 8-bit images
        raise CodecError(f"{rgb.dtype} pixels are not supported (8-bit mono or colour only)", topic=topic,
                         reason="image_encoding")
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    return {"image": rgb}


def check_camera_message(sensor: Any, msg: Any) -> None:
    """What a raw Image shows before its pixels are touched: the camera's size and 8-bit pixels.

    Cheap, so a live node refuses (and counts) such an image at intake even when it decodes pixels
    lazily. A CompressedImage shows its size only once decoded; ``decode_sample`` checks it then.
    """
    if hasattr(msg, "format"):
        return
    topic = sensor.topic
    if image.pixel_type(str(msg.encoding), topic=topic) != np.uint8:
        raise CodecError(f"{msg.encoding} pixels are not supported (8-bit mono or colour only)", topic=topic,
                         reason="image_encoding")
    camera = getattr(sensor, "camera", None)
    if camera is not None and (int(msg.height), int(msg.width)) != (camera.height, camera.width):
        raise CodecError(f"{msg.width}x{msg.height} image from a {camera.width}x{camera.height} camera",
                         topic=topic, reason="image_size")


def _imu(msg: Any, topic: str) -> dict[str, np.ndarray]:
    accel = _finite(_vector3(msg.linear_acceleration), "acceleration", MAX_COORDINATE_M, topic)
    return {"accel": accel, "gyro": _finite(_vector3(msg.angular_velocity), "angular velocity", 1e3, topic)}


def _odometry(msg: Any, topic: str) -> dict[str, np.ndarray]:
    pose, twist = msg.pose.pose, msg.twist.twist
    q = pose.orientation
    quaternion = _finite(np.array([q.x, q.y, q.z, q.w], dtype=np.float64), "orientation", 2.0, topic)
    norm = float(np.linalg.norm(quaternion))
    if not QUATERNION_NORM[0] <= norm <= QUATERNION_NORM[1]:
        raise CodecError(f"orientation quaternion of length {norm:.3g} is no rotation", topic=topic,
                         reason="bad_quaternion")
    return {
        "position": _finite(_vector3(pose.position), "position", MAX_ODOMETRY_M, topic),
        "orientation": quaternion / norm,
        "linear_velocity": _finite(_vector3(twist.linear), "linear velocity", 1e3, topic),
        "angular_velocity": _finite(_vector3(twist.angular), "angular velocity", 1e3, topic),
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
        if sensor.kind == "camera":
            check_camera_message(sensor, msg)
        payload = decoder(msg, sensor.topic)
    except CodecError:
        raise
    except (AttributeError, KeyError, ValueError, TypeError) as exc:
        raise CodecError(f"not a valid {sensor.kind} message ({exc})", topic=sensor.topic) from None
    camera = getattr(sensor, "camera", None) if sensor.kind == "camera" else None
    if camera is not None and payload["image"].shape[:2] != (camera.height, camera.width):
        h, w = payload["image"].shape[:2]
        raise CodecError(f"{w}x{h} image from a {camera.width}x{camera.height} camera", topic=sensor.topic,
                         reason="image_size")
    return SensorSample(sensor.name, stamp, payload, msg)
