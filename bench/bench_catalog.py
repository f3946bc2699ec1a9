"""Fleet catalog figures: ``index`` throughput on synthetic drive bags and ``search`` latency at fleet size.

    .venv/bin/python bench/bench_catalog.py [--drives 2] [--copies 3] [--seconds 2] [--bags 10000]
        [--events 1000000] [--skip-index | --skip-search]

1. Index: ``--drives`` short synthetic drives (``mmfusion sim`` + ``mmfusion replay`` on the small test
   rig: annotated bags with review items and pre-labels), each copied ``--copies`` times, are indexed into
   a new catalog with and without ``--no-labels``; bytes read are this process's ``rchar`` (bytes returned
   by read calls, page cache included) from ``/proc/self/io``, so they count what the reader asked for.
   Two more rows in the same run: ``--no-labels`` with PyYAML's pure-Python loader (``textfile.YAML_LOADER``
   set to ``yaml.SafeLoader``), and with labels read from the messages as for bags without label records.
2. Search: a catalog of ``--bags`` bags and ``--events`` events written straight to Parquet (synthetic
   rows through the catalog's own schema and writer), then what ``mmfusion search`` runs for its table
   (``search_events`` of the shown columns) and for ``--json`` (``search_json``): connect, plan, scan and
   fetch, for a few typical filters; the median of 5 runs after one warm-up.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from mmfusion_annotate import textfile
from mmfusion_annotate.bagtools.replay import replay_bag
from mmfusion_annotate.catalog import bag_index, index_paths
from mmfusion_annotate.catalog.search import TABLE_COLUMNS, search_events, search_json
from mmfusion_annotate.catalog.store import TABLES, empty_tables, write_tables
from mmfusion_annotate.rig import load_rig
from mmfusion_annotate.sim import Drive, load_scenario
from mmfusion_annotate.sim.bag import write_bag

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))
from rigs import write_small_rig  # noqa: E402

SCENARIOS = ("cut_in", "hard_braking", "calm", "pedestrian_crossing")
TYPES = ("hard_braking", "cut_in", "low_ttc", "sensor_dropout", "cross_modal_disagreement", "jerk",
         "lane_departure", "close_pass")  # fmt: skip
SEVERITIES = ("info", "watch", "critical", "severe")


def rchar() -> int:
    """Bytes this process has read through read calls so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


def make_fleet(root: Path, drives: int, copies: int, seconds: float) -> list[Path]:
    rig = load_rig(write_small_rig(root))
    bags = []
    for k in range(drives):
        scenario = load_scenario(SCENARIOS[k % len(SCENARIOS)]).model_copy(update={"duration_s": seconds})
        write_bag(Drive(rig, scenario, seed=k), root / f"sim_{k}")
        first = root / "fleet" / f"drive_{k}_0"
        replay_bag(root / f"sim_{k}", first, rig)
        bags.append(first)
        for c in range(1, copies):
            bags.append(Path(shutil.copytree(first, root / "fleet" / f"drive_{k}_{c}")))
    return bags


def bench_index(root: Path, bags: list[Path]) -> None:
    size = sum(f.stat().st_size for b in bags for f in b.glob("*.mcap"))
    loader = textfile.YAML_LOADER.__name__
    print(f"index: {len(bags)} annotated bags, {size / 1e9:.3f} GB; YAML loader {loader}")
    modes = [  # (name, labels, YAML loader, labels from the messages as for a bag without label records)
        ("--no-labels, pure-Python YAML", False, yaml.SafeLoader, False),
        ("--no-labels", False, textfile.YAML_LOADER, False),
        ("with labels (label records)", True, textfile.YAML_LOADER, False),
        ("with labels, from messages", True, textfile.YAML_LOADER, True),
    ]
    own_loader, own_tally = textfile.YAML_LOADER, bag_index._record_tally
    index_paths([root / "fleet"], root / "catalog_warm_up", labels=True)  # imports and page cache first
    for k, (mode, labels, loader, messages) in enumerate(modes):
        textfile.YAML_LOADER = loader
        bag_index._record_tally = (lambda *_: None) if messages else own_tally
        catalog = root / f"catalog_{k}"
        try:
            before, t0 = rchar(), time.perf_counter()
            report = index_paths([root / "fleet"], catalog, labels=labels)
            elapsed, read = time.perf_counter() - t0, rchar() - before
            again = time.perf_counter()
            unchanged = index_paths([root / "fleet"], catalog, labels=labels)
            rerun = time.perf_counter() - again
        finally:
            textfile.YAML_LOADER, bag_index._record_tally = own_loader, own_tally
        assert report.indexed == len(bags) and not report.failed, report
        rate = f"{len(bags) / elapsed:7.2f} bags/s  {size / 1e9 / elapsed:6.3f} GB/s"
        print(
            f"  {mode:<30} {rate}  {read / 1e6:9.1f} MB read = {read / size * 1e3:7.1f} MB per GB",
            f"({elapsed:.2f} s; re-run, {unchanged.unchanged} unchanged: {rerun:.3f} s)",
        )


def synthetic_catalog(directory: Path, n_bags: int, n_events: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t0 = 1_767_225_600 * 10**9  # 2026-01-01
    starts = t0 + np.sort(rng.integers(0, 30 * 86400, n_bags)) * 10**9
    paths = np.array([f"/fleet/car{i % 50:02d}/drive_{i:05d}" for i in range(n_bags)], dtype=object)
    durations = rng.uniform(600, 3600, n_bags)
    bags = {
        "path": paths, "name": [p.rsplit("/", 1)[1] for p in paths], "state": ["clean"] * n_bags,
        "error": [None] * n_bags, "fingerprint": [f"{i:016x}" for i in range(n_bags)],
        "size_bytes": (durations * 30e6).astype(np.int64), "mtime_ns": starts, "files": np.full(n_bags, 4),
        "start_ns": starts, "end_ns": starts + (durations * 1e9).astype(np.int64), "start_time": starts,
        "duration_s": durations, "message_count": (durations * 800).astype(np.int64),
        "compression": ["lz4"] * n_bags,
        "rig": [f"car{i % 50:02d}" for i in range(n_bags)], "dropped": np.zeros(n_bags, np.int64),
        "read_losses": np.zeros(n_bags, np.int32), "event_count": np.zeros(n_bags, np.int32),
        "review_item_count": np.zeros(n_bags, np.int32), "labels_read": [True] * n_bags,
        "labels_source": ["record"] * n_bags, "vanished": [False] * n_bags, "indexed_ns": starts,
    }  # fmt: skip
    owner = np.sort(rng.integers(0, n_bags, n_events))
    offset = (rng.uniform(0, 1, n_events) * durations[owner] * 1e9).astype(np.int64)
    start = starts[owner] + offset
    sev = rng.choice(4, n_events, p=[0.4, 0.4, 0.15, 0.05])
    kind = rng.integers(0, len(TYPES), n_events)
    decel = rng.uniform(-9.0, -2.0, n_events)
    evidence = pa.MapArray.from_arrays(
        np.arange(0, 2 * n_events + 1, 2, dtype=np.int32),
        pa.array(np.tile(np.array(["peak_decel_mps2", "min_gap_m"], dtype=object), n_events), pa.string()),
        pa.array(np.column_stack([decel, rng.uniform(0.5, 30.0, n_events)]).ravel()),
    )
    events = pa.table({
        "bag_path": paths[owner], "id": [f"{i:016x}" for i in range(n_events)],
        "type": np.array(TYPES, dtype=object)[kind], "category": ["driving"] * n_events,
        "severity": np.array(SEVERITIES, dtype=object)[sev], "severity_rank": sev.astype(np.int8),
        "start_ns": start, "peak_ns": start + 500_000_000, "end_ns": start + 2 * 10**9,
        "detected_ns": start + 10**9, "start_time": start, "t_s": offset / 1e9,
        "object_ids": pa.array([[int(i)] for i in rng.integers(0, 200, n_events)], pa.list_(pa.int64())),
        "sensor": [None] * n_events, "evidence": evidence, "rule": np.array(TYPES, dtype=object)[kind],
        "rule_version": ["1"] * n_events, "extra": [None] * n_events,
    })  # fmt: skip
    tables = empty_tables()
    tables["bags"] = pa.table(bags).cast(TABLES["bags"])
    tables["events"] = events.cast(TABLES["events"])
    write_tables(directory, tables)


def bench_search(root: Path, n_bags: int, n_events: int) -> None:
    directory = root / "big_catalog"
    t0 = time.perf_counter()
    synthetic_catalog(directory, n_bags, n_events)
    size = sum(f.stat().st_size for f in (directory / "current").iterdir())
    print(f"search: {n_bags} bags, {n_events} events, {size / 1e6:.1f} MB of Parquet "
          f"(written in {time.perf_counter() - t0:.1f} s); median of 5 after a warm-up")  # fmt: skip
    queries = {
        "--type hard_braking --min-severity severe": {"types": ["hard_braking"], "min_severity": "severe"},
        "one car, one day": {"where": "rig = 'car07' AND start_time >= TIMESTAMPTZ '2026-01-10 00:00:00+00' "
                                      "AND start_time < TIMESTAMPTZ '2026-01-11 00:00:00+00'"},
        "hard braking < -8.5 m/s2, gap < 2 m": {
            "where": "type = 'hard_braking' AND evidence['peak_decel_mps2'] < -8.5 "
            "AND evidence['min_gap_m'] < 2"
        },
        "one bag": {"where": "bag = 'drive_04242'"},
        "--min-severity critical": {"min_severity": "critical"},
    }  # fmt: skip
    print(f"  {'query':<42} {'rows':>7}  {'table':>9}  {'--json':>9}")
    for name, kwargs in queries.items():
        rows = len(search_events(directory, **kwargs, columns=TABLE_COLUMNS))
        table = _median_s(lambda: search_events(directory, **kwargs, columns=TABLE_COLUMNS))  # noqa: B023
        as_json = _median_s(lambda: search_json(directory, **kwargs))  # noqa: B023
        print(f"  {name:<42} {rows:>7}  {table * 1e3:6.0f} ms  {as_json * 1e3:6.0f} ms")


def _median_s(run) -> float:
    run()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drives", type=int, default=2)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--bags", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skip-index", action="store_true", help="only the search figures")
    parser.add_argument("--skip-search", action="store_true", help="only the index figures")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_catalog_"))
    try:
        if not args.skip_index:
            bench_index(root, make_fleet(root, args.drives, args.copies, args.seconds))
        if not args.skip_search:
            bench_search(root, args.bags, args.events)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
