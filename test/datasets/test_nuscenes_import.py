"""``mmfusion import nuscenes``: the nuScenes keyframe (``../shared/data/nuscenes_keyframe``, CC BY-NC-SA
4.0, never copied into the repository) as a bag, checked against the dataset's own figures, replayed and
scored; gaps for missing files; one-line errors for what is not such a folder."""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mmfusion_annotate.bagtools.evaluate_bag import TRUTH_TOPIC, evaluate_bag, points_inside, scene_boxes
from mmfusion_annotate.cli import main
from mmfusion_annotate.datasets.poses import interpolate_poses
from mmfusion_annotate.fusion.ego import EgoMotion
from mmfusion_annotate.msgs.pointcloud2 import decode
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.recording import BagReader, deserialize
from mmfusion_annotate.rig import load_rig

LIDAR_NS = 1_532_402_927_647_951_000
CAMERA_TOPICS = 6


@pytest.fixture(scope="module")
def nuscenes_dir(shared_path) -> Path:
    return shared_path("data", "nuscenes_keyframe", "PROVENANCE.md").parent


@pytest.fixture(scope="module")
def imported(nuscenes_dir: Path, tmp_path_factory) -> Path:
    bag = tmp_path_factory.mktemp("nuscenes") / "bag"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["import", "nuscenes", str(nuscenes_dir), "-o", str(bag)]) == 0
    return bag


def _read(bag: Path) -> tuple[dict, EgoMotion, dict]:
    """The last message of each topic, the ego motion and the odometry poses (stamp -> T_world_base)."""
    rig = load_rig(bag / "rig.yaml")
    ego = EgoMotion(max_history_ns=2**62, max_extrapolation_ns=10**9)
    latest, odometry = {}, {}
    for m in BagReader(bag):
        msg = deserialize(m.msgtype, m.data)
        if m.topic == "/odom":
            sample = decode_sample(rig.sensor("odometry"), msg)
            ego.feed(sample)
            odometry[sample.stamp] = ego.pose(sample.stamp)
        latest[m.topic] = msg
    return latest, ego, odometry


def test_topics_stamps_and_point_times(imported: Path) -> None:
    counts = Counter(m.topic for m in BagReader(imported))
    assert counts["/LIDAR_TOP"] == counts[TRUTH_TOPIC] == 1
    assert sum(1 for t in counts if t.endswith("/image_rect_compressed/compressed")) == CAMERA_TOPICS
    latest, _, _ = _read(imported)
    cloud = decode(latest["/LIDAR_TOP"])
    assert len(cloud) == 34_688  # PROVENANCE.md
    t = cloud["t_ns"].astype(np.int64)
    # a 20 Hz rotation ending at the LiDAR stamp; the cloud is stamped at its first point
    assert t.max() <= LIDAR_NS and t.min() >= LIDAR_NS - 50_000_000
    assert t.max() - t.min() > 49_000_000
    assert from_ros_time(latest["/LIDAR_TOP"].header.stamp) == t.min()
    front = latest["/CAM_FRONT/image_rect_compressed/compressed"]
    assert from_ros_time(front.header.stamp) == 1_532_402_927_612_460_000  # the camera's own stamp


def test_truth_holds_its_points_once_the_sweep_is_compensated(imported: Path) -> None:
    """The dataset counted each box's points (``num_lidar_pts``) in its compensated cloud: the bag's raw
    sweep, compensated by its odometry (interpolated as replay interpolates it), must give the same
    counts."""
    rig = load_rig(imported / "rig.yaml")
    latest, ego, odometry = _read(imported)
    cloud = decode(latest["/LIDAR_TOP"])
    stamp = from_ros_time(latest["/LIDAR_TOP"].header.stamp)
    xyz = np.stack([cloud[a] for a in "xyz"], axis=1).astype(np.float64)
    T = rig.sensor_to_base("LIDAR_TOP")
    base = xyz @ T[:3, :3].T + T[:3, 3]
    knots = np.array(sorted(odometry))
    rotations, translations = interpolate_poses(knots, np.array([odometry[k] for k in knots]),
                                                cloud["t_ns"].astype(np.int64))  # fmt: skip
    world = rotations.apply(base) + translations  # each point from the base_link of its own time
    T_start_world = np.linalg.inv(ego.pose(stamp))
    compensated = world @ T_start_world[:3, :3].T + T_start_world[:3, 3]
    stamp_truth, boxes = scene_boxes(latest[TRUTH_TOPIC], truth=True)
    assert stamp_truth == stamp  # where the pre-labels stand
    reference = {
        int(e.id): int(next(kv.value for kv in e.metadata if kv.key == "num_lidar_pts"))
        for e in latest[TRUTH_TOPIC].entities
    }
    counted = {b.object_id: points_inside(compensated, b, margin=0.0) for b in boxes}
    exact = sum(counted[i] == reference[i] for i in counted)
    assert len(boxes) == 43  # cars, trucks, buses, pedestrians, ridden two-wheelers of the 69 boxes
    assert exact >= 0.9 * len(boxes)
    assert sum(counted.values()) == pytest.approx(sum(reference[i] for i in counted), rel=0.05)


def test_replay_and_evaluate(imported: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["replay", str(imported), "-o", str(out)]) == 0
    result = evaluate_bag(out, load_rig(imported / "rig.yaml"))
    assert result.frames == 1
    figures = result.bev_iou["detection"]
    assert figures["pedestrian@50m"]["tp"] + figures["pedestrian@50m"]["fn"] == 20  # in 50 m, with points
    assert result.boxes2d["all"]["truth"] > 0


def test_missing_files_are_gaps_named_once(nuscenes_dir: Path, tmp_path: Path, caplog) -> None:
    folder = tmp_path / "keyframe"
    (folder / "derived").mkdir(parents=True)
    for source in nuscenes_dir.rglob("*"):
        if source.is_file() and "CAM_BACK__" not in source.name and "LIDAR_TOP" not in source.name:
            (folder / source.relative_to(nuscenes_dir)).symlink_to(source)
    with caplog.at_level(logging.WARNING), contextlib.redirect_stdout(io.StringIO()):
        assert main(["import", "nuscenes", str(folder), "-o", str(tmp_path / "bag")]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert any("CAM_BACK__" in w for w in warned) and any("LIDAR_TOP__" in w for w in warned)
    counts = Counter(m.topic for m in BagReader(tmp_path / "bag"))
    assert counts["/LIDAR_TOP"] == 0 and counts["/CAM_BACK/image_rect_compressed/compressed"] == 0
    assert counts["/CAM_FRONT/image_rect_compressed/compressed"] == 1 and counts[TRUTH_TOPIC] == 1


def test_not_a_nuscenes_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mmfusion_annotate.cli", "import", "nuscenes", str(tmp_path), "-o", "x"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "not a nuScenes folder: missing an mmdetection3d info file" in line and str(tmp_path) in line


def test_the_info_pickle_gives_the_same_bag(nuscenes_dir: Path, imported: Path, tmp_path: Path) -> None:
    """Without ``derived/*.info.json`` the import reads the ``.pkl`` beside the files (same content)."""
    folder = tmp_path / "keyframe"
    folder.mkdir()
    for source in nuscenes_dir.iterdir():
        if source.is_file():
            (folder / source.name).symlink_to(source)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["import", "nuscenes", str(folder), "-o", str(tmp_path / "bag")]) == 0
    latest, _, _ = _read(tmp_path / "bag")
    reference, _, _ = _read(imported)
    assert latest[TRUTH_TOPIC] == reference[TRUTH_TOPIC]
    assert latest["/LIDAR_TOP"] == reference["/LIDAR_TOP"]
