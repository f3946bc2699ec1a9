"""FusionPipeline: a synchronized set of samples in, one FusedFrame out.

Time is geometry here: every stamp is first corrected by the sensor's clock offset (the rig's known
``time_offset_ns`` + a configured one), then the ego motion
around the sweep moves each point from its capture time to each camera's exposure time before the
backend projects it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from mmfusion_annotate.errors import FusionError
from mmfusion_annotate.fusion.backends import CameraJob, ProjectionBackend, make_backend
from mmfusion_annotate.fusion.compensation import PoseTrack, track_points
from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.fusion.ego import EgoMotionSource
from mmfusion_annotate.fusion.frame import (
    CameraView,
    FrameEgo,
    FusedFrame,
    ProjectedDetections,
    RadarView,
    Sweep,
)
from mmfusion_annotate.fusion.poses import invert_pose
from mmfusion_annotate.types import SensorSample, Stamp

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

_log = logging.getLogger(__name__)


class FusionPipeline:
    """Projects one LiDAR sweep (and the radar scans) into every camera of a rig."""

    def __init__(
        self, rig: Rig, config: FusionConfig | None = None, backend: ProjectionBackend | None = None
    ) -> None:
        self.rig = rig
        self.config = config or FusionConfig()
        self.backend = backend or make_backend(self.config.backend, threads=self.config.kernel_threads)
        lidars = rig.lidars()
        if self.config.lidar is None and not lidars:
            raise FusionError(f"rig '{rig.name}' has no LiDAR to build fused frames from")
        self.lidar = rig.sensor(self.config.lidar).name if self.config.lidar else lidars[0].name
        self._base_from = {s.name: rig.sensor_to_base(s.name) for s in rig.sensors.values()}
        self._cam_from_base = {s.name: invert_pose(self._base_from[s.name]) for s in rig.cameras()}
        _log.info(
            "fusion: lidar '%s', %d cameras, backend %s", self.lidar, len(rig.cameras()), self.backend.name
        )

    def clock_offset(self, sensor: str) -> int:
        """Total offset (true time = stamp + offset): the rig's plus the configuration's."""
        return self.rig.sensor(sensor).time_offset_ns + self.config.clock_offsets_ns.get(sensor, 0)

    def fuse(self, samples: Mapping[str, SensorSample | None], ego: EgoMotionSource | None) -> FusedFrame:
        """Build the fused frame; cameras/radars absent from ``samples`` (or None) are left out."""
        lidar_sample = samples.get(self.lidar)
        if lidar_sample is None:
            raise FusionError(f"{self.lidar}: no LiDAR sweep in the synchronized set")
        sweep_raw, stamp = self._sweep(lidar_sample)
        cameras = [(s, sample) for s in self.rig.cameras() if (sample := samples.get(s.name)) is not None]
        radars = [(s, sample) for s in self.rig.radars() if (sample := samples.get(s.name)) is not None]
        exposures = {s.name: sample.stamp + self.clock_offset(s.name) for s, sample in cameras}
        radar_stamps = {s.name: sample.stamp + self.clock_offset(s.name) for s, sample in radars}

        ego_state = None
        track: PoseTrack | None = None
        if ego is not None:
            times = [stamp, *exposures.values(), *radar_stamps.values()]
            if len(sweep_raw["t_ns"]):
                times += [int(sweep_raw["t_ns"].min()), int(sweep_raw["t_ns"].max())]
            pose = ego.pose(stamp)
            full = ego.track(min(times), max(times)).relative_to(pose)
            velocity, omega = ego.twist(stamp)
            ego_state = FrameEgo(stamp, pose, np.asarray(velocity, float), np.asarray(omega, float), full)
            track = full if self.config.motion_compensation else None
        elif self.config.motion_compensation:
            _log.debug("fusion: no ego motion for %d, projecting without motion compensation", stamp)

        def ref_to_base_at(t: Stamp) -> np.ndarray:
            return np.eye(4) if track is None else invert_pose(track.pose(t))

        jobs = [
            CameraJob(
                s.name,
                s.camera,
                self._cam_from_base[s.name] @ ref_to_base_at(exposures[s.name]),
                sample.payload.get("image"),
            )
            for s, sample in cameras
        ]
        base_points, ref_points, projections = self.backend.project(
            sweep_raw["xyz"], self._base_from[self.lidar], sweep_raw["t_ns"], track, jobs, self.config
        )
        sweep = Sweep(
            lidar=self.lidar,
            stamp=stamp,
            xyz=base_points,
            xyz_deskewed=ref_points,
            intensity=sweep_raw["intensity"],
            ring=sweep_raw["ring"],
            t_ns=sweep_raw["t_ns"],
        )
        views = {
            job.name: CameraView(
                name=job.name,
                image=job.image,
                exposure_stamp=exposures[job.name],
                width=job.model.width,
                height=job.model.height,
                n_points=len(sweep),
                index=p.index,
                uv=p.uv,
                depth=p.depth,
                visible=p.visible,
                colors=p.colors,
            )
            for job, p in zip(jobs, projections, strict=True)
        }
        radar_views = self._radar_views(radars, radar_stamps, track, jobs)
        return FusedFrame(stamp, sweep, views, radar_views, ego_state, self.rig, self.backend.name)

    def _sweep(self, sample: SensorSample) -> tuple[dict[str, np.ndarray], Stamp]:
        """The LiDAR payload (points still in the LiDAR frame) with clock-corrected absolute times."""
        payload = sample.payload
        if "xyz" not in payload:
            raise FusionError(f"{sample.sensor}: LiDAR payload has no 'xyz' (keys {sorted(payload)})")
        offset = self.clock_offset(self.lidar)
        xyz = np.asarray(payload["xyz"]).reshape(-1, 3)
        count = len(xyz)
        t_ns = payload.get("t_ns")
        if t_ns is None:
            t_ns = np.full(count, sample.stamp + offset, np.int64)
        else:  # no copy of the sweep's times without an offset; a view, so freezing it leaves the payload be
            t_ns = np.asarray(t_ns, np.int64) + offset if offset else np.asarray(t_ns, np.int64).view()
        intensity, ring = payload.get("intensity"), payload.get("ring")
        return {
            "xyz": xyz,
            "t_ns": t_ns,
            "intensity": np.zeros(count, np.float32)
            if intensity is None
            else np.asarray(intensity, np.float32).view(),
            "ring": np.zeros(count, np.uint16) if ring is None else np.asarray(ring, np.uint16).view(),
        }, sample.stamp + offset

    def _radar_views(
        self, radars: list, stamps: Mapping[str, Stamp], track: PoseTrack | None, jobs: list[CameraJob]
    ) -> dict[str, RadarView]:
        """Each radar's detections in base_link and in every camera (motion-compensated like the sweep).

        All radars' detections are compensated in one call and projected with one call per camera: one
        call per radar and camera (30 a frame on the default rig) cost more in call overhead than in work.
        """
        bases = {}
        for s, sample in radars:
            if "xyz" not in sample.payload:
                raise FusionError(f"{s.name}: radar payload has no 'xyz' (keys {sorted(sample.payload)})")
            xyz = np.asarray(sample.payload["xyz"], dtype=np.float64).reshape(-1, 3)
            base_from_radar = self._base_from[s.name]
            bases[s.name] = xyz @ base_from_radar[:3, :3].T + base_from_radar[:3, 3]
        if not bases:
            return {}
        base = np.concatenate(list(bases.values()))
        times = np.concatenate([np.full(len(b), stamps[name], dtype=np.int64) for name, b in bases.items()])
        ref = base if track is None else track_points(base, times, track, np)
        splits = np.cumsum([len(b) for b in bases.values()])[:-1]
        projected: dict[str, dict[str, ProjectedDetections]] = {name: {} for name in bases}
        for job in jobs:
            cam = ref @ job.cam_from_ref[:3, :3].T + job.cam_from_ref[:3, 3]
            uv, depth, valid = job.model.project(cam, np)
            in_image = valid & (depth >= self.config.min_depth_m) & (depth <= self.config.max_depth_m)
            uv = np.where(in_image[:, None], uv, np.nan).astype(np.float32)
            depth = np.where(in_image, depth, np.nan).astype(np.float32)
            split = (np.split(a, splits) for a in (uv, depth, in_image))
            for name, (u, d, m) in zip(bases, zip(*split, strict=True), strict=True):
                projected[name][job.name] = ProjectedDetections(u, d, m)
        return {
            s.name: RadarView(s.name, stamps[s.name], dict(sample.payload), bases[s.name].astype(np.float32),
                              projected[s.name])
            for s, sample in radars
        }  # fmt: skip
