"""The occasional checks on helper threads give exactly what they give inline, at the same points."""

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.deferred import HELPER_NICENESS, Deferred, helper_executor
from mmfusion_annotate.events import EventTagger, load_rules
from mmfusion_annotate.events.feed import SampleFeed
from mmfusion_annotate.msgs.topics import ANNOTATIONS_TYPE, annotations_topic
from mmfusion_annotate.outputs import OutputBuilder
from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.people import PersonDetection
from mmfusion_annotate.prelabel.prelabeler import Prelabeler
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


def _annotator(rig, background: bool, monkeypatch, threads: list[str]) -> Annotator:
    """The people detector finds one person in every image it is given (the simulated world has none
    HOG takes for one) and notes the thread it ran on."""

    def one_person(self, image):
        threads.append(threading.current_thread().name)
        return [PersonDetection((20.0, 30.0, 84.0, 158.0), 1.0, 0.9)]

    monkeypatch.setattr(Prelabeler, "detect_people", one_person)
    camera = PrelabelConfig().camera.model_copy(
        update={"detector_cameras": (CAMERA,), "detector_every": 2}
    )
    config = PipelineConfig(
        alignment_cameras=[CAMERA], alignment_every=2, background_checks=background,
        prelabel=PrelabelConfig().model_copy(update={"camera": camera}),
    )  # fmt: skip
    return Annotator(rig, config)


def _annotate(rig, samples, background: bool, monkeypatch):
    """Outputs per feed, and the threads the detector ran on."""
    threads: list[str] = []
    annotator = _annotator(rig, background, monkeypatch, threads)
    outputs = [annotator.feed(s) for s in samples] + [annotator.finish()]
    per_feed = [(o.people, [(f.labels.boxes2d, f.labels.review_items, f.people_camera) for f in o.frames],
                 o.events) for o in outputs]  # fmt: skip
    return per_feed, threads


@pytest.mark.slow
def test_the_annotator_with_background_checks_matches_inline_output_for_output(rig, samples, monkeypatch):
    inline, inline_threads = _annotate(rig, samples, False, monkeypatch)
    threaded, helper_threads = _annotate(rig, samples, True, monkeypatch)
    assert threaded == inline
    assert set(inline_threads) == {"MainThread"}
    assert helper_threads and all(t.startswith("mmfusion-people") for t in helper_threads)
    people = [p for found, _, _ in inline for p in found]
    assert len(people) == len(helper_threads)  # each run's person comes out once, after its frame
    assert all(len(p.boxes) == 1 and p.boxes[0].object_id == -1 and len(p.review_items) == 1 for p in people)
    frame_boxes = [b for _, frames, _ in inline for boxes, _, _ in frames for b in boxes]
    assert not [b for b in frame_boxes if b.object_id == -1]  # never inside a frame's own labels
    held = [f[2] for _, frames, _ in inline for f in frames if f[2] is not None]
    assert held == [CAMERA] * len(people)  # each detector frame says its camera's annotations wait
    assert "sync_drift" in [e.type for _, _, events in inline for e in events]


@pytest.mark.slow
def test_each_image_gets_one_annotation_message_its_people_included(rig, samples, monkeypatch):
    """The detector camera's annotations wait for its people (handed over a frame later) and then go
    out once, at the image's own stamp, with the cuboid boxes and the person; every other image at once."""
    annotator = _annotator(rig, True, monkeypatch, [])
    builder = OutputBuilder(rig, rig.base_frame)
    images, messages, people, reviews = set(), [], 0, []
    for out in [annotator.feed(s) for s in samples] + [annotator.finish()]:
        people += len(out.people)
        outputs = [o for found in out.people for o in builder.people(found)]
        reviews += [o for o in outputs if o.topic == "/prelabels/review"]
        for annotated in out.frames:
            topics = {c: annotations_topic(rig.sensor(c)) for c in annotated.frame.cameras}
            images |= {(topic, annotated.header_stamps[c]) for c, topic in topics.items()}
            outputs += builder.frame(annotated)
        messages += [(o.topic, o.stamp_ns, o.msg) for o in outputs if o.msgtype == ANNOTATIONS_TYPE]
    assert sorted((topic, stamp) for topic, stamp, _ in messages) == sorted(images)  # once each, none lost
    persons = [t for _, _, msg in messages for t in msg.texts if t.text.startswith("pedestrian (camera)")]
    assert people >= 2 and len(persons) == people  # each detector run's person drawn on its own image
    assert len(reviews) == people  # and its review item in the queue, at its frame's stamp
