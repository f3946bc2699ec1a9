"""Projection cost of one 260k-point LiDAR sweep into the 6 cameras of the default rig (reference numpy path).

Compares, in the same run, ``CameraModel.project`` (distortion, FOV guard, image bounds) with OpenCV's
``cv2.projectPoints`` (distortion only, no validity mask) on the same points and extrinsics.

    .venv/bin/python bench/bench_projection.py [--points 260000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np

from mmfusion_annotate.rig import default_rig_path, load_rig


def synthetic_sweep(n: int, seed: int = 0) -> np.ndarray:
    """Points around a car in the LiDAR frame: 2-80 m, -2.5..+1 m height relative to the sensor."""
    rng = np.random.default_rng(seed)
    r = 2.0 + 78.0 * rng.random(n) ** 2  # denser near the car, like a real sweep
    azimuth = rng.uniform(-np.pi, np.pi, n)
    z = rng.uniform(-2.5, 1.0, n)
    return np.stack([r * np.cos(azimuth), r * np.sin(azimuth), z], axis=1)


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=260_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    rig = load_rig(default_rig_path())
    lidar = rig.lidars()[0]
    cameras = rig.cameras()
    transforms = [rig.transform(cam.frame_id, lidar.frame_id) for cam in cameras]
    sweep64 = synthetic_sweep(args.points)

    def ours(sweep: np.ndarray) -> int:
        visible = 0
        for cam, T in zip(cameras, transforms, strict=True):
            R, t = T[:3, :3].astype(sweep.dtype), T[:3, 3].astype(sweep.dtype)
            _, _, valid = cam.camera.project(sweep @ R.T + t)
            visible += int(valid.sum())
        return visible

    def opencv(sweep: np.ndarray) -> None:
        for cam, T in zip(cameras, transforms, strict=True):
            rvec = cv2.Rodrigues(T[:3, :3])[0]
            cv2.projectPoints(sweep, rvec, T[:3, 3], cam.camera.K, np.array(cam.camera.D))

    print(
        f"rig: {default_rig_path().name}, {len(cameras)} cameras, sweep of {args.points:,} points "
        f"(best of {args.repeat})"
    )
    print(f"valid projections, summed over the cameras: {ours(sweep64):,}")
    rows = [
        ("CameraModel.project, float64 (reference numpy)", best_ms(lambda: ours(sweep64), args.repeat)),
        ("CameraModel.project, float32", best_ms(lambda: ours(sweep64.astype(np.float32)), args.repeat)),
        ("cv2.projectPoints, float64 (baseline, no mask)", best_ms(lambda: opencv(sweep64), args.repeat)),
    ]
    projections = args.points * len(cameras)
    for label, ms in rows:
        print(
            f"{label:50s} {ms:8.1f} ms/frame  {args.points / ms * 1e3 / 1e6:6.2f} M sweep points/s  "
            f"{projections / ms * 1e3 / 1e6:6.1f} M point-camera projections/s"
        )


if __name__ == "__main__":
    main()
