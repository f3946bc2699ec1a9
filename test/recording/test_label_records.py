"""The per-file pre-label records (``mmfusion_review_items``, ``mmfusion_prelabel_counts``): written as
the frames are recorded (BagWriter, the live recorder node's ``record_outputs``), each split file holding
the tally of its own messages, and rebuilt by ``bag recover``."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import rclpy
from label_bags import NS, PERIOD, T0, frame_messages, write_labelled_bag
from mcap.reader import make_reader
from rclpy.parameter import Parameter

from mmfusion_annotate.bagtools.recover import recover_bag
from mmfusion_annotate.bagtools.source import open_bag, read_messages
from mmfusion_annotate.outputs.builder import Output
from mmfusion_annotate.outputs.labels import SCENE_UPDATE
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, SCENE_TOPIC
from mmfusion_annotate.recording import serialize
from mmfusion_annotate.recording.label_records import (
    COUNTS_RECORD,
    LABEL_RECORDS,
    REVIEW_RECORD,
    LabelTally,
    label_topic,
)


def file_records(path: Path) -> dict[str, dict[str, str]]:
    with open(path, "rb") as stream:
        records = make_reader(stream).iter_metadata()
        return {m.name: dict(m.metadata) for m in records if m.name in LABEL_RECORDS}


def message_tally(paths: list[Path]) -> LabelTally:
    """What the messages themselves hold, tallied by the same reader."""
    tally = LabelTally()
    for path in paths:
        for message in read_messages(open_bag(path), topics=[SCENE_TOPIC, REVIEW_TOPIC]):
            assert tally.add(message.topic, message.data, message.log_time_ns)
    return tally


def assert_same(records: dict[str, dict[str, str]], tally: LabelTally) -> None:
    assert records == tally.records()


def test_each_split_file_holds_the_records_of_its_own_messages(tmp_path):
    bag = write_labelled_bag(tmp_path / "bag")
    files = sorted(bag.glob("*.mcap"))
    assert len(files) == 3
    for path in files:
        records = file_records(path)
        assert set(records) == set(LABEL_RECORDS)
        assert_same(records, message_tally([path]))
        assert records[REVIEW_RECORD]["overflow"] == "0"
    merged = LabelTally()
    for path in files:
        merged.merge(LabelTally.from_records(file_records(path).items(), merged.window_ns))
    whole = message_tally(files)
    assert merged.review_items == whole.review_items and merged.counts == whole.counts
    # 30 frames, 3 s from T0 = ...05 s: all in the window [..00 s, ..10 s)
    assert {cls: n for (cls, _), (n, _) in whole.counts.items()} == {"car": 60, "pedestrian": 10}
    tracks = {cls: ids for (cls, _), (_, ids) in whole.counts.items()}
    assert tracks == {"car": {1, 2}, "pedestrian": {9}}
    item = whole.review_items[0]
    assert item == {"stamp_ns": T0, "reason": "camera_miss", "modalities": "lidar,camera", "priority": 0.6,
                    "object_ids": [1], "camera": "cam_front", "detail": "frame 0", "severity": 0.8,
                    "confidence": 0.75, "evidence": {"iou": 0.1, "iou_threshold": 0.3}}  # fmt: skip
    assert len(whole.review_items) == 30 + 6


def test_review_items_past_the_cap_are_counted_as_overflow():
    tally = LabelTally(cap=4)
    for step in range(3):
        for topic, msg in frame_messages(step * 5).items():  # two review items each
            tally.add(topic, serialize(SCENE_UPDATE, msg), T0)
    records = tally.records()
    assert (len(tally.review_items), records[REVIEW_RECORD]["overflow"]) == (4, "2")
    assert records[COUNTS_RECORD]["undecodable"] == "0"
    assert not tally.add(SCENE_TOPIC, b"\x00\x01garbage", T0) and tally.undecodable == 1


def test_label_topics_match_in_any_namespace():
    assert label_topic("/car1/prelabels/scene") == SCENE_TOPIC
    assert label_topic("/prelabels/review") == REVIEW_TOPIC
    assert label_topic("/prelabels/scene_extra") is None and label_topic("/events") is None


def test_the_live_recorder_node_writes_the_records_of_record_outputs(tmp_path):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.Random().randint(120, 200))
    try:
        overrides = [Parameter("bag_dir", value=str(tmp_path)), Parameter("bag_name", value="live"),
                     Parameter("recorder.split_duration_s", value=1.0)]  # fmt: skip
        from mmfusion_annotate.nodes.recorder_node import RecorderNode  # noqa: PLC0415 - rclpy node

        node = RecorderNode(context=context, parameter_overrides=overrides)
        for step in range(25):
            outputs = [Output(topic, SCENE_UPDATE, msg, T0 + step * PERIOD)
                       for topic, msg in frame_messages(step).items()]  # fmt: skip
            node.record_outputs(outputs)
        assert node.close()
        bag = node.recorder.bag_dir
        node.destroy_node()
    finally:
        context.try_shutdown()
    files = sorted(Path(bag).glob("*.mcap"))
    assert len(files) >= 3  # split by time: every file has its part
    for path in files:
        assert_same(file_records(path), message_tally([path]))
    items = [LabelTally.from_records(file_records(p).items(), NS * 10).review_items for p in files]
    assert sum(map(len, items)) == 25 + 5


def test_recover_rebuilds_the_records_from_the_messages_it_keeps(tmp_path):
    bag = write_labelled_bag(tmp_path / "bag", split_duration_ns=None, chunk_size=2000)
    broken = tmp_path / "broken"
    shutil.copytree(bag, broken)
    path = next(broken.glob("*.mcap"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 4])  # cut off: no summary, no records
    recover_bag(broken)
    records = file_records(path)
    assert set(records) == set(LABEL_RECORDS)
    tally = message_tally([path])
    assert_same(records, tally)
    assert 0 < len(tally.review_items) < 36
