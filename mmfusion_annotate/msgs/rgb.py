"""Packed colour of PCL/RViz point clouds: 0x00RRGGBB stored in the bits of a float32 ``rgb`` field.

PCL's ``PointXYZRGB`` and RViz's RGB8 colour transformer read colour that way, so a coloured cloud
must be written with exactly that bit pattern (a float *value* of the colour would be wrong).
"""

from __future__ import annotations

import numpy as np

from mmfusion_annotate.errors import CodecError


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) float32 whose bits are 0x00RRGGBB."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1:] != (3,):
        raise CodecError(f"pack_rgb needs (..., 3) uint8 colours, got {rgb.shape} {rgb.dtype}")
    # the little-endian bytes of 0x00RRGGBB are B, G, R, 0: one strided copy, no shifts of uint32 copies
    packed = np.zeros(rgb.shape[:-1] + (4,), np.uint8)
    packed[..., :3] = rgb[..., ::-1]
    return packed.view("<u4")[..., 0].astype(np.uint32, copy=False).view(np.float32)


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """float32 (or uint32 ``rgba``) packed colours -> (..., 3) uint8 RGB."""
    packed = np.asarray(packed)
    if packed.dtype.itemsize != 4 or packed.dtype.kind not in "fu":
        raise CodecError(f"packed colours must be float32 or uint32, got {packed.dtype}")
    bits = packed.view(np.dtype(np.uint32).newbyteorder(packed.dtype.byteorder)).astype(np.uint32)
    return np.stack([(bits >> 16) & 0xFF, (bits >> 8) & 0xFF, bits & 0xFF], axis=-1).astype(np.uint8)
