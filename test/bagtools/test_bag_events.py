"""``list_events``: from metadata records and from the event topic, filtered by type and severity."""

from __future__ import annotations

from pathlib import Path

import pytest
from bag_samples import EVENTS, write_sample_bag
from mcap.reader import make_reader
from mcap.writer import Writer

from mmfusion_annotate.bagtools.events import find_event, format_events, list_events
from mmfusion_annotate.bagtools.info import bag_info
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.msgtypes import EVENT, INSTALLED_EVENT


def test_metadata_and_topic_give_the_same_events(sample_bag):
    from_metadata = list_events(sample_bag.path, source="metadata")
    from_topic = list_events(sample_bag.path, source="topic")
    assert [e["id"] for e in from_metadata] == [e["id"] for e in from_topic] == ["ev-brake", "ev-drop"]
    for recorded, decoded, event in zip(from_metadata, from_topic, EVENTS, strict=True):
        assert recorded == {**event.to_dict(), "id": event.id}  # plain dicts, as the model writes them
        for key in ("type", "severity", "start_ns", "peak_ns", "end_ns", "object_ids", "evidence", "rule"):
            assert decoded[key] == recorded[key], key
        assert decoded["topic"] == "/events"


def test_filters_by_type_and_minimum_severity(sample_bag):
    assert [e["id"] for e in list_events(sample_bag.path, types=["sensor_dropout"])] == ["ev-drop"]
    assert [e["id"] for e in list_events(sample_bag.path, min_severity="watch")] == ["ev-brake", "ev-drop"]
    assert [e["id"] for e in list_events(sample_bag.path, min_severity="CRITICAL")] == ["ev-brake"]
    assert list_events(sample_bag.path, min_severity="severe") == []
    assert list_events(sample_bag.path, types=["cut_in"]) == []
    with pytest.raises(BagError, match="unknown severity 'loud'"):
        list_events(sample_bag.path, min_severity="loud")


def test_falls_back_to_the_topic_without_metadata_records(tmp_path):
    bag = write_sample_bag(tmp_path / "plain", with_metadata=False)
    assert list_events(bag.path, source="metadata") == []
    assert [e["id"] for e in list_events(bag.path)] == ["ev-brake", "ev-drop"]


def test_unknown_event_id_names_bag_and_id(sample_bag):
    assert find_event(sample_bag.path, "ev-drop")["type"] == "sensor_dropout"
    with pytest.raises(BagError, match=r"drive: no event with id 'nope'.*ev-brake"):
        find_event(sample_bag.path, "nope")


def test_format_events_lists_times_from_the_origin(sample_bag):
    events = list_events(sample_bag.path)
    text = format_events(events, origin_ns=EVENTS[0].start - 1_200_000_000)
    lines = text.splitlines()
    assert lines[0].split() == ["id", "type", "severity", "start_s", "end_s", "duration_s"]
    assert lines[1].split() == ["ev-brake", "hard_braking", "critical", "1.200", "1.400", "0.200"]
    assert format_events([]) == "no events"


def test_truncated_file_gives_a_clear_error_when_its_messages_are_needed(tmp_path):
    bag = write_sample_bag(tmp_path / "crashed", with_metadata=False)
    cut = bag.path / "crashed_1.mcap"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with pytest.raises(BagError, match=r"crashed_1.mcap: .*bag recover"):
        list_events(bag.path, source="topic")


def _record_event_type_as(bag_dir: Path, name: str) -> None:
    """Rewrite the bag's files with the event schema named ``name``: what a standalone ``ros2 bag record``
    of a colcon install leaves (our BagWriter only writes types it carries or finds installed)."""
    for path in sorted(bag_dir.glob("*.mcap")):
        with open(path, "rb") as stream:
            reader = make_reader(stream)
            header, summary = reader.get_header(), reader.get_summary()
            messages = [(channel.id, message) for _, channel, message in reader.iter_messages()]
            metadata = [(m.name, m.metadata) for m in reader.iter_metadata()]
        assert summary is not None
        with open(path, "wb") as stream:
            writer = Writer(stream)
            writer.start(header.profile, header.library)
            schemas = {sid: writer.register_schema(name if s.name == EVENT else s.name, s.encoding, s.data)
                       for sid, s in summary.schemas.items()}  # fmt: skip
            channels = {cid: writer.register_channel(c.topic, c.message_encoding, schemas.get(c.schema_id, 0),
                                                     c.metadata)
                        for cid, c in summary.channels.items()}  # fmt: skip
            for channel_id, m in messages:
                writer.add_message(channels[channel_id], m.log_time, m.data, m.publish_time, m.sequence)
            for record_name, values in metadata:
                writer.add_metadata(record_name, values)
            writer.finish()
    meta = bag_dir / "metadata.yaml"
    meta.write_text(meta.read_text().replace(EVENT, name))


def test_events_recorded_under_the_installed_type_name_are_read_too(tmp_path):
    carried = write_sample_bag(tmp_path / "carried", with_metadata=False)
    installed = write_sample_bag(tmp_path / "installed", with_metadata=False)
    _record_event_type_as(installed.path, INSTALLED_EVENT)
    assert [t.msgtype for t in bag_info(installed.path).topics if t.name == "/events"] == [INSTALLED_EVENT]
    assert list_events(installed.path) == list_events(carried.path)
    assert [e["id"] for e in list_events(installed.path)] == ["ev-brake", "ev-drop"]
    assert bag_info(installed.path).event_count == bag_info(carried.path).event_count == 2
