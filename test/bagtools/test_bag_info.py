"""``bag_info``: figures of a split bag from summaries and metadata, drops, lone files, crashed files."""

from __future__ import annotations

import json

from bag_samples import NS, PERIOD, STEPS, T0, write_sample_bag

from mmfusion_annotate.bagtools.info import bag_info, format_info


def test_info_figures_match_what_was_written(sample_bag):
    info = bag_info(sample_bag.path)
    assert [f.path for f in info.files] == ["drive_0.mcap", "drive_1.mcap", "drive_2.mcap"]
    assert info.start_ns == T0 and info.end_ns == T0 + (STEPS - 1) * PERIOD
    assert info.duration_ns == (STEPS - 1) * PERIOD
    assert info.message_count == len(sample_bag.messages)
    assert info.compression == "lz4" and info.event_count == 2 and info.drops == {}
    assert info.size_bytes == sum(p.stat().st_size for p in sample_bag.path.glob("*.mcap"))
    topics = {t.name: t for t in info.topics}
    written = {name: sum(1 for topic, _, _ in sample_bag.messages if topic == name) for name in topics}
    assert {name: t.message_count for name, t in topics.items()} == written
    imu = topics["/imu"]
    assert abs(imu.frequency_hz - 10.0) < 1e-9  # 30 messages over 2.9 s
    assert (imu.reliability, imu.durability, imu.depth, imu.static) == ("best_effort", "volatile", 5, False)
    assert topics["/tf_static"].static and topics["/tf_static"].durability == "transient_local"
    assert topics["/cam_front/camera_info"].static and topics["/cam_front/camera_info"].frequency_hz is None
    assert topics["/events"].msgtype == "mmfusion_annotate/msg/Event"
    text = format_info(info)
    assert "Duration:     2.900 s" in text and "/imu" in text and "10.00 Hz" in text
    json.dumps(info.to_dict())  # JSON-ready


def test_info_reports_recorded_drops_and_reads_a_lone_file(tmp_path):
    from mmfusion_annotate.recording import BagWriter

    bag = tmp_path / "dropped"
    with BagWriter(bag) as writer:
        writer.add_topic("/imu", "sensor_msgs/msg/Imu", "sensor_data")
        writer.write("/imu", bytes(4), T0)
        writer.write("/imu", bytes(4), T0 + NS)
        writer.custom_data["mmfusion.dropped_queue"] = json.dumps({"/imu": 3})
        writer.custom_data["mmfusion.dropped_io"] = json.dumps({"/imu": 1})
    for path in (bag, bag / "dropped_0.mcap"):  # metadata.yaml, or the file's rosbag2 record
        info = bag_info(path)
        assert info.drops == {"queue": {"/imu": 3}, "io": {"/imu": 1}} and info.dropped_total == 4
        assert info.message_count == 2 and info.compression == "none"
    assert "Dropped:      4" in format_info(info)


def test_info_lists_a_truncated_file_as_incomplete(tmp_path):
    bag = write_sample_bag(tmp_path / "crashed")
    cut = bag.path / "crashed_2.mcap"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    info = bag_info(bag.path)
    assert info.incomplete_files == ("crashed_2.mcap",)
    assert info.end_ns == T0 + 19 * PERIOD  # the complete files only
    assert info.message_count == sum(1 for _, t, _ in bag.messages if t < T0 + 2 * NS)
    assert "INCOMPLETE" in format_info(info) and "bag recover" in format_info(info)
