"""Per-stage CPU cost of the live pipeline (decode -> sync -> fusion -> pre-labels -> events -> outputs ->
recording) on a pre-generated drive of the default rig, the live defaults against the baseline in one run.

    .venv/bin/python bench/bench_pipeline.py [--scenario cut_in] [--seconds 6] [--warmup 1.5]

The drive is generated once and cached (``drive_cache.py``). Each variant replays the same bag message by
message the way ``fusion_node`` + the in-process recorder handle it: deserialize (rclpy does this live),
decode into a ``SensorSample``, ``Annotator.feed``, build the outputs, serialize them, and write raw inputs
and outputs into a bag (the recorder's default: uncompressed). Stages are timed with the process CPU clock
(not wall time: the machine is shared) and reported *exclusive* of the stages nested in them, so the rows
add up to the total; the first ``--warmup`` seconds of drive (JIT compilation, tracker start) are left out.
Both variants run the occasional checks inline (``background_checks`` off): on their helper threads
(the live default) their CPU would land in whichever stage was running meanwhile. The library thread
pools are capped as the node's process caps them (``fusion.cpu_threads``).

Variants (same messages, same rig):
- ``baseline``: what the pipeline did before this benchmark existed: every camera image decoded in full
  by OpenCV (exact IDCT, ``IMREAD_COLOR`` + BGR->RGB) as it arrives, the LiDAR-image edge alignment on
  every camera (every 5th image), the sweep moved to base_link in float64 for it on every sweep, label
  messages built by the generic rosbags coercion.
- ``live``: the defaults now: images decoded straight to RGB by libjpeg-turbo's fast IDCT, and only
  when a synchronized set or an alignment check uses them; the edge alignment on the rig's front camera
  every 10th image; label messages built directly as rosbags dataclasses.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import yaml
from drive_cache import cached_drive

import mmfusion_annotate.msgs.image as image_codec
import mmfusion_annotate.prelabel.prelabeler as prelabeler_module
import mmfusion_annotate.prelabel.review as review_module
from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.events.config import default_rules_path
from mmfusion_annotate.events.model import AlignmentFrame
from mmfusion_annotate.library_threads import let_openmp_teams_sleep, limit_library_threads
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.outputs.builder import OutputBuilder
from mmfusion_annotate.prelabel.evidence import ImageEvidence
from mmfusion_annotate.recording import BagReader, BagWriter, deserialize, serialize
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.types import NS_PER_S

OUT_DIR = Path("/tmp/mmfusion_bench/pipeline_out")
DEFAULT_RULES = default_rules_path()
REPLAY_ONLY = ("read",)
"""Stages only a replay has (bag decompression); live, the player/driver pays for them."""


class StageClock:
    """Exclusive process-CPU time per stage; nested stages pause their parent."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self._stack: list[str] = []
        self._mark = 0

    def _switch(self) -> int:
        now = time.process_time_ns()
        if self._stack:
            self.totals[self._stack[-1]] += now - self._mark
        self._mark = now
        return now

    @contextmanager
    def stage(self, name: str):
        self._switch()
        self._stack.append(name)
        try:
            yield
        finally:
            self._switch()
            self._stack.pop()

    def wrap(self, name: str | Callable[..., str], fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            with self.stage(name(*args) if callable(name) else name):
                return fn(*args, **kwargs)

        return timed


def instrument(annotator: Annotator, clock: StageClock) -> Callable[[], None]:
    """Time the annotator's stages (instance and module attributes); returns an undo for the module ones."""
    annotator.sync.feed = clock.wrap("sync", annotator.sync.feed)
    kinds = {name: sensor.kind for name, sensor in annotator.rig.sensors.items()}
    annotator._observations.feed = clock.wrap(
        lambda sample: f"events.feed.{kinds.get(sample.sensor)}", annotator._observations.feed
    )
    annotator.tagger.update = clock.wrap(
        lambda obs: "events.alignment" if isinstance(obs, AlignmentFrame) else "events.rules",
        annotator.tagger.update,
    )
    annotator.fusion.fuse = clock.wrap("fusion", annotator.fusion.fuse)
    pre = annotator.prelabeler
    pre.process = clock.wrap("prelabel.other", pre.process)
    pre._objects = clock.wrap("prelabel.objects+tracker", pre._objects)
    pre._radar = clock.wrap("prelabel.radar", pre._radar)
    pre._boxes = clock.wrap("prelabel.boxes2d", pre._boxes)
    patches = [
        (prelabeler_module, "detect", "prelabel.detect"),
        (review_module, "collect", "prelabel.review"),
        (ImageEvidence, "score", "prelabel.boxes2d.evidence"),
        (image_codec, "decode_compressed", "decode.jpeg"),
    ]
    originals = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in patches]
    for owner, attr, name in patches:
        setattr(owner, attr, clock.wrap(name, getattr(owner, attr)))
    return lambda: [setattr(owner, attr, fn) for owner, attr, fn in originals]


def run_variant(name: str, bag: Path, rig, config: PipelineConfig, warmup_s: float) -> dict:
    clock = StageClock()
    annotator = Annotator(rig, config)
    undo = instrument(annotator, clock)
    builder = OutputBuilder(rig, rig.base_frame)
    sensors = {s.topic: s for s in rig.sensors.values()}
    out = OUT_DIR / name
    shutil.rmtree(out, ignore_errors=True)
    frames_in_window = 0
    window: tuple[int, int] | None = None
    snapshot: Counter[str] = Counter()
    wall0 = 0.0
    reader = iter(BagReader(bag))
    first_ns = None
    try:
        with BagWriter(out, compression="none") as writer:
            while True:
                with clock.stage("read"):
                    message = next(reader, None)
                if message is None:
                    break
                if first_ns is None:
                    first_ns = message.log_time_ns
                if window is None and message.log_time_ns >= first_ns + warmup_s * NS_PER_S:
                    window = (message.log_time_ns, message.log_time_ns)
                    snapshot, wall0 = Counter(clock.totals), time.perf_counter()
                sensor = sensors.get(message.topic)
                with clock.stage("recording"):
                    writer.add_topic(message.topic, message.msgtype, qos="sensor_data")
                    writer.write(message.topic, message.data, message.log_time_ns)
                if sensor is None:
                    continue
                with clock.stage("deserialize"):
                    msg = deserialize(message.msgtype, message.data)
                with clock.stage(f"decode.{sensor.kind}"):
                    sample = decode_sample(sensor, msg)
                with clock.stage("annotator (glue)"):
                    produced = annotator.feed(sample)
                with clock.stage("outputs.build"):
                    outputs = [o for a in produced.frames for o in builder.frame(a)]
                    outputs += builder.events(produced.events)
                with clock.stage("outputs.serialize"):
                    data = [serialize(o.msgtype, o.msg) for o in outputs]
                with clock.stage("recording"):
                    for o, d in zip(outputs, data, strict=True):
                        writer.add_topic(o.topic, o.msgtype, qos=o.qos)
                        writer.write(o.topic, d, o.stamp_ns)
                if window is not None:
                    frames_in_window += len(produced.frames)
                    window = (window[0], message.log_time_ns)
    finally:
        undo()
        shutil.rmtree(out, ignore_errors=True)
    if window is None or frames_in_window == 0:
        raise SystemExit(f"{bag}: no frames after the {warmup_s} s warm-up; use a longer --seconds")
    wall = time.perf_counter() - wall0
    totals = clock.totals - snapshot
    return {
        "name": name,
        "totals_ms": {k: v / 1e6 for k, v in totals.items()},
        "frames": frames_in_window,
        "drive_s": (window[1] - window[0]) / NS_PER_S,
        "wall_s": wall,
        "events": annotator.counters,
    }


def report(results: list[dict]) -> None:
    stages = sorted({k for r in results for k in r["totals_ms"]})
    names = [r["name"] for r in results]
    print(f"\n{'ms CPU per fused frame':<30}" + "".join(f"{n:>12}" for n in names))
    for stage in stages:
        row = [r["totals_ms"].get(stage, 0.0) / r["frames"] for r in results]
        print(f"  {stage:<28}" + "".join(f"{v:12.1f}" for v in row))
    live_totals = [
        sum(v for k, v in r["totals_ms"].items() if k not in REPLAY_ONLY) for r in results
    ]
    print(f"  {'total (live stages)':<28}" + "".join(f"{t / r['frames']:12.1f}" for t, r in
                                                    zip(live_totals, results, strict=True)))
    print(f"\n{'per second of drive':<30}" + "".join(f"{n:>12}" for n in names))
    print(f"  {'CPU-s (live stages)':<28}" + "".join(
        f"{t / 1e3 / r['drive_s']:12.2f}" for t, r in zip(live_totals, results, strict=True)))
    print(f"  {'fused frames':<28}" + "".join(f"{r['frames'] / r['drive_s']:12.1f}" for r in results))
    print(f"  {'wall-s (replay, incl. read)':<28}" + "".join(f"{r['wall_s'] / r['drive_s']:12.2f}"
                                                           for r in results))
    print("\nbudget: < ~1.6 CPU-s per second of drive fits 2 cores with the recorder thread and DDS")


def baseline_config(tmp: Path) -> PipelineConfig:
    """The pipeline as it was: edge checks on every 5th image, exact full-resolution edge spread."""
    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    rules["edges"]["spread_scale"] = 1
    path = tmp / "rules_baseline.yaml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    return PipelineConfig(alignment_every=5, rules_file=str(path), background_checks=False)


def opencv_jpeg(data, *, mono: bool = False):
    """The exact decode as before: OpenCV to BGR, then a BGR->RGB pass."""
    flags = cv2.IMREAD_GRAYSCALE if mono else cv2.IMREAD_COLOR
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if pixels is None:
        raise ValueError("not a decodable JPEG")
    return pixels if mono else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


@contextmanager
def bgr_jpeg_decode():
    """Decode JPEGs as before (``opencv_jpeg``) instead of libjpeg-turbo's fast decode."""
    saved, image_codec.decode_jpeg = image_codec.decode_jpeg, opencv_jpeg
    try:
        yield
    finally:
        image_codec.decode_jpeg = saved


VARIANTS = ("baseline", "live")


def main() -> None:
    let_openmp_teams_sleep()  # what every entry point of the suite does first (library_threads.py)
    # and the OpenBLAS/OpenCV pools as the fusion node's process sizes them (apply_process_threads):
    # unlimited, OpenBLAS spreads an (N, 3) @ (3, 3) product of a sweep over every core and spins
    limit_library_threads(PipelineConfig().fusion.cpu_threads)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="cut_in")
    parser.add_argument("--seconds", type=float, default=6.0, help="drive length (cached under /tmp)")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds of drive left out at the start")
    parser.add_argument("--rig", default=None, help="rig file (default: the shipped default rig)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    rig_file = args.rig or default_rig_path()
    bag = cached_drive(args.scenario, args.seconds, rig_file=rig_file)
    rig = load_rig(rig_file)
    print(f"drive: {bag} ({args.seconds:g} s, warm-up {args.warmup:g} s)")
    results = []
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in args.variants:
        if name == "baseline":
            with bgr_jpeg_decode():
                result = run_variant(name, bag, rig, baseline_config(OUT_DIR), args.warmup)
        else:
            result = run_variant(name, bag, rig, PipelineConfig(background_checks=False), args.warmup)
        print(f"  {name}: {result['frames']} frames in {result['drive_s']:.1f} s of drive, "
              f"{result['wall_s']:.1f} s wall")
        results.append(result)
    report(results)


if __name__ == "__main__":
    main()
