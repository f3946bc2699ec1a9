"""nuScenes calibration from an mmdetection3d info file (``*.info.json``) -> Rig with 6 cameras + LIDAR_TOP.

Frames: ``base_link`` is nuScenes' ego frame; ``LIDAR_TOP`` keeps its native axes (x right, y forward,
z up) so the ``.pcd.bin`` points can be used as they are; cameras are optical frames.

``extrinsics="static"`` places each camera by ``cam2ego`` (the calibration, what a vehicle rig is).
``extrinsics="sample"`` hangs each camera from the LiDAR by the info's ``lidar2cam``, which also
carries the ego motion between the camera and LiDAR stamps of that one sample, and so reproduces
the dataset's own projection chain (cam2img · lidar2cam) exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mmfusion_annotate.errors import CalibrationError
from mmfusion_annotate.rig.image_size import image_size
from mmfusion_annotate.rig.loader import rig_from_dict
from mmfusion_annotate.rig.rig import Rig

CAMERAS = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")
NUSCENES_IMAGE_WH = (1600, 900)


def read_nuscenes_info(path: str | Path, sample_index: int = 0) -> dict[str, Any]:
    """One ``data_list`` entry of an mmdetection3d (v1.1) info JSON."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"cannot read nuScenes info ({exc})", file=str(path)) from None
    return info_sample(doc, str(path), sample_index)


def info_sample(doc: Any, source: str, sample_index: int = 0) -> dict[str, Any]:
    """One ``data_list`` entry of a loaded info document (JSON, or the same content unpickled)."""
    samples = doc.get("data_list") if isinstance(doc, dict) else None
    if not isinstance(samples, list) or not 0 <= sample_index < len(samples):
        raise CalibrationError(f"no sample {sample_index} in data_list", file=source, key="data_list")
    sample = samples[sample_index]
    for key in ("images", "lidar_points"):
        if not isinstance(sample, dict) or key not in sample:
            raise CalibrationError("missing key", file=source, key=f"data_list[{sample_index}].{key}")
    return sample


def _matrix(sample: dict[str, Any], keys: tuple[str, ...], shape: tuple[int, int], source: str) -> np.ndarray:
    node: Any = sample
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise CalibrationError("missing key", file=source, key=".".join(keys))
        node = node[key]
    array = np.asarray(node, dtype=np.float64)
    if array.shape != shape:
        raise CalibrationError(f"must be {shape[0]}x{shape[1]}", file=source, key=".".join(keys))
    return array


def _extrinsic(parent: str, T: np.ndarray) -> dict[str, Any]:
    return {"parent": parent, "translation": T[:3, 3].tolist(), "rotation_matrix": T[:3, :3].tolist()}


def nuscenes_sensors(
    sample: dict[str, Any],
    source: str,
    image_dir: Path,
    extrinsics: Literal["static", "sample"] = "static",
) -> list[dict[str, Any]]:
    """The rig entries of LIDAR_TOP and the 6 cameras of one info sample (an image's size is read from
    its JPEG in ``image_dir`` when present)."""
    lidar2ego = _matrix(sample, ("lidar_points", "lidar2ego"), (4, 4), source)
    sensors: list[dict[str, Any]] = [
        {
            "name": "LIDAR_TOP",
            "kind": "lidar",
            "topic": "/LIDAR_TOP",
            "frame_id": "LIDAR_TOP",
            "rate_hz": 20.0,
            "extrinsic": _extrinsic("base_link", lidar2ego),
            "lidar": {
                "beams": 32,
                "vertical_range_deg": [-30.67, 10.67],
                "azimuth_resolution_deg": 0.33,
                "min_range_m": 0.5,
                "max_range_m": 100.0,
            },
        }
    ]
    for cam in CAMERAS:
        K = _matrix(sample, ("images", cam, "cam2img"), (3, 3), source)
        if extrinsics == "static":
            placement = _extrinsic("base_link", _matrix(sample, ("images", cam, "cam2ego"), (4, 4), source))
        else:
            lidar2cam = _matrix(sample, ("images", cam, "lidar2cam"), (4, 4), source)
            placement = _extrinsic("LIDAR_TOP", np.linalg.inv(lidar2cam))
        image = image_dir / Path(str(sample["images"][cam].get("img_path", ""))).name
        width, height = image_size(image) if image.is_file() else NUSCENES_IMAGE_WH
        sensors.append(
            {
                "name": cam,
                "kind": "camera",
                "topic": f"/{cam}/image_rect_compressed/compressed",
                "frame_id": cam,
                "rate_hz": 12.0,
                "extrinsic": placement,
                "camera": {
                    "width": width,
                    "height": height,
                    "K": K.ravel().tolist(),
                    "distortion_model": "plumb_bob",
                    "D": [0.0] * 5,
                    "compressed": True,
                    "info_topic": f"/{cam}/camera_info",
                },
            }
        )
    return sensors


def nuscenes_rig(
    info_path: str | Path,
    *,
    sample_index: int = 0,
    extrinsics: Literal["static", "sample"] = "static",
    name: str = "nuscenes",
) -> Rig:
    """Rig from the calibration of one nuScenes sample (images looked for beside the info's folder)."""
    info_path = Path(info_path)
    sample = read_nuscenes_info(info_path, sample_index)
    sensors = nuscenes_sensors(sample, str(info_path), info_path.parent.parent, extrinsics)
    return rig_from_dict({"name": name, "sensors": sensors}, source=str(info_path))
