"""Values no sensor produces are bad messages at decode: a ``CodecError`` naming the topic, never a kernel."""

from __future__ import annotations

import numpy as np
import pytest
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image, Imu

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.pointcloud2 import encode, make_points
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.msgs.time import make_header
from mmfusion_annotate.rig import default_rig_path, load_rig

RIG = load_rig(default_rig_path())
LIDAR = RIG.lidars()[0]
CAMERA = RIG.cameras()[0]
ODOMETRY = RIG.of_kind("odometry")[0]
IMU = RIG.of_kind("imu")[0]


def _odometry(position=(1.0, 2.0, 0.0), quaternion=(0.0, 0.0, 0.0, 1.0), speed=5.0) -> Odometry:
    msg = Odometry(header=make_header("odom", 1_000), child_frame_id="base_link")
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    p.x, p.y, p.z = position
    q.x, q.y, q.z, q.w = quaternion
    msg.twist.twist.linear.x = speed
    return msg


def test_good_odometry_is_decoded_with_a_unit_quaternion():
    sample = decode_sample(ODOMETRY, _odometry(quaternion=(0.0, 0.0, 0.0, 1.1)))
    np.testing.assert_allclose(sample.payload["orientation"], [0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_odometry(quaternion=(0.0, 0.0, 0.0, 0.0)), "is no rotation"),
        (_odometry(quaternion=(float("nan"), 0.0, 0.0, 1.0)), "orientation not finite"),
        (_odometry(position=(float("nan"), 0.0, 0.0)), "position not finite"),
        (_odometry(position=(1e300, 0.0, 0.0)), "position not finite or beyond"),
        (_odometry(speed=float("inf")), "linear velocity"),
    ],
)
def test_bad_odometry_is_a_codec_error_naming_the_topic(message, reason):
    with pytest.raises(CodecError, match=reason) as error:
        decode_sample(ODOMETRY, message)
    assert ODOMETRY.topic in str(error.value)


def test_imu_with_a_nan_is_a_codec_error():
    msg = Imu(header=make_header("imu", 1_000))
    msg.angular_velocity.z = float("nan")
    with pytest.raises(CodecError, match="angular velocity"):
        decode_sample(IMU, msg)


def test_a_sweep_with_impossible_coordinates_is_a_codec_error_and_no_returns_are_dropped():
    xyz = np.array([[5.0, 0.0, 0.0], [1e20, 0.0, 0.0]], np.float32)
    with pytest.raises(CodecError, match="coordinates not finite or beyond"):
        decode_sample(LIDAR, encode(make_points(xyz), LIDAR.frame_id, 1_000))
    no_return = np.array([[5.0, 0.0, 0.0], [np.inf, 0.0, 0.0], [np.nan, 1.0, 0.0]], np.float32)
    kept = decode_sample(LIDAR, encode(make_points(no_return), LIDAR.frame_id, 1_000))  # "no return"
    np.testing.assert_array_equal(kept.payload["xyz"], [[5.0, 0.0, 0.0]])


def _image(width: int, height: int, encoding: str = "rgb8", dtype=np.uint8, channels: int = 3) -> Image:
    pixels = np.zeros((height, width, channels) if channels > 1 else (height, width), dtype)
    return Image(header=make_header(CAMERA.frame_id, 1_000), width=width, height=height, encoding=encoding,
                 step=width * channels * pixels.itemsize, data=pixels.tobytes())  # fmt: skip


@pytest.mark.parametrize("size", [(16, 16), (4000, 3000)])
def test_an_image_of_another_size_than_the_camera_is_a_codec_error(size):
    with pytest.raises(CodecError, match=f"{size[0]}x{size[1]} image from a"):
        decode_sample(CAMERA, _image(*size))
    right = decode_sample(CAMERA, _image(CAMERA.camera.width, CAMERA.camera.height))
    assert right.payload["image"].shape == (CAMERA.camera.height, CAMERA.camera.width, 3)


@pytest.mark.parametrize(("encoding", "dtype"), [("mono16", np.uint16), ("32FC1", np.float32)])
def test_images_that_are_not_8_bit_are_a_codec_error(encoding, dtype):
    with pytest.raises(CodecError):
        decode_sample(CAMERA, _image(CAMERA.camera.width, CAMERA.camera.height, encoding, dtype, channels=1))
