"""Damaged bags (issue 26): every tool skips and reports what it cannot read, exits 0/1/2, never a traceback.

Fixtures are written by the tests (``damaged_bags.py``): a small multi-chunk drive, then a chunk zeroed,
filled with garbage, bit-flipped or wiped with its framing, a file cut off, a metadata.yaml broken.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tracemalloc
from pathlib import Path

import pytest
import yaml
from damaged_bags import (
    EVENTS,
    IMU,
    STEPS,
    T0,
    chunks,
    cut,
    damage_chunk,
    event_bytes,
    event_schema,
    events_record,
    good_event_text,
    imu_bytes,
    imu_schema,
    odom_bytes,
    write_drive,
    write_raw,
)

from mmfusion_annotate.bagtools.clip import clip_window
from mmfusion_annotate.bagtools.events import list_events
from mmfusion_annotate.bagtools.play import Pacer, play_messages
from mmfusion_annotate.bagtools.recover import recover_bag
from mmfusion_annotate.bagtools.replay import replay_bag
from mmfusion_annotate.bagtools.source import open_bag, read_messages
from mmfusion_annotate.cli import main
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.definitions import schema_text
from mmfusion_annotate.recording.reader import BagReader
from mmfusion_annotate.recording.salvage import READ_LOSSES_KEY, ReadLosses

KINDS = ("zeroed", "garbage", "bitflip", "wiped")


@pytest.fixture(scope="module")
def drive(tmp_path_factory) -> tuple[Path, int]:
    bag = tmp_path_factory.mktemp("drive") / "drive"
    return bag, write_drive(bag)


def copy(bag: Path, to: Path) -> Path:
    shutil.copytree(bag, to)
    return to


def damaged(drive, tmp_path: Path, kind: str, which: int = 5):
    """A copy of the drive with chunk ``which`` damaged: (bag dir, its file, the chunk, total messages)."""
    bag = copy(drive[0], tmp_path / kind)
    mcap_file = bag / "drive_0.mcap"
    chunk = chunks(mcap_file)[which]
    damage_chunk(mcap_file, chunk, kind)
    return bag, mcap_file, chunk, drive[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. CRC checks on read: a damaged chunk is reported and skipped ------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_reader_skips_a_damaged_chunk_and_says_where(drive, tmp_path, kind):
    bag, mcap_file, chunk, total = damaged(drive, tmp_path, kind)
    reader = BagReader(bag)
    messages = list(reader)
    assert len(messages) == total - chunk.messages
    assert [m.log_time_ns for m in messages] == sorted(m.log_time_ns for m in messages)
    (loss,) = reader.losses.chunks
    assert (loss.path, loss.offset, loss.bytes, loss.messages) == (
        str(mcap_file),
        chunk.offset,
        chunk.length,
        chunk.messages,
    )
    assert "PARTLY READ" in reader.losses.summary()


def test_a_bit_flip_is_caught_not_copied(drive, tmp_path):
    """In an lz4 chunk a flipped bit breaks either the decompression or only the CRC (it depends on the
    byte it hits); either way the chunk is skipped."""
    bag, _, chunk, total = damaged(drive, tmp_path, "bitflip")
    losses = ReadLosses()
    kept = list(read_messages(open_bag(bag), losses=losses))
    assert len(kept) == total - chunk.messages and len(losses.chunks) == 1
    with pytest.raises(BagError, match="bag recover"):  # callers that pass no losses get an error
        list(read_messages(open_bag(bag)))


def test_a_bit_flip_in_an_uncompressed_chunk_is_caught_by_its_crc(tmp_path):
    bag = tmp_path / "plain"
    total = write_drive(bag, compression="none")
    chunk = chunks(bag / "plain_0.mcap")[5]
    damage_chunk(bag / "plain_0.mcap", chunk, "bitflip")
    losses = ReadLosses()
    kept = list(read_messages(open_bag(bag), losses=losses))
    assert len(kept) == total - chunk.messages and "crc" in losses.chunks[0].reason.lower()


@pytest.mark.parametrize("kind", ("zeroed", "bitflip"))
def test_clip_skips_the_damaged_chunk_exits_1_and_marks_the_clip(drive, tmp_path, capsys, kind):
    bag, _, chunk, total = damaged(drive, tmp_path, kind)
    code, out, err = run(capsys, "clip", bag, "--type", "hard_braking", "--before", "10", "--after", "10",
                         "-o", tmp_path / "clips")  # fmt: skip
    assert code == 1 and "Traceback" not in err
    assert "damaged:" in out and "PARTLY READ" in out
    clip = tmp_path / "clips" / "ev-1"
    copied = list(BagReader(clip))
    assert len(copied) == total - chunk.messages
    custom = yaml.safe_load((clip / "metadata.yaml").read_text())["rosbag2_bagfile_information"][
        "custom_data"
    ]
    assert json.loads(custom[READ_LOSSES_KEY])["damaged"][0]["offset"] == chunk.offset


def test_replay_of_a_damaged_bag_says_partly_read_in_summary_and_metadata(drive, tmp_path, rig):
    bag, _, chunk, total = damaged(drive, tmp_path, "garbage", which=2)  # a chunk without event messages
    summary = replay_bag(bag, tmp_path / "out", rig)
    assert summary.input_messages == total - chunk.messages - len(EVENTS)  # /events is re-derived
    assert summary.losses.chunks[0].messages == chunk.messages
    info = yaml.safe_load((tmp_path / "out" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert READ_LOSSES_KEY in info["custom_data"]


def test_play_publishes_around_a_damaged_chunk(drive, tmp_path):
    bag, _, chunk, total = damaged(drive, tmp_path, "zeroed")
    losses = ReadLosses()
    published = []
    pacer = Pacer(1000.0, now=lambda: 0.0, sleep=lambda s: None)
    pacer.wait = lambda *a, **k: True  # no pacing: the test is about what gets through
    stats = play_messages(lambda: read_messages(open_bag(bag), losses=losses), published.append, pacer)
    assert stats.messages == total - chunk.messages and losses.chunks[0].messages == chunk.messages


@pytest.mark.dds
def test_play_over_dds_reports_the_damaged_chunk_and_exits_1(drive, tmp_path):
    import rclpy

    from mmfusion_annotate.nodes.player_node import format_play, play_bag, play_exit_code

    bag, _, chunk, total = damaged(drive, tmp_path, "bitflip")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=88)  # a domain of its own: nothing else hears it
    try:
        result = play_bag(bag, rate=50.0, context=context, wait_for_subscribers_s=0.0, clock=False)
    finally:
        rclpy.shutdown(context=context)
    unplayable = len(EVENTS) if "/events" in result.skipped else 0  # Event has no rclpy class here
    assert result.messages == total - chunk.messages - unplayable and play_exit_code(result) == 1
    assert f"@ {chunk.offset}: {chunk.length} bytes skipped" in format_play(result)


def test_info_and_events_read_a_damaged_chunk_file_without_a_traceback(drive, tmp_path, capsys):
    bag, _, _, _ = damaged(drive, tmp_path, "garbage", which=0)
    code, out, err = run(capsys, "info", bag)
    assert code == 0 and "Messages:" in out and not err
    code, out, err = run(capsys, "events", bag)
    assert code == 0 and "ev-1" in out  # the events record is outside the chunks


# --- 2. undecodable messages: counted per topic, the rest goes on --------------------------------------


def test_replay_skips_a_corrupt_payload_and_a_zero_quaternion_and_goes_on(tmp_path, rig):
    bag = tmp_path / "bad_msgs"
    bag.mkdir()
    stamps = [T0 + i * 10_000_000 for i in range(40)]
    messages = [("/imu/data", ns, imu_bytes(ns)) for ns in stamps]
    messages[10] = ("/imu/data", stamps[10], imu_bytes(stamps[10])[:9])  # cut-off CDR
    messages += [("/odom", ns, odom_bytes(ns, 0.0 if i == 5 else 1.0)) for i, ns in enumerate(stamps)]
    odom = ("nav_msgs/msg/Odometry", schema_text("nav_msgs/msg/Odometry"))
    write_raw(bag / "bad_msgs_0.mcap", {"/imu/data": imu_schema(), "/odom": odom}, messages)
    summary = replay_bag(bag, tmp_path / "out", rig)
    assert summary.input_messages == 80
    assert summary.losses.skipped == {"/imu/data": 1, "/odom": 1}
    assert str(stamps[10]) in summary.losses.first_skip["/imu/data"]
    assert len(list(BagReader(tmp_path / "out"))) >= 80  # every input copied through, labels added


def test_a_type_the_installation_lacks_skips_that_topic_only(tmp_path, capsys, rig):
    bag = tmp_path / "acme"
    bag.mkdir()
    stamps = [T0 + i * 10_000_000 for i in range(30)]
    messages = [("/imu/data", ns, imu_bytes(ns)) for ns in stamps] + [
        ("/acme", ns, b"\0\1\0\0ab") for ns in stamps
    ]
    acme = ("acme_msgs/msg/Blob", "uint8[] data")
    write_raw(bag / "acme_0.mcap", {"/imu/data": imu_schema(), "/acme": acme}, messages)
    summary = replay_bag(bag, tmp_path / "replayed", rig)
    assert summary.losses.skipped == {"/acme": 30}
    clip = clip_window(bag, tmp_path / "clip", stamps[0], stamps[-1])
    assert clip.message_count == 30 and clip.losses.skipped == {"/acme": 30}
    assert {m.topic for m in BagReader(tmp_path / "clip")} == {"/imu/data"}


# --- 3./4. metadata.yaml, events records and event messages --------------------------------------------


BROKEN_METADATA = {
    "binary": b"\x89\xff\x00\xfe" * 64,
    "top-level string": b"just a string\n",
    "paths missing": b"rosbag2_bagfile_information:\n  version: 8\n",
    "paths null": b"rosbag2_bagfile_information:\n  relative_file_paths: null\n",
    "paths an int": b"rosbag2_bagfile_information:\n  relative_file_paths: 3\n",
    "not yaml": b"rosbag2_bagfile_information: [unclosed\n",
}


@pytest.mark.parametrize("name", [*BROKEN_METADATA, "a directory"])
@pytest.mark.parametrize("command", ["info", "events", "replay", "clip"])
def test_a_broken_metadata_yaml_is_one_line_and_exit_2(drive, tmp_path, capsys, name, command):
    bag = copy(drive[0], tmp_path / "bag")
    (bag / "metadata.yaml").unlink()
    if name == "a directory":
        (bag / "metadata.yaml").mkdir()
    else:
        (bag / "metadata.yaml").write_bytes(BROKEN_METADATA[name])
    extra = {"replay": ["-o", tmp_path / "o"], "clip": ["--type", "cut_in", "-o", tmp_path / "o"]}
    code, _, err = run(capsys, command, bag, *extra.get(command, []))
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "metadata.yaml" in err


def test_bad_custom_data_is_ignored_with_a_warning(drive, tmp_path, capsys, caplog):
    bag = copy(drive[0], tmp_path / "bag")
    meta = bag / "metadata.yaml"
    info = yaml.safe_load(meta.read_text())
    info["rosbag2_bagfile_information"]["custom_data"] = ["not", "a", "mapping"]
    meta.write_text(yaml.safe_dump(info))
    code, out, _ = run(capsys, "info", bag)
    assert code == 0 and "Dropped:      0" in out and "custom_data" in caplog.text


def test_a_malformed_events_record_is_counted_and_the_rest_listed(tmp_path, capsys):
    bag = tmp_path / "rec"
    bag.mkdir()
    write_raw(bag / "rec_0.mcap", {"/imu/data": imu_schema()}, [("/imu/data", T0, imu_bytes(T0))],
              events_record(**{"ev-1": good_event_text(EVENTS[0]), "ev-bad": "{not json",
                               "ev-list": "[1, 2]"}))  # fmt: skip
    code, out, err = run(capsys, "events", bag)
    assert code == 1 and "ev-1" in out and "ev-bad" not in out
    assert "skipped 2 messages on <metadata mmfusion_events>" in err


def test_a_truncated_event_message_is_counted_and_skipped(tmp_path):
    bag = tmp_path / "ev"
    bag.mkdir()
    good, bad = event_bytes(EVENTS[0]), event_bytes(EVENTS[1])[:20]
    write_raw(
        bag / "ev_0.mcap", {"/events": event_schema()}, [("/events", T0, good), ("/events", T0 + 1, bad)]
    )
    losses = ReadLosses()
    events = list_events(bag, source="topic", losses=losses)
    assert [e["id"] for e in events] == ["ev-1"] and losses.skipped == {"/events": 1}


def test_events_on_a_truncated_bag_points_at_recover(drive, tmp_path, capsys):
    bag = copy(drive[0], tmp_path / "bag")
    mcap_file = bag / "drive_0.mcap"
    cut(mcap_file, mcap_file.stat().st_size // 2)
    code, out, err = run(capsys, "events", bag)
    assert code == 2 and "bag recover" in err and "no events" not in out


# --- 5. recover ---------------------------------------------------------------------------------------


def test_recover_a_truncated_file_with_a_corrupt_lz4_chunk(drive, tmp_path, capsys):
    bag, mcap_file, bad, total = damaged(drive, tmp_path, "garbage", which=4)
    all_chunks = chunks(drive[0] / "drive_0.mcap")
    last = all_chunks[20]
    size = last.offset + last.length // 2
    cut(mcap_file, size)
    expected = sum(c.messages for c in all_chunks[:20]) - bad.messages
    code, out, err = run(capsys, "bag", "recover", bag)
    assert code == 1 and not err
    assert f"recovered {expected} messages" in out
    assert f"{bad.length + (size - last.offset)} bytes dropped" in out
    assert len(list(BagReader(bag))) == expected
    assert (bag / "drive_0.mcap.incomplete").stat().st_size == size


def test_recover_goes_past_a_crc_mismatch_and_counts_every_byte(drive, tmp_path):
    bag, mcap_file, bad, total = damaged(drive, tmp_path, "bitflip", which=3)
    (result,) = recover_bag(mcap_file).files
    assert result.status == "recovered"
    assert (result.messages, result.messages_lost, result.bytes_dropped) == (
        total - bad.messages,
        bad.messages,
        bad.length,
    )
    assert len(list(BagReader(mcap_file))) == total - bad.messages


def test_recover_resynchronises_after_a_wiped_chunk(drive, tmp_path):
    bag, mcap_file, bad, total = damaged(drive, tmp_path, "wiped", which=7)
    (result,) = recover_bag(mcap_file).files
    assert (result.messages, result.bytes_dropped, result.messages_lost) == (
        total - bad.messages,
        bad.length,
        bad.messages,
    )


def test_recover_leaves_an_intact_bag_alone(drive, tmp_path, capsys):
    bag = copy(drive[0], tmp_path / "bag")
    before = (bag / "drive_0.mcap").read_bytes()
    code, out, _ = run(capsys, "bag", "recover", bag)
    assert code == 0 and "complete" in out and (bag / "drive_0.mcap").read_bytes() == before
    assert not list(bag.glob("*.incomplete*"))


def test_recover_refuses_a_text_file_and_a_locked_file(drive, tmp_path, capsys):
    text = tmp_path / "notes_0.mcap"
    text.write_text("not a bag\n")
    code, _, err = run(capsys, "bag", "recover", text)
    assert code == 2 and "not an MCAP file" in err and text.read_text() == "not a bag\n"
    bag = copy(drive[0], tmp_path / "live")
    live = bag / "drive_0.mcap"
    cut(live, live.stat().st_size // 2)
    before = live.read_bytes()
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        code, _, err = run(capsys, "bag", "recover", bag)
    assert code == 2 and "being written by another process" in err and len(err.splitlines()) == 1
    assert live.read_bytes() == before and sorted(p.name for p in bag.iterdir()) == [
        "drive_0.mcap",
        "metadata.yaml",
    ]


def test_a_second_recovery_keeps_the_first_ones_original(drive, tmp_path):
    bag, mcap_file, _, _ = damaged(drive, tmp_path, "garbage", which=2)
    recover_bag(bag)
    first = (bag / "drive_0.mcap.incomplete").read_bytes()
    damage_chunk(mcap_file, chunks(mcap_file)[0], "garbage")
    (result,) = recover_bag(bag).files
    assert result.kept_as == "drive_0.mcap.incomplete.1"
    assert (bag / "drive_0.mcap.incomplete").read_bytes() == first


def test_a_failed_recovery_leaves_no_temporary_file(drive, tmp_path, capsys, monkeypatch):
    bag, mcap_file, _, _ = damaged(drive, tmp_path, "garbage")
    before = mcap_file.read_bytes()

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device", "drive_0.mcap")

    monkeypatch.setattr("mcap.writer.Writer.finish", full_disk)
    code, _, err = run(capsys, "bag", "recover", bag)
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert sorted(p.name for p in bag.iterdir()) == ["drive_0.mcap", "metadata.yaml"]
    assert mcap_file.read_bytes() == before


def test_recover_memory_stays_flat_in_the_file_size(tmp_path):
    """Peak Python allocations recovering a 4x larger cut-off file grow by far less than the file."""

    def peak(n: int) -> tuple[int, int]:
        path = tmp_path / f"big{n}.mcap"
        payload = bytes(range(256)) * 16  # 4 kB, incompressible enough for LZ4 to keep it large
        write_raw(path, {"/imu/data": (IMU, "uint8[] data")},
                  [("/imu/data", T0 + i, payload + i.to_bytes(4, "little")) for i in range(n)])  # fmt: skip
        cut(path, path.stat().st_size - 100)
        tracemalloc.start()
        recover_bag(path)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return path.stat().st_size, top

    small_size, small_peak = peak(STEPS * 10)
    large_size, large_peak = peak(STEPS * 40)
    assert large_size > 3 * small_size
    assert large_peak - small_peak < (large_size - small_size) / 10
