"""Every value the issue found raising inside processing is refused at decode, counted per reason and
sensor, and the stream goes on (issue 26). Through the entry point live and replay share: decode (camera
images lazily, as ``fusion_node``) and the ``Annotator``."""

from collections import Counter

import numpy as np
import pytest
from fuzzing import drive_messages, ingest

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.recording import deserialize


@pytest.fixture(scope="module")
def messages(rig):
    return drive_messages(rig, seconds=1.2)


def _odometry(msg, field, value):
    pose = msg.pose.pose
    if field == "zero quaternion":
        pose.orientation.x = pose.orientation.y = pose.orientation.z = pose.orientation.w = 0.0
    elif field == "nan quaternion":
        pose.orientation.w = float("nan")
    else:
        pose.position.x = value


def _lidar_point(msg, name, raw):
    field = next(f for f in msg.fields if f.name == name)
    data = bytearray(msg.data)
    data[7 * msg.point_step + field.offset : 7 * msg.point_step + field.offset + 4] = raw
    msg.data = bytes(data)


def _image(msg, encoding=None, size=None):
    if encoding is not None:
        msg.encoding = encoding
    if size is not None:
        msg.width, msg.height = size
        msg.step = size[0] * 3
        msg.data = np.zeros(size[0] * size[1] * 3, np.uint8).tobytes()


CASES = {
    "zero quaternion": ("odometry", lambda m: _odometry(m, "zero quaternion", 0), "bad_quaternion"),
    "nan quaternion": ("odometry", lambda m: _odometry(m, "nan quaternion", 0), "bad_value"),
    "nan odometry": ("odometry", lambda m: _odometry(m, "position", float("nan")), "bad_value"),
    "1e300 odometry": ("odometry", lambda m: _odometry(m, "position", 1e300), "bad_value"),
    "nan imu": ("imu", lambda m: setattr(m.angular_velocity, "z", float("nan")), "bad_value"),
    "1e20 lidar": ("lidar_top", lambda m: _lidar_point(m, "x", np.float32(1e20).tobytes()), "bad_value"),
    "4 s point time": ("lidar_top", lambda m: _lidar_point(m, "t", b"\xff\xff\xff\xff"), "bad_value"),
    "mono16 image": ("cam_front", lambda m: _image(m, encoding="mono16"), "image_encoding"),
    "32FC1 image": ("cam_front", lambda m: _image(m, encoding="32FC1"), "image_encoding"),
    "16x16 image": ("cam_front", lambda m: _image(m, size=(16, 16)), "image_size"),
    "4000x3000 image": ("cam_front", lambda m: _image(m, size=(4000, 3000)), "image_size"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_bad_value_is_a_codec_error_with_its_reason(rig, messages, case):
    sensor_name, bend, reason = CASES[case]
    sensor, msgtype, data = next(m for m in messages if m[0].name == sensor_name)
    msg = deserialize(msgtype, data)
    bend(msg)
    annotator = Annotator(rig, PipelineConfig())
    assert ingest(annotator, sensor, msgtype, None, msg) == (0, None)
    assert annotator.drops.snapshot() == {f"{reason}.{sensor_name}": 1}


def test_bad_values_in_a_running_stream_are_each_counted_and_the_stream_goes_on(rig, messages):
    """All the cases in one drive, a third of the way in, one message each; the edge checks on every
    image (they raised on bad values before)."""
    annotator = Annotator(rig, PipelineConfig(background_checks=False, alignment_every=1))
    todo = sorted(CASES)
    expected: Counter = Counter()
    frames = 0
    for index, (sensor, msgtype, data) in enumerate(messages):
        msg = deserialize(msgtype, data)
        case = next((c for c in todo if CASES[c][0] == sensor.name), None)
        if index >= len(messages) // 3 and case is not None:
            todo.remove(case)
            CASES[case][1](msg)
            expected[f"{CASES[case][2]}.{sensor.name}"] += 1
        frames += ingest(annotator, sensor, msgtype, None, msg)[0]
    frames += len(annotator.finish().frames)
    assert todo == []
    assert annotator.drops.snapshot() == dict(expected)  # refused, counted, nothing else lost
    assert frames >= 8  # the drive's sweeps still make frames


def test_a_step_that_raises_is_logged_counted_and_the_stream_goes_on(rig, messages, caplog):
    """What decode cannot foresee (a bug in a kernel) costs that one frame, counted, never the stream."""
    annotator = Annotator(rig, PipelineConfig(background_checks=False))
    real, calls = annotator.prelabeler.process, []

    def flaky(frame, cameras):
        calls.append(frame.stamp)
        if len(calls) == 3:
            raise IndexError("index 900 is out of bounds for axis 0 with size 900")
        return real(frame, cameras)

    annotator.prelabeler.process = flaky
    frames = sum(ingest(annotator, sensor, msgtype, data)[0] for sensor, msgtype, data in messages)
    frames += len(annotator.finish().frames)
    assert annotator.drops.snapshot() == {"processing_error.lidar_top": 1}
    assert len(calls) >= 8 and frames == len(calls) - 1
    assert "IndexError: index 900" in caplog.text  # logged with its traceback
