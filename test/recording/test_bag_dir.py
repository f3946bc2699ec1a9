"""A bag is never written over another: claimed folders, numbered new bags, exclusive split files."""

from __future__ import annotations

import threading

import pytest

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording import BagReader, BagWriter
from mmfusion_annotate.recording.bag_dir import (
    BagExistsError,
    new_bag_dir,
    refuse_existing_bag,
    timestamped_name,
)
from mmfusion_annotate.recording.writer import _open_binary

STRING = "std_msgs/msg/String"
HELLO = b"\x00\x01\x00\x00\x06\x00\x00\x00hello\x00"


def _write_bag(path, count: int) -> None:
    with BagWriter(path) as writer:
        writer.add_topic("/notes", STRING)
        for i in range(count):
            writer.write("/notes", HELLO, 1_000 + i)


def _snapshot(path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir()}


def test_a_writer_refuses_a_folder_that_holds_a_bag_and_leaves_it_byte_identical(tmp_path):
    bag = tmp_path / "drive"
    _write_bag(bag, 5)
    before = _snapshot(bag)
    with pytest.raises(BagExistsError, match=r"drive: exists and is not empty"):
        _write_bag(bag, 1)
    assert _snapshot(bag) == before
    assert sum(1 for _ in BagReader(bag)) == 5


def test_a_writer_accepts_a_new_or_empty_folder_and_refuses_a_file(tmp_path):
    (tmp_path / "empty").mkdir()
    _write_bag(tmp_path / "empty", 2)
    _write_bag(tmp_path / "a" / "b" / "new", 2)
    assert sum(1 for _ in BagReader(tmp_path / "a" / "b" / "new")) == 2
    (tmp_path / "file").write_text("not a bag")
    with pytest.raises(BagExistsError, match="is not a folder"):
        refuse_existing_bag(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "not a bag"


def test_a_recordings_folder_that_cannot_be_created_is_one_bag_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(BagError, match="cannot create the recordings folder"):
        new_bag_dir(tmp_path / "file" / "parent", "bag")


def test_split_files_are_created_exclusively(tmp_path):
    existing = tmp_path / "bag_0.mcap"
    existing.write_bytes(b"recorded")
    with pytest.raises(FileExistsError):
        _open_binary(existing)
    assert existing.read_bytes() == b"recorded"


def test_new_bag_dir_numbers_taken_names(tmp_path):
    assert new_bag_dir(tmp_path, "drive") == tmp_path / "drive"
    assert new_bag_dir(tmp_path, "drive") == tmp_path / "drive_2"
    (tmp_path / "drive_3").write_text("a file takes the name too")
    assert new_bag_dir(tmp_path, "drive") == tmp_path / "drive_4"
    with pytest.raises(BagError, match="single folder name"):
        new_bag_dir(tmp_path, "a/b")


def test_concurrent_recorders_never_share_a_folder(tmp_path):
    claimed: list = []
    lock = threading.Lock()

    def claim() -> None:
        path = new_bag_dir(tmp_path, "car1")
        with lock:
            claimed.append(path)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(claimed)) == 16


def test_timestamped_name_is_utc_and_sorts_by_time():
    assert timestamped_name("car", 0) == "car_19700101_000000"
    assert timestamped_name("car", 1_800_000_000) == "car_20270115_080000"
    assert timestamped_name("car", 1_000) < timestamped_name("car", 2_000)
