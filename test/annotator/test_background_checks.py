"""The checks on helper threads give exactly what they give inline, at the same points: the edge checks
handed over later in the stream, the camera detector within its own frame."""

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.deferred import HELPER_NICENESS, Deferred, helper_executor
from mmfusion_annotate.events import EventTagger, load_rules
from mmfusion_annotate.events.feed import SampleFeed
from mmfusion_annotate.outputs.builder import OutputBuilder
from mmfusion_annotate.outputs.topics import ANNOTATIONS_TYPE, annotations_topic
from mmfusion_annotate.prelabel.camera_detector import CameraDetector
from mmfusion_annotate.prelabel.config import DetectorConfig, PrelabelConfig
from mmfusion_annotate.prelabel.detectors import RawDetections
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.prelabel.review import CAMERA_WITHOUT_LIDAR
from mmfusion_annotate.sim import Drive, SimConfig, load_scenario

CAMERA = "cam_front"
OFFSET = [{"type": "clock_offset", "sensor": CAMERA, "offset_ms": 40.0}]  # so the edge checks raise an event


@pytest.fixture(scope="module")
def samples(rig):
    scenario = load_scenario("calm").model_copy(update={"duration_s": 3.0})
    drive = Drive(rig, scenario, faults=OFFSET, image_format="raw",
                  config=SimConfig(sensors=("lidar_top", "imu", "odometry", CAMERA)))
    return list(drive.samples())


@pytest.mark.parametrize("threaded", [False, True])
def test_deferred_results_come_out_oldest_first_once_depth_jobs_are_in_flight(threaded):
    with ThreadPoolExecutor(1) as pool:
        slot = Deferred(pool if threaded else None, depth=2)
        assert slot.take_all() == []
        assert slot.start(lambda: 1) == [] and slot.start(lambda: 2) == []
        assert slot.pending == 2
        assert slot.start(lambda: 3) == [1]  # room for the third: the oldest is handed over
        assert slot.take_all() == [2, 3] and slot.pending == 0
        slot.start(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):  # raised where taken, threaded or not
            slot.take_all()
    with pytest.raises(ValueError, match="depth"):
        Deferred(None, depth=0)


def test_deferred_jobs_on_one_thread_run_in_start_order():
    order = []
    with ThreadPoolExecutor(1) as pool:
        slot = Deferred(pool, depth=8)
        for k in range(8):
            slot.start(lambda k=k: order.append(k) or k)
        assert slot.take_all() == list(range(8))
    assert order == list(range(8))


def _tagger_outputs(rig, samples, executor):
    """Every update's returned events, in order, for the edge checks fed by the annotator's SampleFeed."""
    rules = load_rules()
    feed = SampleFeed(rig, rules, alignment_cameras=(CAMERA,), alignment_every=2)
    tagger = EventTagger.for_rig(rig, rules, executor)
    outputs = [tagger.update(obs) for s in samples for obs in feed.feed(s)]
    return outputs + [tagger.finish()]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is a Linux property")
def test_helper_threads_run_below_their_caller():
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    caller = niceness()
    with helper_executor("test-helper") as pool:
        name, nice = pool.submit(lambda: (threading.current_thread().name, niceness())).result()
    assert name.startswith("test-helper")
    assert nice == min(caller + HELPER_NICENESS, 19)
    assert niceness() == caller  # the caller is untouched


def test_threaded_edge_checks_return_the_same_events_at_the_same_updates(rig, samples):
    inline = _tagger_outputs(rig, samples, None)
    with ThreadPoolExecutor(1) as pool:
        threaded = _tagger_outputs(rig, samples, pool)
    assert threaded == inline
    assert "sync_drift" in [e.type for events in inline for e in events]  # the checks did run


class _OnePerson:
    """A stand-in detector model: one person in every image it is given (the simulated world holds nothing
    a COCO model takes for one), noting the thread it ran on."""

    name = "one-person"
    input_size = (416, 416)

    def __init__(self, threads: list[str]) -> None:
        self.threads = threads

    def infer(self, crops, min_score):
        self.threads.append(threading.current_thread().name)
        boxes = np.array([[20.0, 30.0, 84.0, 158.0]], np.float32)
        return [RawDetections(boxes, np.array([0]), np.array([0.9], np.float32)) for _ in crops]

    def input_scale(self, width, height):
        return height / 416


def _annotator(rig, background: bool, monkeypatch, threads: list[str]) -> Annotator:
    """An annotator whose camera detector looks at the front camera every second frame."""
    detector_cfg = DetectorConfig(model="one-person", cameras=(CAMERA,), every=2)
    detector = CameraDetector(_OnePerson(threads), detector_cfg, "one-person")
    monkeypatch.setattr("mmfusion_annotate.annotator.load_camera_detector", lambda cfg: detector)
    config = PipelineConfig(
        alignment_cameras=[CAMERA], alignment_every=2, background_checks=background,
        prelabel=PrelabelConfig.model_validate({"camera": {"detector": detector_cfg.model_dump()}}),
    )  # fmt: skip
    return Annotator(rig, config)


def _annotate(rig, samples, background: bool, monkeypatch):
    """Outputs per feed, and the threads the detector ran on."""
    threads: list[str] = []
    annotator = _annotator(rig, background, monkeypatch, threads)
    outputs = [annotator.feed(s) for s in samples] + [annotator.finish()]
    per_feed = [([(f.labels.boxes2d, f.labels.review_items) for f in o.frames], o.events) for o in outputs]
    return per_feed, threads


@pytest.mark.slow
def test_the_annotator_with_background_checks_matches_inline_output_for_output(rig, samples, monkeypatch):
    inline, inline_threads = _annotate(rig, samples, False, monkeypatch)
    threaded, helper_threads = _annotate(rig, samples, True, monkeypatch)
    assert threaded == inline
    assert set(inline_threads) == {"MainThread"}
    assert helper_threads and all(t.startswith("mmfusion-detector") for t in helper_threads)
    frames = [f for frames, _ in inline for f in frames]
    people = [b for boxes, _ in frames for b in boxes if b.object_id == -1]
    assert len(people) == len(helper_threads)  # each run's person, in the labels of its own frame
    assert all(p.camera == CAMERA and p.label is ObjectClass.PEDESTRIAN for p in people)
    items = [i for _, items in frames for i in items if i.reason == CAMERA_WITHOUT_LIDAR]
    assert len(items) == len(people)
    assert "sync_drift" in [e.type for _, events in inline for e in events]


@pytest.mark.slow
def test_each_image_gets_one_annotation_message_with_its_camera_only_people(rig, samples, monkeypatch):
    """The detector's person goes out with its frame's annotations, once per image and stamp."""
    threads: list[str] = []
    annotator = _annotator(rig, True, monkeypatch, threads)
    builder = OutputBuilder(rig, rig.base_frame)
    images, messages = set(), []
    for out in [annotator.feed(s) for s in samples] + [annotator.finish()]:
        for annotated in out.frames:
            topics = {c: annotations_topic(rig.sensor(c)) for c in annotated.frame.cameras}
            images |= {(topic, annotated.header_stamps[c]) for c, topic in topics.items()}
            outputs = builder.frame(annotated)
            messages += [(o.topic, o.stamp_ns, o.msg) for o in outputs if o.msgtype == ANNOTATIONS_TYPE]
    assert sorted((topic, stamp) for topic, stamp, _ in messages) == sorted(images)  # once each, none lost
    persons = [t for _, _, msg in messages for t in msg.texts if t.text.startswith("pedestrian (camera)")]
    assert len(threads) >= 2 and len(persons) == len(threads)  # each detector run's person on its own image
