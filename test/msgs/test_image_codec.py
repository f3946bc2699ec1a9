"""Raw Image codec: every encoding, step padding, byte order, Bayer patterns and bad input."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.image import ENCODINGS, decode_image, encode_image, mosaic

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (6, 10, 3), dtype=np.uint8)
SAMPLES = {
    "rgb8": RGB, "bgr8": RGB, "rgba8": RGB, "bgra8": RGB,
    "mono8": RNG.integers(0, 256, (6, 10), dtype=np.uint8),
    "mono16": RNG.integers(0, 65536, (6, 10), dtype=np.uint16),
    "16UC1": RNG.integers(0, 65536, (6, 10), dtype=np.uint16),
    "32FC1": RNG.normal(size=(6, 10)).astype(np.float32),
}


def _raw_image(encoding: str, rows: list[bytes], width: int, pad: int, bigendian: bool = False) -> Image:
    """Image with the given row bytes, each followed by ``pad`` bytes of 0xAB."""
    msg = Image(height=len(rows), width=width, encoding=encoding, is_bigendian=bigendian,
                step=len(rows[0]) + pad)
    msg.data = array.array("B", b"".join(row + b"\xab" * pad for row in rows))
    return msg


@pytest.mark.parametrize("encoding", list(SAMPLES))
def test_round_trip_every_plain_encoding_through_cdr(encoding):
    msg = encode_image(SAMPLES[encoding], encoding, "cam", 9)
    msg = deserialize_message(serialize_message(msg), Image)
    assert (msg.encoding, msg.height, msg.width, msg.header.frame_id) == (encoding, 6, 10, "cam")
    np.testing.assert_array_equal(decode_image(msg), SAMPLES[encoding])


def test_wire_channel_order_is_what_the_encoding_says():
    pixel = np.array([[[10, 20, 30]]], np.uint8)
    assert bytes(encode_image(pixel, "bgr8").data) == bytes([30, 20, 10])
    assert bytes(encode_image(pixel, "bgra8").data) == bytes([30, 20, 10, 255])
    assert bytes(encode_image(pixel, "rgba8").data) == bytes([10, 20, 30, 255])
    rgba = np.array([[[10, 20, 30, 40]]], np.uint8)
    assert bytes(encode_image(rgba, "bgra8").data) == bytes([30, 20, 10, 40])
    np.testing.assert_array_equal(decode_image(encode_image(rgba, "bgra8"), keep_alpha=True), rgba)
    np.testing.assert_array_equal(decode_image(encode_image(rgba, "rgba8")), rgba[..., :3])


@pytest.mark.parametrize("encoding", list(SAMPLES))
def test_step_padding_is_skipped(encoding):
    opaque = np.full((6, 10), 255, np.uint8)
    wire = {"bgr8": RGB[..., ::-1], "rgba8": np.dstack([RGB, opaque]),
            "bgra8": np.dstack([RGB[..., ::-1], opaque])}.get(encoding, SAMPLES[encoding])
    msg = _raw_image(encoding, [np.ascontiguousarray(row).tobytes() for row in wire], 10, pad=6)
    np.testing.assert_array_equal(decode_image(msg), SAMPLES[encoding])


def test_padded_rgb8_decodes_as_a_view():
    msg = _raw_image("rgb8", [row.tobytes() for row in RGB], 10, pad=2)
    assert np.shares_memory(decode_image(msg), np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("encoding", ["mono16", "16UC1", "32FC1"])
def test_big_endian_data_decodes_to_native_values(encoding):
    big = SAMPLES[encoding].astype(SAMPLES[encoding].dtype.newbyteorder(">"))
    msg = _raw_image(encoding, [row.tobytes() for row in big], 10, pad=4, bigendian=True)
    out = decode_image(msg)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, SAMPLES[encoding])


BAYER_CODES = {"rggb": cv2.COLOR_BayerBG2RGB, "bggr": cv2.COLOR_BayerRG2RGB,
               "gbrg": cv2.COLOR_BayerGR2RGB, "grbg": cv2.COLOR_BayerGB2RGB}


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_patterns_recover_a_uniform_colour(pattern):
    colour = np.array([200, 100, 50], np.uint8)
    raw = np.empty((8, 12), np.uint8)  # mosaic written by hand from the pattern letters
    for (dy, dx), letter in zip([(0, 0), (0, 1), (1, 0), (1, 1)], pattern, strict=True):
        raw[dy::2, dx::2] = colour["rgb".index(letter)]
    np.testing.assert_array_equal(mosaic(np.broadcast_to(colour, (8, 12, 3)), pattern), raw)
    msg = encode_image(raw, f"bayer_{pattern}8")
    rgb = decode_image(msg)
    assert rgb.shape == (8, 12, 3)
    np.testing.assert_array_equal(rgb[2:-2, 2:-2], np.broadcast_to(colour, (4, 8, 3)))
    smooth = cv2.GaussianBlur(RNG.integers(0, 256, (8, 12), dtype=np.uint8), (3, 3), 0)
    np.testing.assert_array_equal(decode_image(encode_image(smooth, f"bayer_{pattern}8")),
                                  cv2.cvtColor(smooth, BAYER_CODES[pattern]))


def test_bayer_round_trip_of_a_smooth_image_is_close():
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.dstack([xx * 3, yy * 4, 255 - xx * 2]).astype(np.uint8)
    back = decode_image(encode_image(rgb, "bayer_grbg8"))
    assert np.abs(back[2:-2, 2:-2].astype(int) - rgb[2:-2, 2:-2]).max() <= 4


@pytest.mark.parametrize(("change", "reason"), [
    ("encoding", "unknown image encoding 'yuv422' (supported: rgb8, bgr8"),
    ("short", "data length 179 != height x step = 6 x 30"),
    ("step", "step 29 < width x bytes per pixel = 10 x 3"),
])
def test_malformed_images_are_codec_errors(change, reason):
    msg = encode_image(RGB, "rgb8")
    if change == "encoding":
        msg.encoding = "yuv422"
    elif change == "short":
        msg.data = msg.data[:-1]
    else:
        msg.step = 29
    with pytest.raises(CodecError, match=r"^/cam/image_raw: ") as info:
        decode_image(msg, topic="/cam/image_raw")
    assert reason in str(info.value)


@pytest.mark.parametrize(("image", "encoding", "reason"), [
    (RGB, "mono8", "encoding 'mono8' needs an (H, W) uint8 array, got (6, 10, 3) uint8"),
    (SAMPLES["mono8"], "mono16", "needs an (H, W) uint16 array"),
    (RGB.astype(np.float32), "rgb8", "needs an (H, W, 3) RGB uint8 array"),
    (np.dstack([RGB, RGB[..., :1]]), "bgr8", "needs an (H, W, 3) RGB uint8 array"),
    (SAMPLES["mono16"], "bayer_rggb8", "needs an (H, W, 3) RGB or (H, W) mosaic uint8 array"),
    (RGB, "nv12", "unknown image encoding 'nv12'"),
])
def test_encode_refuses_arrays_that_do_not_fit_the_encoding(image, encoding, reason):
    with pytest.raises(CodecError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        encode_image(image, encoding)


def test_every_listed_encoding_is_covered():
    bayer = {e for e in ENCODINGS if e.startswith("bayer_")}
    assert set(ENCODINGS) == set(SAMPLES) | bayer and len(bayer) == 4
