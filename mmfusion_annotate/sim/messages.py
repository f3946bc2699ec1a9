"""Simulated samples and their truth as ROS messages (message types are imported lazily).

Sensor messages go on the rig's topics exactly as a car's drivers publish them; the truth goes on
``/truth/...`` topics beside them so a bag alone is enough to score any later tool:
``/truth/objects`` (foxglove SceneUpdate cuboids in base_link), ``/truth/<lidar>/labels`` and
``/truth/<radar>/labels`` (PointCloud2 with ``object_id``), ``/truth/<camera>/boxes`` (foxglove
ImageAnnotations) and ``/truth/ego`` (exact nav_msgs/Odometry in the world frame).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, IMU, ODOMETRY, POINTCLOUD2, sensor_msgtype
from mmfusion_annotate.msgs.image import encode_compressed, encode_image
from mmfusion_annotate.msgs.odometry import WORLD_FRAME, odometry_message
from mmfusion_annotate.msgs.pointcloud2 import encode, encode_xyzirt, make_points
from mmfusion_annotate.msgs.radar import encode_radar
from mmfusion_annotate.msgs.time import make_header, to_ros_time
from mmfusion_annotate.outputs.labels import IMAGE_ANNOTATIONS, SCENE_UPDATE
from mmfusion_annotate.outputs.truth import TRUTH_OBJECTS, truth_entity, truth_scene_update, truth_topic
from mmfusion_annotate.types import NS_PER_S, SensorSample, Stamp

if TYPE_CHECKING:
    from mmfusion_annotate.sim.drive import Drive

def camera_topic(drive: Drive, name: str) -> tuple[str, str]:
    """(topic, msgtype) of a camera's images for the drive's image format."""
    sensor = drive.sensors[name]
    base = sensor.topic.removesuffix("/compressed")
    compressed = drive.image_format == "jpeg"
    return (f"{base}/compressed" if compressed else base), sensor_msgtype("camera", compressed)


def publish_ns(drive: Drive, sample: SensorSample) -> Stamp:
    """When a car's driver puts ``sample`` out: a LiDAR sweep once its last point is captured (its stamp,
    which stays the sweep's start in the header, + one period), anything else at its stamp.

    Published at its start, a sweep would reach the pipeline before the odometry covering its own points
    exists, which no car does (and which the pipeline would wait for anyway).
    """
    sensor = drive.sensors[sample.sensor]
    return sample.stamp + int(NS_PER_S / sensor.rate_hz) if sensor.kind == "lidar" else sample.stamp


def sample_messages(drive: Drive, sample: SensorSample) -> Iterator[tuple[str, str, Any, Stamp]]:
    """The ROS message(s) of one sample: the sensor message, plus CameraInfo after an image."""
    sensor = drive.sensors[sample.sensor]
    p, stamp, frame = sample.payload, sample.stamp, sensor.frame_id
    if sensor.kind == "lidar":
        yield (
            sensor.topic,
            POINTCLOUD2,
            encode_xyzirt(p["xyz"], p["intensity"], p["ring"], p["t_ns"], frame, stamp),
            stamp,
        )
    elif sensor.kind == "camera":
        topic, msgtype = camera_topic(drive, sensor.name)
        if drive.image_format == "jpeg":
            msg = encode_compressed(p["image"], "jpeg", drive.config.render.jpeg_quality, frame, stamp)
        else:
            msg = encode_image(p["image"], "rgb8", frame, stamp)
        yield topic, msgtype, msg, stamp
        yield (
            sensor.camera_info_topic,
            CAMERA_INFO,
            sensor.camera_model.to_camera_info(frame, stamp),
            stamp,
        )
    elif sensor.kind == "radar":
        yield sensor.topic, POINTCLOUD2, encode_radar(p, frame, stamp), stamp
    elif sensor.kind == "imu":
        from sensor_msgs.msg import Imu  # noqa: PLC0415

        noise = drive.config.noise
        msg = Imu(header=make_header(frame, stamp))
        msg.orientation_covariance[0] = -1.0  # no orientation estimate
        msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = map(float, p["gyro"])
        msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = map(
            float, p["accel"]
        )
        msg.angular_velocity_covariance = _diagonal(noise.imu_gyro_rps**2)
        msg.linear_acceleration_covariance = _diagonal(noise.imu_accel_mps2**2)
        yield sensor.topic, IMU, msg, stamp
    else:
        yield (
            sensor.topic,
            ODOMETRY,
            odometry_message(
                "odom",
                frame,
                stamp,
                p["position"],
                p["orientation"],
                p["linear_velocity"],
                p["angular_velocity"],
            ),
            stamp,
        )


def _diagonal(value: float) -> np.ndarray:
    return np.diag([value] * 3).reshape(-1).astype(np.float64)


def truth_messages(drive: Drive, sample: SensorSample) -> Iterator[tuple[str, str, Any, Stamp]]:
    """Truth messages that belong to one generated sample (call after the sample was generated)."""
    from mmfusion_annotate.interfaces.cdr import new_message  # noqa: PLC0415

    sensor = drive.sensors[sample.sensor]
    frame_truth = drive.truth.frames[(sample.sensor, sample.stamp)]
    stamp, p = sample.stamp, sample.payload
    if sensor.kind == "lidar":
        points = make_points(p["xyz"], t_ns=p["t_ns"], object_id=p["object_id"].astype(np.int32))
        yield truth_topic(sensor.name, "labels"), POINTCLOUD2, encode(points, sensor.frame_id, stamp), stamp
        yield TRUTH_OBJECTS, SCENE_UPDATE, _scene_update(drive, frame_truth.true_ns, stamp), stamp
    elif sensor.kind == "radar" and frame_truth.object_ids is not None:
        points = make_points(p["xyz"], object_id=frame_truth.object_ids.astype(np.int32))
        yield truth_topic(sensor.name, "labels"), POINTCLOUD2, encode(points, sensor.frame_id, stamp), stamp
    elif sensor.kind == "camera":
        yield (
            truth_topic(sensor.name, "boxes"),
            IMAGE_ANNOTATIONS,
            _annotations(frame_truth, stamp, new_message),
            stamp,
        )
    elif sensor.kind == "odometry":
        st = drive.truth.ego_state(frame_truth.true_ns)
        yaw = float(st.yaw[0])
        quat = np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])
        c, s = np.cos(yaw), np.sin(yaw)
        v = st.velocity[0]
        linear = np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1], 0.0])
        yield (
            "/truth/ego",
            ODOMETRY,
            odometry_message(
                WORLD_FRAME,
                sensor.frame_id,
                stamp,
                st.position[0],
                quat,
                linear,
                np.array([0.0, 0.0, st.yaw_rate[0]]),
            ),
            stamp,
        )


def _scene_update(drive: Drive, true_ns: Stamp, stamp: Stamp) -> Any:
    return truth_scene_update(
        [
            truth_entity(
                o.id,
                o.cls,
                o.center_base,
                o.yaw_base,
                o.size,
                drive.rig.base_frame,
                stamp,
                [("velocity_base", " ".join(f"{v:.4f}" for v in o.velocity_base))],
            )
            for o in drive.truth.objects(true_ns)
        ]
    )


def _annotations(frame_truth, stamp: Stamp, new_message) -> Any:
    points = []
    for b in frame_truth.boxes_2d:
        x0, y0, x1, y1 = b.box
        points.append(
            {
                "timestamp": to_ros_time(stamp),
                "type": 2,  # LINE_LOOP
                "points": [{"x": x0, "y": y0}, {"x": x1, "y": y0}, {"x": x1, "y": y1}, {"x": x0, "y": y1}],
                "outline_color": {"r": 1.0, "g": 1.0, "b": 0.0, "a": 1.0},
                "thickness": 2.0,
            }
        )
    texts = [
        {
            "timestamp": to_ros_time(stamp),
            "position": {"x": b.box[0], "y": b.box[1]},
            "text": f"{b.cls} {b.object_id} occ {b.occlusion:.2f} trunc {b.truncation:.2f}",
            "font_size": 14.0,
            "text_color": {"r": 1.0, "g": 1.0, "b": 0.0, "a": 1.0},
        }
        for b in frame_truth.boxes_2d
    ]
    return new_message(IMAGE_ANNOTATIONS, points=points, texts=texts)
