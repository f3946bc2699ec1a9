"""A hostile sensor stream: a synthetic drive's messages, some mutated, fed through decode and the
``Annotator`` as ``fusion_node`` feeds them (cameras decoded lazily), counting what happened.

Shared by ``test_fuzz_core.py`` (short, bounded) and ``bench/bench_fuzz.py`` (longer). Mutations: bit
flips and truncation of the CDR bytes, extreme values (NaN, +-inf, 1e300, 1e20, -0.0, a zero
quaternion), stamps (far future or past by a random 1000 s..30 years, duplicated, 0.3 s out of order),
wrong image encodings and sizes. A mutation that makes the message invalid for sure records the drop
reason it must be counted under (``FuzzRun.expected``); the others only must not raise.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.msgs.time import to_ros_time
from mmfusion_annotate.nodes.lazy_sample import lazy_camera_sample
from mmfusion_annotate.recording import deserialize, serialize
from mmfusion_annotate.sim import Drive, SimConfig, load_scenario
from mmfusion_annotate.types import NS_PER_S

SENSORS = ("lidar_top", "imu", "odometry", "cam_front", "radar_front")
KINDS = ("bitflip", "truncate", "extreme", "stamp", "encoding", "size")
EXTREMES = (math.nan, math.inf, -math.inf, 1e300, 1e20, -0.0)


def drive_messages(rig, seconds: float, seed: int = 7) -> list[tuple[Any, str, bytes]]:
    """(sensor, msgtype, CDR bytes) of a 'calm' drive: raw camera images, so size/encoding can be bent."""
    scenario = load_scenario("calm").model_copy(update={"duration_s": seconds})
    drive = Drive(rig, scenario, seed=seed, image_format="raw", config=SimConfig(sensors=SENSORS))
    by_topic = {t: s for s in rig.sensors.values() for t in (s.topic, s.topic.removesuffix("/compressed"))}
    return [(by_topic[topic], msgtype, serialize(msgtype, msg))
            for topic, msgtype, msg, _ in drive.messages() if topic in by_topic]  # fmt: skip


@dataclass
class FuzzRun:
    """What a run did: ``expected`` drops must all be found in ``drops`` (the Annotator's counter)."""

    messages: int = 0
    mutated: Counter = field(default_factory=Counter)  # mutation kind -> messages
    expected: Counter = field(default_factory=Counter)  # "reason.sensor" -> at least this many drops
    exceptions: list[str] = field(default_factory=list)  # tracebacks that escaped, and caught step failures
    drops: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    passes: int = 0
    seconds: float = 0.0

    def missing(self) -> dict[str, tuple[int, int]]:
        """Expected drops not counted: ``reason.sensor -> (expected, counted)``."""
        return {k: (n, self.drops.get(k, 0)) for k, n in self.expected.items() if self.drops.get(k, 0) < n}


def fuzz(rig, messages: list[tuple[Any, str, bytes]], *, seed: int, rate: float = 0.3,
         budget_s: float = 10.0, config: PipelineConfig | None = None) -> FuzzRun:
    """Feed ``messages`` over and over (each pass a loop of the bag: time jumps back) until ``budget_s``
    has passed, mutating a share ``rate`` of them, through one ``Annotator``."""
    rng = np.random.default_rng(seed)
    # the edge checks on every image (they raised on bad input before), inline: one thread, deterministic
    annotator = Annotator(rig, config or PipelineConfig(background_checks=False, alignment_every=1))
    run, started = FuzzRun(), time.monotonic()
    last_stamp: dict[str, int] = {}
    while time.monotonic() - started < budget_s:
        for index, (sensor, msgtype, data) in enumerate(messages):
            if time.monotonic() - started >= budget_s:
                break
            run.messages += 1
            kind = str(rng.choice(KINDS)) if index > 0 and rng.random() < rate else None
            try:
                _feed(annotator, run, rng, sensor, msgtype, data, kind, last_stamp)
            except Exception:  # noqa: BLE001 - the point of the fuzz test: nothing may escape
                run.exceptions.append(traceback.format_exc())
        run.passes += 1
    try:
        run.frames += len(annotator.finish().frames)
    except Exception:  # noqa: BLE001
        run.exceptions.append(traceback.format_exc())
    run.drops = annotator.drops.snapshot()
    run.exceptions += [f"{k}: {n} caught step failures" for k, n in run.drops.items()
                       if k.startswith("processing_error")]  # fmt: skip
    run.seconds = time.monotonic() - started
    return run


def ingest(annotator: Annotator, sensor: Any, msgtype: str, data: bytes | None, msg: Any = None
           ) -> tuple[int, int | None]:
    """One message as ``fusion_node`` takes it (CDR bytes, or the message itself): decoded (camera images
    lazily), a refused one counted in ``annotator.drops`` with its reason; (frames made, its stamp)."""
    try:
        msg = deserialize(msgtype, data) if data is not None else msg
        decode = lazy_camera_sample if sensor.kind == "camera" else decode_sample
        sample = decode(sensor, msg)
    except CodecError as exc:
        annotator.drops.count(sensor.name, exc.reason)
        return 0, None
    return len(annotator.feed(sample).frames), sample.stamp


def _feed(annotator: Annotator, run: FuzzRun, rng: np.random.Generator, sensor: Any, msgtype: str,
          data: bytes, kind: str | None, last_stamp: dict[str, int]) -> None:
    expected: str | None = None
    msg = None
    if kind in ("encoding", "size") and sensor.kind in ("imu", "odometry"):  # no encoding, no size: values
        kind = str(rng.choice(["extreme", "stamp"]))
    if kind is not None:
        run.mutated[kind] += 1
    if kind in ("bitflip", "truncate"):
        data = _bitflip(data, rng) if kind == "bitflip" else data[: int(rng.integers(0, len(data)))]
    elif kind is not None:
        msg = deserialize(msgtype, data)
        expected = _mutate(msg, sensor, kind, rng, last_stamp)
    if expected is not None:
        run.expected[f"{expected}.{sensor.name}"] += 1
    frames, stamp = ingest(annotator, sensor, msgtype, data if msg is None else None, msg)
    run.frames += frames
    if stamp is not None:
        last_stamp[sensor.name] = stamp


def _bitflip(data: bytes, rng: np.random.Generator) -> bytes:
    flipped = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        bit = int(rng.integers(0, len(flipped) * 8))
        flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def _mutate(msg: Any, sensor: Any, kind: str, rng: np.random.Generator, last: dict[str, int]) -> str | None:
    """Bend ``msg`` in place; returns the drop reason it must be counted under, if it is surely invalid."""
    if kind == "stamp":
        return _stamp(msg, sensor, rng, last)
    if kind == "extreme":
        return _extreme(msg, sensor, rng)
    if sensor.kind != "camera":
        return _cloud_layout(msg, kind, rng)
    if kind == "encoding":
        msg.encoding = str(rng.choice(["mono16", "32FC1", "16UC1", "rgb9"]))
        return "undecodable" if msg.encoding == "rgb9" else "image_encoding"
    msg.width, msg.height = [(16, 16), (4000, 3000), (sensor.camera.width, 10)][int(rng.integers(0, 3))]
    return "image_size"


def _stamp(msg: Any, sensor: Any, rng: np.random.Generator, last: dict[str, int]) -> str | None:
    stamp = msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec
    choice = int(rng.integers(0, 4))
    # 1000 s .. 30 years: two glitches of different sensors agreeing within a second (which the stamp rule
    # takes for a jump of the whole clock, as it must) stay out of the run
    far = int(10 ** rng.uniform(3.0, 9.0) * NS_PER_S)
    if choice == 0:
        stamp, reason = stamp + far, "stamp_far_future"
    elif choice == 1:
        stamp, reason = stamp - far, "stamp_far_past"
    elif choice == 2:
        stamp, reason = last.get(sensor.name, stamp), None  # duplicated
    else:
        stamp, reason = stamp - NS_PER_S * 3 // 10, None  # out of order
    msg.header.stamp = to_ros_time(stamp)
    return reason


def _extreme(msg: Any, sensor: Any, rng: np.random.Generator) -> str | None:
    value = float(rng.choice(EXTREMES))
    bad = not math.isfinite(value) or abs(value) >= 1e20
    if sensor.kind == "imu":
        vector = msg.angular_velocity if rng.random() < 0.5 else msg.linear_acceleration
        setattr(vector, str(rng.choice(["x", "y", "z"])), value)
        return "bad_value" if bad else None
    if sensor.kind == "odometry":
        pose = msg.pose.pose
        target = int(rng.integers(0, 4))
        if target == 0:
            pose.orientation.x = pose.orientation.y = pose.orientation.z = pose.orientation.w = 0.0
            return "bad_quaternion"
        vector = [pose.position, pose.orientation, msg.twist.twist.linear][target - 1]
        setattr(vector, str(rng.choice(["x", "y", "z"])), value)
        if target == 2 and value == -0.0:
            return None  # -0.0 in a unit quaternion is still one
        return "bad_value" if bad else None
    if sensor.kind in ("lidar", "radar"):
        return _cloud_value(msg, value, rng, lidar=sensor.kind == "lidar")
    return None


def _cloud_value(msg: Any, value: float, rng: np.random.Generator, *, lidar: bool) -> str | None:
    """One float32 field of one point set to ``value`` (a LiDAR's x beyond 1e4 m must be refused), or a
    LiDAR point's time (uint32 ns from the stamp) to 4.3 s."""
    if msg.width * msg.height == 0:
        return None
    point = int(rng.integers(0, msg.width * msg.height))
    times = [f for f in msg.fields if f.name == "t" and f.datatype == 6]  # UINT32
    if lidar and times and rng.random() < 0.3:
        data, at = bytearray(msg.data), point * msg.point_step + times[0].offset
        data[at : at + 4] = b"\xff\xff\xff\xff"
        msg.data = bytes(data)
        return "bad_value"
    floats = [f for f in msg.fields if f.datatype == 7]  # FLOAT32
    if not floats:
        return None
    target = floats[int(rng.integers(0, len(floats)))]
    with np.errstate(over="ignore"):  # 1e300 -> inf, as a float32 field would hold it
        raw = np.array(value, "<f4").tobytes()
    data, at = bytearray(msg.data), point * msg.point_step + target.offset
    data[at : at + 4] = raw
    msg.data = bytes(data)
    # NaN/inf are a LiDAR's "no return" (dropped); 1e300 becomes inf in float32
    return "bad_value" if lidar and target.name in ("x", "y", "z") and value == 1e20 else None


def _cloud_layout(msg: Any, kind: str, rng: np.random.Generator) -> str | None:
    """A PointCloud2 whose layout lies: a field of another type, or a width the data does not hold."""
    if kind == "encoding":
        msg.fields[int(rng.integers(0, len(msg.fields)))].datatype = int(rng.integers(0, 10))
        return None  # some types still fit the bytes: any decode is right, only no exception matters
    msg.width = int(msg.width) + int(rng.choice([-1, 1, 1000, 2**20]))
    return "undecodable" if msg.width * msg.point_step != len(msg.data) else None


def format_run(run: FuzzRun) -> Iterable[str]:
    """The bench's lines."""
    yield (f"messages {run.messages} in {run.passes} passes, {run.seconds:.1f} s; mutated "
           f"{sum(run.mutated.values())} ({', '.join(f'{k} {n}' for k, n in sorted(run.mutated.items()))})")
    by_reason: Counter = Counter()
    for key, n in run.drops.items():
        by_reason[key.split(".", 1)[0]] += n
    reasons = ", ".join(f"{k} {n}" for k, n in sorted(by_reason.items()))
    yield f"counted drops {sum(by_reason.values())}: {reasons}"
    yield f"frames {run.frames}; expected drops not counted: {run.missing() or 'none'}"
    yield f"exceptions {len(run.exceptions)}"
