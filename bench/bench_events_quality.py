"""Events and review items judged against the simulator's truth: every built-in scenario x seeds, clean
and with each injected fault (``trust_eval``).

Each drive runs through the real chain (sync -> fusion -> pre-labels -> events; front camera, LiDAR,
radars, IMU, odometry) for a window of ``--duration`` seconds from ``--start`` (the whole drive without
them), and every review item and event is judged true or false against the truth. Prints, per review-item
kind and per event type, TP / FP / FN with precision and recall, the false critical/severe events, and
the events that span a whole window; ``--json`` writes the merged report and every drive's own.

    .venv/bin/python bench/bench_events_quality.py [--seeds 20] [--first-seed 0] [--duration 10] \
        [--faults clean,...]
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources

from mmfusion_annotate.sim_eval import trust_scenario
from mmfusion_annotate.trust_eval import format_trust, merge_reports

CAMERA = "cam_front"
FAULTS = {
    "clean": [],
    "calibration": [{"type": "calibration_error", "sensor": CAMERA, "yaw_deg": 0.5}],
    "clock_offset": [{"type": "clock_offset", "sensor": CAMERA, "offset_ms": 40.0}],
    "frame_drop": [{"type": "frame_drop", "sensor": CAMERA, "probability": 0.3}],
    "silent_radar": [{"type": "silent", "sensor": "radar_front", "start_s": 2.0}],
}
"""The fault sizes the sensor-health tests use (test/events/test_sensor_faults.py)."""


def _scenarios() -> list[str]:
    folder = resources.files("mmfusion_annotate.sim") / "scenarios"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", action="append", help="one scenario (repeatable); default: all")
    parser.add_argument("--seeds", type=int, default=20, help="N seeds per scenario and fault")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds FIRST..FIRST+N-1 (default 0)")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated of {', '.join(FAULTS)}")
    parser.add_argument("--start", type=float, default=0.0, help="window start, s")
    parser.add_argument("--duration", type=float, default=None, help="window length, s (default: whole)")
    parser.add_argument("--json", help="write the merged and per-drive reports here")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    reports, per_fault = [], {f: [] for f in faults}
    for name in args.scenario or _scenarios():
        for fault in faults:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                started = time.perf_counter()
                shifted = [dict(f, start_s=f["start_s"] + args.start) if "start_s" in f else f
                           for f in FAULTS[fault]]
                result = trust_scenario(name, seed=seed, faults=shifted, start_s=args.start,
                                        duration_s=args.duration, cameras=[CAMERA])
                result.report.update(fault=fault)
                reports.append(result.report)
                per_fault[fault].append(result.report)
                severe = sum(r["false_critical_or_severe"] for r in result.report["events"].values())
                print(f"{name:<20} {fault:<13} seed {seed:2d}: {len(result.frames)} frames, "
                      f"{len(result.events)} events ({severe} false critical/severe) "
                      f"in {time.perf_counter() - started:.0f} s", flush=True)
    for fault, reps in per_fault.items():
        if reps:
            print(f"\n== {fault} ({len(reps)} drives)\n{format_trust(merge_reports(reps))}")
    merged = merge_reports(reports)
    print(f"\n== all ({len(reports)} drives)\n{format_trust(merged)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"merged": merged, "drives": reports}, out, indent=1, default=str)


if __name__ == "__main__":
    main()
