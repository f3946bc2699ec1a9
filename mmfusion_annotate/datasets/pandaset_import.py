"""``mmfusion import pandaset``: a PandaSet sequence as the bag a test car with its sensors would record.

Per frame: each LiDAR's sweep as PointCloud2 in its own frame (x, y, z, intensity, per-point time ``t``),
stamped at its first point's time (the sweep's start, as the project's drivers and the synthetic drive
stamp it) and logged once its last point is captured; each camera's JPEG unchanged
as CompressedImage at that camera's own timestamp, with its CameraInfo; ego odometry (and ``/tf`` world ->
base_link) from the poses; the human labels on ``/truth/objects`` and the per-point semantic classes on
``/truth/<lidar>/semantics`` (same point order as the sensor topic).

Raw sweeps are recreated: PandaSet's points are in the world frame, captured over a sweep while the car
moved, so each point is moved into the sensor frame with the ego pose at its own time (interpolated as
replay interpolates the odometry), and replay's motion compensation gives the world points back.
Odometry velocities are central differences of the poses, not the GPS ``xvel``/``yvel``: the pipeline
extrapolates and compensates with the twist beside the poses it interpolates, so both must describe the
same motion (and the GPS gives no yaw rate). Odometry covers one frame beyond each end of the range, so
the first and last sweeps are interpolated, not extrapolated.

A missing or unreadable file of a frame is a gap in its topic (as a dropped message on a car), named in a
warning and counted in the summary.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from mmfusion_annotate.datasets.bag_import import (
    ImportSummary,
    Logged,
    camera_messages,
    ego_messages,
    write_import,
)
from mmfusion_annotate.datasets.pandaset import LIDARS, PandaSetSequence, Sweep
from mmfusion_annotate.datasets.pandaset_labels import TruthTracks, truth_entities
from mmfusion_annotate.datasets.pandaset_rig import (
    LIDAR_HEAD_ABOVE_POSE_M,
    ROAD_CLASS,
    base_from_pose,
    pandaset_rig,
)
from mmfusion_annotate.datasets.poses import body_twist, interpolate_poses, world_to_moving_frame
from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.fusion.poses import invert_pose, make_pose
from mmfusion_annotate.msgs.pointcloud2 import encode, make_points
from mmfusion_annotate.outputs.labels import SCENE_UPDATE
from mmfusion_annotate.outputs.truth import TRUTH_OBJECTS, truth_scene_update, truth_topic
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.rig.image_size import image_size
from mmfusion_annotate.rig.lidar_mounting import lowest_points, road_height
from mmfusion_annotate.types import Stamp

_log = logging.getLogger(__name__)
T = TypeVar("T")
GROUND_FRAMES = 5
"""Sweeps the road height is measured on (spread over the imported range), median of their planes."""
ATTRIBUTION = "PandaSet by Hesai and Scale AI (CC BY 4.0)"


class _Frames:
    """Per-frame reads with the gaps noted: a missing or unreadable file becomes None and a warning."""

    def __init__(self, sequence: PandaSetSequence, summary: ImportSummary) -> None:
        self.sequence = sequence
        self.summary = summary
        self._sweeps: dict[int, Sweep | None] = {}

    def gap(self, path: Path, reason: str = "missing") -> None:
        self.summary.gap(path, reason)

    def read(self, path: Path, reader: Callable[[], T]) -> T | None:
        return self.summary.read(path, reader)

    def sweep(self, frame: int, *, keep: bool = False) -> Sweep | None:
        """The frame's sweep, read once: ``keep`` holds it for the next call (ground pre-pass)."""
        if frame in self._sweeps:
            return self._sweeps[frame] if keep else self._sweeps.pop(frame)
        sweep = self.read(self.sequence.lidar_path(frame), partial(self.sequence.read_sweep, frame))
        if keep:
            self._sweeps[frame] = sweep
        return sweep


def _road_z(frames: _Frames, candidates: list[int]) -> tuple[float, str]:
    """Median road height under the pose origin over up to ``GROUND_FRAMES`` sweeps of ``candidates``,
    and how it was measured: on the points labelled Road, or (no semseg) on the lowest points around."""
    seq = frames.sequence
    with_lidar = [f for f in candidates if seq.lidar_path(f).is_file()]
    labelled = [f for f in with_lidar if seq.semseg_path(f).is_file()]
    usable = labelled or with_lidar
    if not usable:
        raise ConfigError("no LiDAR sweep in the frames to measure the road height on", file=str(seq.root))
    picked = sorted(
        {usable[int(i)] for i in np.linspace(0, len(usable) - 1, min(GROUND_FRAMES, len(usable)))}
    )
    heights = []
    for frame in picked:
        sweep = frames.sweep(frame, keep=True)
        if sweep is None:
            continue
        pose_from_world = invert_pose(seq.lidar_poses[frame])
        xyz = sweep.xyz_world @ pose_from_world[:3, :3].T + pose_from_world[:3, 3]
        classes = frames.read(seq.semseg_path(frame), partial(seq.read_semseg, frame)) if labelled else None
        if classes is not None and len(classes) == len(xyz):
            height = road_height(xyz[classes == ROAD_CLASS])
        else:
            height = road_height(lowest_points(xyz))
        if height is not None:
            heights.append(height)
    if not heights:
        raise ConfigError("too few ground points to measure the road height", file=str(seq.root))
    how = "points labelled Road" if labelled else "lowest points (no semantic labels)"
    return float(np.median(heights)), f"{how} of frames {picked}"


def _image_sizes(seq: PandaSetSequence, frames: list[int]) -> dict[str, tuple[int, int]]:
    """Each camera's image size from its first image in ``frames`` (the JSON files do not carry it)."""
    sizes = {}
    for name in seq.cameras:
        path = next((p for f in frames if (p := seq.image_path(name, f)).is_file()), None)
        if path is not None:
            sizes[name] = image_size(path)
    return sizes


def import_pandaset(
    sequence_dir: str | os.PathLike,
    bag_dir: str | os.PathLike,
    frames: tuple[int, int] | None = None,
    *,
    compression: str = "none",
    progress: bool = False,
) -> ImportSummary:
    """Import frames ``frames`` (inclusive; default: every frame present) of a sequence into ``bag_dir``."""
    seq = PandaSetSequence(Path(sequence_dir))
    present = seq.frames_present()
    if frames is None:
        if not present:
            raise ConfigError("no frame files (lidar/NN.pkl.gz, camera/*/NN.jpg) in the sequence",
                              file=str(seq.root))  # fmt: skip
        frames = (present[0], present[-1])
    first, last = frames
    if not 0 <= first <= last < seq.frame_count:
        raise ConfigError(f"frames {first}-{last} outside the sequence's 0-{seq.frame_count - 1}",
                          file=str(seq.root))  # fmt: skip
    summary = ImportSummary(Path(bag_dir), dataset="pandaset")
    reads = _Frames(seq, summary)
    for name in seq.cameras_without_calibration:
        _log.warning("pandaset: camera %s has no intrinsics/poses/timestamps JSON: left out", name)
        summary.missing.append(str(seq.root / "camera" / name))
    in_range = list(range(first, last + 1))
    cuboids = {f: reads.read(seq.cuboids_path(f), partial(seq.read_cuboids, f)) for f in present}
    tracks = TruthTracks({f: c for f, c in cuboids.items() if c is not None})
    road_z, road_how = _road_z(reads, in_range)
    rig, spreads = pandaset_rig(seq, road_z, _image_sizes(seq, in_range))
    base_poses = seq.lidar_poses @ invert_pose(base_from_pose(road_z))  # T_world_base per frame
    linear, angular = body_twist(seq.stamps_ns, base_poses)
    summary.notes.update(
        dataset="pandaset",
        attribution=ATTRIBUTION,
        source=str(seq.root.resolve()),
        frames=f"{first}-{last}",
        road_below_pose_origin_m=round(-road_z, 3),
        road_measured_on=road_how,
        lidar_heads_above_pose_origin_m=LIDAR_HEAD_ABOVE_POSE_M,
        camera_extrinsic_spread=", ".join(
            f"{name} {s.max_m * 1e3:.1f} mm / {s.max_rad * 1e3:.2f} mrad max over {s.frames} frames"
            for name, s in spreads.items()
        ),
        odometry_velocity="central differences of the poses",
        semseg_classes=seq.semseg_classes(),
    )
    odometry = rig.of_kind("odometry")[0]
    span = range(max(first - 1, 0), min(last + 1, seq.frame_count - 1) + 1)
    earliest = {
        i: min([int(seq.stamps_ns[i])] + [int(c.stamps_ns[i]) for c in seq.cameras.values()]) for i in span
    }
    bounds = {i: min(earliest[j] for j in span if j >= i) for i in span}

    def frame_messages() -> Iterator[tuple[Stamp, list[Logged]]]:
        for frame in tqdm(span, desc="import", unit="frame", disable=not progress):
            stamp = int(seq.stamps_ns[frame])
            messages = ego_messages(odometry, stamp, base_poses[frame], linear[frame], angular[frame])
            if first <= frame <= last:
                messages += _frame_messages(seq, reads, rig, tracks, frame, base_poses)
                summary.frames += 1
            yield bounds[frame], messages

    write_import(bag_dir, rig, frame_messages(), summary, compression=compression)
    return summary


def _frame_messages(
    seq: PandaSetSequence, reads: _Frames, rig: Rig, tracks: TruthTracks, frame: int, base_poses: np.ndarray
) -> list[Logged]:
    stamp = int(seq.stamps_ns[frame])  # PandaSet's frame time: the end of the sweep
    messages = []
    sweep = reads.sweep(frame)
    start = stamp
    if sweep is not None:
        classes = reads.read(seq.semseg_path(frame), partial(seq.read_semseg, frame))
        if classes is not None and len(classes) != len(sweep.t_ns):
            reads.gap(seq.semseg_path(frame), f"{len(classes)} labels for {len(sweep.t_ns)} points")
            classes = None
        base_xyz = world_to_moving_frame(seq.stamps_ns, base_poses, sweep.xyz_world, sweep.t_ns)
        for device, name in enumerate(LIDARS):
            sensor = rig.sensor(name)
            mine = sweep.device == device
            if not mine.any():
                continue
            lidar_from_base = invert_pose(rig.sensor_to_base(name))
            xyz = base_xyz[mine] @ lidar_from_base[:3, :3].T + lidar_from_base[:3, 3]
            t_ns = sweep.t_ns[mine]
            # stamped at the sweep's start as the project's drivers do (the cameras fire during it), sent
            # once its last point is in
            sweep_start, published = int(t_ns.min()), max(stamp, int(t_ns.max()))
            if device == 0:
                start = sweep_start
            points = make_points(xyz, intensity=sweep.intensity[mine], t_ns=t_ns)
            msgtype = sensor.msgtype
            cloud = encode(points, sensor.frame_id, sweep_start)
            messages.append(Logged(sensor.topic, msgtype, cloud, published))
            if classes is not None:
                labels = make_points(xyz, semantic_class=classes[mine])
                messages.append(Logged(truth_topic(name, "semantics"), msgtype,
                                       encode(labels, sensor.frame_id, sweep_start), published))  # fmt: skip
    for sensor in rig.cameras():
        path = seq.image_path(sensor.name, frame)
        data = reads.read(path, path.read_bytes)
        if data is None:
            continue
        messages += camera_messages(sensor, int(seq.cameras[sensor.name].stamps_ns[frame]), data, "jpeg")
    if frame in tracks.frames:  # where the pre-labels stand: base_link at the main LiDAR's sweep start
        rotation, translation = interpolate_poses(seq.stamps_ns, base_poses, np.array([start]))
        base_pose = make_pose(rotation.as_matrix()[0], translation[0])
        entities = truth_entities(tracks, frame, invert_pose(base_pose), start, seq.stamps_ns, rig.base_frame)
        messages.append(Logged(TRUTH_OBJECTS, SCENE_UPDATE, truth_scene_update(entities), stamp))
    elif not seq.cuboids_path(frame).is_file():
        reads.gap(seq.cuboids_path(frame))  # an unreadable one was named when the tracks were read
    return messages
