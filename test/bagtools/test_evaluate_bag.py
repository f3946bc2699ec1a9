"""``mmfusion evaluate BAG``: pre-labels read back from a bag and scored against its truth topics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmfusion_annotate.bagtools.evaluate_bag import annotation_boxes, evaluate_bag, scene_boxes
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.msgs.odometry import odometry_message
from mmfusion_annotate.msgs.pointcloud2 import encode, make_points
from mmfusion_annotate.msgs.time import to_ros_time
from mmfusion_annotate.outputs.labels import image_annotations, review_update, scene_update
from mmfusion_annotate.prelabel import review
from mmfusion_annotate.prelabel.boxes2d import transform_points
from mmfusion_annotate.prelabel.model import (
    Box2D,
    Cuboid,
    Modality,
    ObjectClass,
    PrelabelResult,
    Provenance,
    ReviewItem,
)
from mmfusion_annotate.recording import BagWriter, new_message, serialize
from mmfusion_annotate.rig import default_rig_path, load_rig

SCENE = "foxglove_msgs/msg/SceneUpdate"
T0 = 1_000_000_000
PERIOD = 100_000_000


def _truth_update(stamp: int, objects: list[tuple[int, str, tuple, tuple, float]]):
    entities = [
        {
            "timestamp": to_ros_time(stamp),
            "frame_id": "base_link",
            "id": str(oid),
            "metadata": [{"key": "class", "value": cls}],
            "cubes": [{"pose": {"position": dict(zip("xyz", centre, strict=True)),
                                "orientation": {"x": 0.0, "y": 0.0, "z": math.sin(yaw / 2),
                                                "w": math.cos(yaw / 2)}},
                       "size": dict(zip("xyz", size, strict=True))}],
        }
        for oid, cls, centre, size, yaw in objects
    ]  # fmt: skip
    return new_message(SCENE, entities=entities)


def _cuboid(oid: int, label: ObjectClass, centre, size, stamp: int) -> Cuboid:
    return Cuboid(oid, stamp, centre, size, 0.0, label, 10, Provenance("test", "1", 0.9))


CAR_A = (10.0, 0.0, 0.8)
CAR_B = (20.0, 5.0, 0.8)
PERSON = (8.0, -4.0, 0.9)
HIDDEN = (30.0, -8.0, 0.8)  # no LiDAR return: ignored
CAR = (4.5, 1.9, 1.6)
PERSON_SIZE = (0.6, 0.6, 1.8)


@pytest.fixture(scope="module")
def scored_bag(tmp_path_factory):
    return write_scored_bag(tmp_path_factory.mktemp("eval") / "bag")


def write_scored_bag(path, ns: str = ""):
    """Three frames: car A found; car B found 3 m off (a miss and a false car); the person found in
    frame 0 only, under two track ids (an id switch); a false pedestrian; a hidden car never found. The
    pre-labels under namespace ``ns`` (``/car1``: a run under ``-r __ns:=/car1``)."""
    rig = load_rig(default_rig_path())
    lidar = rig.lidars()[0]
    odom = rig.of_kind("odometry")[0]
    T_sensor_base = np.linalg.inv(rig.sensor_to_base(lidar.name))
    with BagWriter(path) as bag:
        bag.add_topic("/truth/objects", SCENE)
        bag.add_topic(ns + "/prelabels/scene", SCENE)
        bag.add_topic(ns + "/prelabels/review", SCENE)
        bag.add_topic(lidar.topic, "sensor_msgs/msg/PointCloud2")
        bag.add_topic(odom.topic, "nav_msgs/msg/Odometry")
        for k in range(3):
            stamp = T0 + k * PERIOD
            odometry = odometry_message("odom", "base_link", stamp, np.array([k * 1.0, 0.0, 0.0]),
                                        np.array([0.0, 0.0, 0.0, 1.0]), np.zeros(3), np.zeros(3))  # fmt: skip
            bag.write(odom.topic, serialize("nav_msgs/msg/Odometry", odometry), stamp)
            truth = [(1, "car", CAR_A, CAR, 0.0), (2, "car", CAR_B, CAR, 0.0),
                     (3, "pedestrian", PERSON, PERSON_SIZE, 0.0), (4, "car", HIDDEN, CAR, 0.0),
                     (5, "pole", (5.0, 5.0, 2.0), (0.3, 0.3, 4.0), 0.0)]  # fmt: skip
            bag.write("/truth/objects", serialize(SCENE, _truth_update(stamp, truth)), stamp)
            xyz = np.array([CAR_A, CAR_B, PERSON]) + np.array([0.1, 0.1, 0.0])
            cloud = make_points(transform_points(T_sensor_base, xyz).astype(np.float32))
            bag.write(lidar.topic, serialize("sensor_msgs/msg/PointCloud2",
                                             encode(cloud, lidar.frame_id, stamp)), stamp)  # fmt: skip
            cuboids = [_cuboid(10, ObjectClass.CAR, CAR_A, CAR, stamp),
                       _cuboid(11, ObjectClass.CAR, (CAR_B[0] + 3.0, CAR_B[1], 0.8), CAR, stamp),
                       _cuboid(13, ObjectClass.PEDESTRIAN, (15.0, 9.0, 0.9), PERSON_SIZE, stamp)]  # fmt: skip
            if k < 2:
                cuboids.append(_cuboid(12 + 8 * k, ObjectClass.PEDESTRIAN, PERSON, PERSON_SIZE, stamp))
            items = tuple(  # car B's cuboid is 3 m off (right), car A's sits on its truth (wrong)
                ReviewItem(review.BOX_MISMATCH, (Modality.LIDAR, Modality.CAMERA), 0.5, (oid,), stamp,
                           "cam_front", "", (("horizontal_iou", 0.2), ("iou_threshold", 0.5)))
                for oid in (11, 10))
            result = PrelabelResult(stamp, cuboids=tuple(cuboids), review_items=items)
            bag.write(ns + "/prelabels/scene", serialize(SCENE, scene_update(result, stamp)), stamp)
            bag.write(ns + "/prelabels/review", serialize(SCENE, review_update(result, stamp)), stamp)
    return path, rig


def test_a_namespaced_bag_scores_as_the_root_one(scored_bag, tmp_path):
    path, rig = scored_bag
    root, car1 = evaluate_bag(path, rig), evaluate_bag(write_scored_bag(tmp_path / "car1", "/car1")[0], rig)
    assert car1.frames == 3 and car1.trust["review_items"]
    assert (car1.bev_iou, car1.centre, car1.trust) == (root.bev_iou, root.centre, root.trust)


def test_counts_hits_misses_false_labels_and_ignores_unseen_truth(scored_bag):
    path, rig = scored_bag
    result = evaluate_bag(path, rig)
    assert result.frames == 3
    assert result.ignored_truth == 3  # the hidden car in each frame
    detection = result.bev_iou["detection"]
    assert detection["car@50m"] == {"precision": 0.5, "recall": 0.5, "tp": 3, "fp": 3, "fn": 3}
    assert detection["pedestrian@50m"]["tp"] == 2 and detection["pedestrian@50m"]["fn"] == 1
    assert detection["pedestrian@50m"]["fp"] == 3  # the false one in every frame; poles are not truth
    assert detection["car@20m"] == {"precision": 1.0, "recall": 1.0, "tp": 3, "fp": 0, "fn": 0}  # B: 20.6 m
    assert result.bev_iou["id_switches"] == 1
    # 9 truth, 4 missed, 6 false, 1 switch: MOTA = 1 - (4 + 6 + 1) / 9
    assert result.bev_iou["mota"] == pytest.approx(1 - 11 / 9)
    # identity: truth 1<->10 (3 frames), 3<->12 or 3<->20 (1 frame); 9 truth and 11 pre-label detections
    assert result.bev_iou["idf1"] == pytest.approx(2 * 4 / (9 + 11))
    # the centre rule does not forgive car B's 3 m either (vehicles within 2 m)
    assert result.centre["detection"]["car@50m"]["tp"] == 3
    assert result.centre["detection"]["pedestrian@50m"]["tp"] == 2


def test_review_items_read_back_with_their_evidence_and_judged_against_the_truth(scored_bag):
    path, rig = scored_bag
    trust = evaluate_bag(path, rig).trust
    row = trust["review_items"][review.BOX_MISMATCH]
    assert (row["tp"], row["fp"], row["precision"], row["recall"]) == (3, 3, 0.5, None)
    assert trust["events"] == {} and trust["faults"] == []  # no events, not a synthetic drive


def test_skip_leaves_out_the_first_frames(scored_bag):
    path, rig = scored_bag
    result = evaluate_bag(path, rig, skip_s=0.15)  # frames at 0.0 and 0.1 s: only the one at 0.2 s scores
    assert result.frames == 1 and result.ignored_truth == 1
    assert result.bev_iou["detection"]["pedestrian@50m"]["fn"] == 1  # the frame where the person is missed


def test_a_bag_without_truth_or_pre_labels_is_one_error(tmp_path):
    rig = load_rig(default_rig_path())
    with BagWriter(tmp_path / "bag") as bag:
        bag.add_topic("/prelabels/scene", SCENE)
        bag.write("/prelabels/scene", serialize(SCENE, new_message(SCENE)), T0)
    with pytest.raises(BagError, match="no /truth/objects"):
        evaluate_bag(tmp_path / "bag", rig)


def test_scene_and_annotation_messages_read_back_as_written():
    stamp = T0
    cuboid = Cuboid(7, stamp, (3.0, -1.0, 0.5), (4.0, 2.0, 1.5), 0.4, ObjectClass.TRUCK, 5,
                    Provenance("a", "v", 0.75), (1.5, -0.5))  # fmt: skip
    box = Box2D(7, "cam_front", stamp, (10.0, 20.0, 110.0, 220.0), 0.0, 1.0, 0.8, ObjectClass.TRUCK,
                Provenance("a", "v", 0.75))  # fmt: skip
    camera_only = Box2D(-1, "cam_front", stamp, (300.0, 40.0, 330.0, 120.0), 0.0, 1.0, 0.6,
                        ObjectClass.PEDESTRIAN, Provenance("a", "v", 0.6))  # fmt: skip
    result = PrelabelResult(stamp, cuboids=(cuboid,), boxes2d=(box, camera_only))
    got_stamp, boxes = scene_boxes(scene_update(result, stamp), truth=False)
    assert got_stamp == stamp and len(boxes) == 1
    b = boxes[0]
    assert (b.object_id, b.label, b.confidence, b.velocity) == (7, ObjectClass.TRUCK, 0.75, (1.5, -0.5))
    assert b.center == pytest.approx(cuboid.center) and b.size == pytest.approx(cuboid.size)
    assert b.yaw == pytest.approx(0.4)
    parsed = annotation_boxes(image_annotations(result, "cam_front", stamp))
    assert [(i, pytest.approx(bx)) for i, bx in parsed] == [(7, box.box), (-1, camera_only.box)]
