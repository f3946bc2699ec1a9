"""A set's camera images decoded before fusion: ``decode_threads`` 1 (the pipeline thread alone) vs 2.

    .venv/bin/python bench/bench_decode.py [--seconds 20] [--rounds 2]

Runs the ``Annotator`` over the cached drive of the default rig (``drive_cache.py``; six 1600x900 JPEG
cameras), its camera samples wrapped as ``fusion_node`` wraps them (``lazy_camera_sample``: decoded on
first access), with the helper threads on as live. Per set step (the first 3 s left out), p50: the wall
and pipeline-thread CPU time of ``SetDecoder.decode`` (the images the set still needs: the edge-check
images are decoded on their own thread), and of the whole step. One thread is the baseline, the
images decoded one after another; rounds alternate the settings so a slow phase of the machine hits
both alike.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from drive_cache import cached_drive

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.library_threads import let_openmp_teams_sleep
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.nodes.lazy_sample import lazy_camera_sample
from mmfusion_annotate.recording import BagReader, deserialize
from mmfusion_annotate.rig import default_rig_path, load_rig

WARMUP_S = 3.0


def run(rig, messages, threads: int) -> dict[str, np.ndarray]:
    """Wall and thread-CPU ms of the decode and of the whole step, per set step after the warm-up."""
    annotator = Annotator(rig, PipelineConfig(decode_threads=threads))
    decode, timings = annotator._decoder.decode, {"decode": [], "step": []}

    def timed_decode(samples):
        w0, c0 = time.perf_counter(), time.thread_time()
        failed = decode(samples)
        timings["decode"].append((time.perf_counter() - w0, time.thread_time() - c0))
        return failed

    annotator._decoder.decode = timed_decode
    start = messages[0][1].header.stamp.sec + WARMUP_S
    for sensor, msg in messages:
        sample = (lazy_camera_sample if sensor.kind == "camera" else decode_sample)(sensor, msg)
        for step in annotator.intake(sample):
            w0, c0 = time.perf_counter(), time.thread_time()
            annotator.process(step)
            if step.kind == "set":
                timings["step"].append((time.perf_counter() - w0, time.thread_time() - c0))
    annotator.finish()
    skip = sum(1 for sensor, msg in messages if sensor.kind == "lidar" and msg.header.stamp.sec < start)
    return {k: np.array(v[skip:]) * 1e3 for k, v in timings.items()}


def main() -> None:
    let_openmp_teams_sleep()  # what every entry point of the suite does first (library_threads.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="drive length (cached under /tmp)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rig = load_rig(default_rig_path())
    sensors = {s.topic: s for s in rig.sensors.values()}
    messages = [(sensors[r.topic], deserialize(r.msgtype, r.data))
                for r in BagReader(cached_drive("cut_in", args.seconds)) if r.topic in sensors]  # fmt: skip
    print("per set step, p50 ms (wall / pipeline-thread CPU):")
    for _ in range(args.rounds):
        for threads in (1, 2):
            t = run(rig, messages, threads)
            d, s = np.median(t["decode"], axis=0), np.median(t["step"], axis=0)
            print(f"  decode_threads {threads}: decode {d[0]:5.1f} / {d[1]:5.1f}   whole step {s[0]:5.1f} / "
                  f"{s[1]:5.1f}   ({len(t['step'])} sets)")


if __name__ == "__main__":
    main()
