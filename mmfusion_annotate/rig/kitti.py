"""KITTI object-benchmark calibration (``calib/*.txt``) -> Rig with the Velodyne and camera image_2.

The camera's frame is the *rectified* cam-2 optical frame, and its model is the pinhole
K2 = P2[:, :3] without distortion (KITTI images are rectified). The extrinsic folds R0_rect, Tr_velo_to_cam
and P2's baseline column (t2 = K2⁻¹ · P2[:, 3]) together, so that
``camera.project(rig.transform(camera, velodyne) @ p)`` equals KITTI's own chain
P2 · R0_rect · Tr_velo_to_cam · p.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmfusion_annotate.errors import CalibrationError
from mmfusion_annotate.rig.image_size import image_size
from mmfusion_annotate.rig.lidar_mounting import LidarMounting
from mmfusion_annotate.rig.loader import rig_from_dict
from mmfusion_annotate.rig.rig import Rig

_SHAPES = {"P2": (3, 4), "R0_rect": (3, 3), "Tr_velo_to_cam": (3, 4)}
KITTI_MOUNTING = LidarMounting(1.73, (-24.9, 2.0))
"""KITTI's HDL-64E: 1.73 m above the road (KITTI sensor set-up), beams from -24.9 to +2 degrees."""
LIDAR = "velodyne"
CAMERA = "image_2"


def read_kitti_calib(path: str | Path) -> dict[str, np.ndarray]:
    """The matrices of a KITTI calib file, reshaped (P0..P3 3x4, R0_rect 3x3, Tr_* 3x4)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CalibrationError(f"cannot read KITTI calibration ({exc.strerror})", file=str(path)) from None
    out: dict[str, np.ndarray] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        key, sep, values = line.partition(":")
        try:
            numbers = np.array(values.split(), dtype=np.float64)
        except ValueError:
            numbers = np.array([])
        if not sep or numbers.size not in (9, 12):
            raise CalibrationError(
                "expected 'key: 9 or 12 numbers'", file=str(path), key=key.strip(), line=number
            )
        out[key.strip()] = numbers.reshape(3, -1)
    for key, shape in _SHAPES.items():
        if key not in out:
            raise CalibrationError("missing key", file=str(path), key=key)
        if out[key].shape != shape:
            raise CalibrationError(f"must have {shape[0] * shape[1]} numbers", file=str(path), key=key)
    return out


def camera2_from_velodyne(calib: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(K2, T) with K2 = P2[:, :3] and T (4x4) mapping Velodyne points into the rectified cam-2 frame."""
    P2 = calib["P2"]
    K2 = P2[:, :3].copy()
    R0 = np.eye(4)
    R0[:3, :3] = calib["R0_rect"]
    Tr = np.vstack([calib["Tr_velo_to_cam"], [0.0, 0.0, 0.0, 1.0]])
    baseline = np.eye(4)
    baseline[:3, 3] = np.linalg.solve(K2, P2[:, 3])
    return K2, baseline @ R0 @ Tr


def kitti_lidar(mounting: LidarMounting = KITTI_MOUNTING) -> dict[str, Any]:
    """The ``velodyne`` sensor entry: upright under base_link at ``mounting.height_m`` (base_link on the
    road), its outer beams at ``mounting.vertical_range_deg``."""
    return {
        "name": LIDAR,
        "kind": "lidar",
        "topic": "/kitti/velo/pointcloud",
        "frame_id": "velo_link",
        "rate_hz": 10.0,
        "extrinsic": {"parent": "base_link", "translation": [0.0, 0.0, float(mounting.height_m)]},
        "lidar": {
            "beams": 64,
            "vertical_range_deg": [float(v) for v in mounting.vertical_range_deg],
            "azimuth_resolution_deg": 0.17,
            "min_range_m": 2.5,
            "max_range_m": 120.0,
        },
    }


def kitti_camera(
    calib: dict[str, np.ndarray],
    image_wh: tuple[int, int],
    *,
    name: str = CAMERA,
    topic: str = "/kitti/camera_color_left/image_raw",
    frame_id: str = "camera_color_left",
    compressed: bool = False,
) -> dict[str, Any]:
    """The entry of camera 2 (rectified, pinhole K2) hanging from the Velodyne by ``calib``."""
    K2, T_cam_velo = camera2_from_velodyne(calib)
    T_velo_cam = np.linalg.inv(T_cam_velo)
    camera: dict[str, Any] = {
        "width": image_wh[0],
        "height": image_wh[1],
        "K": K2.ravel().tolist(),
        "distortion_model": "plumb_bob",
        "D": [0.0] * 5,
    }
    if compressed:
        camera["compressed"] = True
    return {
        "name": name,
        "kind": "camera",
        "topic": topic,
        "frame_id": frame_id,
        "rate_hz": 10.0,
        "extrinsic": {
            "parent": "velo_link",
            "translation": T_velo_cam[:3, 3].tolist(),
            "rotation_matrix": T_velo_cam[:3, :3].tolist(),
        },
        "camera": camera,
    }


def kitti_rig(
    calib_path: str | Path,
    *,
    image_path: str | Path | None = None,
    image_wh: tuple[int, int] | None = None,
    mounting: LidarMounting = KITTI_MOUNTING,
    name: str = "kitti",
) -> Rig:
    """Rig of one KITTI frame: ``velodyne`` under base_link and camera ``image_2`` under the Velodyne.

    The image size comes from ``image_wh``, else from ``image_path``, else from the PNG next to the
    calibration (``../image_2/<same name>.png``), because KITTI's calib files do not carry it.
    ``mounting``: KITTI's own by default; give the measured one (``lidar_mounting.measure_mounting``)
    for another car's data in the KITTI layout.
    """
    calib_path = Path(calib_path)
    calib = read_kitti_calib(calib_path)
    if image_wh is None:
        image_wh = image_size(image_path or calib_path.parent.parent / "image_2" / f"{calib_path.stem}.png")
    doc = {"name": name, "sensors": [kitti_lidar(mounting), kitti_camera(calib, image_wh)]}
    return rig_from_dict(doc, source=str(calib_path))
