"""A pre-generated drive of a rig, cached under /tmp, for the pipeline benchmarks.

The benchmarks measure the pipeline, not the simulator, so the drive is written into a bag once
(``sim.write_bag``, sensor topics only: a vehicle publishes no truth; each LiDAR sweep logged when its
last point is captured, as a driver publishes it) and reused while the rig file,
scenario, duration and seed are the same. The bag is written to a temporary directory and renamed into
place, so an interrupted generation never leaves a half bag behind.
"""

from __future__ import annotations

import hashlib
import heapq
import shutil
import time
from pathlib import Path

from mmfusion_annotate.recording import BagReader, BagWriter
from mmfusion_annotate.recording.reader import BagMessage
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sim import Drive, load_scenario
from mmfusion_annotate.sim.bag import write_bag
from mmfusion_annotate.types import NS_PER_S

CACHE_DIR = Path("/tmp/mmfusion_bench/drives")
STATIC_TYPES = ("sensor_msgs/msg/CameraInfo", "tf2_msgs/msg/TFMessage")


def cached_drive(
    scenario: str = "cut_in", duration_s: float = 10.0, *, rig_file: str | Path | None = None, seed: int = 0
) -> Path:
    """The bag of ``scenario`` cut to ``duration_s`` on ``rig_file`` (default rig), generated if needed."""
    rig_path = Path(rig_file or default_rig_path()).resolve()
    digest = hashlib.sha1(rig_path.read_bytes()).hexdigest()[:8]
    bag = CACHE_DIR / f"{rig_path.stem}-{digest}_{Path(scenario).stem}_{duration_s:g}s_seed{seed}"
    if (bag / "metadata.yaml").exists():
        return bag
    rig = load_rig(rig_path)
    drive = Drive(rig, load_scenario(scenario).model_copy(update={"duration_s": duration_s}), seed=seed)
    partial = bag.with_name(bag.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"generating {duration_s:g} s of '{scenario}' on {rig_path.name} into {bag} ...", flush=True)
    raw = partial.with_name(partial.name + ".raw")
    shutil.rmtree(raw, ignore_errors=True)
    write_bag(drive, raw, with_truth=False, compression="lz4")
    publish_sweeps_at_their_end(raw, partial, {s.topic: s for s in rig.lidars()})
    shutil.rmtree(raw)
    partial.rename(bag)
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return bag


def publish_sweeps_at_their_end(source: Path, target: Path, lidars: dict) -> None:
    """Copy a bag, logging each LiDAR sweep one period after its stamp, when a real driver publishes it.

    The simulator logs a sweep at its stamp (the first point's time); played at that instant, the sweep
    would reach the pipeline before the ego motion covering its own points exists, which no car does.
    """
    delayed: list[tuple[int, int, BagMessage]] = []  # (log time, order, message): a min-heap
    with BagWriter(target, compression="lz4") as writer:
        for topic, msgtype in BagReader(source).topics.items():
            static = msgtype in STATIC_TYPES
            writer.add_topic(topic, msgtype, qos="latched" if static else "sensor_data")

        def emit(message: BagMessage, log_ns: int) -> None:
            if message.msgtype in STATIC_TYPES:
                writer.set_static(message.topic, message.data, log_ns)
            else:
                writer.write(message.topic, message.data, log_ns)

        for order, message in enumerate(BagReader(source)):
            while delayed and delayed[0][0] <= message.log_time_ns:
                log_ns, _, held = heapq.heappop(delayed)
                emit(held, log_ns)
            sensor = lidars.get(message.topic)
            if sensor is None:
                emit(message, message.log_time_ns)
            else:
                period_ns = int(NS_PER_S / sensor.rate_hz)
                heapq.heappush(delayed, (message.log_time_ns + period_ns, order, message))
        while delayed:
            log_ns, _, held = heapq.heappop(delayed)
            emit(held, log_ns)
