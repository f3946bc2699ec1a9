"""Wall time to make one synced set's camera images usable: ``SetDecoder`` on 1, 2 and 3 threads.

    .venv/bin/python bench/bench_decode.py [--sets 40] [--rounds 2]

Sets of six camera messages are taken in order from the cached 20 s drive of the default rig
(``drive_cache.py``; 1600x900 JPEGs), each wrapped as ``fusion_node`` wraps them (``lazy_camera_sample``:
decoded on first access), then decoded as ``Annotator`` does before fusing a set. One thread is the
baseline, the pipeline thread decoding the images one after another; the printed CPU is the whole
process's, so it shows what running side by side costs in all. Rounds alternate the thread counts so a
slow phase of the machine hits each alike.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from drive_cache import cached_drive

from mmfusion_annotate.nodes.lazy_sample import lazy_camera_sample
from mmfusion_annotate.recording import BagReader, deserialize
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.set_decoder import SetDecoder


def camera_sets(count: int) -> list[list[tuple[object, object]]]:
    """``count`` sets of (camera sensor, CompressedImage message), six consecutive images each."""
    rig = load_rig(default_rig_path())
    cameras = {s.topic: s for s in rig.cameras()}
    messages = []
    for record in BagReader(cached_drive("cut_in", 20.0)):
        sensor = cameras.get(record.topic)
        if sensor is not None:
            messages.append((sensor, deserialize(record.msgtype, record.data)))
        if len(messages) == count * len(cameras):
            break
    return [messages[i : i + len(cameras)] for i in range(0, len(messages), len(cameras))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sets = camera_sets(args.sets)
    decoders = {threads: SetDecoder(threads) for threads in (1, 2, 3)}
    print(f"{len(sets)} sets of {len(sets[0])} camera images; per set, p50 over the sets:")
    for _ in range(args.rounds):
        for threads, decoder in decoders.items():
            wall, cpu = [], []
            for messages in sets:
                samples = {sensor.name: lazy_camera_sample(sensor, msg) for sensor, msg in messages}
                w0, c0 = time.perf_counter(), time.process_time()
                failed = decoder.decode(samples)
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
                assert not failed, failed
            print(f"  {threads} thread{'s' if threads > 1 else ' '}  wall {np.median(wall) * 1e3:5.1f} ms   "
                  f"CPU {np.median(cpu) * 1e3:5.1f} ms")


if __name__ == "__main__":
    main()
