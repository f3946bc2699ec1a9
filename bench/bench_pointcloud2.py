"""PointCloud2 decode/encode cost for one LiDAR sweep: the zero-copy codec against the obvious baseline.

Cloud: 128 beams x 2048 columns = 262,144 points, fields x, y, z, intensity (float32), ring (uint16),
t (uint32 ns after the stamp), padded to point_step 32 (offsets 0, 4, 8, 12, 16, 20; 8 tail bytes),
as an Ouster/PCL-style driver publishes it.

Baseline (same run): the ROS 1 ``sensor_msgs.point_cloud2`` algorithm that many tools still copy:
decode = a Python loop of ``struct.Struct.unpack_from`` per point into a list of tuples, then
``np.array(list)``; encode = ``struct.Struct.pack_into`` per point into a ``bytearray``.

Run: ``.venv/bin/python bench/bench_pointcloud2.py [--beams 128 --columns 2048 --repeats 20]``.
Figures are the best of ``--repeats`` runs (baseline: best of 3), single thread.
"""

from __future__ import annotations

import argparse
import array
import struct
import time
from collections.abc import Callable

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from mmfusion_annotate.msgs import pointcloud2 as pc

STAMP_NS = 1_700_000_000_000_000_000
FIELDS = [
    ("x", 0, PointField.FLOAT32),
    ("y", 4, PointField.FLOAT32),
    ("z", 8, PointField.FLOAT32),
    ("intensity", 12, PointField.FLOAT32),
    ("ring", 16, PointField.UINT16),
    ("t", 20, PointField.UINT32),
]
POINT_STEP = 32


def make_sweep(beams: int, columns: int) -> tuple[PointCloud2, dict[str, np.ndarray]]:
    """A padded sweep message plus its columns (xyz, intensity, ring, t_ns) for the encoders."""
    rng = np.random.default_rng(0)
    n = beams * columns
    xyz = rng.normal(scale=20.0, size=(n, 3)).astype(np.float32)
    cols = {
        "xyz": xyz,
        "intensity": rng.random(n, dtype=np.float32) * 255,
        "ring": np.repeat(np.arange(beams, dtype=np.uint16), columns),
        "t_ns": STAMP_NS + np.tile(np.linspace(0, 99_900_000, columns).astype(np.int64), beams),
    }
    dtype = np.dtype(
        {
            "names": [f[0] for f in FIELDS],
            "offsets": [f[1] for f in FIELDS],
            "formats": ["<f4", "<f4", "<f4", "<f4", "<u2", "<u4"],
            "itemsize": POINT_STEP,
        }
    )
    points = np.zeros(n, dtype)
    for i, axis in enumerate("xyz"):
        points[axis] = xyz[:, i]
    points["intensity"], points["ring"] = cols["intensity"], cols["ring"]
    points["t"] = cols["t_ns"] - STAMP_NS
    fields = [PointField(name=name, offset=off, datatype=dt, count=1) for name, off, dt in FIELDS]
    msg = PointCloud2(
        height=1, width=n, point_step=POINT_STEP, row_step=POINT_STEP * n, is_dense=True, fields=fields
    )
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(STAMP_NS, 1_000_000_000)
    data = array.array("B")
    data.frombytes(points.view(np.uint8))
    msg.data = data
    return msg, cols


def baseline_decode(msg: PointCloud2) -> np.ndarray:
    """ROS 1 read_points: one struct.unpack_from per point, then np.array of the tuples."""
    codes = {PointField.FLOAT32: "f", PointField.UINT16: "H", PointField.UINT32: "I"}
    fmt = "<"
    offset = 0
    for f in sorted(msg.fields, key=lambda f: f.offset):
        fmt += "x" * (f.offset - offset) + codes[f.datatype]
        offset = f.offset + struct.calcsize("<" + codes[f.datatype])
    unpack_from = struct.Struct(fmt).unpack_from
    data, step = msg.data, msg.point_step
    return np.array([unpack_from(data, i * step) for i in range(msg.width * msg.height)])


def baseline_encode(cols: dict[str, np.ndarray]) -> bytearray:
    """ROS 1 create_cloud: one struct.pack_into per point into a bytearray."""
    packer = struct.Struct("<ffffHI")
    buf = bytearray(packer.size * len(cols["ring"]))
    rows = zip(
        cols["xyz"].tolist(),
        cols["intensity"].tolist(),
        cols["ring"].tolist(),
        (cols["t_ns"] - STAMP_NS).tolist(),
        strict=True,
    )
    for i, ((x, y, z), intensity, ring, t) in enumerate(rows):
        packer.pack_into(buf, i * packer.size, x, y, z, intensity, ring, t)
    return buf


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls, in milliseconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beams", type=int, default=128)
    parser.add_argument("--columns", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    msg, cols = make_sweep(args.beams, args.columns)
    n = msg.width * msg.height

    reference = baseline_decode(msg)
    fast = pc.decode(msg)
    assert np.array_equal(pc.points_xyz(fast), reference[:, :3].astype(np.float32))
    assert np.array_equal(fast["t_ns"], cols["t_ns"])

    view, timed, base = "decode: zero-copy view", "decode: view + t_ns (default)", "decode baseline"
    encode, encode_base = "encode: encode_xyzirt -> PointCloud2", "encode baseline"
    rows = [
        (view, lambda: pc.decode(msg, normalize_time=False), False),
        (timed, lambda: pc.decode(msg), False),
        ("decode: view + t_ns + points_xyz", lambda: pc.points_xyz(pc.decode(msg)), False),
        ("decode: view + drop_nan + t_ns", lambda: pc.decode(msg, drop_nan=True), False),
        (base, lambda: baseline_decode(msg), True),
        (
            encode,
            lambda: pc.encode_xyzirt(
                cols["xyz"], cols["intensity"], cols["ring"], cols["t_ns"], "lidar", STAMP_NS
            ),
            False,
        ),
        (encode_base, lambda: baseline_encode(cols), True),
    ]
    print(f"PointCloud2 {n:,} points, point_step {POINT_STEP}, fields x y z intensity ring t (padded)")
    print("baselines: ROS 1 read_points/create_cloud algorithm (per-point struct unpack_from/pack_into)")
    print(f"{'case':<40} {'ms':>10} {'Mpoints/s':>11}")
    results = {}
    for name, fn, slow in rows:
        ms = best_ms(fn, 3 if slow else args.repeats)
        results[name] = ms
        print(f"{name:<40} {ms:>10.3f} {n / ms / 1e3:>11.1f}")
    print(
        f"speed-up vs baseline: decode with t_ns {results[base] / results[timed]:.0f}x, "
        f"zero-copy view {results[base] / results[view]:.0f}x, "
        f"encode {results[encode_base] / results[encode]:.0f}x"
    )


if __name__ == "__main__":
    main()
