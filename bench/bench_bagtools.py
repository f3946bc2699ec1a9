"""Bag-tool figures: ``info``, ``events`` (metadata records vs the event topic) and a short ``clip`` out of
a longer bag, each against the obvious baseline, reading every message with ``BagReader``.

    .venv/bin/python bench/bench_bagtools.py [--seconds 60] [--kb 200]

The bag is written with the project's ``BagWriter`` (lz4, split every 10 s): one 20 Hz topic of opaque
payloads (random bytes: the figures measure index use, not decompression of compressible data) and an
event every 5 s, mirrored into the files' metadata as the recorder does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from mmfusion_annotate.bagtools.clip import clip_bag
from mmfusion_annotate.bagtools.events import list_events
from mmfusion_annotate.bagtools.info import bag_info
from mmfusion_annotate.events.model import Category, Event, Severity
from mmfusion_annotate.interfaces.msgtypes import EVENT
from mmfusion_annotate.outputs.labels import event_message
from mmfusion_annotate.recording import BagReader, BagWriter, serialize
from mmfusion_annotate.types import NS_PER_S

T0 = 1_700_000_000 * NS_PER_S
RATE_HZ = 20


def write_bag(bag_dir: Path, seconds: int, payload_bytes: int) -> int:
    payload = os.urandom(payload_bytes)
    with BagWriter(bag_dir, compression="lz4", split_duration_ns=10 * NS_PER_S) as writer:
        writer.add_topic("/lidar", "sensor_msgs/msg/PointCloud2", "sensor_data")
        writer.add_topic("/events", EVENT)
        for i in range(seconds * RATE_HZ):
            ns = T0 + i * NS_PER_S // RATE_HZ
            writer.write("/lidar", payload, ns)
            if i % (5 * RATE_HZ) == RATE_HZ:
                event = Event(id=f"e{i}", type="hard_braking", category=Category.DRIVING,
                              severity=Severity.CRITICAL, start=ns, peak=ns, end=ns + NS_PER_S // 2,
                              detected=ns)  # fmt: skip
                writer.write("/events", serialize(EVENT, event_message(event)), ns)
                writer.add_event_metadata(event.id, event.start, event.end, event.to_dict())
    return sum(p.stat().st_size for p in bag_dir.glob("*.mcap"))


def timed(label: str, action) -> object:
    started = time.perf_counter()
    result = action()
    print(f"  {label:<34} {time.perf_counter() - started:8.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--kb", type=int, default=200, help="payload size per message, kB")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_bagtools_"))
    try:
        bag = root / "drive"
        size = write_bag(bag, args.seconds, args.kb * 1000)
        events = list_events(bag)
        files = len(BagReader(bag).files)
        print(f"bag: {size / 1e6:.0f} MB, {args.seconds} s, {files} files, {len(events)} events")
        timed("baseline: read every message", lambda: sum(1 for _ in BagReader(bag)))
        timed("info", lambda: bag_info(bag))
        timed("events from metadata records", lambda: list_events(bag, source="metadata"))
        timed("events from the event topic", lambda: list_events(bag, source="topic"))
        middle = events[len(events) // 2]["id"]
        timed("clip +-2 s around one event", lambda: clip_bag(bag, root / "clips", event_id=middle,
                                                             before_s=2.0, after_s=2.0))  # fmt: skip
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
