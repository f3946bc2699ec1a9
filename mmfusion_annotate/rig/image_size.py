"""Image size of a calibration sample's picture (the calibration files themselves do not carry it)."""

from __future__ import annotations

from pathlib import Path

import cv2

from mmfusion_annotate.errors import CalibrationError


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file readable by OpenCV (PNG, JPEG)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise CalibrationError("cannot read image to get its size", file=str(path))
    return int(image.shape[1]), int(image.shape[0])
