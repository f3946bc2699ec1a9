"""Pre-labels on a real drive: PandaSet sequence 002 imported, replayed and scored against its human labels.

Prints, for the scoring frames only (44-55: nothing in the pre-labeller or in a learned part is tuned or
trained on them), the issue's figures beside their targets: per class precision and recall within 50 m
(BEV IoU 0.5 vehicles, 0.3 people), the 2D box IoU against the projected truth, id switches per 100
tracked objects; and the replay speed (frames per second, one thread) with each configuration.

    .venv/bin/python bench/bench_real_drive.py [--data ../shared/data/pandaset_seq002] [--detector MODEL]

Data: PandaSet by Hesai and Scale AI (CC BY 4.0).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the issue asks for the offline figure

from mmfusion_annotate.bagtools.evaluate_bag import evaluate_bag  # noqa: E402
from mmfusion_annotate.bagtools.replay import replay_bag  # noqa: E402
from mmfusion_annotate.config import PipelineConfig, load_pipeline_config  # noqa: E402
from mmfusion_annotate.datasets.pandaset_import import import_pandaset  # noqa: E402
from mmfusion_annotate.rig import load_rig  # noqa: E402

FRAMES = (16, 55)
SCORING_FROM = 44
PERIOD_S = 0.1
TARGETS = {"car": (0.85, 0.85), "pedestrian": (0.6, 0.6), "cyclist": (0.6, 0.6)}
BOX2D_TARGET = 0.75
PANDASET_CONFIG = Path(__file__).parents[1] / "config" / "pipeline_pandaset.yaml"


def _config(detector: str | None, semantics: bool) -> PipelineConfig:
    config = load_pipeline_config(PANDASET_CONFIG if semantics else None)
    if detector:
        camera = config.prelabel.camera
        camera = camera.model_copy(
            update={"detector": camera.detector.model_copy(update={"model": detector})}
        )
        config.prelabel = config.prelabel.model_copy(update={"camera": camera})
    return config


def _row(name: str, counts: dict, target: tuple[float, float] | None) -> str:
    def f(v):
        return "  -  " if v is None else f"{v:5.2f}"

    goal = f"   (target P >= {target[0]:.2f}, R >= {target[1]:.2f})" if target else ""
    return (
        f"  {name:<12} P {f(counts['precision'])}  R {f(counts['recall'])}  "
        f"tp {counts['tp']:4d} fp {counts['fp']:4d} fn {counts['fn']:4d}{goal}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1] / ".." / "shared" / "data" /
                        "pandaset_seq002")  # fmt: skip
    parser.add_argument("--detector", help="also replay with this camera detector (name or .onnx path)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / "pandaset"
        started = time.perf_counter()
        import_pandaset(args.data, bag, FRAMES)
        print(f"import frames {FRAMES[0]}-{FRAMES[1]}: {time.perf_counter() - started:.1f} s")
        rig = load_rig(bag / "rig.yaml")
        runs = [("LiDAR only, default pipeline", None, False), ("LiDAR + point semantics", None, True)]
        if args.detector:
            runs.append((f"LiDAR + point semantics + camera detector {args.detector}", args.detector, True))
        for k, (name, detector, semantics) in enumerate(runs):
            out = Path(tmp) / f"replayed_{k}"
            started = time.perf_counter()
            summary = replay_bag(bag, out, rig, _config(detector, semantics), compression="none")
            wall = time.perf_counter() - started
            result = evaluate_bag(out, rig, skip_s=(SCORING_FROM - FRAMES[0] - 0.5) * PERIOD_S)
            bev = result.bev_iou
            rate = summary.frames / wall
            print(f"\n{name}: replay {summary.frames} frames in {wall:.1f} s = {rate:.2f} frames/s")

            print(f"  scored frames {result.frames} (from frame {SCORING_FROM})")
            for group in ("car", "truck", "pedestrian", "cyclist"):
                print(_row(f"{group}@50m", bev["detection"][f"{group}@50m"], TARGETS.get(group)))
            box = result.boxes2d["all"]
            iou = "-" if box["iou_mean"] is None else f"{box['iou_mean']:.2f}"
            print(f"  2D boxes: mean IoU {iou} over {box['pairs']} pairs (target >= {BOX2D_TARGET})")
            per_100 = bev["id_switches_per_100_objects"]
            per_100 = "-" if per_100 is None else f"{per_100:.1f}"
            print(f"  id switches {bev['id_switches']} ({per_100} per 100 tracked objects)")
            print(f"  MOTA {bev['mota']:.2f}; IDF1 {bev['idf1']:.2f}")


if __name__ == "__main__":
    main()
