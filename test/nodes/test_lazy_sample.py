"""Lazily decoded camera samples: decoded once, on first access; broken ones fail at intake or on access."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.image import encode_compressed
from mmfusion_annotate.nodes.lazy_sample import LazyPayload, lazy_camera_sample
from mmfusion_annotate.rig import default_rig_path, load_rig

YY, XX = np.mgrid[0:900, 0:1600]  # cam_front's size: decode_sample refuses another one
IMAGE = np.dstack([XX // 8, YY // 8, (XX + YY) // 16]).astype(np.uint8)


@pytest.fixture(scope="module")
def camera():
    return load_rig(default_rig_path()).sensor("cam_front")


def _jpeg(stamp_ns: int = 5):
    return encode_compressed(IMAGE, "jpeg", 95, "cam_front_optical", stamp_ns)


def test_a_payload_decodes_once_whichever_thread_asks_first():
    gate = threading.Event()
    calls = []

    def decode():
        calls.append(threading.current_thread().name)
        gate.wait(5)
        return {"image": IMAGE}

    payload = LazyPayload(decode)
    seen = []
    readers = [threading.Thread(target=lambda: seen.append(payload["image"])) for _ in range(3)]
    for reader in readers:
        reader.start()
    time.sleep(0.05)  # all three are asking while the first decode runs
    gate.set()
    for reader in readers:
        reader.join(5)
    assert len(calls) == 1 and len(seen) == 3 and all(image is IMAGE for image in seen)


def test_a_camera_sample_carries_its_stamp_and_decodes_on_access(camera):
    sample = lazy_camera_sample(camera, _jpeg(stamp_ns=123))
    assert sample.stamp == 123 and sample.sensor == "cam_front"
    image = sample.payload["image"]
    assert image.shape == (900, 1600, 3) and np.abs(image.astype(int) - IMAGE).mean() < 3
    assert sample.payload["image"] is image


def test_a_plainly_wrong_message_fails_at_intake_and_a_corrupt_body_on_access(camera):
    msg = _jpeg()
    msg.format = "tiff"
    with pytest.raises(CodecError):
        lazy_camera_sample(camera, msg)
    msg = _jpeg()
    msg.data = msg.data[:40]
    sample = lazy_camera_sample(camera, msg)
    for _ in range(2):  # a failure raises on every access, it is never cached as an image
        with pytest.raises(CodecError):
            sample.payload["image"]
