"""A small annotated bag written the way ``mmfusion replay`` writes one, with known cuboids and boxes.

Three frames: the LiDAR sweep and the front and back camera images (the front image stamped before the
sweep, the back one after it), then per frame the scene update (two tracked cars), the review update and
the cameras' ImageAnnotations, whose boxes are the cuboids projected at the sweep stamp with the rig's
own camera model (the back camera sees nothing: its annotations are empty). One event spans the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfusion_annotate.msgs.image import encode_compressed
from mmfusion_annotate.msgs.pointcloud2 import encode, make_points
from mmfusion_annotate.msgs.time import make_header
from mmfusion_annotate.outputs.builder import static_outputs
from mmfusion_annotate.outputs.labels import image_annotations, review_update, scene_update
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, SCENE_TOPIC, annotations_topic
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners, project_cuboids, transform_points
from mmfusion_annotate.prelabel.model import (
    Box2D,
    Cuboid,
    Modality,
    ObjectClass,
    PrelabelResult,
    Provenance,
    ReviewItem,
)
from mmfusion_annotate.recording import BagWriter, serialize
from mmfusion_annotate.recording.writer import DEFAULT_CHUNK_SIZE
from mmfusion_annotate.rig import Rig, default_rig_path, load_rig

T0 = 5_000_000_000
PERIOD = 100_000_000
FRONT, BACK = "cam_front", "cam_back"
SCENE = "foxglove_msgs/msg/SceneUpdate"
ANNOTATIONS = "foxglove_msgs/msg/ImageAnnotations"
PROVENANCE = Provenance("test-fit", "abc123", 0.8)


@dataclass(frozen=True)
class LabelledBag:
    path: Path
    rig: Rig
    cuboids: list[list[Cuboid]]
    """Per frame, the cuboids written."""
    boxes: list[dict[int, tuple[float, float, float, float]]]
    """Per frame, the front camera's boxes by track id (OpenCV pixel convention)."""
    front_stamps: list[int]
    back_stamps: list[int]


def _box(rig: Rig, camera: str, cuboid: Cuboid):
    sensor = rig.sensor(camera)
    corners = transform_points(
        rig.transform(sensor.frame_id, rig.base_frame), cuboid_corners(cuboid.center, cuboid.size, cuboid.yaw)
    )
    boxes, _ = project_cuboids(corners[None], sensor.camera_model, 0.1)
    return None if np.isnan(boxes[0, 0]) else tuple(float(v) for v in boxes[0])


def compressed_image(jpeg: bytes, frame_id: str, stamp: int):
    from sensor_msgs.msg import CompressedImage

    return CompressedImage(
        header=make_header(frame_id, stamp), format="rgb8; jpeg compressed bgr8", data=jpeg
    )


def write_labelled_bag(
    path: Path,
    *,
    with_prelabels: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    namespaces: tuple[str, ...] = ("",),
    class_flips: bool = False,
) -> LabelledBag:
    """The bag; its pre-label topics (scene, review, annotations) under each of ``namespaces`` (``/car1``:
    as a run under ``-r __ns:=/car1`` records them). ``class_flips``: each frame also holds a class-flip
    review item about car 7 (a second entry in the review queue)."""
    rig = load_rig(default_rig_path())
    lidar = rig.lidars()[0]
    front, back = rig.sensor(FRONT), rig.sensor(BACK)
    image = np.zeros((front.camera.height, front.camera.width, 3), np.uint8)
    jpeg = bytes(encode_compressed(image, "jpeg").data)  # encoded once: the same pixels every time
    all_cuboids, all_boxes, front_stamps, back_stamps = [], [], [], []
    with BagWriter(path, compression="none", chunk_size=chunk_size) as bag:
        for out in static_outputs(rig, T0):
            bag.add_topic(out.topic, out.msgtype, qos=out.qos)
            bag.set_static(out.topic, serialize(out.msgtype, out.msg), out.stamp_ns)
        bag.add_topic(lidar.topic, "sensor_msgs/msg/PointCloud2", qos="sensor_data")
        for camera in (front, back):
            bag.add_topic(camera.topic, "sensor_msgs/msg/CompressedImage", qos="sensor_data")
        for ns in namespaces if with_prelabels else ():
            bag.add_topic(ns + SCENE_TOPIC, SCENE)
            bag.add_topic(ns + REVIEW_TOPIC, SCENE)
            for camera in (front, back):
                bag.add_topic(ns + annotations_topic(camera), ANNOTATIONS)
        bag.add_event_metadata(
            "ev1",
            T0 + PERIOD,
            T0 + 2 * PERIOD,
            {"type": "cut_in", "severity": "warning", "peak_ns": T0 + PERIOD, "track_ids": [7]},
        )
        previous = None
        for k in range(3):
            stamp = T0 + k * PERIOD
            front_stamp, back_stamp = stamp - 30_000_000, stamp + 40_000_000
            xyz = np.array([[10.0, 0.0, -1.0], [20.0, 3.0, -1.0]], np.float32)
            cloud = make_points(xyz, intensity=np.array([5.0, 9.0], np.float32))
            bag.write(
                lidar.topic,
                serialize("sensor_msgs/msg/PointCloud2", encode(cloud, lidar.frame_id, stamp)),
                stamp,
            )
            for camera, image_stamp in ((front, front_stamp), (back, back_stamp)):
                msg = compressed_image(jpeg, camera.frame_id, image_stamp)
                bag.write(
                    camera.topic, serialize("sensor_msgs/msg/CompressedImage", msg), image_stamp + 5_000_000
                )
            cuboids = [
                Cuboid(
                    7,
                    stamp,
                    (12.0 + k, 1.5, 0.8),
                    (4.5, 1.9, 1.6),
                    0.1 * k,
                    ObjectClass.CAR,
                    40,
                    PROVENANCE,
                    (8.0, 0.5),
                ),
                Cuboid(
                    9, stamp, (25.0, -4.0, 1.0), (10.0, 2.5, 3.2), -0.3, ObjectClass.TRUCK, 15, PROVENANCE
                ),
            ]
            boxes = {c.object_id: _box(rig, FRONT, c) for c in cuboids}
            boxes2d = tuple(
                Box2D(oid, FRONT, front_stamp, box, 0.0, 1.0, 0.5, c.label, PROVENANCE)
                for (oid, box), c in zip(boxes.items(), cuboids, strict=True)
            )
            review = (
                ReviewItem(
                    "box2d_disagrees_with_cuboid",
                    (Modality.LIDAR, Modality.CAMERA),
                    0.5,
                    (9,),
                    stamp,
                    FRONT,
                    "test",
                ),
            )
            if class_flips:
                review += (ReviewItem("class_flip", (Modality.LIDAR,), 0.3, (7,), stamp, FRONT, "test"),)
            result = PrelabelResult(stamp, cuboids=tuple(cuboids), boxes2d=boxes2d, review_items=review)
            for ns in namespaces if with_prelabels else ():
                bag.write(
                    ns + SCENE_TOPIC,
                    serialize(SCENE, scene_update(result, stamp, previous=previous)),
                    stamp,
                )
                bag.write(ns + REVIEW_TOPIC, serialize(SCENE, review_update(result, stamp)), stamp)
                for camera, image_stamp in ((front, front_stamp), (back, back_stamp)):
                    bag.write(
                        ns + annotations_topic(camera),
                        serialize(ANNOTATIONS, image_annotations(result, camera.name, image_stamp)),
                        image_stamp,
                    )
            previous = result
            all_cuboids.append(cuboids)
            all_boxes.append(boxes)
            front_stamps.append(front_stamp)
            back_stamps.append(back_stamp)
    return LabelledBag(path, rig, all_cuboids, all_boxes, front_stamps, back_stamps)
