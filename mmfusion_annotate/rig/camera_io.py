"""CameraModel <-> sensor_msgs/CameraInfo and the ROS camera_calibration YAML format.

The YAML layout is the one camera_calibration writes and camera_info_manager reads
(``image_width``, ``camera_matrix: {rows, cols, data}``, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mmfusion_annotate.errors import CalibrationError, RigError
from mmfusion_annotate.rig.camera_model import CameraModel
from mmfusion_annotate.textfile import parse_yaml, read_text_file

_MATRICES = {
    "camera_matrix": (3, 3),
    "distortion_coefficients": (1, None),
    "rectification_matrix": (3, 3),
    "projection_matrix": (3, 4),
}


def _rotation_or_identity(values: Any) -> np.ndarray:
    R = np.asarray(values, dtype=np.float64).reshape(3, 3)
    return np.eye(3) if not R.any() else R


def model_from_camera_info(msg: Any) -> CameraModel:
    """CameraInfo -> CameraModel; an all-zero R reads as identity and an all-zero P as [K | 0]."""
    K = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if not K.any():
        raise RigError("CameraInfo has an all-zero K (uncalibrated camera)", key="k")
    P = np.asarray(msg.p, dtype=np.float64).reshape(3, 4)
    return CameraModel(
        width=int(msg.width),
        height=int(msg.height),
        K=K,
        D=tuple(float(c) for c in msg.d),
        distortion_model=msg.distortion_model,
        R=_rotation_or_identity(msg.r),
        P=P if P.any() else None,
    )


def model_to_camera_info(model: CameraModel, frame_id: str, stamp: int = 0) -> Any:
    """CameraModel -> sensor_msgs/CameraInfo stamped with integer nanoseconds."""
    from sensor_msgs.msg import CameraInfo  # noqa: PLC0415 - ROS is only needed at the edges

    from mmfusion_annotate.msgs.time import make_header  # noqa: PLC0415

    return CameraInfo(
        header=make_header(frame_id, stamp),
        width=model.width,
        height=model.height,
        distortion_model=model.distortion_model,
        d=[float(c) for c in model.D],
        k=model.K.ravel().tolist(),
        r=model.R.ravel().tolist(),
        p=model.P.ravel().tolist(),
    )


def calibration_dict(model: CameraModel, camera_name: str = "camera") -> dict[str, Any]:
    """The camera_calibration document of ``model`` (before YAML serialization)."""

    def block(array: np.ndarray, rows: int) -> dict[str, Any]:
        data = [float(v) for v in np.ravel(array)]
        return {"rows": rows, "cols": len(data) // rows, "data": data}

    return {
        "image_width": model.width,
        "image_height": model.height,
        "camera_name": camera_name,
        "camera_matrix": block(model.K, 3),
        "distortion_model": model.distortion_model,
        "distortion_coefficients": block(np.array(model.D), 1),
        "rectification_matrix": block(model.R, 3),
        "projection_matrix": block(model.P, 3),
    }


def dump_calibration_yaml(model: CameraModel, camera_name: str = "camera") -> str:
    """camera_calibration YAML text for ``model``."""
    return yaml.safe_dump(calibration_dict(model, camera_name), sort_keys=False, default_flow_style=None)


def load_calibration_yaml(path_or_text: str | Path) -> CameraModel:
    """Read a camera_calibration YAML file (``Path``) or YAML text (``str``) into a CameraModel."""
    if isinstance(path_or_text, Path):
        source = str(path_or_text)
        text = read_text_file(path_or_text, "camera calibration", CalibrationError)
    else:
        source, text = "<camera calibration>", path_or_text
    doc = parse_yaml(text, source, CalibrationError)
    if not isinstance(doc, dict):
        raise CalibrationError("a camera calibration must be a mapping", file=source)
    return _from_calibration_dict(doc, source)


def _from_calibration_dict(doc: dict[str, Any], source: str) -> CameraModel:
    def scalar(key: str, kind: type) -> Any:
        if key not in doc:
            raise CalibrationError("missing key", file=source, key=key)
        if not isinstance(doc[key], kind) or isinstance(doc[key], bool):
            raise CalibrationError(f"must be {kind.__name__}, got {doc[key]!r}", file=source, key=key)
        return doc[key]

    def matrix(key: str) -> np.ndarray:
        if key not in doc:
            raise CalibrationError("missing key", file=source, key=key)
        block = doc[key]
        rows, cols = _MATRICES[key]
        if not isinstance(block, dict) or not isinstance(block.get("data"), list):
            raise CalibrationError(
                "must be a mapping with rows, cols and data", file=source, key=f"{key}.data"
            )
        data = block["data"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in data):
            raise CalibrationError("data must be numbers", file=source, key=f"{key}.data")
        r, c = block.get("rows"), block.get("cols")
        if r != rows or (cols is not None and c != cols) or not isinstance(c, int) or len(data) != r * c:
            raise CalibrationError(
                f"expected {rows}x{cols or 'n'} with rows*cols data values, got rows={r} cols={c} "
                f"and {len(data)} values",
                file=source,
                key=key,
            )
        return np.asarray(data, dtype=np.float64)

    def optional_matrix(key: str) -> np.ndarray | None:
        return matrix(key) if key in doc else None

    K = matrix("camera_matrix")
    D = matrix("distortion_coefficients")
    R = optional_matrix("rectification_matrix")
    try:
        return CameraModel(
            width=scalar("image_width", int),
            height=scalar("image_height", int),
            K=K,
            D=tuple(D.tolist()),
            distortion_model=scalar("distortion_model", str),
            R=np.eye(3) if R is None else _rotation_or_identity(R),
            P=optional_matrix("projection_matrix"),
        )
    except RigError as exc:
        key = {
            "K": "camera_matrix",
            "D": "distortion_coefficients",
            "R": "rectification_matrix",
            "P": "projection_matrix",
            "width": "image_width",
        }.get(exc.key or "", exc.key)
        raise CalibrationError(exc.reason, file=source, key=key) from None
