"""A pre-generated drive of a rig, cached under /tmp, for the pipeline benchmarks.

The benchmarks measure the pipeline, not the simulator, so the drive is written into a bag once
(``sim.write_bag``, sensor topics only: a vehicle publishes no truth; each LiDAR sweep logged when its
last point is captured, as a driver publishes it) and reused while the rig file,
scenario, duration and seed are the same. It is written without chunk compression, so that reading it
back costs a player (the drivers' stand-in in ``bench_soak.py``) no decompression on the machine under
test. The bag is written to a temporary directory and renamed into place, so an interrupted generation
never leaves a half bag behind.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sim import Drive, load_scenario
from mmfusion_annotate.sim.bag import write_bag

CACHE_DIR = Path("/tmp/mmfusion_bench/drives")


def cached_drive(
    scenario: str = "cut_in", duration_s: float = 10.0, *, rig_file: str | Path | None = None, seed: int = 0
) -> Path:
    """The bag of ``scenario`` cut to ``duration_s`` on ``rig_file`` (default rig), generated if needed."""
    rig_path = Path(rig_file or default_rig_path()).resolve()
    digest = hashlib.sha1(rig_path.read_bytes()).hexdigest()[:8]
    bag = CACHE_DIR / f"{rig_path.stem}-{digest}_{Path(scenario).stem}_{duration_s:g}s_seed{seed}_raw"
    if (bag / "metadata.yaml").exists():
        return bag
    rig = load_rig(rig_path)
    drive = Drive(rig, load_scenario(scenario).model_copy(update={"duration_s": duration_s}), seed=seed)
    partial = bag.with_name(bag.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"generating {duration_s:g} s of '{scenario}' on {rig_path.name} into {bag} ...", flush=True)
    write_bag(drive, partial, with_truth=False, compression="none")  # sweeps logged at their end
    partial.rename(bag)
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return bag
