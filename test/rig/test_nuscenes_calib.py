"""nuScenes info reader: the per-sample rig reproduces cam2img · lidar2cam and the provenance figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmfusion_annotate.errors import CalibrationError
from mmfusion_annotate.rig.nuscenes import CAMERAS, nuscenes_rig, read_nuscenes_info

INFO = "nuscenes_keyframe/derived/n015-2018-07-24-11-22-45+0800.info.json"
LIDAR = "nuscenes_keyframe/n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin"
# points in each image, from the sample's PROVENANCE.md (z_cam > 1 m, 0 <= u < 1600, 0 <= v < 900)
PROVENANCE_IN_IMAGE = {
    "CAM_FRONT": 3067,
    "CAM_FRONT_RIGHT": 3079,
    "CAM_FRONT_LEFT": 3704,
    "CAM_BACK": 4826,
    "CAM_BACK_LEFT": 4097,
    "CAM_BACK_RIGHT": 3379,
}


@pytest.fixture(scope="module")
def points(shared_data: Path) -> np.ndarray:
    return np.fromfile(shared_data / LIDAR, dtype=np.float32).reshape(-1, 5)[:, :3].astype(np.float64)


def in_camera(rig, cam_name: str, points: np.ndarray):
    cam = rig.sensor(cam_name)
    T = rig.transform(cam.frame_id, "LIDAR_TOP")
    return cam.camera.project(points @ T[:3, :3].T + T[:3, 3])


def test_sample_extrinsics_reproduce_the_dataset_chain(shared_data: Path, points: np.ndarray) -> None:
    sample = read_nuscenes_info(shared_data / INFO)
    rig = nuscenes_rig(shared_data / INFO, extrinsics="sample")
    assert [c.name for c in rig.cameras()] == list(CAMERAS) and len(rig.lidars()) == 1
    seen = np.zeros(len(points), bool)
    for name in CAMERAS:
        uv, depth, valid = in_camera(rig, name, points)
        image = sample["images"][name]
        X = (np.asarray(image["lidar2cam"]) @ np.hstack([points, np.ones((len(points), 1))]).T)[:3]
        uvw = np.asarray(image["cam2img"]) @ X
        ref = (uvw[:2] / uvw[2]).T
        front = X[2] > 1.0
        assert np.abs(uv[front] - ref[front]).max() < 1e-6
        counted = valid & (depth > 1.0)
        assert int(counted.sum()) == PROVENANCE_IN_IMAGE[name]
        seen |= counted
    assert seen.mean() == pytest.approx(0.583, abs=0.0005)  # "58.3 % land in at least one image"


def test_static_extrinsics_are_the_calibration(shared_data: Path, points: np.ndarray) -> None:
    sample = read_nuscenes_info(shared_data / INFO)
    rig = nuscenes_rig(shared_data / INFO)
    for name in CAMERAS:
        T = rig.transform(name, "LIDAR_TOP")
        lidar2cam = np.asarray(sample["images"][name]["lidar2cam"])
        assert np.abs(T[:3, :3] - lidar2cam[:3, :3]).max() < 2e-3  # ego motion only moves the translation
        assert np.abs(T[:3, 3] - lidar2cam[:3, 3]).max() < 0.34  # provenance: "differ by up to 0.33 m"
        np.testing.assert_allclose(
            rig.transform("base_link", name), np.asarray(sample["images"][name]["cam2ego"])
        )
        count = int((in_camera(rig, name, points)[2] & (in_camera(rig, name, points)[1] > 1.0)).sum())
        assert count == pytest.approx(PROVENANCE_IN_IMAGE[name], rel=0.1)
    assert (rig.sensor("CAM_FRONT").camera.width, rig.sensor("CAM_FRONT").camera.height) == (1600, 900)


def test_broken_info_names_the_key(tmp_path: Path, shared_data: Path) -> None:
    doc = json.loads((shared_data / INFO).read_text())
    del doc["data_list"][0]["images"]["CAM_BACK"]["cam2img"]
    path = tmp_path / "broken.info.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError) as err:
        nuscenes_rig(path)
    assert str(path) in str(err.value) and "key 'images.CAM_BACK.cam2img'" in str(err.value)
    with pytest.raises(CalibrationError, match="no sample 3"):
        read_nuscenes_info(path, sample_index=3)
