"""Pre-label quality on a synthetic drive, measured against the simulator's truth.

A scenario (or a time window of it, with a subset of the rig's cameras to stay fast) is simulated and
run through the real chain (``Annotator``: sync -> fusion -> pre-labels), and every fused frame's
pre-labels are scored against the truth at the frame's stamp with the same ``Evaluator`` as real data:
precision/recall per class and range, heading and velocity error, id switches, 2D box IoU per camera.

Which truth counts: road users (car, truck, bus, pedestrian, cyclist) at the sweep's reference time,
in base_link. An object that left fewer than ``min_gt_points`` returns in the sweep cannot be seen by
any LiDAR method and is *ignored* (neither a miss nor, when a pre-label sits on it, a false positive),
as nuScenes drops boxes without LiDAR points. The 2D reference box of an object in a camera is the
simulator's visible (unoccluded) box in the image that camera contributed to the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.metrics import Evaluator, GtObject
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.types import Stamp, seconds_to_ns, vec3

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

ROAD_USERS = {
    "car": ObjectClass.CAR,
    "truck": ObjectClass.TRUCK,
    "bus": ObjectClass.BUS,
    "pedestrian": ObjectClass.PEDESTRIAN,
    "cyclist": ObjectClass.CYCLIST,
}
MIN_GT_POINTS = 10  # fewer returns than this: too little to place a box, the object is ignored


@dataclass(frozen=True)
class SimEvalResult:
    """The figures (``Evaluator.report()`` plus the run's settings) and the frames they came from."""

    scenario: str
    report: dict
    frames: list  # AnnotatedFrame, for tests that look closer


def truth_objects(
    drive,
    stamp: int,
    lidar_ids: np.ndarray | None,
    camera_boxes: dict[str, tuple],
    min_gt_points: int = MIN_GT_POINTS,
) -> list[GtObject]:
    """Ground truth of the road users at ``stamp`` as ``GtObject``s in base_link.

    ``lidar_ids`` labels each sweep point with the object it hit (its count decides ``ignore``);
    ``camera_boxes`` maps camera name -> the simulator's visible boxes in the image used for the frame.
    """
    counts = np.bincount(lidar_ids, minlength=1) if lidar_ids is not None and len(lidar_ids) else np.zeros(1)
    out = []
    for o in drive.truth.objects(stamp):
        label = ROAD_USERS.get(o.cls)
        if label is None:
            continue
        points = int(counts[o.id]) if o.id < len(counts) else 0
        boxes2d = {cam: b.box for cam, boxes in camera_boxes.items() for b in boxes if b.object_id == o.id}
        out.append(
            GtObject(
                object_id=o.id,
                label=label,
                center=vec3(o.center_base),
                size=vec3(o.size),
                yaw=float(o.yaw_base),
                velocity=(float(o.velocity_base[0]), float(o.velocity_base[1])),
                boxes2d=boxes2d,
                ignore=points < min_gt_points,
            )
        )
    return out


def evaluate_scenario(
    scenario: str | Path,
    *,
    rig: Rig | None = None,
    cfg: PrelabelConfig | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
    cameras: Sequence[str] | None = None,
    radars: bool = True,
    seed: int | None = None,
    min_gt_points: int = MIN_GT_POINTS,
) -> SimEvalResult:
    """Simulate ``scenario`` from ``start_s`` for ``duration_s`` (to its end when None) and score it.

    ``cameras`` restricts the simulated cameras (None: all of the rig's); ``radars=False`` leaves the
    radars out. The pre-labeller starts cold at ``start_s`` (no track history), as a replay would.
    """
    from mmfusion_annotate.annotator import Annotator  # noqa: PLC0415 - the chain sits above this stage
    from mmfusion_annotate.config import PipelineConfig  # noqa: PLC0415
    from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: PLC0415
    from mmfusion_annotate.sim import Drive, SimConfig  # noqa: PLC0415

    rig = rig or load_rig(default_rig_path())
    cfg = cfg or PrelabelConfig()
    kinds = {"lidar", "imu", "odometry"} | ({"radar"} if radars else set())
    sensors = [s.name for s in rig.sensors.values() if s.kind in kinds]
    cams = [c.name for c in rig.cameras()] if cameras is None else list(cameras)
    drive = Drive(
        rig, scenario, seed=seed, image_format="raw", config=SimConfig(sensors=tuple(sensors + cams))
    )
    begin = seconds_to_ns(start_s)
    end = drive.duration_ns if duration_s is None else begin + seconds_to_ns(duration_s)
    annotator = Annotator(rig, PipelineConfig(prelabel=cfg, alignment_every=1000))
    lidar = annotator.fusion.lidar
    evaluator = Evaluator()
    frames = []

    def score(annotated) -> None:
        stamps = annotated.header_stamps
        lidar_truth = drive.truth.frames.get((lidar, stamps[lidar]))
        camera_boxes = {
            cam: drive.truth.frames[(cam, stamps[cam])].boxes_2d
            for cam in annotated.frame.cameras
            if (cam, stamps.get(cam)) in drive.truth.frames
        }
        gts = truth_objects(
            drive,
            annotated.frame.stamp,
            None if lidar_truth is None else lidar_truth.object_ids,
            camera_boxes,
            min_gt_points,
        )
        evaluator.add_frame(gts, annotated.labels.cuboids, annotated.labels.boxes2d)
        frames.append(annotated)

    for tick in drive.ticks:
        if begin <= tick.true_ns < end:
            out = annotator.feed(drive.sample(tick))
            for annotated in out.frames:
                score(annotated)
    out = annotator.finish()
    for annotated in out.frames:
        score(annotated)
    report = evaluator.report()
    report.update(
        scenario=drive.scenario.name,
        window_s=[start_s, (end - 0) / 1e9],
        cameras=cams,
        radars=radars,
        params_version=cfg.params_version,
    )
    return SimEvalResult(drive.scenario.name, report, frames)


@dataclass(frozen=True)
class TrustResult:
    """``TrustEvaluator.report()`` of one synthetic drive, with the events and frames it judged."""

    scenario: str
    report: dict
    events: list  # events.model.Event
    frames: list  # AnnotatedFrame


def _truth_tracks(drive, stamp: int):
    from mmfusion_annotate.events.model import TrackedObject, TrackFrame  # noqa: PLC0415

    return TrackFrame(stamp, tuple(
        TrackedObject(o.id, o.cls, (float(o.center_base[0]), float(o.center_base[1])),
                      (float(o.velocity_base[0]), float(o.velocity_base[1])), (o.size[0], o.size[1]))
        for o in drive.truth.objects(stamp) if o.cls in ROAD_USERS))


def trust_scenario(
    scenario: str | Path,
    *,
    rig: Rig | None = None,
    seed: int | None = None,
    faults: Sequence | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
    cameras: Sequence[str] | None = None,
    cfg: PrelabelConfig | None = None,
) -> TrustResult:
    """Simulate ``scenario`` (with ``faults``) through the real chain and judge its events and review items
    against the simulator's truth (``trust_eval``); arguments as ``evaluate_scenario``.

    The truth tagger sees the same ego states as the chain (from the simulated IMU and odometry) and the
    simulator's road users as tracks, so it raises what the rules would raise on perfect pre-labels.
    """
    from mmfusion_annotate.annotator import Annotator  # noqa: PLC0415 - the chain sits above this stage
    from mmfusion_annotate.config import PipelineConfig  # noqa: PLC0415
    from mmfusion_annotate.events import EgoKinematics, EventTagger  # noqa: PLC0415
    from mmfusion_annotate.events.feed import SampleFeed  # noqa: PLC0415
    from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: PLC0415
    from mmfusion_annotate.sim import Drive, SimConfig  # noqa: PLC0415
    from mmfusion_annotate.trust_eval import FaultSpan, ScriptedEvent, TrustEvaluator, within  # noqa: PLC0415

    rig = rig or load_rig(default_rig_path())
    cfg = cfg or PrelabelConfig()
    sensors = [s.name for s in rig.sensors.values() if s.kind in {"lidar", "imu", "odometry", "radar"}]
    cams = [c.name for c in rig.cameras()] if cameras is None else list(cameras)
    drive = Drive(rig, scenario, seed=seed, faults=faults, image_format="raw",
                  config=SimConfig(sensors=tuple(sensors + cams)))
    begin = seconds_to_ns(start_s)
    end = drive.duration_ns
    if duration_s is not None:
        end = min(end, begin + seconds_to_ns(duration_s))
    annotator = Annotator(rig, PipelineConfig(prelabel=cfg))
    lidar = annotator.fusion.lidar
    evaluator = TrustEvaluator(**within((
        [ScriptedEvent(e.type, e.t_ns, tuple(e.objects)) for e in drive.truth.events],
        [FaultSpan(f.type, f.sensor, f.start_ns, f.end_ns) for f in drive.truth.faults]), begin, end))
    ego_feed = SampleFeed(rig, annotator.tagger.rules)
    truth_obs: list = []
    frames, events = [], []

    def score(annotated) -> None:
        stamps = annotated.header_stamps
        lidar_truth = drive.truth.frames.get((lidar, stamps[lidar]))
        camera_boxes = {cam: drive.truth.frames[(cam, stamps[cam])].boxes_2d
                        for cam in annotated.frame.cameras if (cam, stamps.get(cam)) in drive.truth.frames}
        gts = truth_objects(drive, annotated.frame.stamp,
                            None if lidar_truth is None else lidar_truth.object_ids, camera_boxes)
        labels = annotated.labels
        evaluator.add_frame(labels.stamp, gts, labels.cuboids, labels.review_items, camera_boxes)
        truth_obs.append((labels.stamp, 1, _truth_tracks(drive, labels.stamp)))
        frames.append(annotated)

    first: Stamp | None = None
    last: Stamp | None = None
    for tick in drive.ticks:
        if not begin <= tick.true_ns < end:
            continue
        sample = drive.sample(tick)
        first = sample.stamp if first is None else min(first, sample.stamp)
        last = sample.stamp if last is None else max(last, sample.stamp)
        if tick.sensor in ("imu", "odometry"):
            truth_obs += [(o.stamp, 0, o) for o in ego_feed.feed(sample) if isinstance(o, EgoKinematics)]
        out = annotator.feed(sample)
        events += out.events
        for annotated in out.frames:
            score(annotated)
    out = annotator.finish()
    events += out.events
    for annotated in out.frames:
        score(annotated)
    truth_obs.sort(key=lambda item: (item[0], item[1]))
    truth_events = [e.to_dict() for e in EventTagger(annotator.tagger.rules).run(o for *_, o in truth_obs)]
    span = (first, last) if first is not None and last is not None else None
    simulated = set(sensors + cams)  # the chain watches every rig sensor; unsimulated ones are silent
    events = [e for e in events if e.sensor is None or e.sensor in simulated]
    evaluator.add_events([e.to_dict() for e in events], truth_events, span)
    report = evaluator.report()
    report.update(scenario=drive.scenario.name, seed=seed, window_s=[start_s, end / 1e9], cameras=cams)
    return TrustResult(drive.scenario.name, report, events, frames)
