"""Simulator throughput on one core: a drive of the default rig vs real time, per sensor kind.

Prints the real-time ratio (drive seconds / wall seconds, > 1 is faster than real time) for the sample
arrays alone and with ROS messages (JPEG encoding), the same from the process's CPU time (what one core
gives when other jobs share the machine), the cost per frame of each sensor kind, and two
baselines measured in the same run: the numpy reference ray caster against the compiled one on a
LiDAR sweep, and rendering at full resolution against the default internal scale.

    .venv/bin/python bench/bench_sim.py [--scenario hard_braking] [--seconds 20]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: E402
from mmfusion_annotate.sim import Drive, SimConfig, load_scenario  # noqa: E402
from mmfusion_annotate.sim.geometry import ray_boxes  # noqa: E402
from mmfusion_annotate.sim.messages import sample_messages  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="hard_braking")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rig = load_rig(default_rig_path())
    scenario = load_scenario(args.scenario).model_copy(update={"duration_s": args.seconds})
    drive = Drive(rig, scenario)
    warm = Drive(rig, scenario.model_copy(update={"duration_s": 0.3}))
    for _ in warm.messages():  # compile the numba kernels outside the timing
        pass

    per_kind: dict[str, list[float]] = defaultdict(list)
    encode = 0.0
    cpu_start = time.process_time()
    start = time.perf_counter()
    for tick in drive.ticks:
        t0 = time.perf_counter()
        sample = drive.sample(tick)
        t1 = time.perf_counter()
        for _ in sample_messages(drive, sample):
            pass
        encode += time.perf_counter() - t1
        per_kind[drive.sensors[tick.sensor].kind].append(t1 - t0)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    generate = wall - encode
    print(f"scenario {args.scenario}, {args.seconds:.1f} s, default rig, {len(drive.ticks)} frames, one core")
    print(f"  arrays (samples):          {generate:6.2f} s  -> {args.seconds / generate:5.2f}x real time")
    print(
        f"  + ROS messages (JPEG q{drive.config.render.jpeg_quality}): {wall:6.2f} s  -> "
        f"{args.seconds / wall:5.2f}x real time"
    )
    print(f"  (process CPU time:          {cpu:6.2f} s  -> {args.seconds / cpu:5.2f}x; wall adds other jobs)")
    for kind, times in sorted(per_kind.items()):
        print(
            f"  {kind:9s} {len(times):5d} frames  {np.mean(times) * 1e3:7.2f} ms/frame "
            f" {np.sum(times):6.2f} s"
        )

    # baseline 1: numpy reference caster vs compiled caster on one LiDAR sweep
    lidar = drive.sensors["lidar_top"]
    model = Drive(rig, scenario, config=SimConfig(sensors=("lidar_top",)))._models["lidar_top"]
    t_col = 5_000_000_000 + model.column_offsets_ns
    boxes = drive.world.boxes(t_col)
    ego = drive.ego.state(t_col)
    origin = ego.position + np.array([0.94, 0.0, 1.84])
    dirs = model._dirs_base
    t0 = time.perf_counter()
    ray_boxes(
        origin[None, :, None],
        dirs[None],
        boxes.center[:, :, None],
        boxes.yaw[:, :, None],
        drive.world.sizes[:, None, None] / 2,
    )[0].min(axis=0)
    reference = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.sweep(5_000_000_000, 0)
    compiled = time.perf_counter() - t0
    print(
        f"  lidar sweep {lidar.lidar.beams}x{model.columns} rays vs {len(drive.world)} boxes:"
        f" numpy reference "
        f"(all pairs, cast only) {reference * 1e3:.0f} ms,"
        f" compiled + culled full sweep {compiled * 1e3:.1f} ms"
    )

    # baseline 2: render at full resolution vs the default internal scale
    for scale in (drive.config.render.scale, 1.0):
        d = Drive(rig, scenario, config=SimConfig(sensors=("cam_front",), render={"scale": scale}))
        tick = d.ticks[len(d.ticks) // 2]
        d.sample(tick)
        t0 = time.perf_counter()
        for _ in range(5):
            d.sample(tick)
        print(
            f"  cam_front render at scale {scale:.2f}: {(time.perf_counter() - t0) / 5 * 1e3:6.1f} ms/frame"
        )


if __name__ == "__main__":
    main()
