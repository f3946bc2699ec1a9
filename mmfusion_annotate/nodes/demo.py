"""``mmfusion demo``: the main job on the embedded synthetic drive, over real DDS on this machine.

``sim_node`` runs in its own process (as on a car, the sensors are another program: DDS carries every
message, and the generator does not compete with the pipeline for the GIL); ``fusion_node`` and
``recorder_node`` run in this process on one executor, the recorder taking the pipeline's outputs
in-process. Everything runs on a DDS domain of its own so it does not mix with other ROS traffic.
``sim_node`` dies with the demo, even when the demo is killed (``child_process``); Ctrl-C or SIGTERM
stops the drive early and closes the bag cleanly.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.parameter import Parameter
from tqdm import tqdm

from mmfusion_annotate.annotator import AnnotatedFrame, AnnotatorOutput
from mmfusion_annotate.bagtools.report import render_frames_sheet
from mmfusion_annotate.events.model import Event
from mmfusion_annotate.nodes.child_process import start_child
from mmfusion_annotate.nodes.composition import ExecutorKind, StopEvent, init_context, run_nodes
from mmfusion_annotate.nodes.fusion_node import FusionNode, NodeStats, apply_process_threads
from mmfusion_annotate.nodes.recorder_node import RecorderNode
from mmfusion_annotate.nodes.vehicle import connect_recorder
from mmfusion_annotate.rig import default_rig_path
from mmfusion_annotate.sim import load_scenario
from mmfusion_annotate.types import NS_PER_S

EPOCH_S = 1_700_000_000
"""sim_node's time origin (its default): stamps are EPOCH_S + drive time."""
SHEET_FRAMES = 4
DEMO_QOS = "reliable"
"""Large best-effort samples are mostly lost between processes with the Fast DDS wheels on one host
(``nodes.qos``), so the demo's sim, fusion and recorder agree on reliable sensor topics."""
DEMO_QUEUE_DEPTH = 64
"""Sets the demo's fusion node may hold: the demo is judged against ``mmfusion replay``, so a slow start
(kernels compiled on the first frames) on a busy machine must delay frames, not drop them."""


@dataclass
class DemoSummary:
    """What ``mmfusion demo`` prints."""

    scenario: str
    duration_s: float
    bag_dir: Path
    contact_sheet: Path | None = None
    frames: int = 0
    cuboids: int = 0
    track_ids: set[int] = field(default_factory=set)
    review_reasons: Counter = field(default_factory=Counter)
    events: list[Event] = field(default_factory=list)
    fusion_stats: NodeStats | None = None
    recorder_drops: int = 0
    sim_exit_code: int | None = None
    stop_signal: int | None = None
    """SIGINT (Ctrl-C) or SIGTERM when a signal stopped the drive before its end."""
    recording_complete: bool = True
    """False when the recorder lost messages (I/O errors, a full disk, a full queue)."""

    @property
    def exit_code(self) -> int:
        """``mmfusion demo``'s exit code: 1 for an incomplete recording, 130 after Ctrl-C, 143 after
        SIGTERM (as every command), else 0."""
        if not self.recording_complete:
            return 1
        return 128 + self.stop_signal if self.stop_signal else 0


class _Collector:
    """Listener on the fusion node's worker thread: counts, and keeps a few frames for the sheet."""

    def __init__(self, summary: DemoSummary, sheet_times_ns: list[int]) -> None:
        self.summary = summary
        self.latest_ns = 0
        self._targets = sheet_times_ns
        self._best: dict[int, AnnotatedFrame] = {}
        self._lock = threading.Lock()

    def __call__(self, out: AnnotatorOutput, _outputs: list) -> None:
        with self._lock:
            for annotated in out.frames:
                labels = annotated.labels
                self.summary.frames += 1
                self.summary.cuboids += len(labels.cuboids)
                self.summary.track_ids.update(t.object_id for t in labels.tracks if t.confirmed)
                self.summary.review_reasons.update(str(item.reason) for item in labels.review_items)
                self.latest_ns = max(self.latest_ns, annotated.frame.stamp)
                for target in self._targets:
                    best = self._best.get(target)
                    if best is None or abs(annotated.frame.stamp - target) < abs(best.frame.stamp - target):
                        self._best[target] = annotated
            self.summary.events += out.events

    def sheet_frames(self) -> list[AnnotatedFrame]:
        with self._lock:
            return [self._best[t] for t in self._targets if t in self._best]


def _sim_command(rig_file: Path, scenario: str, duration_s: float, rate: float) -> list[str]:
    params = {
        "rig_file": str(rig_file),
        "scenario": scenario,
        "duration_s": duration_s,
        "rate": rate,
        "epoch_s": EPOCH_S,
        "wait_for_subscribers_s": 20.0,
        "qos": DEMO_QOS,
    }
    args = [arg for key, value in params.items() for arg in ("-p", f"{key}:={value}")]
    return [sys.executable, "-m", "mmfusion_annotate.nodes.sim_node", "--ros-args", *args]


def run_demo(
    *,
    scenario: str = "cut_in",
    duration_s: float | None = None,
    out_dir: Path = Path("demo_out"),
    rig_file: Path | None = None,
    rate: float = 0.5,
    domain_id: int | None = None,
    progress: bool = True,
    executor: ExecutorKind = "events",
) -> DemoSummary:
    """Run sim -> fusion -> recorder for one built-in (or YAML) scenario on ``executor``; the summary."""
    spec = load_scenario(scenario)  # a bad name fails here with one line, before anything starts
    duration = float(duration_s or spec.duration_s)
    rig_file = Path(rig_file or default_rig_path())
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    domain = domain_id if domain_id is not None else 100 + os.getpid() % 100
    epoch = EPOCH_S * NS_PER_S
    targets = [epoch + int(duration * NS_PER_S * (i + 0.5) / SHEET_FRAMES) for i in range(SHEET_FRAMES)]

    context = init_context(domain_id=domain)
    rig_param = Parameter("rig_file", value=str(rig_file))
    sim_time = Parameter("use_sim_time", value=True)
    qos = Parameter("qos", value=DEMO_QOS)
    depth = Parameter("queue_depth", value=DEMO_QUEUE_DEPTH)
    fusion = apply_process_threads(
        FusionNode(context=context, parameter_overrides=[rig_param, sim_time, qos, depth])
    )
    recorder = RecorderNode(
        context=context,
        parameter_overrides=[rig_param, sim_time, Parameter("bag_dir", value=str(out_dir)),
                             Parameter("bag_name", value=f"{spec.name}_bag"),
                             Parameter("recorder.include", value=""),
                             Parameter("recorder.sensor_qos", value=DEMO_QOS)],
    )  # fmt: skip
    summary = DemoSummary(spec.name, duration, recorder.recorder.bag_dir)  # _2, _3... when taken
    collector = _Collector(summary, targets)
    connect_recorder(fusion, recorder)
    fusion.add_listener(collector)
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    bar = tqdm(total=round(duration, 1), unit="s", desc=f"demo {spec.name}", disable=not progress)
    sim = None
    stop = StopEvent()
    closed = False

    def finished() -> bool:
        done = round(max(0.0, (collector.latest_ns - epoch) / NS_PER_S), 1)
        if done > bar.n:  # set, not accumulated: float steps would print 0.30000000000000004
            bar.n = done
            bar.refresh()
        return sim is not None and sim.poll() is not None and fusion.idle()

    try:
        sim = start_child(_sim_command(rig_file, scenario, duration, rate), env=env)
        run_nodes([fusion, recorder], until=finished, stop=stop, executor=executor)
        closed = True
    finally:
        bar.close()
        if not closed:  # a signal before the nodes ran: still close the bag (or give its folder back)
            recorder.close()
        if sim is not None:
            if sim.poll() is None:
                sim.terminate()
            summary.sim_exit_code = sim.wait(timeout=10)
        summary.fusion_stats = fusion.stats()
        summary.recorder_drops = recorder.recorder.stats().dropped_total
        summary.stop_signal = stop.signum
        summary.recording_complete = recorder.recording_complete
        for node in (fusion, recorder):
            node.destroy_node()
        context.try_shutdown()
    frames = collector.sheet_frames()
    if frames:
        summary.contact_sheet = Path(out_dir) / f"{summary.bag_dir.name}_frames.png"
        render_frames_sheet(frames, summary.contact_sheet, origin_ns=epoch)
    summary.events.sort(key=lambda e: (e.start, e.type))
    return summary


def format_demo_summary(summary: DemoSummary) -> str:
    """The text ``mmfusion demo`` prints."""
    stats = summary.fusion_stats
    pipeline: dict[str, float | str] = stats["pipeline"] if stats else {}
    sync: dict[str, float] = stats["sync"] if stats else {}
    sync_drops = {k.split(".")[0]: v for k, v in sync.items() if k.endswith(".unmatched") and v}
    lines = [
        f"scenario {summary.scenario}: {summary.duration_s:.1f} s of drive, sim_node -> fusion_node -> "
        f"recorder_node (DDS)",
        f"fused frames: {summary.frames}   (pipeline drops: {pipeline.get('queue_dropped', 0)}, "
        f"failed frames: {pipeline.get('failed_frames', 0)}, recorder drops: {summary.recorder_drops})",
        f"latency last message -> fused frame: p50 {pipeline.get('latency_ms.p50', float('nan')):.0f} ms, "
        f"p99 {pipeline.get('latency_ms.p99', float('nan')):.0f} ms",
        f"sync: {sync.get('sets', 0)} sets; messages not used in a set: "
        + (", ".join(f"{k} {v}" for k, v in sorted(sync_drops.items())) or "none"),
        f"pre-labels: {summary.cuboids} cuboids, {len(summary.track_ids)} confirmed tracks",
        "review items: "
        + (", ".join(f"{reason} {n}" for reason, n in summary.review_reasons.most_common()) or "none"),
        f"events: {len(summary.events)}",
    ]
    epoch = EPOCH_S * NS_PER_S
    lines += [
        f"  {(e.start - epoch) / NS_PER_S:7.2f} s .. {(e.end - epoch) / NS_PER_S:7.2f} s  {e.type:<26} "
        f"{e.severity.value:<8} objects {list(e.object_ids)} sensor {e.sensor or '-'}"
        for e in summary.events
    ]
    if summary.bag_dir.is_dir():
        lines.append(f"bag: {summary.bag_dir}   (try: mmfusion info {summary.bag_dir}; mmfusion events ...)")
    else:  # the recorder removes the folder it claimed when nothing reached it
        lines.append("bag: none (stopped before any message was recorded)")
    if summary.contact_sheet:
        lines.append(f"contact sheet: {summary.contact_sheet}")
    if summary.stop_signal:
        how = "by Ctrl-C" if summary.stop_signal == signal.SIGINT else "by SIGTERM"
        lines.append(f"interrupted: the drive was cut short {how} (what was recorded is closed and readable)")
    if not summary.recording_complete:
        lines.append("the recording is incomplete: messages lost to I/O errors or a full queue (see info)")
    return "\n".join(lines)
