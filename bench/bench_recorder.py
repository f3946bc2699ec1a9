"""Recorder throughput, enqueue to disk and over DDS, against a plain ``mcap`` Writer loop (same messages).

Two mixes, each for compression none and lz4:
- ``rig``: the default rig as cars record it (one 64-beam LiDAR PointCloud2 of ~115k points at 10 Hz, six
  ~300 kB JPEG cameras at 12 Hz, five radars at 13 Hz, IMU at 100 Hz), enqueued at 3x its real rate by a
  paced producer thread (as subscription callbacks would); the recorder must keep up with zero drops.
- ``raw``: six raw 1600x900 rgb8 cameras enqueued as fast as possible (stress); the recorder must reach
  at least 80% of the plain writer's MB/s and count every drop.
Modes: ``enqueue`` (a producer thread calls ``Recorder.enqueue``), ``dds`` (a publisher process -> DDS ->
``RecorderNode``, and a bare counting subscriber as the DDS ceiling; see ``recorder_dds.py``), ``both``.
Prints MB/s, messages/s, drops and CPU% (process CPU time / wall time; 100% = one core).

    .venv/bin/python bench/bench_recorder.py [--mode both] [--mix rig raw] [--qos reliable sensor_data]
        [--dds-seconds 20] [--raw-speed X] [--seconds 4] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from mcap.writer import CompressionType, Writer
from sensor_msgs.msg import CompressedImage, Image, Imu, PointCloud2, PointField

from mmfusion_annotate.recording import serialize
from mmfusion_annotate.recording.config import RecorderConfig
from mmfusion_annotate.recording.recorder import Recorder
from mmfusion_annotate.rig import default_rig_path, load_rig

Message = tuple[str, str, bytes, int]  # topic, type, CDR bytes, log time ns
RIG_RATES = {"lidar": 10.0, "camera": 12.0, "radar": 13.0, "imu": 100.0}
"""The issue's default-rig mix (the rig's odometry is not part of it)."""


def lidar_cloud(rng: np.random.Generator) -> bytes:
    """A 64-beam sweep, 1800 azimuth steps (115,200 points): x y z intensity t(float32) ring(uint16)."""
    beams, steps = 64, 1800
    azimuth = np.linspace(-np.pi, np.pi, steps, endpoint=False)[None, :]
    elevation = np.deg2rad(np.linspace(-25.0, 15.0, beams))[:, None]
    rng_m = 5.0 + 60.0 * rng.random((beams, steps)) ** 2
    points = np.zeros(
        (beams, steps),
        dtype=[
            ("x", "<f4"),
            ("y", "<f4"),
            ("z", "<f4"),
            ("i", "<f4"),
            ("t", "<f4"),
            ("ring", "<u2"),
            ("pad", "<u2"),
        ],
    )
    points["x"] = rng_m * np.cos(elevation) * np.cos(azimuth)
    points["y"] = rng_m * np.cos(elevation) * np.sin(azimuth)
    points["z"] = rng_m * np.sin(elevation)
    points["i"] = rng.integers(0, 255, (beams, steps))
    points["t"] = np.linspace(0.0, 0.1, steps)[None, :]
    points["ring"] = np.arange(beams)[:, None]
    names = [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 12, 7), ("t", 16, 7), ("ring", 20, 4)]
    cloud = PointCloud2(
        height=1,
        width=beams * steps,
        point_step=24,
        row_step=24 * beams * steps,
        fields=[PointField(name=n, offset=o, datatype=d, count=1) for n, o, d in names],
        data=points.tobytes(),
        is_dense=True,
    )
    return serialize("sensor_msgs/msg/PointCloud2", cloud)


def rig_mix(seconds: float, rng: np.random.Generator) -> list[Message]:
    """The default rig's messages over ``seconds`` of driving, in time order (a few variants per sensor)."""
    clouds = [lidar_cloud(rng) for _ in range(2)]
    jpegs = [
        serialize(
            "sensor_msgs/msg/CompressedImage",
            CompressedImage(format="jpeg", data=rng.integers(0, 255, 300_000, np.uint8).tobytes()),
        )
        for _ in range(4)
    ]
    radar = serialize(
        "sensor_msgs/msg/PointCloud2",
        PointCloud2(
            height=1,
            width=120,
            point_step=32,
            row_step=3840,
            data=rng.integers(0, 255, 3840, np.uint8).tobytes(),
        ),
    )
    imu = serialize("sensor_msgs/msg/Imu", Imu())
    rig = load_rig(default_rig_path())  # the rig's own topics, so recorder_node subscribes to them (DDS mode)
    payloads = {"camera": jpegs, "lidar": clouds, "radar": [radar], "imu": [imu]}
    streams = [
        (s.topic, s.msgtype, RIG_RATES[s.kind], payloads[s.kind])
        for s in rig.sensors.values()
        if s.kind in RIG_RATES
    ]
    return schedule(streams, seconds)


def raw_mix(frames: int, rng: np.random.Generator) -> list[Message]:
    """Six raw 1600x900 rgb8 cameras at 12 Hz (smooth gradient plus noise, like a real scene)."""
    base = (np.linspace(0, 255, 1600 * 900 * 3) % 256).astype(np.uint8)
    images = [
        serialize(
            "sensor_msgs/msg/Image",
            Image(
                height=900,
                width=1600,
                encoding="rgb8",
                step=4800,
                data=(base + rng.integers(0, 8, base.size, np.uint8)).tobytes(),
            ),
        )
        for _ in range(2)
    ]
    topics = [raw_topic(s.topic) for s in load_rig(default_rig_path()).cameras()]
    streams = [(topic, "sensor_msgs/msg/Image", 12.0, images) for topic in topics]
    return schedule(streams, frames / 12.0)


def raw_topic(compressed_topic: str) -> str:
    """The raw image topic of a camera the rig records compressed (``.../image_raw``)."""
    return compressed_topic.removesuffix("/compressed")


def schedule(streams, seconds: float) -> list[Message]:
    out = []
    for topic, msgtype, hz, payloads in streams:
        for i in range(int(seconds * hz)):
            out.append((topic, msgtype, payloads[i % len(payloads)], int(i * 1e9 / hz)))
    return sorted(out, key=lambda m: m[3])


class CpuMeter:
    """Process CPU time over wall time between start() and stop()."""

    def __init__(self) -> None:
        self._process = psutil.Process()

    def start(self) -> None:
        times = self._process.cpu_times()
        self._cpu, self._wall = times.user + times.system, time.perf_counter()

    def stop(self) -> tuple[float, float]:
        times = self._process.cpu_times()
        wall = time.perf_counter() - self._wall
        return wall, 100.0 * (times.user + times.system - self._cpu) / wall


def plain_writer(messages: list[Message], path: Path, compression: str) -> dict:
    """Baseline: one mcap Writer, no queue, no thread, as fast as it goes."""
    meter = CpuMeter()
    meter.start()
    with open(path, "wb") as stream:
        writer = Writer(
            stream,
            chunk_size=4_000_000,
            compression={"none": CompressionType.NONE, "lz4": CompressionType.LZ4}[compression],
        )
        writer.start(profile="ros2")
        channels: dict[str, int] = {}
        for topic, msgtype, data, stamp in messages:
            if topic not in channels:
                schema = writer.register_schema(msgtype, "ros2msg", b"")
                channels[topic] = writer.register_channel(topic, "cdr", schema)
            writer.add_message(channels[topic], stamp, data, stamp)
        writer.finish()
    wall, cpu = meter.stop()
    total = sum(len(m[2]) for m in messages)
    return {"mb_s": total / wall / 1e6, "msg_s": len(messages) / wall, "drops": 0, "cpu": cpu, "wall": wall}


def recorder_run(messages: list[Message], bag: Path, compression: str, speed: float | None) -> dict:
    """Recorder fed by a producer thread, paced at ``speed`` x real time (None: as fast as possible)."""
    recorder = Recorder(bag, RecorderConfig(compression=compression))
    for topic, msgtype in {(m[0], m[1]) for m in messages}:
        recorder.add_topic(topic, msgtype, "sensor_data")
    meter = CpuMeter()

    def produce() -> None:
        start = time.perf_counter()
        for topic, msgtype, data, stamp in messages:
            if speed is not None:
                delay = start + stamp / 1e9 / speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            recorder.enqueue(topic, msgtype, data, stamp)

    meter.start()
    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    recorder.close(timeout=120)
    wall, cpu = meter.stop()
    stats = recorder.stats()
    written = stats.bytes_written
    return {
        "mb_s": written / wall / 1e6,
        "msg_s": sum(stats.written.values()) / wall,
        "drops": stats.dropped_total,
        "cpu": cpu,
        "wall": wall,
        "queue_peak_mb": stats.queue_peak_bytes / 1e6,
    }


def report(name: str, result: dict) -> None:
    extra = f"  queue peak {result['queue_peak_mb']:.0f} MB" if "queue_peak_mb" in result else ""
    print(
        f"  {name:<34} {result['mb_s']:8.1f} MB/s {result['msg_s']:8.0f} msg/s {result['drops']:6d} drops "
        f"{result['cpu']:6.0f}% CPU  ({result['wall']:.2f} s){extra}"
    )


def report_dds(name: str, result: dict) -> None:
    report(name, result)
    pub = result["published"]
    sent = sum(pub["counts"].values())
    lost = ", ".join(f"{t} {n}/{pub['counts'][t]}" for t, n in sorted(result["lost"].items())) or "none"
    print(
        f"    published {sent} msgs, {pub['bytes'] / pub['wall'] / 1e6:.0f} MB/s for {pub['wall']:.1f} s "
        f"(publisher {pub['cpu']:.0f}% CPU); lost in DDS {sum(result['lost'].values())} ({lost}); "
        f"recorder queue/io drops {result['queue_drops']}; host load {result['load']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("enqueue", "dds", "both"), default="both")
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="seconds of driving in the rig mix (enqueue)"
    )
    parser.add_argument(
        "--raw-frames", type=int, default=36, help="frames per camera in the raw mix (enqueue)"
    )
    parser.add_argument("--dds-seconds", type=float, default=20.0, help="publishing time per DDS case")
    parser.add_argument(
        "--qos", nargs="+", choices=("reliable", "sensor_data"), default=["reliable", "sensor_data"],
        help="QoS of publisher and recorder subscriptions in the DDS cases",
    )  # fmt: skip
    parser.add_argument("--raw-speed", type=float, default=None,
                        help="DDS raw mix: publish at this x real time (default: unpaced)")  # fmt: skip
    parser.add_argument(
        "--domain-id", type=int, default=60, help="first dedicated ROS_DOMAIN_ID (one per case)"
    )
    parser.add_argument("--mix", nargs="+", choices=("rig", "raw"), default=["rig", "raw"])
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    root = Path(tempfile.mkdtemp(prefix="bench_recorder_", dir=args.dir))
    domain = args.domain_id
    try:
        mixes = [
            ("rig", "rig mix at 3x real time", rig_mix(args.seconds, rng), 3.0),
            ("raw", "raw 1600x900 x6, unpaced", raw_mix(args.raw_frames, rng), None),
        ]
        for mix, title, messages, speed in [m for m in mixes if m[0] in args.mix]:
            total = sum(len(m[2]) for m in messages) / 1e6
            rate = f", offered {total / (messages[-1][3] / 1e9) * speed:.0f} MB/s" if speed else ""
            print(f"{title}: {len(messages)} messages, {total:.0f} MB{rate}; FASTDDS_BUILTIN_TRANSPORTS="
                  f"{os.environ.get('FASTDDS_BUILTIN_TRANSPORTS', 'default')}", flush=True)  # fmt: skip
            for compression in ("none", "lz4"):
                plain = plain_writer(messages, root / "plain.mcap", compression)
                (root / "plain.mcap").unlink()
                report(f"plain mcap Writer, {compression}", plain)
                if args.mode != "dds":
                    rec = recorder_run(messages, root / "bag", compression, speed)
                    shutil.rmtree(root / "bag")
                    report(f"Recorder.enqueue, {compression}", rec)
                    if speed is None:
                        print(f"  -> recorder/plain MB/s: {rec['mb_s'] / plain['mb_s']:.0%}")
                if args.mode == "enqueue":
                    continue
                from recorder_dds import dds_case  # imports this module's mixes (publisher process)

                for qos in args.qos:
                    for case in ([None] if compression == "none" else []) + [compression]:
                        result = dds_case(mix, qos, case, args.dds_seconds, domain, root, args.raw_speed)
                        domain += 1
                        shutil.rmtree(root / "bag", ignore_errors=True)
                        name = f"DDS {qos}, " + (f"recorder_node {case}" if case else "subscriber only")
                        report_dds(name, result)
                        if speed is None and case:
                            print(f"  -> recorder_node/plain MB/s: {result['mb_s'] / plain['mb_s']:.0%}")
                        sys.stdout.flush()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
