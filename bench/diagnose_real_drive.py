"""Why pre-labels miss or invent cars and people on PandaSet's TUNING frames (16-43 only, never 44-55).

Imports the tuning frames once (``--work`` keeps the bag between runs), replays them through the whole chain
with the PandaSet configuration (point semantics; ``--detector`` adds the camera detector), scores them as
``bench_real_drive.py`` does, and lists each missed truth object and each false pre-label within 50 m with
its cause: the best BEV IoU with the other side, the centre offset along and across the truth's axis, the
length and width error, and the LiDAR returns inside the truth cuboid. A summary groups the misses by cause
(no pre-label near, a near miss 0.3-0.5 with its along-axis offset, a wrong class). The scoring frames stay
out: choose changes here, then run ``bench_real_drive.py`` once per candidate.

    .venv/bin/python bench/diagnose_real_drive.py [--detector MODEL] [--work DIR] [--list]

Data: PandaSet by Hesai and Scale AI (CC BY 4.0).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from bench_real_drive import PANDASET_CONFIG, _config, _row  # noqa: E402

from mmfusion_annotate.bagtools.evaluate_bag import (  # noqa: E402
    _read,
    _sweep_points,
    evaluate_bag,
    points_inside,
)
from mmfusion_annotate.bagtools.replay import replay_bag  # noqa: E402
from mmfusion_annotate.datasets.pandaset_import import import_pandaset  # noqa: E402
from mmfusion_annotate.prelabel.metrics import BEV_IOU_RULE, GROUPS, bev_iou, match  # noqa: E402
from mmfusion_annotate.rig import load_rig  # noqa: E402

TUNING = (16, 43)
RANGE_M = 50.0


def _offsets(g, p) -> tuple[float, float]:
    """Centre offset of ``p`` from ``g`` along and across ``g``'s axis (m)."""
    d = np.subtract(p.center[:2], g.center[:2])
    c, s = math.cos(g.yaw), math.sin(g.yaw)
    return float(c * d[0] + s * d[1]), float(-s * d[0] + c * d[1])


def _best(obj, others):
    scored = [(bev_iou(obj.center, obj.size, obj.yaw, o.center, o.size, o.yaw), o) for o in others]
    near = [(i, o) for i, o in scored if math.dist(obj.center[:2], o.center[:2]) < 6.0]
    return max(near, key=lambda t: t[0], default=(0.0, None))


def diagnose(bag: Path, rig, show: bool) -> None:
    """Per-object causes of the misses and false pre-labels of cars and people within 50 m."""
    content = _read(bag, rig, False)
    pred_stamps = sorted(content.preds)
    causes: dict[str, Counter] = {g: Counter() for g in ("car", "pedestrian", "cyclist")}
    along: list[float] = []
    for stamp in sorted(content.truth):
        k = int(np.argmin([abs(s - stamp) for s in pred_stamps]))
        cloud = np.vstack([
            _sweep_points(rig, topic, sweeps[int(np.argmin([abs(s - stamp) for s in stamps]))])
            for topic, (stamps, sweeps) in content.sweeps.items()
        ])  # fmt: skip
        truth = [(b, points_inside(cloud, b)) for b in content.truth[stamp]]
        truth = [(b, n) for b, n in truth if n >= 1 and math.hypot(*b.center[:2]) <= RANGE_M]
        preds = [p for p in content.preds[pred_stamps[k]] if math.hypot(*p.center[:2]) <= RANGE_M]
        for group in causes:
            classes = GROUPS[group]
            gts = [b for b, _ in truth if b.label in classes]
            ps = [p for p in preds if p.label in classes]
            pairs = match(group, gts, ps, BEV_IOU_RULE)
            hit_g, hit_p = {i for i, _ in pairs}, {j for _, j in pairs}
            for i, g in enumerate(gts):
                if i in hit_g:
                    continue
                n = next(n for b, n in truth if b is g)
                iou, p = _best(g, ps)
                iou_any, q = _best(g, [p for p in preds if p.label not in classes])
                if p is not None and iou >= 0.1:
                    a, c = _offsets(g, p)
                    cause = "near miss 0.3-0.5" if iou >= 0.3 else "poor overlap < 0.3"
                    along.append(a)
                    detail = (f"iou {iou:.2f} along {a:+.2f} across {c:+.2f} dl {p.size[0] - g.size[0]:+.2f} "
                              f"dw {p.size[1] - g.size[1]:+.2f}")  # fmt: skip
                elif q is not None and iou_any >= 0.1:
                    cause = f"labelled {q.label.value}"
                    detail = f"iou {iou_any:.2f}"
                else:
                    cause = "nothing near" if n >= 50 else "nothing near, < 50 points"
                    detail = ""
                causes[group][f"FN {cause}"] += 1
                if show:
                    r = math.hypot(*g.center[:2])
                    print(f"  {stamp} FN {group} id {g.object_id} r {r:4.1f} m pts {n:4d} {cause}: {detail}")
            for j, p in enumerate(ps):
                if j in hit_p:
                    continue
                iou, g = _best(p, [b for b, _ in truth])
                if g is None or iou < 0.1:
                    cause = "no truth near"
                elif g.label in classes:
                    cause = "near miss" if iou >= 0.3 else "poor overlap"
                else:
                    cause = f"truth is {g.label.value}"
                causes[group][f"FP {cause}"] += 1
                if show:
                    r = math.hypot(*p.center[:2])
                    print(f"  {stamp} FP {group} r {r:4.1f} m conf {p.confidence:.2f} {cause} "
                          f"(iou {iou:.2f})")  # fmt: skip
    for group, counts in causes.items():
        print(f"{group}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if along:
        a = np.abs(along)
        print(f"car near misses |along offset| median {np.median(a):.2f} m, "
              f"> 1 m: {int((a > 1).sum())}/{len(a)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1] / ".." / "shared" / "data" /
                        "pandaset_seq002")  # fmt: skip
    parser.add_argument("--detector", help="camera detector (name or .onnx path)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mmfusion_diagnose"))
    parser.add_argument("--list", action="store_true", help="print every miss and false pre-label")
    args = parser.parse_args()
    bag = args.work / f"pandaset_{TUNING[0]}_{TUNING[1]}"
    if not bag.exists():
        import_pandaset(args.data, bag, TUNING)
    rig = load_rig(bag / "rig.yaml")
    out = args.work / f"replayed_{'detector' if args.detector else 'lidar'}_{os.getpid()}"
    started = time.perf_counter()
    summary = replay_bag(bag, out, rig, _config(args.detector, True), compression="none")
    wall = time.perf_counter() - started
    print(f"config {PANDASET_CONFIG.name}, detector {args.detector}: {summary.frames} frames, {wall:.1f} s")
    result = evaluate_bag(out, rig)
    bev = result.bev_iou
    for group in ("car", "truck", "pedestrian", "cyclist"):
        print(_row(f"{group}@50m", bev["detection"][f"{group}@50m"], None))
    box = result.boxes2d["all"]
    print(f"  2D boxes: mean IoU {box['iou_mean']:.3f} over {box['pairs']} pairs; P {box['precision']:.2f} "
          f"R {box['recall']:.2f}")  # fmt: skip
    print(f"  id switches {bev['id_switches']} ({bev['id_switches_per_100_objects']:.1f} per 100); "
          f"MOTA {bev['mota']:.2f}; IDF1 {bev['idf1']:.2f}")  # fmt: skip
    diagnose(out, rig, args.list)


if __name__ == "__main__":
    main()
