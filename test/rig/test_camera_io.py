"""CameraModel <-> sensor_msgs/CameraInfo and the ROS camera_calibration YAML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo

from mmfusion_annotate.errors import CalibrationError
from mmfusion_annotate.rig import CameraModel

# A file as camera_calibration's cameracalibrator writes it (values of the ROS tutorial's narrow_stereo)
ROS_CALIBRATION_YAML = """\
image_width: 640
image_height: 480
camera_name: narrow_stereo/left
camera_matrix:
  rows: 3
  cols: 3
  data: [430.15433, 0., 311.71339, 0., 430.60474, 221.06824, 0., 0., 1.]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.363528, 0.099035, -0.003049, 0.001194, 0.000000]
rectification_matrix:
  rows: 3
  cols: 3
  data: [0.99959, 0.000375, 0.028578, -0.000341, 1.0, -0.001207, -0.028579, 0.001196, 0.999591]
projection_matrix:
  rows: 3
  cols: 4
  data: [435.37296, 0., 302.55713, 0., 0., 435.37296, 221.45108, 0., 0., 0., 1., 0.]
"""

MODELS = [
    CameraModel(
        1600,
        900,
        [[1266.4, 0, 816.3], [0, 1266.4, 491.5], [0, 0, 1]],
        (-0.035, 0.012, 0.0, 0.0, 0.0),
        "plumb_bob",
    ),
    CameraModel(
        1280,
        720,
        [[800, 0.5, 645.3], [0, 805, 358.1], [0, 0, 1]],
        (2.1, 0.8, 0.0008, -0.0004, 0.02, 2.45, 1.4, 0.1),
        "rational_polynomial",
        R=[[0.99959, 0.000375, 0.028578], [-0.000341, 1.0, -0.001207], [-0.028579, 0.001196, 0.999591]],
        P=[[700.0, 0, 630, -42.0], [0, 700, 360, 0], [0, 0, 1, 0]],
    ),
    CameraModel(
        1280, 800, [[400, 0, 641], [0, 401, 399], [0, 0, 1]], (-0.013, 0.02, -0.012, 0.003), "equidistant"
    ),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.distortion_model)
def test_camera_info_round_trip(model: CameraModel) -> None:
    msg = model.to_camera_info("cam_front_optical", stamp=1_532_402_927_612_460_123)
    assert isinstance(msg, CameraInfo)
    assert msg.header.frame_id == "cam_front_optical"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1_532_402_927, 612_460_123)
    assert (msg.width, msg.height, msg.distortion_model) == (
        model.width,
        model.height,
        model.distortion_model,
    )
    np.testing.assert_array_equal(np.reshape(msg.p, (3, 4)), model.P)
    assert CameraModel.from_camera_info(msg) == model


def test_camera_info_with_zero_r_and_p_reads_as_identity_and_k() -> None:
    msg = CameraInfo(width=640, height=480, distortion_model="plumb_bob", d=[0.1, 0.0, 0.0, 0.0, 0.0])
    msg.k = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
    model = CameraModel.from_camera_info(msg)
    np.testing.assert_array_equal(model.R, np.eye(3))
    np.testing.assert_array_equal(model.P, np.hstack([model.K, np.zeros((3, 1))]))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.distortion_model)
def test_calibration_yaml_round_trip(model: CameraModel, tmp_path: Path) -> None:
    text = model.to_calibration_yaml("front")
    assert "camera_name: front" in text
    path = tmp_path / "front.yaml"
    path.write_text(text)
    assert CameraModel.from_calibration_yaml(path) == model
    assert CameraModel.from_calibration_yaml(text) == model


def test_reads_a_ros_camera_calibration_file() -> None:
    model = CameraModel.from_calibration_yaml(ROS_CALIBRATION_YAML)
    assert (model.width, model.height, model.distortion_model) == (640, 480, "plumb_bob")
    assert model.K[0, 0] == 430.15433 and model.K[1, 2] == 221.06824
    assert model.D == (-0.363528, 0.099035, -0.003049, 0.001194, 0.0)
    assert model.R[0, 2] == 0.028578 and model.P[0, 0] == 435.37296


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("image_width: 640\n", "", "image_width"),
        ("image_width: 640", "image_width: wide", "image_width"),
        ("  rows: 1\n  cols: 5", "  rows: 1\n  cols: 4", "distortion_coefficients"),
        ("  data: [430.15433, 0.,", "  data: [x, 0.,", "camera_matrix.data"),
        ("distortion_model: plumb_bob", "distortion_model: kannala", "distortion_model"),
        ("data: [0.99959, 0.000375", "data: [0.9, 0.000375", "rectification_matrix"),
    ],
)
def test_bad_calibration_yaml_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert old in ROS_CALIBRATION_YAML
    path = tmp_path / "left.yaml"
    path.write_text(ROS_CALIBRATION_YAML.replace(old, new, 1))
    with pytest.raises(CalibrationError) as err:
        CameraModel.from_calibration_yaml(path)
    assert str(path) in str(err.value)
    assert f"key '{key}'" in str(err.value)


def test_calibration_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("image_width: 640\nimage_height: [480\n")
    with pytest.raises(CalibrationError, match=rf"{path}:\d+"):
        CameraModel.from_calibration_yaml(path)
