"""Benchmark: one fused frame (260k points, 6 cameras 1600x900 plumb_bob, motion compensation, colours).

Compares in the same run the straightforward numpy reference, the fast CPU path (numba) on 1 and 2
threads, and the CUDA path when CuPy sees a GPU. Prints ms per frame, points per second, and the time
the bytes that must move would take at this machine's measured copy bandwidth (the memory bound).
Then ``FusionPipeline.fuse`` end to end on a frame of the synthetic drive (its own sweep, cameras,
odometry and IMU), and ``EgoMotion.track`` against one ``pose`` call per knot (the obvious way).

    .venv/bin/python bench/bench_fusion.py [--points 260000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import time

# the targets are per core: numpy's BLAS (its matmuls) on one thread too, unless asked otherwise
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.fusion import EgoMotion, FusionConfig, FusionPipeline, PoseTrack, XpBackend
from mmfusion_annotate.fusion.fast_cpu import NumbaBackend
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sim import Drive
from mmfusion_annotate.types import SensorSample
from mmfusion_annotate.xp import cuda_available

SWEEP_NS = 100_000_000


def spinning_sweep(count: int, beams: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A spinning-LiDAR sweep in firing order: ground plane plus walls at an azimuth-dependent range."""
    rng = np.random.default_rng(seed)
    steps = -(-count // beams)
    azimuth = np.repeat(np.linspace(-np.pi, np.pi, steps, endpoint=False), beams)[:count]
    elevation = np.tile(np.radians(np.linspace(-24.8, 2.0, beams)), steps)[:count]
    wall = 8.0 + 30.0 * (0.5 + 0.5 * np.sin(3 * azimuth) ** 2) + rng.normal(0, 0.2, count)
    ground = np.where(elevation < 0, 1.8 / np.tan(-np.minimum(elevation, -1e-3)), np.inf)
    rng_m = np.minimum(wall / np.cos(elevation), ground / np.cos(elevation))
    xyz = np.stack(
        [
            rng_m * np.cos(elevation) * np.cos(azimuth),
            rng_m * np.cos(elevation) * np.sin(azimuth),
            rng_m * np.sin(elevation),
        ],
        axis=1,
    ).astype(np.float32)
    t_ns = (np.arange(count) // beams * SWEEP_NS // steps).astype(np.int64)
    return xyz, t_ns


def ego_motion(speed: float = 15.0, yaw_rate: float = 0.2) -> EgoMotion:
    """Odometry at 100 Hz on a constant-twist arc around the sweep."""
    ego = EgoMotion()
    for stamp in range(-100_000_000, 300_000_001, 10_000_000):
        t = stamp / 1e9
        yaw = yaw_rate * t
        position = [speed / yaw_rate * np.sin(yaw), speed / yaw_rate * (1 - np.cos(yaw)), 0.0]
        ego.add_odometry(
            stamp, position, Rotation.from_euler("z", yaw).as_quat(), [speed, 0, 0], [0, 0, yaw_rate]
        )
    return ego


def copy_bandwidth() -> float:
    """Bytes per second of a large numpy copy (read + write counted), best of three."""
    src = np.ones(64 * 2**20 // 8)
    dst = np.empty_like(src)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best


def time_frames(
    pipeline: FusionPipeline, samples: dict, ego: EgoMotion, repeat: int
) -> tuple[float, float, object]:
    """Best wall ms and best CPU ms (all threads) per fused frame over ``repeat`` runs, after a warm-up
    that also compiles. The CPU figure is what the frame costs when the machine is shared."""
    frame = pipeline.fuse(samples, ego)
    best_wall = best_cpu = np.inf
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        frame = pipeline.fuse(samples, ego)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_wall * 1e3, best_cpu * 1e3, frame


def moved_bytes(frame) -> int:
    """Bytes a perfect implementation must move: points + times in, deskewed points out, per hit
    (index, uv, depth, visibility, colour) out, and one cache line of image per coloured point."""
    n = len(frame.sweep)
    hits = sum(len(view.index) for view in frame.cameras.values())
    visible = sum(int(view.visible.sum()) for view in frame.cameras.values())
    return n * (12 + 8 + 12) + hits * (4 + 8 + 4 + 1 + 3) + visible * 64


def drive_frame(rig, sweep: int = 3) -> tuple[dict, EgoMotion]:
    """One sweep of the synthetic drive with the camera frames nearest to it, and an EgoMotion fed
    with the drive's odometry and IMU up to 300 ms after it (as the live node would have)."""
    drive = Drive(rig, "calm", image_format="raw")
    lidar = rig.lidars()[0].name
    tick = [t for t in drive.ticks if t.sensor == lidar][sweep]
    samples = {lidar: drive.sample(tick)}
    for camera in rig.cameras():
        ticks = (t for t in drive.ticks if t.sensor == camera.name)
        samples[camera.name] = drive.sample(min(ticks, key=lambda t: abs(t.stamp - tick.stamp)))
    ego = EgoMotion()
    for t in drive.ticks:
        if rig.sensor(t.sensor).kind in ("odometry", "imu") and t.stamp <= tick.stamp + 300_000_000:
            ego.feed(drive.sample(t))
    return samples, ego


def best_ms(call, repeat: int) -> float:
    """Best wall milliseconds of ``call()`` over ``repeat`` runs."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def end_to_end(rig, config: FusionConfig, repeat: int) -> None:
    """``FusionPipeline.fuse`` on a synthetic-drive frame, and its ego-motion track on its own."""
    samples, ego = drive_frame(rig)
    lidar = rig.lidars()[0].name
    t_ns = samples[lidar].payload["t_ns"]
    start, end = int(t_ns.min()) - 50_000_000, int(t_ns.max()) + 50_000_000  # sweep and exposures
    knots = ego.track(start, end).times_ns

    def track_per_knot() -> PoseTrack:
        return PoseTrack.from_poses(knots, np.stack([ego.pose(int(t)) for t in knots]))

    per_knot, track = best_ms(track_per_knot, 5 * repeat), best_ms(lambda: ego.track(start, end), 5 * repeat)
    print(
        f"EgoMotion.track over {(end - start) / 1e6:.0f} ms ({len(knots)} knots): {track:.2f} ms "
        f"(one pose() per knot: {per_knot:.2f} ms, {per_knot / track:.1f}x)"
    )
    hits = None
    for label, backend in [
        ("reference numpy", XpBackend(np, "reference")),
        ("fast CPU numba, 1 thread", NumbaBackend(threads=1)),
    ]:
        wall, cpu, frame = time_frames(FusionPipeline(rig, config, backend), samples, ego, repeat)
        hits = sum(len(v.index) for v in frame.cameras.values())
        print(f"synthetic drive, FusionPipeline.fuse, {label:<26} {wall:8.1f} ms wall {cpu:8.1f} ms cpu")
    print(f"  (drive frame: {len(t_ns)} points, {len(frame.cameras)} cameras, {hits} point-camera hits)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=260_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rig = load_rig(default_rig_path())
    lidar = rig.lidars()[0].name
    xyz, t_ns = spinning_sweep(args.points)
    rng = np.random.default_rng(1)
    samples = {lidar: SensorSample(lidar, SWEEP_NS // 2, {"xyz": xyz, "t_ns": t_ns})}
    for k, camera in enumerate(rig.cameras()):
        image = rng.integers(0, 256, (camera.camera.height, camera.camera.width, 3), dtype=np.uint8)
        samples[camera.name] = SensorSample(camera.name, (k + 1) * SWEEP_NS // 7, {"image": image})
    ego = ego_motion()
    config = FusionConfig(motion_compensation=True, color_sampling="bilinear")
    bandwidth = copy_bandwidth()
    print(
        f"workload: {args.points} points, {len(rig.cameras())} cameras "
        f"{rig.cameras()[0].camera.width}x{rig.cameras()[0].camera.height} plumb_bob, motion compensation, "
        f"bilinear colours; copy bandwidth {bandwidth / 1e9:.1f} GB/s"
    )

    runs = [("reference numpy", XpBackend(np, "reference"))]
    runs += [(f"fast CPU numba, {t} thread{'s' * (t > 1)}", NumbaBackend(threads=t)) for t in (1, 2)]
    results = {}
    for label, backend in runs:
        results[label] = time_frames(FusionPipeline(rig, config, backend), samples, ego, args.repeat)
    if cuda_available():
        import cupy  # noqa: PLC0415

        backend = XpBackend(cupy, "cuda")
        results["CUDA (CuPy)"] = time_frames(FusionPipeline(rig, config, backend), samples, ego, args.repeat)
    else:
        print("CUDA (CuPy): not measured, no CUDA device on this machine")

    ref_wall, ref_cpu, _ = results["reference numpy"]
    print(
        f"{'backend':<28} {'wall ms':>8} {'cpu ms':>8} {'Mpoints/s':>10} {'vs numpy (wall/cpu)':>20} "
        f"{'mem bound ms':>13}"
    )
    for label, (wall, cpu, frame) in results.items():
        bound_ms = moved_bytes(frame) / bandwidth * 1e3
        print(
            f"{label:<28} {wall:8.1f} {cpu:8.1f} {args.points / wall / 1e3:10.1f} "
            f"{ref_wall / wall:9.1f}x /{ref_cpu / cpu:6.1f}x {bound_ms:13.2f}"
        )
    hits = sum(len(v.index) for v in results["reference numpy"][2].cameras.values())
    print(f"point-camera hits per frame: {hits} ({hits / args.points:.2f} per point)")
    end_to_end(rig, config, args.repeat)


if __name__ == "__main__":
    main()
