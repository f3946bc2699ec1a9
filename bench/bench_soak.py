"""Soak: a pre-generated drive of the default rig played at real time through fusion + recorder over DDS.

    .venv/bin/python bench/bench_soak.py [--minutes 5] [--drive-seconds 20] [--scenario cut_in]
                                         [--executor events|multi] [--qos sensor_data|reliable]
                                         [--recorder in-process|process] [--detector MODEL]

The drive is generated once and cached (``drive_cache.py``: sensor topics only, each LiDAR sweep published
when its last point is captured). ``player_node BAG --loop --no-clock`` (``mmfusion play``; no ``/clock``,
as drivers publish none and the nodes run on wall time) publishes it in a subprocess at its recorded
pace (``--qos``: offered with that QoS, else the recorded sensor-data one); this
process runs ``vehicle_nodes`` (``fusion_node`` + ``recorder_node`` on one executor, the outputs handed to
the recorder in-process, as ``mmfusion run`` does; ``--qos``: both subscribe with it), on a dedicated
``ROS_DOMAIN_ID``, localhost only, both processes with the shipped Fast DDS large-data profile
(``nodes/dds_profile.py``; ``FASTRTPS_DEFAULT_PROFILES_FILE=`` empty runs Fast DDS's defaults).
``--recorder process`` runs ``recorder_node`` in a process of its own
instead (as ``ros2 launch ... vehicle.launch.py`` does), recording the sensor topics and the outputs it
receives over DDS; its counts then come from its closing log line. At each loop the stamps jump back and the
pipeline restarts (counted). ``--publication-mode`` is the player's (the drivers' stand-in) Fast DDS
publication mode, ``RMW_FASTRTPS_PUBLICATION_MODE`` in its environment (default ``ASYNCHRONOUS``;
``default``: as inherited, synchronous with these wheels): with synchronous publication the reliable 100 Hz
IMU and odometry reach the node ~300 ms late (p90) and every set waits for that odometry (README,
Performance).

``--detector MODEL`` runs the camera detector live (a name from ``mmfusion models`` or an .onnx file, set as
``prelabel.camera.detector.model`` in a pipeline file given to ``fusion_node``) with its default schedule,
as a car with a model would.

Printed after the warm-up (first ``--warmup`` seconds left out): sustained fused-frame rate against the
LiDAR rate, latency p50/p99/max (wall time when the frame is produced minus wall time when the last message
of its set was received, ``fusion_node``'s own measure), drops (frames dropped by the fusion queue, failed
frames, recorder queue/IO, messages lost between player and node), CPU % per process and per thread of the
vehicle process (named; native library and DDS threads by id), peak RSS and RSS
growth. The baseline is the target of the issue: 10 fused frames/s, p99 < 150 ms, zero drops, no RSS growth.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from drive_cache import cached_drive

from mmfusion_annotate.library_threads import let_openmp_teams_sleep
from mmfusion_annotate.nodes.composition import EXECUTORS, init_context, run_nodes
from mmfusion_annotate.nodes.dds_profile import ENV_VARS
from mmfusion_annotate.nodes.qos import SENSOR_QOS_NAMES
from mmfusion_annotate.nodes.vehicle import vehicle_nodes
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sync.model import DropReason

OUT_DIR = Path("/tmp/mmfusion_bench/soak")
PUBLICATION_MODE = "RMW_FASTRTPS_PUBLICATION_MODE"
OUTPUT_TOPICS = "^/(prelabels|fusion|events)/.*"
"""What a recorder in its own process records besides the rig's topics (config/recorder_node.yaml)."""
TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """In a child before exec: SIGTERM it when this process dies, however it dies (a crash skips the
    ``finally`` that stops it, and a player left running feeds the next soak on the same domain)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (all its threads) or of one of its threads, seconds."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds of each thread of this process, by name: Python's thread name, or the kernel's
    ``comm`` and id for native threads (library pools, DDS), where spinning workers show up."""
    python = {t.native_id: t.name for t in threading.enumerate()}
    out = {}
    for tid in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            comm = (tid / "comm").read_text().strip()
            out[python.get(int(tid.name), f"{comm} [{tid.name}]")] = cpu_seconds(os.getpid(), int(tid.name))
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return out


HOST_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def host_cpu_ticks() -> list[int]:
    """The machine's ticks in each ``HOST_FIELDS`` state (/proc/stat)."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def host_shares(first: dict, last: dict) -> dict[str, float]:
    """% of the machine's CPU time in each ``HOST_FIELDS`` state between two sampled rows."""
    ticks = [b - a for a, b in zip(first["host"], last["host"], strict=True)]
    return dict(zip(HOST_FIELDS, (100 * t / max(sum(ticks), 1) for t in ticks), strict=True))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    """Once a second: CPU seconds and RSS of both processes, the vehicle's per thread, and the fusion
    node's counters."""

    def __init__(self, pids: dict[str, int], fusion, recorder) -> None:
        super().__init__(daemon=True, name="soak-sampler")
        self.pids, self.fusion, self.recorder = pids, fusion, recorder
        self.rows: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                row = {"t": time.monotonic(), "host": host_cpu_ticks(), "threads": thread_cpu_seconds(),
                       **{f"cpu.{k}": cpu_seconds(p) for k, p in self.pids.items()},
                       **{f"rss.{k}": rss_mb(p) for k, p in self.pids.items()}}
            except FileNotFoundError:  # the player ended
                return
            stats = self.fusion.stats()
            row.update(frames=stats["pipeline"]["frames"], sensors=dict(stats["sensors"]),
                       pipeline=dict(stats["pipeline"]), sync=dict(stats["sync"]),
                       recorder=self.recorder.recorder.stats() if self.recorder else None)  # fmt: skip
            self.rows.append(row)


def record_latencies(fusion, into: list[tuple[float, float]], parts: list[tuple[float, ...]]) -> None:
    """Keep every frame's latency (the node keeps only a window for /diagnostics) and its parts.

    ``parts``: (produced, formed, queued, processing, processing CPU) per frame, ms: ``formed`` from the
    last message of the set to the intake handing the set step to the worker (the synchronizer and the
    ego-motion wait), ``queued`` from there to the worker starting it, ``processing`` the worker's wall time
    on it and ``processing CPU`` its thread's CPU time (the gap: waiting for the GIL or for a core).
    """
    account, intake, process = fusion._account, fusion.annotator.intake, fusion._worker._handler
    formed: dict[int, float] = {}  # reference stamp of a set -> when intake emitted its step
    started: list[float] = [0.0, 0.0]  # wall, thread CPU

    def timed_intake(sample):
        steps = intake(sample)
        now = time.monotonic()
        formed.update((s.synced.reference_stamp, now) for s in steps if s.synced is not None)
        return steps

    def timed_process(item) -> None:
        started[:] = time.monotonic(), time.thread_time()
        process(item)

    def wrapped(out, arrived) -> None:
        account(out, arrived)
        if out.frames:
            now = time.monotonic()
            into.extend((now, ms) for ms in fusion._latency_ms[-len(out.frames):])
            for annotated in out.frames:
                at = formed.pop(annotated.synced.reference_stamp, None)
                if at is not None and arrived is not None:
                    parts.append((now, (at - arrived) * 1e3, (started[0] - at) * 1e3,
                                  (now - started[0]) * 1e3, (time.thread_time() - started[1]) * 1e3))

    fusion.annotator.intake, fusion._worker._handler, fusion._account = timed_intake, timed_process, wrapped


def main() -> None:
    let_openmp_teams_sleep()  # what every entry point of the suite does first (library_threads.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--detector", default="", help="camera detector (name or .onnx); default LiDAR-only")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds left out at the start")
    parser.add_argument("--drive-seconds", type=float, default=20.0, help="length of the looped drive")
    parser.add_argument("--scenario", default="cut_in")
    parser.add_argument("--domain-id", type=int, default=77, help="dedicated ROS_DOMAIN_ID")
    parser.add_argument("--executor", choices=EXECUTORS, default="events",
                        help="run_nodes' executor (events: rclpy's EventsExecutor, the default of mmfusion "
                        "run; multi: MultiThreadedExecutor)")  # fmt: skip
    parser.add_argument("--qos", choices=SENSOR_QOS_NAMES, default=None,
                        help="sensor QoS of player, fusion and recorder (default: as recorded / the nodes' "
                        "default, sensor_data)")  # fmt: skip
    parser.add_argument("--recorder", choices=("in-process", "process"), default="in-process",
                        help="recorder_node beside fusion_node (outputs in-process, as mmfusion run) or in a "
                        "process of its own (as vehicle.launch.py)")  # fmt: skip
    parser.add_argument("--publication-mode", choices=("ASYNCHRONOUS", "SYNCHRONOUS", "default"),
                        default="ASYNCHRONOUS", help="the player's RMW_FASTRTPS_PUBLICATION_MODE")
    args = parser.parse_args()

    rig = load_rig(default_rig_path())
    bag = cached_drive(args.scenario, args.drive_seconds)
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    OUT_DIR.mkdir(parents=True)

    ros_args = []
    if args.detector:
        pipeline = OUT_DIR / "pipeline_detector.yaml"
        pipeline.write_text(yaml.safe_dump({"prelabel": {"camera": {"detector": {"model": args.detector}}}}))
        ros_args = ["--ros-args", "-p", f"pipeline_file:={pipeline}"]
    context = init_context(ros_args, domain_id=args.domain_id)
    separate = args.recorder == "process"
    nodes = vehicle_nodes(context, rig_file=None, bag_dir=OUT_DIR / "bag", qos=args.qos, record=not separate)
    fusion, recorder = nodes[0], (None if separate else nodes[1])
    latencies: list[tuple[float, float]] = []
    parts: list[tuple[float, ...]] = []
    record_latencies(fusion, latencies, parts)
    play = [sys.executable, "-m", "mmfusion_annotate.nodes.player_node", str(bag), "--loop", "--no-clock"]
    play += ["--qos", args.qos] if args.qos else []
    player_env = os.environ.copy()
    if args.publication_mode != "default":
        player_env[PUBLICATION_MODE] = args.publication_mode
    player = subprocess.Popen(play, env=player_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)  # fmt: skip
    pids = {"vehicle": os.getpid(), "player": player.pid}
    recorder_log = OUT_DIR / "recorder.log"
    if separate:
        record = [sys.executable, "-m", "mmfusion_annotate.nodes.recorder_node", "--ros-args",
                  "-p", f"bag_dir:={OUT_DIR / 'bag'}", "-p", f"recorder.include:={OUTPUT_TOPICS}"]
        record += ["-p", f"recorder.sensor_qos:={args.qos}"] if args.qos else []
        with recorder_log.open("w") as log:
            recorder_process = subprocess.Popen(record, stdout=log, stderr=subprocess.STDOUT,
                                                preexec_fn=die_with_parent)  # fmt: skip
        pids["recorder"] = recorder_process.pid
    sampler = Sampler(pids, fusion, recorder)
    sampler.start()
    started = time.monotonic()
    print(f"soak: {args.minutes:g} min of '{bag.name}' looped, domain {args.domain_id}, "
          f"{args.executor} executor, {args.qos or 'recorded/default'} QoS, warm-up {args.warmup:g} s, "
          f"FASTDDS_BUILTIN_TRANSPORTS={os.environ.get('FASTDDS_BUILTIN_TRANSPORTS', 'default')}, "
          f"Fast DDS profile {os.environ.get(ENV_VARS[0]) or 'none (512 kB shared-memory segments)'}, "
          f"player {PUBLICATION_MODE}={player_env.get(PUBLICATION_MODE, 'unset')}, "
          f"camera detector {args.detector or 'none'}",
          flush=True)  # fmt: skip
    try:
        run_nodes(nodes, timeout_s=args.minutes * 60, executor=args.executor)
    finally:
        sampler.stop.set()
        for process in [player] + ([recorder_process] if separate else []):
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        for node in nodes:
            node.destroy_node()
        context.try_shutdown()
    if separate:
        closing = [line for line in recorder_log.read_text().splitlines() if " MB, " in line]
        print(f"recorder process: {closing[-1] if closing else 'no closing line, see ' + str(recorder_log)}")
    report(args, rig, started, sampler.rows, latencies, parts, fusion, recorder)


def minute_load(rows: list[dict], parts, minute: int) -> str:
    """The ``minute``-th minute after ``rows[0]``: the pipeline's CPU per frame (p50) and the host's steal."""
    start = rows[0]["t"] + minute * 60
    inside = [r for r in rows if start <= r["t"] <= start + 60]
    cpu = [p[4] for p in parts if start <= p[0] < start + 60]
    if len(inside) < 2 or not cpu:
        return "-"
    return f"{np.percentile(cpu, 50):.0f}/{host_shares(inside[0], inside[-1])['steal']:.0f}"


STEAL_BURST = 10.0
"""Host steal (% of all cores) over one sampled second from which that second counts as a steal burst."""
AFTER_BURST_S = 5.0
"""How long after a steal burst a frame still counts as hit by it (the queue left takes seconds to drain)."""


def steal_bursts(rows: list[dict], latencies) -> str:
    """The seconds in which the hypervisor took >= ``STEAL_BURST`` % of the cores, and how the frames over
    150 ms fall around them: a minute's mean steal hides a 4-second burst that leaves a queue behind."""
    bursts = []
    for a, b in zip(rows, rows[1:], strict=False):
        steal = host_shares(a, b)["steal"]
        if steal >= STEAL_BURST:
            bursts.append((a["t"], b["t"], steal))
    if not bursts:
        return f"no second with steal >= {STEAL_BURST:g} %"
    hit = np.array([any(t0 <= t <= t1 + AFTER_BURST_S for t0, t1, _ in bursts) for t, _ in latencies])
    ms = np.array([ms for _, ms in latencies])
    over = ms > 150
    clear = ms[~hit]
    rest = f"p99 of the other frames {np.percentile(clear, 99):.0f} ms" if len(clear) else "no other frame"
    peak = max(steal for *_, steal in bursts)
    return (f"{len(bursts)} s with steal >= {STEAL_BURST:g} % (max {peak:.0f} %); frames over 150 ms: "
            f"{int((over & hit).sum())} of {int(over.sum())} in or <= {AFTER_BURST_S:g} s after "
            f"one; {rest} ({len(clear)} frames)")


def report(args, rig, started: float, rows: list[dict], latencies, parts, fusion, recorder) -> None:
    # rows up to the end of the run only: closing the nodes drops what still arrives (not a soak figure)
    warm = [r for r in rows if args.warmup <= r["t"] - started <= args.minutes * 60]
    if len(warm) < 2:
        raise SystemExit("soak: run shorter than the warm-up; nothing to report")
    first, last = warm[0], warm[-1]
    span = last["t"] - first["t"]
    lidar = rig.lidars()[0]
    frames = last["frames"] - first["frames"]
    kept = [(t, ms) for t, ms in latencies if first["t"] <= t <= last["t"]]  # after the warm-up
    lat = np.array([ms for _, ms in kept])
    print(f"\nafter warm-up: {span:.0f} s, {frames} fused frames")
    print(f"  frame rate        {frames / span:6.2f} /s   (LiDAR {lidar.rate_hz:g} Hz; target: keeps up)")
    if len(lat):
        p50, p99 = np.percentile(lat, [50, 99])
        print(f"  latency ms        p50 {p50:6.1f}   p99 {p99:6.1f}   max {lat.max():6.1f}"
              f"   (target p99 < 150; {np.mean(lat > 150) * 100:.1f} % of frames over)")
        # one bad episode and a steady tail read alike in the whole-run p99; per minute they do not
        minutes = [[ms for t, ms in latencies if m * 60 <= t - first["t"] < (m + 1) * 60]
                   for m in range(int(np.ceil(span / 60)))]  # fmt: skip
        full = [k for k, m in enumerate(minutes) if len(m) >= 100]
        print("  latency p99 per minute  " + ", ".join(f"{np.percentile(minutes[k], 99):.0f}" for k in full)
              + " ms")  # fmt: skip
        print("  machine per minute      " + ", ".join(minute_load(warm, parts, k) for k in full)
              + "   (pipeline CPU per frame p50 ms / host steal %: the same frames cost more CPU when the VM"
              " is slow)")  # fmt: skip
        print("  steal bursts      " + steal_bursts(warm, kept))
    split = np.array([p[1:] for p in parts if first["t"] <= p[0] <= last["t"]])
    if len(split):
        slow = split[np.argsort(split.sum(axis=1))[-max(1, len(split) // 20):]]  # the slowest 5 %
        print("  latency parts ms  " + ", ".join(
            f"{name} p50 {np.percentile(split[:, k], 50):.0f} / p99 {np.percentile(split[:, k], 99):.0f}"
            f" (slowest 5 %: {slow[:, k].mean():.0f})"
            for k, name in enumerate(("set formed", "queued", "processing", "its CPU"))))
    p0, p1 = first["pipeline"], last["pipeline"]
    s0, s1 = first["sensors"], last["sensors"]
    received = {n: s1[f"{n}.received"] - s0[f"{n}.received"] for n in rig.sensors}
    expected = {n: rig.sensor(n).rate_hz * span for n in rig.sensors}
    short = {n: expected[n] - received[n] for n in rig.sensors if received[n] < 0.97 * expected[n]}
    recorder_drops = (last["recorder"].dropped_total - first["recorder"].dropped_total if recorder
                      else "(its own process: see its closing line)")
    print("  drops             "
          f"frames {p1['frames_dropped'] - p0['frames_dropped']} (queued samples "
          f"{p1['queue_dropped'] - p0['queue_dropped'] - (p1['frames_dropped'] - p0['frames_dropped'])}), "
          f"failed frames {p1['failed_frames'] - p0['failed_frames']}, "
          f"recorder {recorder_drops}, "
          f"worker errors {p1['worker_failed'] - p0['worker_failed']}")
    busy = {k: (p1[f"{k}_busy_s"] - p0[f"{k}_busy_s"]) / span * 100 for k in ("worker", "publish")}
    print(f"  threads busy      pipeline {busy['worker']:.0f} %, publishing {busy['publish']:.0f} % "
          "of the time (a pipeline near 100 % queues every burst)")
    print(f"  LiDAR sweeps received {received[lidar.name]}, fused frames {frames}: "
          f"{received[lidar.name] - frames} sweeps without a frame (sync, failed or dropped, loop ends)")
    print("  received / expected messages: " + ", ".join(
        f"{n} {received[n]}/{expected[n]:.0f}" for n in rig.sensors))
    if short:
        print("  fewer than 97 % received (DDS or player lag): " + ", ".join(f"{n} -{v:.0f}" for n, v in
                                                                           short.items()))
    # the synchronizer starts afresh at each loop of the drive, so its figures are the last loop's, not deltas
    sync = last["sync"]
    inputs = [spec.name for spec in fusion.annotator.inputs]
    drops = {r.value: sum(sync[f"{name}.{r.value}"] for name in inputs) for r in DropReason}
    print(f"  sync (last loop)  {sync['sets']} sets ({sync['partial_sets']} partial, "
          f"{sync['forced_sets']} forced), span ms p50 {sync['span_ns.p50'] / 1e6:.1f} / "
          f"p99 {sync['span_ns.p99'] / 1e6:.1f}, messages not in a set: "
          f"{ {r: n for r, n in drops.items() if n} or 0}")
    print(f"  pipeline restarts (bag loops): {fusion.annotator.resets}")
    for proc in [k[len("cpu."):] for k in first if k.startswith("cpu.")]:
        cpu = (last[f"cpu.{proc}"] - first[f"cpu.{proc}"]) / span * 100
        rss = [r[f"rss.{proc}"] for r in warm]
        slope = np.polyfit([r["t"] - first["t"] for r in warm], rss, 1)[0] * 60
        print(f"  {proc:<8} CPU {cpu:5.0f} %   RSS peak {max(r[f'rss.{proc}'] for r in rows):6.0f} MB, "
              f"after warm-up {rss[0]:6.0f} -> {rss[-1]:6.0f} MB (trend {slope:+.1f} MB/min)")
        # a plateau (DDS history pools filling once, then reused) reads differently from a steady leak
        minutes = [max(r[f"rss.{proc}"] for r in warm if m * 60 <= r["t"] - warm[0]["t"] < (m + 1) * 60)
                   for m in range(int(span // 60))]  # fmt: skip
        if minutes:
            per_minute = ", ".join(f"{v:.0f}" for v in minutes)
            print(f"{'':11}RSS peak per minute after warm-up: {per_minute} MB")
    threads = {name: (last["threads"][name] - first["threads"].get(name, 0.0)) / span * 100
               for name in last["threads"]}  # fmt: skip
    print("  vehicle threads   " + ", ".join(f"{name} {share:.0f} %" for name, share in
                                             sorted(threads.items(), key=lambda kv: -kv[1]) if share >= 1))
    stages = {k[:-len(".p50")]: (p1.get(k), p1.get(k[:-4] + ".p99")) for k in p1 if k.endswith(".p50")}
    print("  node's window (last 256 frames), ms p50/p99: " + ", ".join(
        f"{k} {a:.1f}/{b:.1f}" for k, (a, b) in stages.items()))
    if recorder is not None:
        stats = recorder.recorder.stats()
        print(f"  recorder: {sum(stats.written.values())} messages, {stats.bytes_written / 1e6:.0f} MB "
              f"written, queue peak {stats.queue_peak_bytes / 1e6:.1f} MB, dropped (whole run) queue "
              f"{dict(stats.dropped_queue)} io {dict(stats.dropped_io)}")
    share = host_shares(first, last)
    print("  host CPU          " + ", ".join(f"{k} {share[k]:.0f} %" for k in
                                              ("user", "system", "iowait", "steal", "idle"))
          + "   (steal: time the hypervisor gave this VM's cores to others)")
    print(f"  (load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
