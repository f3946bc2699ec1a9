"""``clip_bag``: exactly the window's messages plus the statics from before it, readable by rosbags."""

from __future__ import annotations

from collections import Counter

import pytest
from bag_samples import NS, PERIOD, T0, write_sample_bag
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from mmfusion_annotate.bagtools.clip import clip_bag, format_clips
from mmfusion_annotate.bagtools.events import list_events
from mmfusion_annotate.bagtools.info import bag_info
from mmfusion_annotate.errors import BagError


def read_clip(bag_dir) -> list[tuple[str, int, bytes]]:
    """Every message of a bag as rosbags reads it, each also decoded with the bag's own schemas."""
    store = get_typestore(Stores.EMPTY)
    with Reader(bag_dir) as reader:
        for connection in reader.connections:
            store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        messages = []
        for connection, stamp, raw in reader.messages():
            store.deserialize_cdr(raw, connection.msgtype)
            messages.append((connection.topic, stamp, bytes(raw)))
    return messages


def test_clip_across_splits_holds_the_window_and_the_statics(sample_bag, tmp_path):
    # ev-brake spans 1.2-1.4 s: with 0.5 s before and 0.75 s after, the window 0.7-2.15 s crosses two splits
    clips = clip_bag(sample_bag.path, tmp_path / "clips", event_id="ev-brake", before_s=0.5, after_s=0.75)
    assert len(clips) == 1
    clip = clips[0]
    start, end = T0 + 7 * PERIOD, T0 + 21 * PERIOD + PERIOD // 2
    assert clip.bag_dir == tmp_path / "clips" / "ev-brake" and (clip.start_ns, clip.end_ns) == (start, end)

    window = [m for m in sample_bag.messages if start <= m[1] <= end]
    statics = [(topic, start, data) for topic, data in sample_bag.statics.items()]  # the newest camera info
    got = read_clip(clip.bag_dir)
    assert Counter(got) == Counter(window + statics)
    assert Counter(got[:2]) == Counter(statics)  # copied in first, at the clip start
    assert clip.message_count == len(window) and clip.static_count == 2

    assert clip.event_ids == ("ev-brake",)
    source = {e["id"]: e for e in list_events(sample_bag.path)}
    assert list_events(clip.bag_dir, source="metadata") == [source["ev-brake"]]
    info = bag_info(clip.bag_dir)
    assert info.compression == "lz4" and info.start_ns == start and len(info.files) == 1
    assert {t.name for t in info.topics} == {"/tf_static", "/cam_front/camera_info", "/imu", "/events"}
    assert "ev-brake" in format_clips(clips)


def test_clip_by_type_and_by_time_window(sample_bag, tmp_path):
    clips = clip_bag(
        sample_bag.path, tmp_path / "by_type", event_type="sensor_dropout", before_s=0.1, after_s=0.0
    )
    assert [c.bag_dir.name for c in clips] == ["ev-drop"]
    start = T0 + 21 * PERIOD
    got = read_clip(clips[0].bag_dir)
    assert min(t for _, t, _ in got) == start and max(t for _, t, _ in got) == T0 + 23 * PERIOD

    [ranged] = clip_bag(
        sample_bag.path, tmp_path / "ranged", window_ns=(T0, T0 + NS // 2 - 1), compression="none"
    )
    got = read_clip(tmp_path / "ranged")
    assert Counter(got) == Counter(m for m in sample_bag.messages if m[1] < T0 + NS // 2)
    assert (
        ranged.static_count == 0
        and ranged.event_ids == ()
        and bag_info(tmp_path / "ranged").compression == "none"
    )


def test_clip_errors_name_the_bag_and_what_is_wrong(sample_bag, tmp_path):
    with pytest.raises(BagError, match=r"drive: no event with id 'no-such-event'"):
        clip_bag(sample_bag.path, tmp_path / "out", event_id="no-such-event")
    assert not (tmp_path / "out").exists()
    with pytest.raises(BagError, match=r"drive: no event of type 'cut_in'"):
        clip_bag(sample_bag.path, tmp_path / "out", event_type="cut_in")
    with pytest.raises(BagError, match="exactly one"):
        clip_bag(sample_bag.path, tmp_path / "out", event_id="ev-brake", event_type="hard_braking")
    with pytest.raises(BagError, match="no messages"):
        clip_bag(sample_bag.path, tmp_path / "out", window_ns=(T0 + 10 * NS, T0 + 11 * NS))
    (tmp_path / "full" / "ev-brake").mkdir(parents=True)
    (tmp_path / "full" / "ev-brake" / "keep.txt").write_text("x")
    with pytest.raises(BagError, match="not empty"):
        clip_bag(sample_bag.path, tmp_path / "full", event_id="ev-brake")


def test_clip_of_a_truncated_bag_says_to_recover_it(tmp_path):
    bag = write_sample_bag(tmp_path / "crashed")
    cut = bag.path / "crashed_2.mcap"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with pytest.raises(BagError, match=r"crashed_2.mcap: incomplete .*bag recover"):
        clip_bag(bag.path, tmp_path / "out", event_id="ev-brake", before_s=0.1, after_s=0.1)
