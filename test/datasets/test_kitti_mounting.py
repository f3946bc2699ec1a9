"""``mmfusion evaluate`` on a KITTI-layout folder whose LiDAR is mounted higher, with a lower top beam.

The folder is made from KITTI's frames (``../shared/data/kitti``, CC BY-NC-SA 3.0, never copied into the
repository): the Velodyne moved ``RAISE_M`` up (points and ``Tr_velo_to_cam`` shifted together, so the
camera and the labels see the same world) and every return above ``TOP_BEAM_DEG`` from the new origin
dropped. Nothing labelled reaches that high, so measuring the mounting on the points must find and miss
the same labelled objects as on the original folder (the false positives may differ: the dropped
returns of walls and trees change the clusters); assuming KITTI's 1.73 m and +2 degrees changes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mmfusion_annotate.datasets.kitti_evaluate import evaluate_kitti
from mmfusion_annotate.rig import config_dir, load_rig
from mmfusion_annotate.rig.kitti import read_kitti_calib
from mmfusion_annotate.rig.lidar_mounting import measure_mounting

RAISE_M = 0.5
TOP_BEAM_DEG = 1.0


@pytest.fixture(scope="module")
def kitti_dir(shared_path) -> Path:
    return shared_path("data", "kitti", "training", "velodyne").parent


def _calib_text(calib: dict[str, np.ndarray]) -> str:
    return "".join(f"{key}: {' '.join(f'{v:.12e}' for v in m.ravel())}\n" for key, m in calib.items())


@pytest.fixture(scope="module")
def raised(kitti_dir: Path, tmp_path_factory) -> Path:
    """KITTI's frames as a LiDAR ``RAISE_M`` higher with its top beam at ``TOP_BEAM_DEG`` would see them."""
    root = tmp_path_factory.mktemp("raised")
    for kind in ("image_2", "label_2"):
        shutil.copytree(kitti_dir / kind, root / kind)
    (root / "velodyne").mkdir()
    (root / "calib").mkdir()
    for path in sorted((kitti_dir / "velodyne").glob("*.bin")):
        scan = np.fromfile(path, np.float32).reshape(-1, 4)
        scan[:, 2] -= RAISE_M
        elevation = np.degrees(np.arctan2(scan[:, 2], np.hypot(scan[:, 0], scan[:, 1])))
        scan[elevation <= TOP_BEAM_DEG].tofile(root / "velodyne" / path.name)
        calib = read_kitti_calib(kitti_dir / "calib" / f"{path.stem}.txt")
        Tr = calib["Tr_velo_to_cam"]
        Tr[:, 3] += Tr[:, :3] @ np.array([0.0, 0.0, RAISE_M])  # the same world point, seen from higher up
        (root / "calib" / f"{path.stem}.txt").write_text(_calib_text(calib), encoding="utf-8")
    return root


def test_mounting_is_measured_on_the_points(kitti_dir: Path, raised: Path) -> None:
    for path in sorted((kitti_dir / "velodyne").glob("*.bin")):
        original = measure_mounting(np.fromfile(path, np.float32).reshape(-1, 4)[:, :3])
        moved = measure_mounting(
            np.fromfile(raised / "velodyne" / path.name, np.float32).reshape(-1, 4)[:, :3]
        )
        assert original is not None and moved is not None
        assert abs(original.height_m - 1.73) < 0.05  # KITTI's set-up
        assert moved.height_m == pytest.approx(original.height_m + RAISE_M, abs=0.02)
        assert 1.5 < original.vertical_range_deg[1] < 3.0  # HDL-64E's top beam, +2 degrees nominal
        assert moved.vertical_range_deg[1] == pytest.approx(TOP_BEAM_DEG, abs=0.1)
        assert -25.5 < original.vertical_range_deg[0] < -23.0


def _found(metrics: dict) -> dict[str, tuple[int, int]]:
    """(true positives, misses) per class and range: what the labels say was found or missed."""
    return {key: (row["tp"], row["fn"]) for key, row in metrics["detection"].items()}


@pytest.fixture(scope="module")
def moved(raised: Path) -> dict:
    return evaluate_kitti(raised).metrics


def test_evaluation_does_not_depend_on_how_the_lidar_is_mounted(kitti_dir: Path, moved: dict) -> None:
    original = evaluate_kitti(kitti_dir).metrics
    assert _found(moved) == _found(original)
    assert moved["box2d_pairs"] == original["box2d_pairs"] >= 1
    assert original["detection"]["pedestrian@20m"]["recall"] == 1.0


def test_a_rig_gives_the_mounting(raised: Path, moved: dict) -> None:
    """With ``--rig`` the mounting is the rig's: KITTI's own rig (1.73 m, +2 degrees) on the raised
    LiDAR puts base_link half a metre above the road and changes what is found."""
    assumed = evaluate_kitti(raised, rig=load_rig(config_dir() / "rig_kitti_like.yaml")).metrics
    assert assumed["detection"] != moved["detection"]
