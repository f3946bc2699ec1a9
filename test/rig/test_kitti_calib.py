"""KITTI calib.txt reader: the rig reproduces P2 · R0_rect · Tr_velo_to_cam on the real Velodyne points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmfusion_annotate.errors import CalibrationError
from mmfusion_annotate.rig import config_dir, load_rig, rig_to_dict
from mmfusion_annotate.rig.kitti import kitti_rig, read_kitti_calib

# in-image counts from the sample's PROVENANCE.md (X_rect.z > 0.1 m, pixel inside the image)
PROVENANCE_IN_IMAGE = {"000000": 20_285, "000001": 18_630, "000002": 20_210}


def kitti_chain(calib: dict[str, np.ndarray], points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KITTI's own chain, written out as the provenance note does."""
    R0 = np.eye(4)
    R0[:3, :3] = calib["R0_rect"]
    Tr = np.vstack([calib["Tr_velo_to_cam"], [0, 0, 0, 1]])
    X_rect = R0 @ Tr @ np.hstack([points, np.ones((len(points), 1))]).T
    uvw = calib["P2"] @ X_rect
    return (uvw[:2] / uvw[2]).T, X_rect[2]


@pytest.mark.parametrize("frame", list(PROVENANCE_IN_IMAGE))
def test_projection_equals_kitti_chain(shared_data: Path, frame: str) -> None:
    root = shared_data / "kitti" / "training"
    calib = read_kitti_calib(root / "calib" / f"{frame}.txt")
    rig = kitti_rig(root / "calib" / f"{frame}.txt")
    cam = rig.sensor("image_2")
    points = np.fromfile(root / "velodyne" / f"{frame}.bin", dtype=np.float32).reshape(-1, 4)[:, :3]
    points = points.astype(np.float64)

    T = rig.transform(cam.frame_id, rig.sensor("velodyne").frame_id)
    uv, depth, valid = cam.camera.project(points @ T[:3, :3].T + T[:3, 3])
    ref_uv, ref_z = kitti_chain(calib, points)

    front = ref_z > 0.1
    assert np.abs(uv[front] - ref_uv[front]).max() < 1e-6
    w, h = cam.camera.width, cam.camera.height
    ref_inside = front & (ref_uv[:, 0] >= 0) & (ref_uv[:, 0] < w) & (ref_uv[:, 1] >= 0) & (ref_uv[:, 1] < h)
    np.testing.assert_array_equal(valid & (depth > 0.1), ref_inside)
    assert int(ref_inside.sum()) == PROVENANCE_IN_IMAGE[frame]


def test_image_size_comes_from_the_png(shared_data: Path) -> None:
    root = shared_data / "kitti" / "training" / "calib"
    assert (kitti_rig(root / "000000.txt").sensor("image_2").camera.width,) == (1224,)
    cam = kitti_rig(root / "000001.txt").sensor("image_2").camera
    assert (cam.width, cam.height) == (1242, 375)
    assert kitti_rig(root / "000001.txt", image_wh=(100, 50)).sensor("image_2").camera.height == 50


def test_shipped_kitti_like_rig_equals_the_reader(shared_data: Path) -> None:
    shipped = load_rig(config_dir() / "rig_kitti_like.yaml")
    read = kitti_rig(shared_data / "kitti" / "training" / "calib" / "000000.txt", name="kitti_like")
    assert rig_to_dict(shipped) == rig_to_dict(read)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("P2: 1 2 3\n", "P2"),
        ("P0: 1 0 0 0 0 1 0 0 0 0 1 0\n", "P2"),
        (
            "P2: 1 0 0 0 0 1 0 0 0 0 1 0\nR0_rect: 1 0 0 0 1 0 0 0 1\nTr_velo_to_cam: 1 0 0 0 1 0 0 0 1\n",
            "Tr_velo_to_cam",
        ),
        ("P2: a b c d e f g h i j k l\n", "P2"),
    ],
)
def test_bad_calib_file_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "calib.txt"
    path.write_text(text)
    with pytest.raises(CalibrationError) as err:
        read_kitti_calib(path)
    assert str(path) in str(err.value) and f"key '{key}'" in str(err.value)
