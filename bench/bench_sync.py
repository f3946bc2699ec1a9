"""Sync benchmark: throughput, callback latency and set spans of the greedy and optimal policies,
against a plain port of message_filters' Python greedy algorithm (un-pruned product search), in the
same run and on the same multi-rate jittered streams (3 inputs, and 12 inputs like the default rig).

    .venv/bin/python bench/bench_sync.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upstream_greedy import UpstreamGreedy  # noqa: E402 - sibling baseline script

from mmfusion_annotate.sync import ApproximateTimeSynchronizer, InputSpec, SimpleFilter  # noqa: E402

MS = 1_000_000
SLOP_S = 0.05
QUEUE = 10


class Msg:
    __slots__ = ("stamp_ns",)

    def __init__(self, stamp_ns: int) -> None:
        self.stamp_ns = stamp_ns


def arrivals(rates_hz: list[float], seconds: float, seed: int = 0) -> list[tuple[int, Msg]]:
    """(input, message) in arrival order: sensors started together (+-5 ms), stamps at each rate with
    +-3 ms jitter, 0-20 ms transport delay."""
    rng = random.Random(seed)
    items = []
    for lane, hz in enumerate(rates_hz):
        period = int(1e9 / hz)
        phase = rng.randint(0, 10 * MS)
        for k in range(int(seconds * hz)):
            stamp = phase + k * period + rng.randint(-3 * MS, 3 * MS)
            items.append((stamp + rng.randint(0, 20 * MS), lane, Msg(stamp)))
    items.sort(key=lambda x: x[0])
    return [(lane, m) for _, lane, m in items]


def run_face(stream, rates_hz, policy: str) -> dict:
    fs = [SimpleFilter() for _ in rates_hz]
    specs = [InputSpec(name=f"i{i}", period_ns=int(1e9 / hz)) for i, hz in enumerate(rates_hz)]
    sync = ApproximateTimeSynchronizer(
        fs, QUEUE, SLOP_S, policy=policy, inputs=specs, time_getter=lambda m: m.stamp_ns
    )
    return _measure(stream, lambda lane, m: fs[lane].signalMessage(m), sync.registerCallback)


def run_upstream(stream, rates_hz) -> dict:
    callbacks = []
    port = UpstreamGreedy(len(rates_hz), QUEUE, int(SLOP_S * 1e9), lambda *m: [cb(*m) for cb in callbacks])
    return _measure(stream, lambda lane, m: port.add(lane, m.stamp_ns, m), callbacks.append)


def _measure(stream, feed, register) -> dict:
    latencies, spans, waits = [], [], []
    state = {"t": 0.0, "newest": 0}

    def on_set(*msgs):
        latencies.append(time.perf_counter() - state["t"])
        stamps = [m.stamp_ns for m in msgs]
        spans.append(max(stamps) - min(stamps))
        waits.append(state["newest"] - max(stamps))

    register(on_set)
    t0 = time.perf_counter()
    for lane, msg in stream:
        state["newest"] = max(state["newest"], msg.stamp_ns)
        state["t"] = time.perf_counter()
        feed(lane, msg)
    elapsed = time.perf_counter() - t0
    return {
        "msgs_per_s": len(stream) / elapsed,
        "sets": len(spans),
        "latency_us": np.percentile(np.array(latencies) * 1e6, [50, 99]) if latencies else [0, 0],
        "span_ms": np.percentile(np.array(spans) / 1e6, [50, 90, 100]) if spans else [0, 0, 0],
        "wait_ms": np.percentile(np.array(waits) / 1e6, [50, 90]) if waits else [0, 0],
    }


def adversarial(n_inputs: int = 5, queue: int = 20) -> tuple[float, float]:
    """Seconds for one arrival when every queued stamp is within slop but no combination fits."""
    slop = 1000
    greedy = ApproximateTimeSynchronizer(
        [SimpleFilter() for _ in range(n_inputs)], queue, slop / 1e9, time_getter=lambda m: m
    )
    port = UpstreamGreedy(n_inputs, queue, slop, lambda *m: None)
    for lane in range(1, n_inputs):
        for k in range(queue):  # odd inputs just before, even ones just after: pairs fit, the whole never
            stamp = 10_000 + (-(520 - k) if lane % 2 else 501 + k)
            greedy.add(stamp, lane)
            port.add(lane, stamp, stamp)
    t0 = time.perf_counter()
    greedy.add(10_000, 0)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    port.add(0, 10_000, 10_000)
    return ours, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="stream length (simulated seconds)")
    args = parser.parse_args()
    rigs = {
        "3 inputs (10/20/30 Hz)": [10.0, 20.0, 30.0],
        "12 inputs (lidar 10, 6 cams 12, 5 radars 13 Hz)": [10.0] + [12.0] * 6 + [13.0] * 5,
    }
    print(f"slop/max_interval {SLOP_S * 1e3:.0f} ms, queue {QUEUE}, {args.seconds:.0f} s of data per run")
    header = f"{'policy':<22}{'msgs/s':>10}{'sets':>7}{'lat p50/p99 us':>17}{'span p50/p90/max ms':>22}"
    for title, rates in rigs.items():
        stream = arrivals(rates, args.seconds)
        print(f"\n{title}: {len(stream)} messages\n{header}{'wait p50/p90 ms':>18}")
        runs = {
            "upstream greedy port": run_upstream(stream, rates),
            "greedy (pruned)": run_face(stream, rates, "greedy"),
            "optimal": run_face(stream, rates, "optimal"),
        }
        for name, r in runs.items():
            lat, span, wait = r["latency_us"], r["span_ms"], r["wait_ms"]
            print(
                f"{name:<22}{r['msgs_per_s']:>10.0f}{r['sets']:>7}{lat[0]:>9.1f}/{lat[1]:<7.1f}"
                f"{span[0]:>9.2f}/{span[1]:.2f}/{span[2]:<6.2f}{wait[0]:>9.1f}/{wait[1]:.1f}"
            )
    ours, upstream = adversarial()
    print(
        f"\nno-match arrival, 5 inputs x queue 20: pruned greedy {ours * 1e3:.2f} ms, "
        f"upstream port {upstream * 1e3:.0f} ms (x{upstream / max(ours, 1e-9):.0f})"
    )


if __name__ == "__main__":
    main()
