"""Colour sampling: the image colour under each visible point, written once against ``xp``.

Pixel convention of the rig's camera model: pixel (i, j) has its centre at u = i, v = j. ``nearest``
reads the pixel whose centre is closest; ``bilinear`` blends the four around (u, v), clamped at the
border. The numba kernel repeats these exact float64 expressions so both paths round alike.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def sample_colors(image: Any, uv: Any, visible: Any, mode: str, xp: ModuleType) -> Any:
    """(M, 3) uint8 colours at ``uv`` (inside the image) for visible points, 0 for the others."""
    height, width = image.shape[:2]
    colors = xp.zeros((uv.shape[0], 3), dtype=xp.uint8)
    index = xp.flatnonzero(visible)
    u = uv[index, 0].astype(xp.float64)
    v = uv[index, 1].astype(xp.float64)
    if mode == "nearest":
        col = xp.minimum(xp.floor(u + 0.5), width - 1).astype(xp.int64)
        row = xp.minimum(xp.floor(v + 0.5), height - 1).astype(xp.int64)
        colors[index] = image[row, col, :3]
        return colors
    x0f = xp.floor(u)
    y0f = xp.floor(v)
    fx = (u - x0f)[:, None]
    fy = (v - y0f)[:, None]
    # a hit inside in float64 can round to u == width (v == height) as float32: it reads the border pixel
    x0 = xp.minimum(x0f, width - 1).astype(xp.int64)
    y0 = xp.minimum(y0f, height - 1).astype(xp.int64)
    x1 = xp.minimum(x0 + 1, width - 1)
    y1 = xp.minimum(y0 + 1, height - 1)
    img = image[..., :3]
    top = img[y0, x0].astype(xp.float64) * (1.0 - fx) + img[y0, x1].astype(xp.float64) * fx
    bottom = img[y1, x0].astype(xp.float64) * (1.0 - fx) + img[y1, x1].astype(xp.float64) * fx
    colors[index] = xp.floor(top * (1.0 - fy) + bottom * fy + 0.5).astype(xp.uint8)
    return colors
