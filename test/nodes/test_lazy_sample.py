"""Lazily decoded camera samples and the prefetcher that decodes them ahead of the pipeline."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.image import encode_compressed
from mmfusion_annotate.nodes.lazy_sample import LazyPayload, Prefetcher, lazy_camera_sample
from mmfusion_annotate.rig import default_rig_path, load_rig

YY, XX = np.mgrid[0:90, 0:160]
IMAGE = np.dstack([XX, YY, XX + YY]).astype(np.uint8)


@pytest.fixture(scope="module")
def camera():
    return load_rig(default_rig_path()).sensor("cam_front")


def _jpeg(stamp_ns: int = 5):
    return encode_compressed(IMAGE, "jpeg", 95, "cam_front_optical", stamp_ns)


def _counting(decode):
    calls = []

    def counted():
        calls.append(threading.current_thread().name)
        return decode()

    return counted, calls


def _wait(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_camera_sample_decodes_on_first_access_only(camera):
    sample = lazy_camera_sample(camera, _jpeg(stamp_ns=123))
    assert sample.stamp == 123 and not sample.payload.loaded
    image = sample.payload["image"]
    assert image.shape == (90, 160, 3) and sample.payload.loaded
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


def test_the_prefetcher_decodes_on_its_own_thread_and_the_pipeline_finds_it_ready():
    decode, calls = _counting(lambda: {"image": IMAGE})
    payload = LazyPayload(decode)
    prefetch = Prefetcher("test-decode", max_pending=2)
    try:
        assert prefetch.offer(payload)
        _wait(lambda: payload.loaded)
        assert payload["image"] is IMAGE and calls == ["test-decode_0"]  # decoded once, by the helper
    finally:
        prefetch.close()


def test_the_prefetcher_turns_offers_down_beyond_max_pending_and_leaves_them_lazy():
    gate = threading.Event()
    blocked = LazyPayload(lambda: gate.wait(5) and {"image": IMAGE})
    queued = LazyPayload(lambda: {"image": IMAGE})
    decode, calls = _counting(lambda: {"image": IMAGE})
    extra = LazyPayload(decode)
    prefetch = Prefetcher("test-decode", max_pending=2)
    try:
        assert prefetch.offer(blocked) and prefetch.offer(queued)
        assert not prefetch.offer(extra)
        assert (prefetch.offered, prefetch.skipped) == (3, 1)
        gate.set()
        _wait(lambda: queued.loaded)
        assert not extra.loaded and calls == []
        assert extra["image"] is IMAGE and calls == [threading.current_thread().name]  # decoded on access
        assert prefetch.offer(LazyPayload(lambda: {"image": IMAGE}))  # room again once the queue drained
    finally:
        prefetch.close()


def test_a_broken_image_is_left_for_the_pipeline_to_count(camera):
    msg = _jpeg()
    msg.data = msg.data[:40]
    sample = lazy_camera_sample(camera, msg)
    prefetch = Prefetcher("test-decode", max_pending=1)
    try:
        assert prefetch.offer(sample.payload)
        _wait(lambda: prefetch.offer(LazyPayload(dict)))  # the broken decode is done: the slot is free
        with pytest.raises(CodecError):
            sample.payload["image"]
    finally:
        prefetch.close()


def test_after_close_offers_are_turned_down_and_payloads_stay_lazy():
    prefetch = Prefetcher("test-decode", max_pending=4)
    prefetch.close()
    payload = LazyPayload(lambda: {"image": IMAGE})
    assert not prefetch.offer(payload) and not payload.loaded


def test_max_pending_must_be_positive():
    with pytest.raises(ValueError, match="max_pending"):
        Prefetcher("test-decode", max_pending=0)
