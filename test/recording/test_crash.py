"""A recorder process killed mid-write (SIGKILL) loses at most ~1 s; ``recover_bag`` completes its file."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mmfusion_annotate.bagtools.recover import is_complete, recover_bag

CHILD = Path(__file__).with_name("record_child.py")
RATE_HZ = 200  # record_child.py's message rate (upper bound)


def run_child(bag: Path, seconds: float, sig: int) -> tuple[int, int]:
    """Run the recorder child for ``seconds``, send ``sig``; (last sequence it enqueued, exit status)."""
    child = subprocess.Popen([sys.executable, str(CHILD), str(bag)], stdout=subprocess.PIPE, text=True)
    last = [-1]

    def follow() -> None:
        for line in child.stdout:
            last[0] = int(line)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while last[0] < 0 and time.monotonic() < deadline:  # wait for the interpreter to start recording
        time.sleep(0.05)
    time.sleep(seconds)
    enqueued = last[0]
    child.send_signal(sig)
    status = child.wait(timeout=30)
    reader.join(timeout=5)
    return enqueued, status


@pytest.mark.slow
def test_sigkill_loses_at_most_about_one_second_and_recovers(tmp_path, readers):
    bag = tmp_path / "crashed"
    enqueued, status = run_child(bag, 3.0, signal.SIGKILL)
    assert status == -signal.SIGKILL
    (mcap_file,) = bag.glob("*.mcap")
    assert not is_complete(mcap_file)

    report = recover_bag(bag)
    assert [f.status for f in report.files] == ["recovered"]
    assert is_complete(mcap_file) and (bag / "crashed_0.mcap.incomplete").is_file()
    by_rosbags = readers.rosbags(bag)["messages"]["/cam/image_raw"]
    by_node = readers.node([mcap_file])["messages"]["/cam/image_raw"]
    assert readers.normalized(by_rosbags) == readers.normalized(by_node)
    widths = [m["width"] for _, m in by_rosbags]
    assert widths == list(range(len(widths)))  # nothing lost before the cut, no duplicates
    lost = enqueued + 1 - len(widths)
    assert 0 <= lost <= RATE_HZ * 1.2, f"{lost} messages lost (> ~1 s at {RATE_HZ} Hz)"


@pytest.mark.slow
def test_sigterm_closes_cleanly_and_loses_nothing(tmp_path, readers):
    bag = tmp_path / "stopped"
    enqueued, status = run_child(bag, 1.5, signal.SIGTERM)
    assert status == 0
    (mcap_file,) = bag.glob("*.mcap")
    assert is_complete(mcap_file)
    widths = [m["width"] for _, m in readers.rosbags(bag)["messages"]["/cam/image_raw"]]
    assert widths[: enqueued + 1] == list(range(enqueued + 1))
    assert len(readers.node([mcap_file])["messages"]["/cam/image_raw"]) == len(widths)
