"""Camera boxes fused with LiDAR clusters, on constructed projections (no model, no image).

Each scene lists sweep points with where they land in one camera (``uv``), their depth and whether the
z-buffer keeps them; clusters are LiDAR detections over those points, classified by their size.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmfusion_annotate.fusion.frame import CameraView
from mmfusion_annotate.prelabel.camera_detector import COCO_CLASSES, CameraClass, Detection2D
from mmfusion_annotate.prelabel.camera_fusion import (
    FramePoints,
    Verdict,
    camera_objects,
    fuse_camera,
    relabelled,
    resolve,
    seed,
    verdicts_of,
)
from mmfusion_annotate.prelabel.classify import CLASSES, decide, size_scores
from mmfusion_annotate.prelabel.config import ClusterConfig, FitConfig
from mmfusion_annotate.prelabel.detect import Detection
from mmfusion_annotate.prelabel.fit import BevBox
from mmfusion_annotate.prelabel.model import ObjectClass

CAM = "cam"
FOCAL_PX = 555.0  # a 1.8 m person 10 m away is 100 px tall
KW = {"cover": 0.5, "min_visible": 0.3, "detectable_height_px": 40.0}


def _box_pixels(rng, box, n) -> np.ndarray:
    return np.column_stack([rng.uniform(box[0], box[2], n), rng.uniform(box[1], box[3], n)])


def _view(uv: np.ndarray, depth: np.ndarray, visible: np.ndarray | None = None) -> CameraView:
    n = len(uv)
    visible = np.ones(n, bool) if visible is None else visible
    return CameraView(CAM, None, 0, 1600, 900, n, np.arange(n, dtype=np.int32), uv.astype(np.float32),
                      depth.astype(np.float32), visible, np.zeros((n, 3), np.uint8))  # fmt: skip


def _cluster(index, size, x=10.0) -> Detection:
    length, width, height = size
    scores = size_scores(length, width, height)
    label, conf = decide(scores)
    box = BevBox(x, 0.0, length, width, 0.0)
    return Detection(np.asarray(index), box, box, 0.0, height, scores, label, conf)


NAMES = {kind: name for name, kind in COCO_CLASSES.values()}


def _det(box, kind: CameraClass, score=0.8) -> Detection2D:
    return Detection2D(tuple(map(float, box)), kind, NAMES[kind], score)


def _verdicts(*args, **kwargs) -> dict[int, Verdict]:
    return verdicts_of(*args, **kwargs)[0]


POST_BOX = (300, 200, 310, 300)  # 100 px tall: detectable
CAR_BOX = (250, 240, 600, 360)  # the car's points; the post stands in front of it
BIKE_BOX = (700, 260, 760, 320)


@pytest.fixture
def scene():
    """A post (pedestrian-sized), a car and a parked bicycle (cyclist-sized), each 60 points."""
    rng = np.random.default_rng(3)
    uv = np.vstack([_box_pixels(rng, POST_BOX, 60), _box_pixels(rng, (320, 250, 600, 350), 60),
                    _box_pixels(rng, BIKE_BOX, 60)])  # fmt: skip
    depth = np.concatenate([np.full(60, 8.0), np.full(60, 12.0), np.full(60, 9.0)])
    clusters = [_cluster(range(60), (0.3, 0.3, 1.9)), _cluster(range(60, 120), (4.5, 1.8, 1.5)),
                _cluster(range(120, 180), (1.8, 0.6, 1.5))]  # fmt: skip
    assert [c.label for c in clusters] == [ObjectClass.PEDESTRIAN, ObjectClass.CAR, ObjectClass.CYCLIST]
    return _view(uv, depth), clusters


def test_a_person_over_a_two_wheeler_is_a_cyclist_and_a_two_wheeler_alone_no_road_user():
    rider, bike = (
        _det((100, 50, 140, 150), CameraClass.PEDESTRIAN),
        _det((90, 100, 150, 170), CameraClass.BICYCLE),
    )
    walker = _det((400, 50, 440, 150), CameraClass.PEDESTRIAN)
    parked = _det((600, 100, 660, 170), CameraClass.MOTORCYCLE, 0.6)
    objects = camera_objects([rider, bike, walker, parked])
    assert [(o.label, o.person, o.names) for o in objects] == [
        (ObjectClass.CYCLIST, True, ("person", "bicycle")),
        (ObjectClass.PEDESTRIAN, True, ("person",)),
        (None, False, ("motorcycle",)),
    ]
    assert objects[0].box == (90, 50, 150, 170) and objects[0].score == pytest.approx(0.8)
    beside = camera_objects([rider, _det((200, 100, 260, 170), CameraClass.BICYCLE)])
    assert [o.label for o in beside] == [ObjectClass.PEDESTRIAN, None]


def test_a_box_names_the_cluster_it_holds_most_of_and_an_unseen_person_is_demoted(scene):
    view, clusters = scene
    verdicts, explained = verdicts_of(
        CAM, camera_objects([_det(CAR_BOX, CameraClass.CAR, 0.7)]), view, clusters, **KW
    )
    assert explained == {0}
    # the post lies wholly in the car's box too, but the car holds more of the box's points
    assert verdicts[1] == Verdict(ObjectClass.CAR, pytest.approx(0.7), CAM, verdicts[1].source)
    assert verdicts[1].positive
    # post and parked bicycle: a person or cyclist the camera sees, tall enough, no person box over them
    assert (
        verdicts[0].label is ObjectClass.UNKNOWN and not verdicts[0].positive and verdicts[0].source is None
    )
    assert verdicts[2].label is ObjectClass.UNKNOWN


def test_a_person_box_keeps_its_cluster_a_pedestrian(scene):
    view, clusters = scene
    found = [_det(CAR_BOX, CameraClass.CAR), _det((296, 190, 316, 305), CameraClass.PEDESTRIAN, 0.6)]
    verdicts = _verdicts(CAM, camera_objects(found), view, clusters, **KW)
    assert verdicts[0].label is ObjectClass.PEDESTRIAN and verdicts[0].positive
    assert verdicts[1].label is ObjectClass.CAR


def test_a_vehicle_box_never_makes_a_pedestrian_sized_cluster_a_vehicle(scene):
    view, clusters = scene
    around_post = camera_objects([_det((290, 190, 320, 310), CameraClass.CAR, 0.7)])
    verdicts, explained = verdicts_of(CAM, around_post, view, clusters, **KW)
    assert 0 not in verdicts or not verdicts[0].positive  # demoted at most, never a car
    assert explained == {0}  # LiDAR points are there: no seed, no camera-only item
    assert _verdicts(CAM, camera_objects([_det(BIKE_BOX, CameraClass.CAR)]), view, clusters, **KW)[
        2
    ].label is (
        ObjectClass.CAR  # a cyclist-sized cluster can be a car's rear
    )


def test_a_second_box_on_a_named_cluster_is_explained_and_seeds_nothing(scene):
    view, clusters = scene
    boxes = [_det(CAR_BOX, CameraClass.CAR, 0.7), _det((255, 245, 605, 365), CameraClass.TRUCK, 0.5)]
    verdicts, explained = verdicts_of(CAM, camera_objects(boxes), view, clusters, **KW)
    assert verdicts[1].label is ObjectClass.CAR and explained == {0, 1}
    points = FramePoints(np.zeros((180, 3)), np.ones(180), np.zeros(180, bool), np.zeros(180, bool))
    fused = fuse_camera(CAM, view, boxes, clusters, points, **KW, cluster=ClusterConfig(), fit=FitConfig(),
                        sensor_xy=(0.0, 0.0))  # fmt: skip
    assert fused.seeds == [] and fused.camera_only == []


def test_a_rider_pair_names_a_cyclist_and_a_bicycle_alone_demotes_it(scene):
    view, clusters = scene
    rider = [_det((710, 200, 750, 300), CameraClass.PEDESTRIAN), _det(BIKE_BOX, CameraClass.BICYCLE)]
    assert _verdicts(CAM, camera_objects(rider), view, clusters, **KW)[2].label is ObjectClass.CYCLIST
    alone = _verdicts(CAM, camera_objects([_det(BIKE_BOX, CameraClass.BICYCLE)]), view, clusters, **KW)
    assert alone[2].label is ObjectClass.UNKNOWN and not alone[2].positive and alone[2].source is not None


def test_silence_demotes_only_what_the_detector_could_have_seen(scene):
    view, clusters = scene
    car = camera_objects([_det(CAR_BOX, CameraClass.CAR)])
    assert _verdicts(CAM, [], view, clusters, **KW) == {}  # found nothing at all: no demotion
    small = {**KW, "detectable_height_px": 120.0}  # the post is 100 px tall
    assert 0 not in _verdicts(CAM, car, view, clusters, **small)
    hidden = _view(view.uv, view.depth, np.arange(180) >= 45)  # 15 of the post's 60 points visible
    assert 0 not in _verdicts(CAM, car, hidden, clusters, **KW)
    assert 0 in _verdicts(CAM, car, _view(view.uv, view.depth, np.arange(180) >= 40), clusters, **KW)


def test_a_box_does_not_name_a_cluster_too_big_for_its_class():
    rng = np.random.default_rng(4)
    view = _view(_box_pixels(rng, (300, 200, 700, 320), 80), np.full(80, 9.0))
    hedge = [_cluster(range(80), (6.0, 0.6, 1.5))]  # a person standing against it: one cluster
    person = camera_objects([_det((450, 180, 500, 330), CameraClass.PEDESTRIAN)])
    assert _verdicts(CAM, person, view, hedge, **{**KW, "cover": 0.1}) == {}
    car = camera_objects([_det((290, 190, 710, 330), CameraClass.CAR)])
    assert _verdicts(CAM, car, view, hedge, **KW)[0].label is ObjectClass.CAR  # 6 m: a car's length


def test_the_lidar_size_chooses_among_the_classes_a_box_leaves_open():
    cyclist = size_scores(1.8, 0.6, 1.6)
    assert resolve(ObjectClass.PEDESTRIAN, cyclist) is ObjectClass.CYCLIST  # the bicycle went unseen
    assert resolve(ObjectClass.TRUCK, size_scores(4.4, 1.8, 1.5)) is ObjectClass.CAR  # a pickup
    assert resolve(ObjectClass.CAR, size_scores(1.2, 0.3, 1.4)) is ObjectClass.CAR  # only its front seen
    assert resolve(ObjectClass.CYCLIST, size_scores(0.5, 0.5, 1.7)) is ObjectClass.CYCLIST


def _person_before_wall(rng):
    """A person (12 points, 10 m) in front of a wall (14 m) filling the rest of the box; the wall's
    points behind the person are hidden. Returns view, frame points, the box and the person's indices."""
    box = (400.0, 300.0, 440.0, 400.0)
    person_uv = _box_pixels(rng, (412, 305, 428, 398), 12)
    wall_uv = _box_pixels(rng, (380, 280, 460, 420), 200)
    behind = (wall_uv[:, 0] > 410) & (wall_uv[:, 0] < 430)
    uv = np.vstack([person_uv, wall_uv])
    depth = np.concatenate([np.full(12, 10.0), np.full(200, 14.0)])
    visible = np.concatenate([np.ones(12, bool), ~behind])
    xyz = np.column_stack([depth, (uv[:, 0] - 420) * depth / FOCAL_PX, (400 - uv[:, 1]) * depth / FOCAL_PX])
    xyz[:12, :2] += rng.normal(0, 0.1, (12, 2))  # a body, not a sheet
    points = FramePoints(xyz, xyz[:, 2].copy(), np.zeros(len(xyz), bool), np.zeros(len(xyz), bool))
    above = np.flatnonzero(
        xyz[:12, 2] >= ClusterConfig().min_height_m
    )  # the feet are ground, as for clusters
    return _view(uv, depth, visible), points, box, above


def test_a_seed_takes_the_points_at_the_dominant_depth_of_the_box_middle():
    view, points, box, person = _person_before_wall(np.random.default_rng(5))
    found = seed(ObjectClass.PEDESTRIAN, box, 0.7, view, points, ClusterConfig(), FitConfig(), (0.0, 0.0))
    assert found is not None and found.label is ObjectClass.PEDESTRIAN and found.confidence == 0.7
    assert found.point_index.tolist() == person.tolist()
    assert found.scores[CLASSES.index(ObjectClass.PEDESTRIAN)] == 1.0
    taken = FramePoints(points.xyz, points.height, points.is_ground, np.arange(len(points.xyz)) < 12)
    # without the person's returns the box holds only wall: too wide for a person, no seed
    assert (
        seed(ObjectClass.PEDESTRIAN, box, 0.7, view, taken, ClusterConfig(), FitConfig(), (0.0, 0.0)) is None
    )


def test_a_seed_stands_where_the_ground_meets_the_box_bottom():
    """A box whose object left no returns frames a pole 14 m away through its silhouette: the pole fits a
    person's size, but the ground at the box's bottom edge (the person's feet) is 10 m away."""
    rng = np.random.default_rng(9)
    box = (400.0, 300.0, 440.0, 400.0)
    pole_uv = _box_pixels(rng, (415, 320, 425, 385), 30)  # 0.4-2.0 m above the ground at 14 m
    foot_uv = _box_pixels(rng, (405, 392, 435, 408), 20)
    uv = np.vstack([pole_uv, foot_uv])

    def seeded(foot_depth: float):
        depth = np.concatenate([np.full(30, 14.0), np.full(20, foot_depth)])
        xyz = np.column_stack(
            [depth, (uv[:, 0] - 420) * depth / FOCAL_PX, (400 - uv[:, 1]) * depth / FOCAL_PX]
        )
        xyz[30:, 2] = 0.0
        points = FramePoints(xyz, xyz[:, 2].copy(), np.arange(50) >= 30, np.zeros(50, bool))
        return seed(
            ObjectClass.PEDESTRIAN, box, 0.7, _view(uv, depth), points, ClusterConfig(), FitConfig(), (0, 0)
        )

    assert seeded(foot_depth=10.0) is None
    assert seeded(foot_depth=14.0).point_index.tolist() == list(range(30))


def test_fuse_camera_seeds_once_and_lists_boxes_without_points_as_camera_only():
    view, points, box, person = _person_before_wall(np.random.default_rng(5))
    people = [_det(box, CameraClass.PEDESTRIAN, 0.7), _det((401, 302, 439, 399), CameraClass.PEDESTRIAN, 0.5),
              _det((1000, 100, 1040, 200), CameraClass.PEDESTRIAN, 0.9)]  # fmt: skip
    fused = fuse_camera(CAM, view, people, [], points, **KW, cluster=ClusterConfig(), fit=FitConfig(),
                        sensor_xy=(0.0, 0.0))  # fmt: skip
    assert fused.verdicts == {}
    assert [(d.point_index.tolist(), o.score) for d, o in fused.seeds] == [(person.tolist(), 0.7)]
    # the second box over the same person finds its points taken; the third has no points at all
    assert [o.score for o in fused.camera_only] == [0.5, 0.9]
    assert not points.taken.any()  # the caller's mask is left alone


def _named(box, kind: CameraClass, label: ObjectClass, score: float) -> Verdict:
    return Verdict(label, score, CAM, camera_objects([_det(box, kind, score)])[0])


def test_relabelling_gives_a_box_class_and_leaves_a_demoted_object_to_its_track():
    post = _cluster(range(5), (0.3, 0.3, 1.9))
    named = relabelled(post, _named(CAR_BOX, CameraClass.CAR, ObjectClass.CAR, 0.6), (0.0, 0.0))
    assert named.label is ObjectClass.CAR and named.confidence == pytest.approx(0.6)
    assert named.box.length == pytest.approx(4.5) and named.scores.sum() == 1.0
    agreeing = relabelled(
        post, _named(POST_BOX, CameraClass.PEDESTRIAN, ObjectClass.PEDESTRIAN, 0.6), (0.0, 0.0)
    )
    assert agreeing.confidence == pytest.approx(1 - 0.4 * (1 - post.confidence))
    bicycle = camera_objects([_det(BIKE_BOX, CameraClass.BICYCLE)])[0]
    for other in (
        Verdict(ObjectClass.UNKNOWN, 0.0, CAM, None),
        Verdict(ObjectClass.UNKNOWN, 0.7, CAM, bicycle),
    ):
        assert relabelled(post, other, (0.0, 0.0)) is post  # tracked, not labelled: left to its track
