"""Event tagger figures on synthetic drives: detection delay per rule, false events per hour of calm
driving, and the cost of the edge-alignment score (stacked hypotheses vs one projection per hypothesis).

    .venv/bin/python bench/bench_events.py [--seeds 20] [--skip-alignment]

Driving rules read ground-truth tracks at 10 Hz (pre-labeller quality is measured elsewhere) and the
ego state from the simulated IMU/odometry; stream-health rules read the drive's message schedule; the
sync/calibration checks render the front camera and the LiDAR.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "events"))

from events_sim import observations  # noqa: E402

from mmfusion_annotate.events import Arrival, Category, EventTagger, load_rules  # noqa: E402
from mmfusion_annotate.events.alignment import (  # noqa: E402
    alignment_scores,
    perturbations,
    perturbations_about,
)
from mmfusion_annotate.events.drift import prepare  # noqa: E402
from mmfusion_annotate.events.model import AlignmentFrame  # noqa: E402
from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: E402
from mmfusion_annotate.sim import Drive, builtin_scenarios, load_scenario  # noqa: E402

SCRIPTED = {"hard_braking": "hard_braking", "lead_vehicle_braking": "lead_braking", "cut_in": "cut_in",
            "pedestrian_crossing": "vru_proximity", "cyclist_close_pass": "vru_proximity"}


def driving_delays(rig, rules) -> None:
    print("== driving rules on the built-in scenarios (ground-truth tracks, simulated IMU/odometry)")
    print(f"{'scenario event':24s} {'rule':14s} {'true t':>7s} {'start-true':>11s} {'detected-true':>14s}")
    for name in builtin_scenarios():
        drive, obs = observations(rig, rules, name)
        events = EventTagger(rules).run(obs)
        for truth in drive.truth.events:
            ids = tuple(sorted(o for o in truth.objects if o != "ego"))
            rule = SCRIPTED[truth.type]
            match = [e for e in events if e.type == rule and e.object_ids == ids]
            if not match:
                print(f"{truth.type:24s} {rule:14s} {truth.t_ns / 1e9:7.2f}   MISSED")
                continue
            e = min(match, key=lambda e: abs(e.start - truth.t_ns))
            start, detected = (e.start - truth.t_ns) / 1e9, (e.detected - truth.t_ns) / 1e9
            print(f"{truth.type:24s} {rule:14s} {truth.t_ns / 1e9:7.2f} {start:+10.2f}s {detected:+13.2f}s")
        extra = sorted({e.type for e in events} - {SCRIPTED[t.type] for t in drive.truth.events})
        print(f"{'':24s} other events in '{name}': {', '.join(extra) or 'none'}")


def calm_false_rate(rig, rules, seeds: int) -> None:
    print(f"== false events on the calm drive, {seeds} seeds (noise, jitter and IMU bias differ per seed)")
    driving = health = 0
    hours = 0.0
    watched = {s.name for s in [*rig.cameras(), *rig.lidars(), *rig.radars()]}
    t0 = time.perf_counter()
    for seed in range(seeds):
        drive, obs = observations(rig, rules, "calm", seed=seed)
        ticks = Drive(rig, "calm", seed=seed).ticks
        arrivals = [Arrival(t.sensor, t.stamp) for t in ticks if t.sensor in watched]
        events = EventTagger.for_rig(rig, rules).run(sorted([*obs, *arrivals], key=lambda o: o.stamp))
        driving += sum(e.category is Category.DRIVING for e in events)
        health += sum(e.category is Category.SENSOR_HEALTH for e in events)
        hours += drive.duration_ns / 3.6e12
    bound = 3.0 / hours  # 95 % upper bound for zero observed events (rule of three)
    for label, count in (("driving", driving), ("sensor-health (streams)", health)):
        rate = count / hours
        note = f" (95% upper bound {bound:.0f}/h)" if count == 0 else ""
        print(f"  {label:24s} {count} events in {hours * 3600:.0f} s -> {rate:.1f}/h{note}")
    print(f"  wall time {time.perf_counter() - t0:.1f} s")


def health_delays(rig, rules) -> None:
    print("== sensor-health detection delay (fault start -> event detected)")
    watched = {s.name for s in [*rig.cameras(), *rig.lidars(), *rig.radars()]}
    cases = {
        "silent radar_front @5 s": ([{"type": "silent", "sensor": "radar_front", "start_s": 5.0}], 5.0),
        "cam_front drops p=0.3": ([{"type": "frame_drop", "sensor": "cam_front", "probability": 0.3}], 0.0),
    }
    for label, (faults, start) in cases.items():
        ticks = Drive(rig, "calm", faults=faults).ticks
        arrivals = [Arrival(t.sensor, t.stamp) for t in ticks if t.sensor in watched]
        events = EventTagger.for_rig(rig, rules).run(arrivals)
        kinds = ", ".join(sorted({e.type for e in events}))
        first = min(events, key=lambda e: e.detected)
        delay = first.detected / 1e9 - start
        print(f"  {label:26s} {kinds:20s} first detected {delay:+.2f} s after the fault start")
    scenario = load_scenario("calm").model_copy(update={"duration_s": 4.0})
    data_cases = {
        "cam_front clock +40 ms": [{"type": "clock_offset", "sensor": "cam_front", "offset_ms": 40.0}],
        "cam_front drift 10 ms/s": [{"type": "clock_drift", "sensor": "cam_front", "ms_per_s": 10.0}],
        "cam_front yaw 0.5 deg": [{"type": "calibration_error", "sensor": "cam_front", "yaw_deg": 0.5}],
        "fault-free": None,
    }
    for label, faults in data_cases.items():
        _, obs = observations(rig, rules, scenario, sensors=("lidar_top", "odometry", "imu", "cam_front"),
                              faults=faults, alignment_cameras=("cam_front",), alignment_every=2)
        events = [e for e in EventTagger(rules).run(obs) if e.category is Category.SENSOR_HEALTH]
        text = ", ".join(f"{e.type} detected at {e.detected / 1e9:.2f} s "
                         f"({', '.join(f'{k}={v:.2f}' for k, v in e.evidence if k != 'duration_s')})"
                         for e in events) or "no event"
        print(f"  {label:26s} {text}")


def alignment_cost(rig, rules) -> None:
    print("== edge-alignment score: all hypotheses in one stacked projection vs one call per hypothesis")
    scenario = load_scenario("calm").model_copy(update={"duration_s": 0.5})
    _, obs = observations(rig, rules, scenario, sensors=("lidar_top", "odometry", "cam_front"), tracks=False,
                          alignment_cameras=("cam_front",))
    frame = next(o for o in obs if isinstance(o, AlignmentFrame))
    t0 = time.perf_counter()
    prepared = prepare(frame, rules.edges)
    t_prep = time.perf_counter() - t0
    shifts = np.arange(-20, 21) * 5e-3
    _, rotations = perturbations(0.25, scan_steps=4)
    args = (prepared.edge_map, prepared.points, prepared.dt_s, prepared.weights)
    f = prepared.frame
    pans = perturbations_about(1, np.arange(-4, 5) * 0.25)
    for label, sh, rot in (("sync (41 shifts x 9 pans)", shifts, pans),
                           ("calibration (51 rotations)", np.zeros(1), rotations)):
        reps = 5
        t0 = time.perf_counter()
        for _ in range(reps):
            stacked = alignment_scores(*args, sh, rot, f.T_cam_base, f.model, f.ego_velocity, f.yaw_rate)
        t_stacked = (time.perf_counter() - t0) / reps
        t0 = time.perf_counter()
        looped = np.array([[alignment_scores(*args, sh[[m]], rot[[k]], f.T_cam_base, f.model,
                                             f.ego_velocity, f.yaw_rate)[0, 0] for k in range(len(rot))]
                           for m in range(len(sh))])
        t_loop = time.perf_counter() - t0
        assert np.allclose(stacked, looped)
        print(f"  {label:28s} {len(prepared.points)} edge points: stacked {t_stacked * 1e3:6.1f} ms, "
              f"looped {t_loop * 1e3:6.1f} ms ({t_loop / t_stacked:.1f}x)")
    print(f"  frame preparation (edge map 1600x900 + depth edges of {len(frame.points_base)} points): "
          f"{t_prep * 1e3:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--skip-alignment", action="store_true")
    args = parser.parse_args()
    rig, rules = load_rig(default_rig_path()), load_rules()
    driving_delays(rig, rules)
    calm_false_rate(rig, rules, args.seeds)
    if not args.skip_alignment:
        health_delays(rig, rules)
        alignment_cost(rig, rules)
    print(f"(rules version {rules.rules_version}; times in s; 0.3 s is the test tolerance)")


if __name__ == "__main__":
    main()
