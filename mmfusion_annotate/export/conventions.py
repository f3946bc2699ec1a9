"""The geometry conventions every export and import shares (the README states them for users).

- 3D: metres, right-handed, in the rig's base frame (``base_link``: x forward, y left, z up) at the
  fused frame's stamp. A cuboid is its centre (not its bottom), its size (length along the heading,
  width, height) and its yaw (about +z, counter-clockwise from +x); in OpenLABEL the 10-value form
  ``[x, y, z, qx, qy, qz, qw, length, width, height]`` with a rotation about z only.
- 2D: pixels with the origin at the top-left corner of the top-left pixel (pixel centres at k + 0.5), as
  COCO and Foxglove count; ``Box2D`` (OpenCV, centres at integers) is half a pixel off, hence the shift.
  OpenLABEL ``bbox`` is ``[centre x, centre y, width, height]``; COCO ``bbox`` is ``[left, top, w, h]``.
"""

from __future__ import annotations

import math

PIXEL_SHIFT = 0.5
"""Added to OpenCV pixel coordinates to count from the image's top-left corner."""


def cuboid_val(center, size, yaw: float) -> list[float]:
    """OpenLABEL cuboid ``val`` (10 values, quaternion form) of a box about z."""
    half = 0.5 * float(yaw)
    return [*map(float, center), 0.0, 0.0, math.sin(half), math.cos(half), *map(float, size)]


def cuboid_from_val(val) -> tuple[tuple[float, float, float], tuple[float, float, float], float]:
    """(centre, size, yaw) of an OpenLABEL cuboid ``val`` in either form (9: Euler rx ry rz; 10: quaternion).

    Only the rotation about z is kept (pre-labels and truth stand upright).
    """
    x, y, z = (float(v) for v in val[:3])
    if len(val) == 10:
        qx, qy, qz, qw = (float(v) for v in val[3:7])
        yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
    else:
        yaw = float(val[5])
    sx, sy, sz = (float(v) for v in val[-3:])
    return (x, y, z), (sx, sy, sz), yaw


def bbox_val(box) -> list[float]:
    """OpenLABEL ``bbox`` ``[cx, cy, w, h]`` of an OpenCV-convention (x1, y1, x2, y2) box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [(x1 + x2) / 2 + PIXEL_SHIFT, (y1 + y2) / 2 + PIXEL_SHIFT, x2 - x1, y2 - y1]


def box_from_bbox_val(val) -> tuple[float, float, float, float]:
    """The OpenCV-convention (x1, y1, x2, y2) box of an OpenLABEL ``bbox`` value."""
    cx, cy, w, h = (float(v) for v in val)
    return (
        cx - w / 2 - PIXEL_SHIFT,
        cy - h / 2 - PIXEL_SHIFT,
        cx + w / 2 - PIXEL_SHIFT,
        cy + h / 2 - PIXEL_SHIFT,
    )


def coco_bbox(box) -> list[float]:
    """COCO ``[left, top, width, height]`` of an OpenCV-convention (x1, y1, x2, y2) box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1 + PIXEL_SHIFT, y1 + PIXEL_SHIFT, x2 - x1, y2 - y1]
