"""The camera detector inside ``Prelabeler.process``: classes from boxes, demotion kept on the track
between looks, seeds and camera-only boxes, a failing image, and the real models on KITTI frames.

Constructed scenes are fused by the real ``FusionPipeline`` on the default rig (LiDAR + ``cam_front``);
a stand-in model returns boxes drawn around the projected points of chosen objects.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from detector_helpers import FakeModel

from mmfusion_annotate.datasets.kitti_evaluate import CAMERA, LIDAR, load_frame
from mmfusion_annotate.fusion import FusionPipeline
from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.prelabel import ObjectClass, PrelabelConfig, Prelabeler
from mmfusion_annotate.prelabel.boxes2d import box_iou
from mmfusion_annotate.prelabel.camera_detector import CameraDetector, load_camera_detector
from mmfusion_annotate.prelabel.config import DetectorConfig
from mmfusion_annotate.prelabel.review import CAMERA_WITHOUT_LIDAR
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.types import SensorSample

CAM = "cam_front"
POST, CAR, LOW = (12.0, 2.0), (16.0, -3.0), (24.0, 5.0)  # base_link, all in front of cam_front


@pytest.fixture(scope="module")
def rig():
    return load_rig(default_rig_path())


def _surface(rng, centre, size, n) -> np.ndarray:
    """Points on the faces of a box standing on the ground (z = 0 in base_link)."""
    u = rng.uniform(-0.5, 0.5, (n, 3)) * size
    face = rng.integers(0, 4, n)
    u[face == 0, 0], u[face == 1, 0] = size[0] / 2, -size[0] / 2
    u[face == 2, 1], u[face == 3, 1] = size[1] / 2, -size[1] / 2
    return u + (centre[0], centre[1], size[2] / 2)


def _scene(rig, k: int = 0):
    """Frame ``k`` (0.1 s apart) of a standing scene: ground, a post (pedestrian-sized), a car, and a low
    object no class's size fits (a car whose lower part the LiDAR misses); and the index ranges of the
    post's, the car's and the low object's points."""
    rng = np.random.default_rng(7)
    ground = np.column_stack([rng.uniform(2, 40, 30000), rng.uniform(-15, 15, 30000), np.zeros(30000)])
    post = _surface(rng, POST, np.array([0.25, 0.25, 1.9]), 400)
    car = _surface(rng, CAR, np.array([4.5, 1.8, 1.5]), 1500)
    low = _surface(rng, LOW, np.array([3.0, 1.2, 0.7]), 600)
    base = np.vstack([ground, post, car, low]).astype(np.float32)
    T = np.linalg.inv(rig.sensor_to_base("lidar_top"))
    xyz = (base @ T[:3, :3].T + T[:3, 3]).astype(np.float32)
    stamp = k * 100_000_000
    samples = {
        "lidar_top": SensorSample("lidar_top", stamp, {"xyz": xyz}),
        CAM: SensorSample(CAM, stamp, {"image": np.zeros((900, 1600, 3), np.uint8)}),
    }
    frame = FusionPipeline(rig, FusionConfig(backend="cpu")).fuse(samples, None)
    return frame, range(30000, 30400), range(30400, 31900), range(31900, 32500)


def _box_of(frame, points: range, grow: float = 4.0) -> tuple[float, ...]:
    view = frame.cameras[CAM]
    hit = view.hits_of(np.arange(points.start, points.stop))
    uv = view.uv[hit[hit >= 0]]
    return (uv[:, 0].min() - grow, uv[:, 1].min() - grow, uv[:, 0].max() + grow, uv[:, 1].max() + grow)


def _prelabeler(rig, rows, every: int = 1, fail: bool = False) -> Prelabeler:
    detector = CameraDetector(
        FakeModel({0: rows}, fail=fail), DetectorConfig(model="fake", every=every), "fake"
    )
    cfg = PrelabelConfig.model_validate(
        {"camera": {"detector": {"model": "fake", "cameras": [CAM], "every": every}}}
    )
    return Prelabeler(rig, cfg, detector)


def _labels(result) -> list[tuple[str, int]]:
    """(class, rounded x) of each cuboid: what the scene's two objects became."""
    return sorted((c.label.value, round(c.center[0])) for c in result.cuboids)


def test_without_a_detector_the_post_is_a_pedestrian(rig):
    frame, _, _, _ = _scene(rig)
    assert _labels(Prelabeler(rig).process(frame)) == [("car", 16), ("pedestrian", 12)]


def test_a_post_without_a_person_box_is_tracked_but_never_labelled(rig):
    frame, _, car, _ = _scene(rig)
    pre = _prelabeler(rig, [(_box_of(frame, car), 2, 0.8)], every=3)  # the camera looks at frames 0, 3
    results = [pre.process(_scene(rig, k)[0]) for k in range(4)]
    assert [_labels(r) for r in results] == [[("car", 16)]] * 4  # frames 1, 2: remembered on its track
    assert all(len(r.tracks) == 1 and r.tracks[0].label is ObjectClass.CAR for r in results)
    assert len(pre.tracker.tracks) == 2  # the post is still tracked: its track keeps the verdict
    (box,) = [b for b in results[0].boxes2d if b.camera == CAM]
    assert box.evidence >= 0.8 and box.label is ObjectClass.CAR  # the detector's score is camera evidence


def test_a_person_box_keeps_the_post_a_pedestrian_and_a_car_box_around_it_does_not_make_it_a_car(rig):
    frame, post, car, _ = _scene(rig)
    person = (_box_of(frame, post), 0, 0.6)
    result = _prelabeler(rig, [(_box_of(frame, car), 2, 0.8), person]).process(frame)
    assert _labels(result) == [("car", 16), ("pedestrian", 12)]
    around = _prelabeler(rig, [(_box_of(frame, post), 2, 0.7)]).process(frame)
    assert _labels(around) == [("car", 16)]  # a car box around a person-sized cluster: no car, no person


def test_a_cluster_the_lidar_leaves_unknown_is_named_and_keeps_its_class_between_looks(rig):
    frame, _, car, low = _scene(rig)
    pre = _prelabeler(rig, [(_box_of(frame, car), 2, 0.8), (_box_of(frame, low), 2, 0.7)], every=3)
    results = [pre.process(_scene(rig, k)[0]) for k in range(4)]
    named = [[c for c in r.cuboids if c.center[0] > 20] for r in results]
    assert [[c.label for c in n] for n in named] == [[ObjectClass.CAR]] * 4  # frames 1, 2: no look
    assert len({n[0].object_id for n in named}) == 1


def test_a_box_without_points_is_a_camera_only_review_item(rig):
    frame, _, car, _ = _scene(rig)
    sky = (100.0, 50.0, 160.0, 170.0)  # no LiDAR point lands up there
    result = _prelabeler(rig, [(_box_of(frame, car), 2, 0.8), (sky, 0, 0.9)]).process(frame)
    (only,) = [b for b in result.boxes2d if b.object_id == -1]
    assert only.box == sky and only.label is ObjectClass.PEDESTRIAN and only.provenance.algorithm == "fake"
    (item,) = [i for i in result.review_items if i.reason == CAMERA_WITHOUT_LIDAR]
    assert item.camera == CAM and item.priority == pytest.approx(0.5 * 0.9)


def test_an_image_the_detector_fails_on_leaves_its_frame_lidar_only(rig):
    frame, _, car, _ = _scene(rig)
    pre = _prelabeler(rig, [(_box_of(frame, car), 2, 0.8)], fail=True)
    assert _labels(pre.process(frame)) == [("car", 16), ("pedestrian", 12)]
    assert pre.detector_failures == 1


def _kitti_copy(kitti: Path, tmp_path: Path, frame: str, drop_pedestrian: bool = False) -> Path:
    """A one-frame copy of the KITTI folder ``kitti``; optionally without the LiDAR points inside the
    pedestrian's 3D box."""
    root = tmp_path / f"{frame}_{drop_pedestrian}"
    for sub, ext in (("image_2", "png"), ("calib", "txt"), ("label_2", "txt"), ("velodyne", "bin")):
        (root / sub).mkdir(parents=True)
        shutil.copy(kitti / sub / f"{frame}.{ext}", root / sub / f"{frame}.{ext}")
    if drop_pedestrian:
        sample = load_frame(root, frame)
        (ped,) = [g for g in sample.gts if g.label is ObjectClass.PEDESTRIAN]
        scan = np.fromfile(root / "velodyne" / f"{frame}.bin", dtype=np.float32).reshape(-1, 4)
        T = sample.rig.sensor_to_base(LIDAR)
        local = scan[:, :3] @ T[:3, :3].T + T[:3, 3] - np.asarray(ped.center)
        c, s = np.cos(ped.yaw), np.sin(ped.yaw)
        along, across = local[:, 0] * c + local[:, 1] * s, -local[:, 0] * s + local[:, 1] * c
        margin = 0.2  # the label box is tight; returns off the arms and feet sit just outside it
        inside = (
            (np.abs(along) <= ped.size[0] / 2 + margin)
            & (np.abs(across) <= ped.size[1] / 2 + margin)
            & (np.abs(local[:, 2]) <= ped.size[2] / 2 + margin)
        )
        assert inside.sum() > 300  # the pedestrian's returns (376 in the label's own count)
        scan[~inside].tofile(root / "velodyne" / f"{frame}.bin")
    return root


def _near(cuboids, gt, within_m: float) -> list:
    return [c for c in cuboids if np.hypot(c.center[0] - gt.center[0], c.center[1] - gt.center[1]) < within_m]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deimv2-femto", "yolox-nano"])
def test_kitti_pedestrian_is_confirmed_and_without_its_points_becomes_a_camera_only_item(
    name, model_dir, tmp_path, shared_path
):
    kitti = shared_path("data", "kitti", "training")
    detector = load_camera_detector(DetectorConfig(model=name), model_dir)
    cfg = PrelabelConfig.model_validate({"camera": {"detector": {"model": name}}})
    sample = load_frame(_kitti_copy(kitti, tmp_path, "000000"), "000000")
    (ped,) = [g for g in sample.gts if g.label is ObjectClass.PEDESTRIAN]
    result = Prelabeler(sample.rig, cfg, detector).process(sample.frame)
    (cuboid,) = _near(result.cuboids, ped, 1.0)
    assert cuboid.label is ObjectClass.PEDESTRIAN
    (box,) = [b for b in result.boxes2d if b.object_id == cuboid.object_id]
    assert box.evidence >= cfg.camera.detector.score_threshold  # the detector's box over it
    assert not [b for b in result.boxes2d if b.object_id == -1]

    dropped = load_frame(_kitti_copy(kitti, tmp_path, "000000", drop_pedestrian=True), "000000")
    result = Prelabeler(dropped.rig, cfg, detector).process(dropped.frame)
    assert not _near(result.cuboids, ped, 1.0)  # the background behind the person seeds no cuboid
    (only,) = [b for b in result.boxes2d if b.object_id == -1]
    assert box_iou(only.box, ped.boxes2d[CAMERA]) > 0.7 and only.label is ObjectClass.PEDESTRIAN
    (item,) = [i for i in result.review_items if i.reason == CAMERA_WITHOUT_LIDAR]
    assert item.camera == CAMERA and item.priority == pytest.approx(0.5 * only.evidence, abs=1e-4)
