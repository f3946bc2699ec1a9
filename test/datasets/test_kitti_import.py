"""``mmfusion import kitti``: KITTI object frames (``../shared/data/kitti``, CC BY-NC-SA 3.0) as a bag,
replayed and scored; gaps for missing files; one-line errors for what is not such a folder."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mmfusion_annotate.bagtools.evaluate_bag import TRUTH_TOPIC, evaluate_bag, scene_boxes
from mmfusion_annotate.cli import main
from mmfusion_annotate.recording import BagReader, deserialize
from mmfusion_annotate.rig import load_rig


@pytest.fixture(scope="module")
def kitti_dir(shared_path) -> Path:
    return shared_path("data", "kitti", "training", "velodyne").parent


@pytest.fixture(scope="module")
def imported(kitti_dir: Path, tmp_path_factory) -> Path:
    bag = tmp_path_factory.mktemp("kitti") / "bag"
    assert main(["import", "kitti", str(kitti_dir.parent), "-o", str(bag)]) == 0  # training/ found inside
    return bag


def test_every_frame_is_its_own_scene_with_its_labels(imported: Path) -> None:
    counts = Counter(m.topic for m in BagReader(imported))
    assert counts["/kitti/velo/pointcloud"] == counts["/truth/objects"] == counts["/odom"] == 3
    # 000000 has its own calibration and image size, 000001 and 000002 share theirs: two cameras
    assert counts["/kitti/image_2/image_raw/compressed"] == 1
    assert counts["/kitti/image_2_000001/image_raw/compressed"] == 2
    rig = load_rig(imported / "rig.yaml")
    assert rig.sensor_to_base("velodyne")[2, 3] == pytest.approx(1.73, abs=0.05)  # measured, not assumed
    truth = {}
    for m in BagReader(imported):
        if m.topic == TRUTH_TOPIC:
            stamp, boxes = scene_boxes(deserialize(m.msgtype, m.data), truth=True)
            truth[stamp] = boxes
    stamps = sorted(truth)
    assert all(b - a >= 1_000_000_000 for a, b in zip(stamps, stamps[1:], strict=False))
    # label_2/000000.txt: one pedestrian 8.41 m in front of camera 0 (0.27 m ahead of the Velodyne),
    # 1.84 m to its right
    (pedestrian,) = truth[stamps[0]]
    assert pedestrian.label.value == "pedestrian"
    assert pedestrian.center[0] == pytest.approx(8.41 + 0.27, abs=0.1)
    assert pedestrian.center[1] == pytest.approx(-1.84, abs=0.1)
    assert abs(pedestrian.center[2] - 1.89 / 2) < 0.2  # its feet near the measured road
    ids = [b.object_id for boxes in truth.values() for b in boxes]
    assert len(ids) == len(set(ids))  # no track ids in KITTI: one id per object and frame


def test_replay_and_evaluate(imported: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["replay", str(imported), "-o", str(out)]) == 0
    result = evaluate_bag(out, load_rig(imported / "rig.yaml"))
    assert result.frames == 3
    assert result.bev_iou["detection"]["pedestrian@20m"]["recall"] == 1.0
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


def _partial(kitti_dir: Path, target: Path, skip: set[str]) -> Path:
    for source in sorted(kitti_dir.rglob("*")):
        relative = source.relative_to(kitti_dir)
        if source.is_file() and str(relative) not in skip:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).symlink_to(source)
    return target


def test_missing_files_are_gaps_named_once(kitti_dir: Path, tmp_path: Path, caplog) -> None:
    skip = {"velodyne/000001.bin", "image_2/000002.png", "calib/000000.txt"}
    folder = _partial(kitti_dir, tmp_path / "training", skip)
    with caplog.at_level(logging.WARNING), contextlib.redirect_stdout(io.StringIO()):
        assert main(["import", "kitti", str(folder), "-o", str(tmp_path / "bag")]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert all(any(s in w for w in warned) for s in skip)
    # without its calibration 000000's image and labels cannot be placed: each named too
    assert any("image_2/000000.png" in w and "no calibration" in w for w in warned)
    assert len(warned) == 5
    counts = Counter(m.topic for m in BagReader(tmp_path / "bag"))
    assert counts["/kitti/velo/pointcloud"] == 2 and counts["/truth/objects"] == 2
    assert counts["/kitti/image_2/image_raw/compressed"] == 1  # 000001's only


def test_not_a_kitti_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "velodyne").mkdir()
    command = [sys.executable, "-m", "mmfusion_annotate.cli", "import", "kitti", str(tmp_path), "-o", "x"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "not a KITTI object layout: missing calib/" in line and str(tmp_path) in line
