"""CompressedImage codec: JPEG/PNG round trips, format-string variants, bad input."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CompressedImage

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.image import compressed_kind, decode_compressed, encode_compressed

YY, XX = np.mgrid[0:120, 0:160]
SMOOTH = np.dstack([XX * 1.5, YY * 2, 255 - XX]).astype(np.uint8)  # RGB, channels differ


def _message(fmt: str, encoded: np.ndarray) -> CompressedImage:
    msg = CompressedImage(format=fmt)
    msg.data = array.array("B", encoded.tobytes())
    return msg


def test_jpeg_round_trip_error_shrinks_with_quality():
    errors = {}
    for quality in (30, 90, 98):
        msg = encode_compressed(SMOOTH, "jpeg", quality, "cam", 3)
        assert msg.format == "rgb8; jpeg compressed bgr8" and msg.header.stamp.nanosec == 3
        back = decode_compressed(msg)
        assert back.shape == SMOOTH.shape and back.dtype == np.uint8
        errors[quality] = np.abs(back.astype(int) - SMOOTH).mean()
    assert errors[98] < errors[90] < errors[30]
    assert errors[90] < 2.0  # mean absolute error in grey levels, RGB order kept (a swap would cost ~100)


@pytest.mark.parametrize("fmt", ["jpeg", "JPEG", "jpg", "rgb8; jpeg compressed bgr8",
                                 "bgr8; jpeg compressed bgr8"])
def test_jpeg_format_variants_decode_to_rgb(fmt):
    bgr = cv2.cvtColor(SMOOTH, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    back = decode_compressed(_message(fmt, encoded))
    assert np.abs(back.astype(int) - SMOOTH).mean() < 2.0


@pytest.mark.parametrize("fmt", ["png", "rgb8; png compressed bgr8"])
def test_png_is_lossless(fmt):
    noisy = np.random.default_rng(3).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    msg = encode_compressed(noisy, "png")
    np.testing.assert_array_equal(decode_compressed(_message(fmt, np.frombuffer(msg.data, np.uint8))), noisy)


def test_mono_images_stay_single_channel():
    mono8 = SMOOTH[..., 0].copy()
    msg = encode_compressed(mono8, "png")
    assert msg.format == "mono8; png compressed mono8"
    np.testing.assert_array_equal(decode_compressed(msg), mono8)
    mono16 = (YY * 500 + XX).astype(np.uint16)
    msg = encode_compressed(mono16, "png")
    assert msg.format == "mono16; png compressed mono16"
    out = decode_compressed(msg)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, mono16)


@pytest.mark.parametrize("fmt", ["h264", "tiff", "16UC1; compressedDepth png", "jpeg png", ""])
def test_unsupported_formats_are_codec_errors(fmt):
    with pytest.raises(CodecError, match=r"/cam/compressed: unsupported CompressedImage format"):
        compressed_kind(fmt, topic="/cam/compressed")


def test_undecodable_data_and_bad_arrays_are_codec_errors():
    with pytest.raises(CodecError, match="data \\(4 bytes\\) is not a decodable jpeg image"):
        decode_compressed(_message("jpeg", np.array([1, 2, 3, 4], np.uint8)))
    with pytest.raises(CodecError, match="cannot jpeg-compress an array of shape \\(4, 4\\) uint16"):
        encode_compressed(np.zeros((4, 4), np.uint16), "jpeg")
    with pytest.raises(CodecError, match="compressed format must be jpeg or png, not 'webp'"):
        encode_compressed(SMOOTH, "webp")


def test_a_truncated_jpeg_is_a_codec_error_not_a_half_grey_image():
    msg = encode_compressed(SMOOTH, "jpeg", 90)
    cut = _message(msg.format, np.frombuffer(msg.data, np.uint8)[: len(msg.data) // 2])
    with pytest.raises(CodecError, match="/cam: data .* is not a decodable jpeg image"):
        decode_compressed(cut, topic="/cam")


def test_the_fast_jpeg_decode_adds_little_to_the_jpeg_loss():
    rng = np.random.default_rng(5)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8), (0, 0), 2)
    scene = cv2.resize(scene, (1600, 900), interpolation=cv2.INTER_CUBIC)  # camera-sized, with edges
    msg = encode_compressed(scene, "jpeg", 90)
    exact = cv2.cvtColor(cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    fast = decode_compressed(msg)
    assert fast.shape == exact.shape and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - exact).mean() < 1.5  # grey levels, mostly at colour edges
    loss_exact, loss_fast = (np.abs(d.astype(int) - scene).mean() for d in (exact, fast))
    assert loss_fast < loss_exact + 0.75  # against the original: the same order as the JPEG loss itself


def test_a_mono_jpeg_decodes_to_one_channel():
    msg = encode_compressed(SMOOTH[..., 1].copy(), "jpeg", 95)
    assert msg.format == "mono8; jpeg compressed mono8"
    out = decode_compressed(msg)
    assert out.shape == SMOOTH.shape[:2] and np.abs(out.astype(int) - SMOOTH[..., 1]).mean() < 2.0


def test_rosbags_decoded_compressed_image():
    typestore = get_typestore(Stores.ROS2_JAZZY)
    raw = serialize_message(encode_compressed(SMOOTH, "png"))
    other = typestore.deserialize_cdr(raw, "sensor_msgs/msg/CompressedImage")
    np.testing.assert_array_equal(decode_compressed(other), SMOOTH)
