"""A full disk (issue 26): the recorder counts what it loses into the bag, leaves no empty files and
reports an incomplete recording; offline writers stop with one line naming the file and leave no
temporary file, and nothing that looks complete. A split file being written is locked against others.

The disk is simulated below the writers (the file objects they open, ``metadata.yaml`` included): a
byte budget after which every write fails with ENOSPC, as a real full file system answers.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import time
from pathlib import Path

import pytest
from rclpy.node import Node
from small_bags import IMU, T0, imu_bytes, write_imu_bag

from mmfusion_annotate.bagtools.info import bag_info
from mmfusion_annotate.bagtools.recover import recover_bag
from mmfusion_annotate.cli import main
from mmfusion_annotate.nodes.composition import main_nodes
from mmfusion_annotate.recording import BagReader, metadata, writer
from mmfusion_annotate.recording.config import RecorderConfig
from mmfusion_annotate.recording.metadata import read_metadata
from mmfusion_annotate.recording.recorder import Recorder
from mmfusion_annotate.recording.writer import PARTIAL_KEY, BagWriter

MCAP_MAGIC = b"\x89MCAP0\r\n"


class SmallDisk:
    """Files whose writes fail with ENOSPC once ``free`` bytes have been written (``free`` None: room)."""

    def __init__(self, free: int | None) -> None:
        self.free = free

    def _take(self, size: int) -> None:
        if self.free is not None:
            if size > self.free:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.free -= size

    def open_binary(self, path: Path) -> io.BufferedWriter:
        disk = self

        class File(io.FileIO):
            def write(self, data) -> int:
                disk._take(len(data))
                return super().write(data)

        return io.BufferedWriter(File(path, "xb"), buffer_size=64 * 1024)

    def open_text(self, path, mode="r", encoding=None):
        disk = self

        class Text(io.TextIOWrapper):
            def write(self, text: str) -> int:
                disk._take(len(text.encode()))
                return super().write(text)

        return Text(io.FileIO(path, mode.replace("t", "")), encoding=encoding)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(writer, "_open_binary", self.open_binary)
        monkeypatch.setattr(metadata, "open", self.open_text, raising=False)


def leftovers(folder: Path) -> list[Path]:
    """Temporary or partial-write files a tool must not leave behind."""
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".recovering")]


@pytest.mark.parametrize("command", ["sim", "replay"])
def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing(tmp_path, monkeypatch, capsys, command):
    source = write_imu_bag(tmp_path / "source", 1.0)
    SmallDisk(free=0).install(monkeypatch)
    out = tmp_path / "out"
    args = ["sim", "calm", "--duration", "0.3"] if command == "sim" else ["replay", str(source)]
    assert main([*args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after replay's progress bar
    assert err.startswith(f"mmfusion {command}: error: no space left on device: {out}/")  # the file
    assert not out.exists() and not leftovers(tmp_path)


def test_sim_filling_the_disk_leaves_a_bag_that_does_not_look_complete(tmp_path, monkeypatch, capsys):
    SmallDisk(free=6_000_000).install(monkeypatch)  # one 4 MB chunk fits, the drive does not
    out = tmp_path / "bag"
    assert main(["sim", "calm", "--duration", "0.4", "--compression", "none", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mmfusion sim: error: no space left on device: ") and str(out) in err
    assert not leftovers(tmp_path)
    marked = PARTIAL_KEY in (read_metadata(out).get("custom_data") or {})
    unfinished = [p for p in out.glob("*.mcap") if not p.read_bytes().endswith(MCAP_MAGIC)]
    assert marked or unfinished  # never a bag that looks complete


def test_a_writer_stopped_by_an_exception_marks_its_bag_partial(tmp_path):
    out = tmp_path / "bag"
    with pytest.raises(KeyboardInterrupt), BagWriter(out) as bag:
        bag.add_topic("/imu/data", IMU)
        for i in range(5):
            bag.write("/imu/data", imu_bytes(T0 + i), T0 + i)
        raise KeyboardInterrupt
    assert "KeyboardInterrupt" in read_metadata(out)["custom_data"][PARTIAL_KEY]
    assert len(list(BagReader(out))) == 5  # closed properly: complete and readable


class FullDisk:
    """The recorder's opener: real files whose writes fail while ``full`` (the file itself is created)."""

    def __init__(self) -> None:
        self.full = False

    def open(self, path: Path) -> io.BufferedWriter:
        disk = self

        class File(io.FileIO):
            def write(self, data) -> int:
                if disk.full:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return super().write(data)

        return io.BufferedWriter(File(path, "xb"), buffer_size=64 * 1024)


def test_recorder_on_a_full_disk_creates_no_empty_files_and_counts_its_drops_into_the_bag(tmp_path):
    disk = FullDisk()
    config = RecorderConfig(retry_interval_s=0.05, flush_interval_s=0.05)
    bag = tmp_path / "bag"
    recorder = Recorder(bag, config, opener=disk.open)
    recorder.enqueue("/imu/data", IMU, imu_bytes(T0), T0)
    recorder.stats()
    time.sleep(0.3)  # written and flushed
    disk.full = True
    sizes = []
    for i in range(1, 200):  # 2 s of retries every 0.05 s
        recorder.enqueue("/imu/data", IMU, imu_bytes(T0 + i), T0 + i)
        time.sleep(0.01)
        sizes.append(len(list(bag.glob("*.mcap"))))
    stats = recorder.stats()
    assert stats.io_errors >= 5 and stats.dropped_io["/imu/data"] > 0
    assert max(sizes) <= 2  # the first file, and at most the one being retried: no file per retry

    disk.full = False  # space returns: the next file's metadata.yaml counts the drops so far
    time.sleep(0.1)
    for i in range(200, 210):
        recorder.enqueue("/imu/data", IMU, imu_bytes(T0 + i), T0 + i)
    deadline = time.monotonic() + 10
    while not recorder.stats().healthy and time.monotonic() < deadline:
        time.sleep(0.02)
    dropped_on_disk = read_metadata(bag)["custom_data"]["mmfusion.dropped_io"]
    assert '"/imu/data"' in dropped_on_disk

    assert recorder.close(timeout=5) is False  # it could not record everything
    stats = recorder.stats()
    assert stats.written["/imu/data"] + stats.dropped_total == 210
    assert all(p.stat().st_size > 0 for p in bag.glob("*.mcap"))
    recover_bag(bag)  # the first file, left open when the disk filled, holds the first message
    recorded = len([m for m in BagReader(bag) if m.topic == "/imu/data"])
    assert recorded == stats.written["/imu/data"]
    assert bag_info(bag).drops["io"] == stats.dropped_io  # what 'mmfusion info' shows
    assert not leftovers(bag)


def test_node_that_could_not_record_everything_makes_main_exit_1(capfd):
    class Lossy(Node):
        def __init__(self, context) -> None:
            super().__init__("lossy_recorder", context=context)
            self.recording_complete = True

        def close(self) -> None:
            self.recording_complete = False

    assert main_nodes([Lossy], [], program="lossy", until=lambda: True) == 1
    assert "lossy: the recording is incomplete" in capfd.readouterr().err


def test_a_split_file_being_written_is_locked_against_other_processes(tmp_path):
    bag = BagWriter(tmp_path / "bag")
    bag.add_topic("/imu/data", IMU)
    bag.write("/imu/data", imu_bytes(T0), T0)
    (path,) = bag.files
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        bag.close()
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with the file
    finally:
        os.close(fd)
