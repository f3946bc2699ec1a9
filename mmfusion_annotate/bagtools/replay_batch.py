"""Many bags through ``replay_bag`` in parallel (``batch.run_batch``), one annotated bag each, resumable.

Each bag's output is written as ``OUT_DIR/.partial/<name>`` and renamed to ``OUT_DIR/<name>`` only when
complete (the rename is atomic on one file system), so a bag folder in ``OUT_DIR`` is always a finished
replay: a re-run skips it and redoes only what is missing. A ``.partial`` folder left by an interrupted or
killed run is our own unfinished output and is written anew. A finished output is never overwritten, and
anything else already at ``OUT_DIR/<name>`` is reported and left alone. On a cluster every node reads the
bags and writes ``OUT_DIR`` through the same paths (shared storage).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mmfusion_annotate.bagtools.replay import replay_bag
from mmfusion_annotate.batch import Outcome, run_batch
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.errors import BagError, MmfusionError
from mmfusion_annotate.library_threads import let_openmp_teams_sleep, limit_library_threads
from mmfusion_annotate.recording.bag_dir import bag_rig_file, carry_rig
from mmfusion_annotate.recording.metadata import FILENAME, read_metadata
from mmfusion_annotate.recording.writer import PARTIAL_KEY
from mmfusion_annotate.rig import default_rig_path, load_rig

PARTIAL_DIR = ".partial"
SOURCE_KEY = "mmfusion_replay_source"  # custom_data ``replay_bag`` writes into every output


@dataclass(frozen=True)
class ReplayJob:
    """One bag to replay; plain data, sent to a worker process or a Ray node."""

    bag: Path
    output: Path
    rig_file: Path | None  # --rig; None: the bag's own rig.yaml, else the shipped rig
    config: PipelineConfig
    compression: str


@dataclass(frozen=True)
class ReplayResult:
    """What one replay produced (small: it travels back from the worker)."""

    frames: int
    events: int
    input_messages: int
    losses: str  # ``ReadLosses.summary`` when something could not be read, else ""


@dataclass
class BatchPlan:
    """The bags to replay, and those left alone: finished earlier, or something else in the way."""

    jobs: list[ReplayJob] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)


def output_name(bag: Path) -> str:
    """``drive_07`` for ``/data/drive_07`` or ``/data/drive_07.mcap``."""
    name = bag.resolve().name
    return name.removesuffix(".mcap") or name


def _finished_replay(output: Path) -> str | None:
    """None when ``output`` is a complete replayed bag, else why it is not."""
    try:
        custom = read_metadata(output).get("custom_data") or {}
    except BagError as exc:
        return str(exc)
    if PARTIAL_KEY in custom:
        return f"{output}: a partial bag ({custom[PARTIAL_KEY]})"
    if SOURCE_KEY not in custom:
        return f"{output}: a bag, but not one written by 'mmfusion replay'"
    return None


def plan_replays(
    bags: Sequence[Path],
    out_dir: Path,
    *,
    rig_file: Path | None = None,
    config: PipelineConfig | None = None,
    compression: str = "lz4",
) -> BatchPlan:
    """Which of ``bags`` still need replaying into ``out_dir``; MmfusionError when two share a name."""
    names: dict[str, Path] = {}
    for bag in bags:
        other = names.setdefault(output_name(bag), bag)
        if other != bag:
            raise MmfusionError(
                f"{bag} and {other} would both be replayed into {out_dir / output_name(bag)}; "
                "replay them into different output folders"
            )
    plan = BatchPlan()
    config = config or PipelineConfig()
    for name, bag in names.items():
        output = out_dir / name
        if (output / FILENAME).exists():
            why = _finished_replay(output)
            if why is None:
                plan.skipped.append(bag)
            else:
                plan.refused.append((bag, f"{why}; not overwritten (remove it to replay this bag again)"))
        elif output.exists() and (not output.is_dir() or any(output.iterdir())):
            plan.refused.append((bag, f"{output}: exists and is not a bag; not overwritten"))
        else:
            plan.jobs.append(ReplayJob(bag, output, rig_file, config, compression))
    return plan


def replay_job(job: ReplayJob) -> ReplayResult:
    """Replay one bag into its ``.partial`` folder, then move it into place (runs in a worker)."""
    let_openmp_teams_sleep()  # a worker process is an entry point: the CLI's process settings, here too
    limit_library_threads(job.config.fusion.cpu_threads)
    partial = job.output.parent / PARTIAL_DIR / job.output.name
    if partial.exists():
        shutil.rmtree(partial)  # an earlier attempt's unfinished output, never a finished one
    partial.parent.mkdir(parents=True, exist_ok=True)
    rig_file = job.rig_file or bag_rig_file(job.bag) or default_rig_path()
    summary = replay_bag(job.bag, partial, load_rig(rig_file), job.config, compression=job.compression)
    carry_rig(rig_file, partial)
    os.rename(partial, job.output)  # fails rather than replace a folder something else filled meanwhile
    return ReplayResult(
        frames=summary.frames,
        events=len(summary.events),
        input_messages=summary.input_messages,
        losses=summary.losses.summary() if summary.losses.lossy else "",
    )


@contextmanager
def _only_batch_in(out_dir: Path) -> Iterator[None]:
    """Refuse a second batch writing into the same folder at the same time (each would redo the other's
    ``.partial`` outputs)."""
    lock_path = out_dir / PARTIAL_DIR / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MmfusionError(f"{out_dir}: another replay batch is writing into this folder") from None
        yield


def run_replays(
    plan: BatchPlan,
    out_dir: Path,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: Callable[[Outcome[ReplayJob, ReplayResult]], object] | None = None,
) -> list[Outcome[ReplayJob, ReplayResult]]:
    """Run the plan's jobs; their outcomes in order (a failed bag is one of them, never an exception)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with _only_batch_in(out_dir):
        return run_batch(replay_job, plan.jobs, workers=workers, ray_address=ray_address, progress=progress)


def format_batch_summary(plan: BatchPlan, outcomes: Sequence[Outcome[ReplayJob, ReplayResult]]) -> str:
    """``replayed 3, skipped 1 (finished earlier), failed 1`` and one line per failed or lossy bag."""
    done = [o for o in outcomes if o.ok]
    failed = [(o.item.bag, o.error) for o in outcomes if not o.ok] + plan.refused
    frames = sum(o.result.frames for o in done if o.result)
    events = sum(o.result.events for o in done if o.result)
    lines = [
        f"replayed {len(done)} bags ({frames} fused frames, {events} events), skipped {len(plan.skipped)} "
        f"(finished earlier), failed {len(failed)}"
    ]
    lines += [f"  failed: {bag}: {error}" for bag, error in failed]
    lines += [f"  with losses: {o.item.bag}: {o.result.losses}" for o in done if o.result and o.result.losses]
    return "\n".join(lines)
