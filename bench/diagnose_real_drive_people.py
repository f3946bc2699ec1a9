"""Where the camera detector loses PandaSet's people, on the TUNING frames (16-43 only, never 44-55).

Replays the tuning frames with the PandaSet configuration and a camera detector (its schedule, tiles and
classes as given), recording each frame's camera fusion (a wrapper around ``Prelabeler._camera``: this is
a diagnosis, not an interface). Then, for each truth pedestrian and cyclist within 50 m: its LiDAR returns
(and how many are ground), the cameras they land in (visible points, height in pixels, the strongest box
holding at least half of them), and the cluster or seed that took most of its points with the camera's
verdict; a summary counts the misses by cause, and the scores are printed as ``bench_real_drive.py`` does.

    .venv/bin/python bench/diagnose_real_drive_people.py [--per-frame N] [--tiles N] [--classes C ...]

Data: PandaSet by Hesai and Scale AI (CC BY 4.0).
"""

from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from bench_real_drive import _config, _row  # noqa: E402
from diagnose_real_drive import TUNING  # noqa: E402

from mmfusion_annotate.bagtools.evaluate_bag import _read, evaluate_bag  # noqa: E402
from mmfusion_annotate.bagtools.replay import replay_bag  # noqa: E402
from mmfusion_annotate.datasets.pandaset_import import import_pandaset  # noqa: E402
from mmfusion_annotate.prelabel import prelabeler  # noqa: E402
from mmfusion_annotate.prelabel.camera_fusion import camera_objects  # noqa: E402
from mmfusion_annotate.prelabel.model import PERSON_CLASSES  # noqa: E402
from mmfusion_annotate.rig import load_rig  # noqa: E402

RANGE_M = 50.0


def _record(frames: dict) -> None:
    """Keep each frame's points, projections, boxes and fusion result (keyed by frame stamp)."""
    original = prelabeler.Prelabeler._camera

    def wrapped(self, frame, detections, stages, found, sensor_xy):
        result = original(self, frame, detections, stages, found, sensor_xy)
        frames[frame.stamp] = {
            "xyz": frame.sweep.xyz_deskewed.copy(),
            "ground": stages.is_ground.copy(),
            "views": {n: (v.index, v.uv, v.visible) for n, v in frame.cameras.items()},
            "boxes": {image.camera: camera_objects(image.detections) for image in found},
            "out": [(d.label, d.point_index) for d in result.detections],
            "verdicts": result.verdicts,
            "n_lidar": len(detections),
        }
        return result

    prelabeler.Prelabeler._camera = wrapped


def _inside(xyz: np.ndarray, box) -> np.ndarray:
    d = xyz - np.asarray(box.center)
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    half = np.asarray(box.size) / 2 + 0.1
    return np.flatnonzero(
        (np.abs(c * d[:, 0] + s * d[:, 1]) <= half[0])
        & (np.abs(-s * d[:, 0] + c * d[:, 1]) <= half[1])
        & (np.abs(d[:, 2]) <= half[2])
    )


def _cameras(rec: dict, idx: np.ndarray) -> list[tuple[str, int, float, float, str]]:
    """Per camera the object's points land in: visible points, pixel height, best box score and names."""
    out = []
    for name, (index, uv, visible) in rec["views"].items():
        pos = np.minimum(np.searchsorted(index, idx), len(index) - 1) if len(index) else np.zeros(0, int)
        hit = pos[index[pos] == idx] if len(index) else pos
        if len(hit) == 0:
            continue
        seen = hit[visible[hit]] if visible[hit].any() else hit
        px = uv[seen]
        best = (0.0, "")
        for o in rec["boxes"].get(name, []):
            x1, y1, x2, y2 = o.box
            share = ((px[:, 0] >= x1) & (px[:, 0] <= x2) & (px[:, 1] >= y1) & (px[:, 1] <= y2)).mean()
            if share >= 0.5 and o.score > best[0]:
                best = (o.score, "+".join(o.names))
        out.append((name, int(visible[hit].sum()), float(np.ptp(px[:, 1])), *best))
    return out


def diagnose(out: Path, rig, frames: dict) -> None:
    content = _read(out, rig, False)
    stamps = sorted(frames)
    causes: Counter = Counter()
    for stamp in sorted(content.truth):
        rec = frames[stamps[int(np.argmin([abs(s - stamp) for s in stamps]))]]
        for box in content.truth[stamp]:
            if box.label not in PERSON_CLASSES or math.hypot(*box.center[:2]) > RANGE_M:
                continue
            idx = _inside(rec["xyz"], box)
            if len(idx) == 0:
                continue
            cams = _cameras(rec, idx)
            fired = any("person" in names for *_, names in cams)
            holders = [(k, label, int(np.isin(p, idx).sum())) for k, (label, p) in enumerate(rec["out"])]
            k, label, n = max(holders, key=lambda h: h[2], default=(-1, None, 0))
            if n == 0:
                where = "no cluster or seed"
            else:
                verdict = rec["verdicts"][k] if k < len(rec["verdicts"]) else None
                source = "seed" if k >= rec["n_lidar"] else "cluster"
                where = f"{source} {label.value}"
                if verdict is not None:
                    where += f", camera says {verdict.label.value}"
            causes[f"{box.label.value}: person box {'yes' if fired else 'no'}, {where}"] += 1
            seen = [(c, v, round(h), round(s, 2), nm) for c, v, h, s, nm in cams]
            r = math.hypot(*box.center[:2])
            print(f"  {stamp} {box.label.value:<10} id {box.object_id} r {r:4.1f} m pts {len(idx):4d} "
                  f"ground {int(rec['ground'][idx].sum()):3d} cams {seen} -> {where}")  # fmt: skip
    for cause, count in sorted(causes.items()):
        print(f"{count:4d}  {cause}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1] / ".." / "shared" / "data" /
                        "pandaset_seq002")  # fmt: skip
    parser.add_argument("--detector", default=str(Path(__file__).parents[1] / ".." / "shared" / "models" /
                        "yolox_nano.onnx"))  # fmt: skip
    parser.add_argument("--per-frame", type=int, help="cameras per frame (0: every camera)")
    parser.add_argument("--tiles", type=int)
    parser.add_argument("--classes", nargs="+")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mmfusion_diagnose"))
    args = parser.parse_args()
    bag = args.work / f"pandaset_{TUNING[0]}_{TUNING[1]}"
    if not bag.exists():
        import_pandaset(args.data, bag, TUNING)
    rig = load_rig(bag / "rig.yaml")
    config = _config(args.detector, True)
    update = {"per_frame": args.per_frame, "tiles": args.tiles, "classes": args.classes}
    camera = config.prelabel.camera
    detector = camera.detector.model_copy(update={k: v for k, v in update.items() if v is not None})
    config.prelabel = config.prelabel.model_copy(
        update={"camera": camera.model_copy(update={"detector": detector})}
    )
    print(f"detector: {detector}")
    frames: dict = {}
    _record(frames)
    out = args.work / f"replayed_people_{os.getpid()}"
    replay_bag(bag, out, rig, config, compression="none")
    diagnose(out, rig, frames)
    bev = evaluate_bag(out, rig).bev_iou
    for group in ("car", "truck", "pedestrian", "cyclist"):
        print(_row(f"{group}@50m", bev["detection"][f"{group}@50m"], None))


if __name__ == "__main__":
    main()
