"""Point semantics per sweep on PandaSet's scoring frames (frames 44-55, never trained on), one core.

For every frame (both LiDARs, ~110-170k points, moved into base_link) the live path is timed: the ground
filter (the input it needs, shown for scale), then ``semantics.classify`` split into its features (the
non-ground points' voxels) and the perceptron's prediction per voxel. Baselines in the same run: the
same classifier on every point of the sweep (ground included: features and prediction over all
voxels), and the same classifier predicting every non-ground point instead of every voxel (its
voxel's features copied to it). Each timing is the best of ``--repeat`` calls per frame; the table
gives the median and the slowest frame. Then the per-class precision / recall and the confusion
matrix of ``classify`` over all points of the scoring frames.
Data: PandaSet by Hesai and Scale AI, CC BY 4.0.
Run: ``.venv/bin/python bench/bench_point_semantics.py [--frames 44-55] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mmfusion_annotate.datasets.semantics_data import open_sequence, read_sweep  # noqa: E402
from mmfusion_annotate.prelabel.config import PrelabelConfig  # noqa: E402
from mmfusion_annotate.prelabel.ground import remove_ground  # noqa: E402
from mmfusion_annotate.prelabel.semantics import (  # noqa: E402
    CLASS_NAMES,
    DEFAULT_MODEL_PATH,
    classify,
    features,
    load_model,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pandaset_seq002"


def _best_ms(fn: Callable[..., object], args: tuple, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", default="44-55", help="first-last scoring frame")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lo, _, hi = args.frames.partition("-")
    frames = list(range(int(lo), int(hi or lo) + 1))
    model = load_model()
    card = json.loads(DEFAULT_MODEL_PATH.with_name("point_semantics.json").read_text())
    offset = card["data_source"]["road_offset_m"]
    cfg = PrelabelConfig()
    n_cls = len(CLASS_NAMES)
    rows: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    conf = np.zeros((n_cls, n_cls), np.int64)
    load_before = os.getloadavg()[0]
    seq = open_sequence(DATA)
    for frame in frames:
        sweep = read_sweep(seq, frame, offset)
        xyz, inten = sweep.xyz, sweep.intensity
        ground = remove_ground(xyz, cfg.ground, cfg.cluster.max_range_m + 5.0)
        height, is_ground = np.asarray(ground.height), np.asarray(ground.is_ground)
        rest = ~is_ground
        xr, hr, ir = xyz[rest], height[rest], inten[rest]
        feats = features(xr, hr, ir, model.voxel_m, model.scales)
        every = features(xyz, height, inten, model.voxel_m, model.scales)
        per_point = feats.values[feats.voxel_of_point]
        vm, sc, max_r = model.voxel_m, model.scales, cfg.cluster.max_range_m + 5.0
        timings = (
            ("ground filter (input, for scale)", remove_ground, (xyz, cfg.ground, max_r)),
            ("live: classify (non-ground voxels)", classify, (model, xyz, height, is_ground, inten)),
            ("  features", features, (xr, hr, ir, vm, sc)),
            ("  prediction per voxel", model.probabilities, (feats.values,)),
            ("baseline: all points, features", features, (xyz, height, inten, vm, sc)),
            ("baseline: all points, prediction", model.probabilities, (every.values,)),
            ("baseline: prediction per point", model.probabilities, (per_point,)),
        )
        for name, fn, fn_args in timings:
            rows.setdefault(name, []).append(_best_ms(fn, fn_args, args.repeat))
        for name, n in (
            ("points", len(xyz)),
            ("non-ground points", int(rest.sum())),
            ("non-ground voxels", len(feats.values)),
            ("voxels of all points", len(every.values)),
        ):
            counts.setdefault(name, []).append(n)
        pred = classify(model, xyz, height, is_ground, inten).labels
        conf += np.bincount(sweep.labels.astype(np.int64) * n_cls + pred, minlength=n_cls**2).reshape(
            n_cls, n_cls
        )

    print(f"model {model.version}; PandaSet seq 002 frames {frames[0]}-{frames[-1]}")
    print("per sweep: " + ", ".join(f"{k} {np.median(v):.0f}" for k, v in counts.items()))
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2-core machine, shared)")
    print(f"  {'step':<38} {'median ms':>9} {'max ms':>8}")
    for name, values in rows.items():
        print(f"  {name:<38} {np.median(values):9.1f} {np.max(values):8.1f}")
    tp = np.diag(conf).astype(float)
    print(f"scoring frames, every point: accuracy {tp.sum() / conf.sum():.4f}")
    print(f"  {'class':<11} precision  recall    points")
    for k, name in enumerate(CLASS_NAMES):
        p, r = tp[k] / max(conf[:, k].sum(), 1), tp[k] / max(conf[k].sum(), 1)
        print(f"  {name:<11} {p:9.3f} {r:7.3f} {conf[k].sum():9d}")
    print("  confusion (rows truth, columns predicted: " + ", ".join(CLASS_NAMES) + ")")
    for row in conf:
        print("  " + " ".join(f"{v:8d}" for v in row))


if __name__ == "__main__":
    main()
