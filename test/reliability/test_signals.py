"""Signals (issue 26): Ctrl-C exits 130 and SIGTERM 143, each with one line and no traceback, the bag
written so far closed, readable and marked partial; a child process dies with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rclpy.node import Node
from small_bags import write_imu_bag

from mmfusion_annotate.nodes.composition import main_nodes
from mmfusion_annotate.recording import BagReader
from mmfusion_annotate.recording.metadata import read_metadata
from mmfusion_annotate.recording.writer import PARTIAL_KEY

REPO = Path(__file__).resolve().parents[2]
EXIT = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}


def mmfusion(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "mmfusion_annotate.cli", *args]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stop(proc: subprocess.Popen, sig: int) -> str:
    """Send ``sig``; the process must end quietly with the matching code. Returns its stderr."""
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    code, word = EXIT[sig]
    assert proc.returncode == code, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].endswith(f": {word}"), err
    return err


def test_sim_terminated_leaves_a_closed_bag_marked_partial(tmp_path):
    """SIGTERM unwinds like Ctrl-C (``test_full_disk``: an interrupted writer marks its bag partial)."""
    out = tmp_path / "bag"
    proc = mmfusion("sim", "calm", "--duration", "20", "--compression", "none", "-o", str(out))
    # a chunk on disk, not only a file just opened (a signal then would leave it closed but empty)
    wait_until(lambda: any(f.stat().st_size > 1 << 20 for f in out.glob("*.mcap")) or proc.poll() is not None)
    stop(proc, signal.SIGTERM)
    assert "stopped early" in read_metadata(out)["custom_data"][PARTIAL_KEY]
    assert sum(1 for _ in BagReader(out)) > 0  # every file finished: readable without recover


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_play_stopped_by_a_signal_is_quiet(tmp_path, sig):
    bag = write_imu_bag(tmp_path / "bag", 60.0)
    proc = mmfusion("play", str(bag))
    time.sleep(4.0)  # rclpy up and the bag playing (the exit is the same if it is still starting)
    assert proc.poll() is None
    stop(proc, sig)


PARENT = """
import sys, time
from mmfusion_annotate.nodes.child_process import start_child
child = start_child([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_dies_with_its_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        os.kill(child, 0)  # alive
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(child):
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["SIGINT", "SIGTERM"]
)
def test_mmfusion_run_exits_130_after_ctrl_c_and_0_after_sigterm(sig, code):
    """``main_nodes(interrupt_exit=True)`` (``mmfusion run``): a clean stop either way, 130 after Ctrl-C."""
    closed = []

    class Recording(Node):
        def __init__(self, context) -> None:
            super().__init__("recording_for_signal_test", context=context)

        def close(self) -> None:
            closed.append(True)

    timer = threading.Timer(1.0, os.kill, (os.getpid(), sig))
    timer.start()
    try:
        assert main_nodes([Recording], [], program="run", interrupt_exit=True, timeout_s=30) == code
    finally:
        timer.cancel()  # never leave a signal on its way to the test process
    assert closed == [True]


@pytest.mark.slow
def test_demo_terminated_while_recording_exits_143_with_its_bag_closed(tmp_path):
    """SIGTERM during the drive: 143 like every command (it was 0), the bag so far closed and readable."""
    bag = tmp_path / "demo" / "cut_in_bag"
    proc = mmfusion("demo", "--duration", "20", "-o", str(tmp_path / "demo"))
    wait_until(lambda: any(bag.glob("*.mcap")) or proc.poll() is not None, timeout_s=120)
    stop(proc, signal.SIGTERM)
    assert sum(1 for _ in BagReader(bag)) > 0
