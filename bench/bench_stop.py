"""Full disk and signals (issue 26): what the recorder loses and counts on a full disk, how long a command
takes to stop on SIGINT/SIGTERM, and how soon ``mmfusion demo``'s sim_node follows a killed demo.

    .venv/bin/python bench/bench_stop.py                    # full disk simulated below the writer
    .venv/bin/python bench/bench_stop.py --tmpfs /mnt/tiny  # a real small tmpfs (mount it first, e.g.
                                                            # mount -t tmpfs -o size=4m tmpfs /mnt/tiny)
"""

from __future__ import annotations

import argparse
import errno
import io
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "reliability"))
from small_bags import IMU, T0, imu_bytes  # noqa: E402 - the tests' tiny IMU messages

from mmfusion_annotate.bagtools.info import bag_info  # noqa: E402
from mmfusion_annotate.bagtools.recover import recover_bag  # noqa: E402
from mmfusion_annotate.recording import BagReader  # noqa: E402
from mmfusion_annotate.recording.config import RecorderConfig  # noqa: E402
from mmfusion_annotate.recording.recorder import Recorder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MMFUSION = [sys.executable, "-m", "mmfusion_annotate.cli"]


class _FullDisk:
    """Real files whose writes fail with ENOSPC while ``full``."""

    full = False

    def open(self, path: Path) -> io.BufferedWriter:
        disk = self

        class File(io.FileIO):
            def write(self, data) -> int:
                if disk.full:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return super().write(data)

        return io.BufferedWriter(File(path, "xb"))


def full_disk(folder: Path, tmpfs: bool) -> None:
    """1500 IMU + 1500 2 kB messages at ~500/s into a disk that fills, then 100 more after space returns."""
    disk = _FullDisk()
    filler = folder / "filler"
    if tmpfs:
        filler.write_bytes(bytes(max(0, psutil.disk_usage(str(folder)).free - 1_000_000)))
    bag = folder / "bag"
    config = RecorderConfig(retry_interval_s=0.1, flush_interval_s=0.1, chunk_size_mb=0.05)
    recorder = Recorder(bag, config, opener=None if tmpfs else disk.open)
    most_files = 0
    for i in range(1500):
        disk.full = i >= 300
        recorder.enqueue("/imu/data", IMU, imu_bytes(T0 + i), T0 + i)
        recorder.enqueue("/cam", "sensor_msgs/msg/CompressedImage", bytes(2008), T0 + i)
        time.sleep(0.002)
        most_files = max(most_files, len(list(bag.glob("*.mcap"))))
    filler.unlink(missing_ok=True)
    disk.full = False
    time.sleep(3 * config.retry_interval_s)
    for i in range(1500, 1600):
        recorder.enqueue("/imu/data", IMU, imu_bytes(T0 + i), T0 + i)
        time.sleep(0.002)
    clean = recorder.close(10)
    stats = recorder.stats()
    in_info = bag_info(bag).drops.get("io", {})
    recover_bag(bag)
    recovered = Counter(m.topic for m in BagReader(bag))
    print(f"full disk ({'tmpfs ' + str(folder) if tmpfs else 'simulated'}): {stats.io_errors} I/O errors, "
          f"at most {most_files} .mcap files during the outage; close clean={clean}")
    print(f"  received {dict(stats.received)}; written {dict(stats.written)}; "
          f"dropped_io {dict(stats.dropped_io)}")
    print(f"  drops in metadata.yaml (mmfusion info): {in_info}; messages in the bag after recover: "
          f"{dict(recovered)}")


def stop_time(args: list[str], sig: int, ready, label: str) -> None:
    """Start ``mmfusion ARGS``, send ``sig`` once ``ready()``, print the exit code and seconds to exit."""
    proc = subprocess.Popen(MMFUSION + args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    while not ready() and proc.poll() is None:
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    waited = time.monotonic() - sent
    print(f"{label}: {signal.Signals(sig).name} -> exit {proc.returncode} in {waited:.2f} s; "
          f"stderr ends {err.strip().splitlines()[-1]!r}; traceback: {'Traceback' in err}")


def demo_kill(folder: Path) -> None:
    demo = subprocess.Popen(MMFUSION + ["demo", "--duration", "30", "-o", str(folder / "demo")], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    parent = psutil.Process(demo.pid)
    while not parent.children():
        time.sleep(0.1)
    child = parent.children()[0]
    time.sleep(3.0)
    cpu = child.cpu_percent(1.0)
    demo.send_signal(signal.SIGKILL)
    demo.wait()
    killed = time.monotonic()
    try:
        child.wait(timeout=30)
        print(f"demo SIGKILL: sim_node (at {cpu:.0f} % CPU) gone {time.monotonic() - killed:.2f} s later")
    except psutil.TimeoutExpired:
        print("demo SIGKILL: sim_node STILL RUNNING after 30 s")
        child.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tmpfs", type=Path, help="an empty, small, mounted file system (full-disk run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        full_disk(args.tmpfs or folder, tmpfs=args.tmpfs is not None)
        out = folder / "sim_bag"
        sim = ["sim", "calm", "--duration", "20", "--compression", "none", "-o", str(out)]
        written = lambda: sum(f.stat().st_size for f in out.glob("*.mcap")) > 8_000_000  # noqa: E731
        stop_time(sim, signal.SIGTERM, written, "mmfusion sim")  # two 4 MB chunks on the disk
        print(f"  bag after SIGTERM: {sum(1 for _ in BagReader(out))} messages readable without recover")
        from small_bags import write_imu_bag  # noqa: PLC0415

        bag = write_imu_bag(folder / "imu_bag", 60.0)
        for sig in (signal.SIGINT, signal.SIGTERM):
            started = time.monotonic()
            stop_time(["play", str(bag)], sig, lambda s=started: time.monotonic() - s > 5, "mmfusion play")
        demo_kill(folder)


if __name__ == "__main__":
    main()
