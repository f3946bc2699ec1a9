"""Fuzz of the core for longer than the test (issue 26): mutated messages of a synthetic drive through
decode, sync, fusion, pre-labels and events as ``fusion_node`` feeds them.

    .venv/bin/python bench/bench_fuzz.py [--seconds 120] [--seeds 1 2 3] [--rate 0.3] [--drive-s 3]

Prints per seed: messages (and passes over the drive: each pass a loop, time jumps back), mutated (per
kind), counted drops (per reason), expected drops not counted (must be none) and exceptions (must be 0;
the first traceback is printed). Exit 1 when either check fails.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "reliability"))

from fuzzing import drive_messages, format_run, fuzz  # noqa: E402

from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="fuzzing time per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rate", type=float, default=0.3, help="share of messages mutated")
    parser.add_argument("--drive-s", type=float, default=3.0, help="length of the synthetic drive looped")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # every refusal logs a warning: thousands of lines
    rig = load_rig(default_rig_path())
    messages = drive_messages(rig, args.drive_s)
    print(f"drive: {len(messages)} messages, {args.drive_s:g} s; mutation rate {args.rate:g}")
    failed = False
    for seed in args.seeds:
        run = fuzz(rig, messages, seed=seed, rate=args.rate, budget_s=args.seconds)
        print(f"seed {seed}:")
        for line in format_run(run):
            print("  " + line)
        if run.exceptions:
            print(run.exceptions[0])
        failed |= bool(run.exceptions or run.missing())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
