"""``sensor_msgs/Image`` and ``CompressedImage`` <-> numpy arrays, with OpenCV but without cv_bridge.

Colour images come out as RGB uint8 (H, W, 3) whatever the wire order, so the core never has to
track BGR; single-channel encodings come out as (H, W) in their own type. Raw decoding is a view of
the message buffer (row padding included) unless a conversion is needed (BGR order, alpha, Bayer,
big-endian 16-bit/float data).
"""

from __future__ import annotations

import array
import sys
from typing import Any, Literal

import cv2
import numpy as np
import simplejpeg

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.time import make_header
from mmfusion_annotate.types import Stamp

_LAYOUTS: dict[str, tuple[int, str]] = {
    "rgb8": (3, "u1"), "bgr8": (3, "u1"), "rgba8": (4, "u1"), "bgra8": (4, "u1"),
    "mono8": (1, "u1"), "mono16": (1, "u2"), "16UC1": (1, "u2"), "32FC1": (1, "f4"),
    "bayer_rggb8": (1, "u1"), "bayer_bggr8": (1, "u1"), "bayer_gbrg8": (1, "u1"), "bayer_grbg8": (1, "u1"),
}
"""encoding -> (channels, numpy type of one channel)."""
ENCODINGS = tuple(_LAYOUTS)

_DEBAYER = {  # OpenCV names a pattern by its second row; these are the codes cv_bridge uses
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB, "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB, "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
}
_TO_RGB = {"bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB}
_TO_RGBA = {"bgra8": cv2.COLOR_BGRA2RGBA}
_FROM_RGB = {"bgr8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGB2RGBA, "bgra8": cv2.COLOR_RGB2BGRA}
_FROM_RGBA = {"bgra8": cv2.COLOR_RGBA2BGRA}
_COMPRESSED_KINDS: dict[str, Literal["jpeg", "png"]] = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png"}
_EXTENSIONS = {"jpeg": ".jpg", "png": ".png"}
_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", cv2.IMREAD_COLOR)
"""OpenCV >= 4.10 decodes straight to RGB: the same pixels without a separate BGR->RGB pass."""


def _layout(encoding: str, topic: str | None) -> tuple[int, np.dtype]:
    if encoding not in _LAYOUTS:
        raise CodecError(f"unknown image encoding '{encoding}' (supported: {', '.join(ENCODINGS)})",
                         topic=topic)
    channels, code = _LAYOUTS[encoding]
    return channels, np.dtype(code)


def pixel_type(encoding: str, *, topic: str | None = None) -> np.dtype:
    """The numpy type of one channel of a raw image ``encoding`` (``CodecError`` for an unknown one)."""
    return _layout(encoding, topic)[1]


def view_image(msg: Any, *, topic: str | None = None) -> np.ndarray:
    """The pixels as stored, (H, W) or (H, W, C) in wire channel order; a view unless big-endian."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    channels, dtype = _layout(str(msg.encoding), topic)
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise CodecError(f"step {step} < width x bytes per pixel = {width} x {channels * dtype.itemsize}",
                         topic=topic)
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size != height * step:
        raise CodecError(f"data length {buf.size} != height x step = {height} x {step}", topic=topic)
    wire = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    shape = (height, width, channels) if channels > 1 else (height, width)
    strides = (step, channels * dtype.itemsize, dtype.itemsize)[:len(shape)]
    pixels = np.ndarray(shape, dtype=wire, buffer=buf, strides=strides)
    return pixels if wire.isnative else pixels.astype(dtype)


def decode_image(msg: Any, *, keep_alpha: bool = False, topic: str | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) for colour and Bayer encodings (RGBA with ``keep_alpha``), else (H, W)."""
    encoding = str(msg.encoding)
    pixels = view_image(msg, topic=topic)
    if encoding in _DEBAYER:
        return cv2.cvtColor(pixels, _DEBAYER[encoding])
    if keep_alpha and encoding in ("rgba8", "bgra8"):
        return cv2.cvtColor(pixels, _TO_RGBA[encoding]) if encoding in _TO_RGBA else pixels
    if encoding in _TO_RGB:
        return cv2.cvtColor(pixels, _TO_RGB[encoding])
    return pixels


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Bayer mosaic (H, W) uint8 of an RGB image; ``pattern`` is the 2x2 tile read row-wise, e.g. 'rggb'."""
    out = np.empty(rgb.shape[:2], np.uint8)
    for (dy, dx), colour in zip(((0, 0), (0, 1), (1, 0), (1, 1)), pattern, strict=True):
        out[dy::2, dx::2] = rgb[dy::2, dx::2, "rgb".index(colour)]
    return out


def _wire_pixels(image: np.ndarray, encoding: str, topic: str | None) -> np.ndarray:
    """Pixels in the wire layout of ``encoding`` from the decoder's conventions (RGB/RGBA or (H, W))."""
    channels, dtype = _layout(encoding, topic)
    if encoding in _DEBAYER:
        if image.dtype == np.uint8 and image.ndim == 2:
            return image
        if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            return mosaic(image, encoding[len("bayer_"):-1])
        need = "an (H, W, 3) RGB or (H, W) mosaic uint8"
    elif channels == 1:
        if image.dtype == dtype and image.ndim == 2:
            return image
        need = f"an (H, W) {dtype}"
    else:
        colours = image.shape[2] if image.ndim == 3 else 0
        if image.dtype == np.uint8 and (colours == 3 or (colours == 4 and channels == 4)):
            conversion = (_FROM_RGBA if colours == 4 else _FROM_RGB).get(encoding)
            return image if conversion is None else cv2.cvtColor(image, conversion)
        need = "an (H, W, 3) RGB uint8" if channels == 3 else "an (H, W, 3 or 4) RGB(A) uint8"
    raise CodecError(f"encoding '{encoding}' needs {need} array, got {image.shape} {image.dtype}",
                     topic=topic)


def encode_image(image: np.ndarray, encoding: str, frame_id: str = "", stamp_ns: Stamp = 0, *,
                 topic: str | None = None) -> Any:
    """``sensor_msgs.msg.Image`` from an array in the decoder's conventions (RGB in, any wire order out)."""
    from sensor_msgs.msg import Image

    pixels = np.ascontiguousarray(_wire_pixels(np.asarray(image), encoding, topic))
    height, width = pixels.shape[:2]
    data = array.array("B")
    data.frombytes(pixels.reshape(-1).view(np.uint8).data)
    msg = Image(header=make_header(frame_id, stamp_ns), height=height, width=width, encoding=encoding,
                is_bigendian=sys.byteorder == "big" and pixels.dtype.itemsize > 1,
                step=pixels.nbytes // max(height, 1))
    msg.data = data
    return msg


def compressed_kind(fmt: str, *, topic: str | None = None) -> Literal["jpeg", "png"]:
    """'jpeg' or 'png' from a CompressedImage ``format`` ("jpeg", "png", "rgb8; jpeg compressed bgr8"...)."""
    words = fmt.lower().replace(";", " ").split()
    kinds = {_COMPRESSED_KINDS[w] for w in words if w in _COMPRESSED_KINDS}
    if "compresseddepth" in words or len(kinds) != 1:
        raise CodecError(f"unsupported CompressedImage format '{fmt}' (jpeg or png expected)", topic=topic)
    return kinds.pop()


def decode_jpeg(data: Any, *, mono: bool = False) -> np.ndarray:
    """RGB (H, W, 3) or mono (H, W) uint8 pixels of a JPEG; ``ValueError`` if it is corrupt or truncated.

    libjpeg-turbo through simplejpeg with its fast integer IDCT and plain chroma upsampling: faster than
    OpenCV's exact IDCT and fancy upsampling, and decoding is the largest single cost of a live frame
    (six images; figures in bench/RESULTS.md, docstring figures). Pixels differ from the exact decode
    by about 1 level on average (a few dozen at sharp colour edges), which point colours, 2D-box
    evidence, the people detector and the edge checks do not depend on; the recorded JPEG itself is
    never re-encoded.
    """
    pixels = simplejpeg.decode_jpeg(np.frombuffer(data, dtype=np.uint8), colorspace="GRAY" if mono else "RGB",
                                    fastdct=True, fastupsample=True)
    return pixels[..., 0] if mono else pixels


def decode_compressed(msg: Any, *, topic: str | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a JPEG/PNG CompressedImage; (H, W) when the format names a mono encoding."""
    fmt = str(msg.format)
    kind = compressed_kind(fmt, topic=topic)
    encoding = fmt.split(";")[0].strip()
    mono = encoding in ("mono8", "mono16", "16UC1")
    if kind == "jpeg" and encoding != "mono16":  # 16-bit JPEG is not a thing libjpeg-turbo reads
        try:
            return decode_jpeg(msg.data, mono=mono)
        except ValueError as exc:
            raise CodecError(f"data ({len(msg.data)} bytes) is not a decodable jpeg image ({exc})",
                             topic=topic) from None
    pixels = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8),
                          cv2.IMREAD_UNCHANGED if mono else _IMREAD_RGB)
    if pixels is None:
        raise CodecError(f"data ({len(msg.data)} bytes) is not a decodable {kind} image", topic=topic)
    if mono or _IMREAD_RGB != cv2.IMREAD_COLOR:
        return pixels
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def encode_compressed(image: np.ndarray, fmt: Literal["jpeg", "png"] = "jpeg", quality: int = 90,
                      frame_id: str = "", stamp_ns: Stamp = 0, *, topic: str | None = None) -> Any:
    """``sensor_msgs.msg.CompressedImage`` of an RGB (H, W, 3) or mono (H, W) image.

    ``format`` follows image_transport ("rgb8; jpeg compressed bgr8"), which Foxglove and RViz read too.
    ``quality`` is the JPEG quality (0-100); PNG ignores it.
    """
    from sensor_msgs.msg import CompressedImage

    image = np.asarray(image)
    if fmt not in ("jpeg", "png"):
        raise CodecError(f"compressed format must be jpeg or png, not '{fmt}'", topic=topic)
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        pixels, source, target = cv2.cvtColor(image, cv2.COLOR_RGB2BGR), "rgb8", "bgr8"
    elif image.ndim == 2 and (image.dtype == np.uint8 or (image.dtype == np.uint16 and fmt == "png")):
        pixels = image
        source = target = "mono8" if image.dtype == np.uint8 else "mono16"
    else:
        raise CodecError(f"cannot {fmt}-compress an array of shape {image.shape} {image.dtype} "
                         "(RGB uint8, mono8, or mono16 for png)", topic=topic)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == "jpeg" else []
    ok, encoded = cv2.imencode(_EXTENSIONS[fmt], pixels, params)
    if not ok:
        raise CodecError(f"OpenCV could not {fmt}-encode a {image.shape} image", topic=topic)
    data = array.array("B")
    data.frombytes(encoded.reshape(-1).data)
    msg = CompressedImage(header=make_header(frame_id, stamp_ns),
                          format=f"{source}; {fmt} compressed {target}")
    msg.data = data
    return msg
