"""Replay throughput over many bags: fused frames per second with 1 and 2 worker processes and through a
local Ray (the ratio in one run, on the same bags), and on paper what a 100-node cluster gives for a day
of a 50-car fleet.

    .venv/bin/python bench/bench_batch.py [--bags 4] [--seconds 3] [--rig RIG] [--no-ray]

The bags are synthetic drives of the rig (default: the shipped six-camera rig), one seed each, cached by
``drive_cache``. Each engine replays all of them into a fresh folder through ``replay_batch`` (what
``mmfusion replay BAG... --workers N / --ray`` runs); the time includes starting the worker processes
(imports, numba's cached kernels), not Ray's own start, which is measured apart.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from drive_cache import cached_drive

from mmfusion_annotate.bagtools.replay_batch import plan_replays, run_replays
from mmfusion_annotate.rig import default_rig_path

SCENARIOS = ("cut_in", "hard_braking", "pedestrian_crossing", "calm")


def bag_bytes(bag: Path) -> int:
    return sum(p.stat().st_size for p in bag.glob("*.mcap"))


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its children that have ended (pool workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def replay_all(
    bags: list[Path], rig: Path, workers: int, ray_address: str | None
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process and its worker processes, fused frames) of replaying
    ``bags`` on one engine into a fresh folder. Ray's workers are not ours: their CPU time is not in it."""
    out = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        plan = plan_replays(bags, out, rig_file=rig, compression="lz4")
        started, cpu = time.perf_counter(), cpu_seconds()
        outcomes = run_replays(plan, out, workers=workers, ray_address=ray_address)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        failed = [o.error for o in outcomes if not o.ok]
        if failed:
            raise SystemExit(f"bench_batch: a replay failed: {failed[0]}")
        return seconds, cpu, sum(o.result.frames for o in outcomes if o.result)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def fleet_on_paper(frames_per_gb: float, cpu_s_per_frame: float, efficiency: float) -> list[str]:
    """Hours for a 100-node cluster (16 cores each, one worker per core) to replay a 50-car fleet's day.

    Based on CPU seconds per frame rather than this machine's wall time, which other jobs share."""
    nodes, cores, cars = 100, 16, 50
    lines = [
        f"on paper: {cars} cars, {nodes} nodes x {cores} cores (one worker a core), {frames_per_gb:.0f} "
        f"fused frames a GB (these bags), {cpu_s_per_frame:.2f} CPU s a frame (measured, 1 worker), "
        f"efficiency {efficiency:.2f} (assumed: storage, uneven bag lengths, task start)"
    ]
    for tb_per_car in (1.0, 2.0):
        frames = cars * tb_per_car * 1000 * frames_per_gb
        rate = nodes * cores / cpu_s_per_frame * efficiency
        lines.append(
            f"  {tb_per_car:.0f} TB/car/day: {cars * tb_per_car:.0f} TB, {frames / 1e6:.1f} M frames -> "
            f"{frames / rate / 3600:.1f} h on the cluster ({cars * tb_per_car * 1e6 / (frames / rate):.0f} "
            "MB/s read from shared storage)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bags", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each drive")
    parser.add_argument("--rig", type=Path, default=default_rig_path())
    parser.add_argument("--no-ray", action="store_true", help="skip the local Ray run")
    parser.add_argument("--efficiency", type=float, default=0.8, help="assumed cluster efficiency")
    args = parser.parse_args()
    bags = [
        cached_drive(SCENARIOS[i % len(SCENARIOS)], args.seconds, rig_file=args.rig, seed=i)
        for i in range(args.bags)
    ]
    size = sum(bag_bytes(bag) for bag in bags)
    print(
        f"{len(bags)} bags of {args.seconds:g} s ({args.rig.name}), {size / 1e6:.0f} MB; "
        f"load before: {os.getloadavg()[0]:.2f}"
    )
    results: dict[str, tuple[float, float, int]] = {}
    for workers in (1, 2):
        results[f"{workers} worker{'s' if workers > 1 else ''}"] = replay_all(bags, args.rig, workers, None)
    if not args.no_ray:
        import ray  # noqa: PLC0415

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
        print(f"Ray start (local, 2 CPUs): {time.perf_counter() - started:.1f} s (not in the figure below)")
        try:
            results["Ray local, 2 CPUs"] = replay_all(bags, args.rig, 2, "local")
        finally:
            ray.shutdown()
    for name, (seconds, cpu, frames) in results.items():
        cpu_text = (
            f"{cpu / frames:5.2f} CPU s/frame" if not name.startswith("Ray") else "(Ray's CPU not seen)"
        )
        print(
            f"{name:<18} {seconds:7.1f} s  {frames} frames  {frames / seconds:6.2f} frames/s  "
            f"{len(bags) / seconds:5.3f} bags/s  {size / 1e6 / seconds:6.1f} MB/s  {cpu_text}"
        )
    one_s, one_cpu, frames = results["1 worker"]
    two_s = results["2 workers"][0]
    print(f"2 workers / 1 worker: {one_s / two_s:.2f}x; load after: {os.getloadavg()[0]:.2f}")
    for line in fleet_on_paper(frames / (size / 1e9), one_cpu / frames, args.efficiency):
        print(line)


if __name__ == "__main__":
    main()
