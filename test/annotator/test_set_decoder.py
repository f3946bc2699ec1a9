"""A set's lazy images decoded side by side: every payload once, failures reported, helpers really used."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.nodes.lazy_sample import LazyPayload
from mmfusion_annotate.set_decoder import SetDecoder
from mmfusion_annotate.sim import Drive, SimConfig, load_scenario
from mmfusion_annotate.types import SensorSample

IMAGE = np.zeros((4, 6, 3), np.uint8)


def _lazy(name: str, decode) -> SensorSample:
    return SensorSample(name, 0, LazyPayload(decode))


def _broken():
    raise CodecError("not a jpeg", topic="/broken")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_payload_is_decoded_once_and_the_broken_ones_are_reported(threads):
    calls: list[str] = []

    def decode(name):
        calls.append(name)
        return {"image": IMAGE}

    samples = {f"cam{i}": _lazy(f"cam{i}", lambda i=i: decode(f"cam{i}")) for i in range(6)}
    samples["broken"] = _lazy("broken", _broken)
    samples["silent"] = None  # a camera left out of the set
    samples["lidar"] = SensorSample("lidar", 0, {"xyz": np.zeros((3, 3))})  # decoded already
    failed = SetDecoder(threads).decode(samples)
    assert list(failed) == ["broken"] and "not a jpeg" in str(failed["broken"])
    assert sorted(calls) == [f"cam{i}" for i in range(6)]


def test_helpers_decode_beside_the_calling_thread():
    together = threading.Barrier(2, timeout=5)  # passes only when two decodes run at the same time
    threads_seen = set()

    def decode():
        threads_seen.add(threading.current_thread().name)
        together.wait()
        return {"image": IMAGE}

    samples = {f"cam{i}": _lazy(f"cam{i}", decode) for i in range(2)}
    assert SetDecoder(2).decode(samples) == {}
    assert threading.current_thread().name in threads_seen and len(threads_seen) == 2
    with pytest.raises(threading.BrokenBarrierError):  # one thread: the two decodes never overlap
        SetDecoder(1).decode({f"cam{i}": _lazy(f"cam{i}", decode) for i in range(2)})


def test_prefetch_decodes_on_a_helper_and_without_one_does_nothing():
    decoded = threading.Event()
    callers = []

    def decode():
        callers.append(threading.current_thread().name)
        decoded.set()
        return {"image": IMAGE}

    SetDecoder(1).prefetch({"cam": _lazy("cam", decode), "silent": None})
    assert not decoded.wait(0.2)
    payload = LazyPayload(decode)
    SetDecoder(2).prefetch({"cam": SensorSample("cam", 0, payload), "broken": _lazy("broken", _broken)})
    assert decoded.wait(5) and callers == [callers[0]] and callers[0].startswith("mmfusion-decode")
    assert payload["image"] is IMAGE and callers == [callers[0]]  # decoded once, by the helper


def test_decode_threads_below_one_are_refused():
    with pytest.raises(ValueError, match="decode threads"):
        SetDecoder(0)


def test_an_undecodable_image_leaves_its_camera_out_of_the_frame_and_is_counted(rig):
    scenario = load_scenario("calm").model_copy(update={"duration_s": 0.6})
    sensors = ("lidar_top", "imu", "odometry", "cam_front", "cam_back")
    drive = Drive(rig, scenario, image_format="raw", config=SimConfig(sensors=sensors))
    samples = []
    for sample in drive.samples():
        if sample.sensor == "cam_back":
            sample = SensorSample(sample.sensor, sample.stamp, LazyPayload(_broken), sample.message)
        samples.append(sample)
    # no edge check looks at cam_back: only the set decode meets its images
    config = PipelineConfig(alignment_cameras=["cam_front"], background_checks=False)
    annotator = Annotator(rig, config)
    frames = [f for s in samples for f in annotator.feed(s).frames] + annotator.finish().frames
    assert frames and annotator.counters.failed_frames == 0
    lane = [spec.name for spec in annotator.inputs].index("cam_back")
    used = [f for f in frames if f.synced.slots[lane] is not None]
    assert used and annotator.counters.undecodable_samples == len(used)
    assert all("cam_back" not in f.header_stamps for f in frames)
    assert all("cam_front" in f.header_stamps for f in used)  # the rest of the set is fused
