"""Pre-label quality on every built-in synthetic drive: precision beside recall for every class.

Each scenario runs whole (front camera only, LiDAR and radar complete) through the real chain (sync ->
fusion -> pre-labels), LiDAR-only classes, scored against the simulator's truth (``sim_eval``).
Prints, per scenario and class, precision / recall and counts within 20, 30 and 50 m, and the number
of pre-labels of each class: a drive that holds no pedestrian or cyclist (cut_in, calm) should get none.

    .venv/bin/python bench/bench_sim_quality.py [--scenario NAME ...] [--seed N]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from importlib import resources

from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.sim_eval import evaluate_scenario

CLASSES = [c.value for c in ObjectClass if c is not ObjectClass.UNKNOWN]


def _scenarios() -> list[str]:
    folder = resources.files("mmfusion_annotate.sim") / "scenarios"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _cell(counts: dict | None) -> str:
    if counts is None or counts["tp"] + counts["fp"] + counts["fn"] == 0:
        return "        -         "
    p = "  - " if counts["precision"] is None else f"{counts['precision']:.2f}"
    r = "  - " if counts["recall"] is None else f"{counts['recall']:.2f}"
    return f"{p}/{r} ({counts['tp']}/{counts['fp']}/{counts['fn']})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", action="append", help="one scenario (repeatable); default: all")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    print("precision/recall (tp/fp/fn) by BEV IoU within 20 / 30 / 50 m; pre-labels of each class")
    for name in args.scenario or _scenarios():
        started = time.perf_counter()
        result = evaluate_scenario(name, cameras=["cam_front"], seed=args.seed)
        wall = time.perf_counter() - started
        made = Counter(c.label.value for f in result.frames for c in f.labels.cuboids)
        det = result.report["detection"]
        made_text = dict(sorted(made.items()))
        print(f"\n{name}: {len(result.frames)} frames in {wall:.0f} s; pre-labels {made_text}")
        for cls in CLASSES:
            cells = [_cell(det.get(f"{cls}@{r}m")) for r in (20, 30, 50)]
            print(f"  {cls:<11}" + "  ".join(cells))


if __name__ == "__main__":
    main()
