"""``Drive``: a scenario seen through a rig, as a time-ordered stream of sensor samples with truth.

The whole schedule (every sensor's measurement times, jitter, faults) is fixed at construction from
the seed; each frame is then generated on demand from its own random stream, so the output is
byte-identical for a seed whatever is consumed, and dropping a frame changes no other frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.rig import Rig, Sensor
from mmfusion_annotate.sim.camera import CameraRenderer
from mmfusion_annotate.sim.config import Fault, SimConfig
from mmfusion_annotate.sim.ego import ImuModel, OdometryModel, ScenarioEgo
from mmfusion_annotate.sim.faults import check_sensors, clock_error_ns, fault_truth, removed_by, true_mount
from mmfusion_annotate.sim.lidar import LidarModel
from mmfusion_annotate.sim.radar import RadarModel
from mmfusion_annotate.sim.scenario import Scenario, load_scenario
from mmfusion_annotate.sim.timing import Tick, free_running, lidar_sweep_starts, sweep_fraction_at, triggered
from mmfusion_annotate.sim.truth import DriveTruth, FrameTruth
from mmfusion_annotate.sim.world import World
from mmfusion_annotate.types import SensorSample, Stamp, seconds_to_ns

ImageFormat = Literal["jpeg", "raw"]


class Drive:
    """A synthetic drive of ``scenario`` seen by ``rig`` (all its sensors unless ``config.sensors``)."""

    def __init__(
        self,
        rig: Rig,
        scenario: Scenario | str | Path,
        *,
        faults: Iterable[Fault | Mapping] | None = None,
        seed: int | None = None,
        image_format: ImageFormat = "jpeg",
        config: SimConfig | None = None,
    ) -> None:
        if image_format not in ("jpeg", "raw"):
            raise ConfigError(
                f"image_format must be 'jpeg' or 'raw', not '{image_format}'", key="image_format"
            )
        self.rig = rig
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        config = config or SimConfig()
        if faults is not None:
            dumped = [f.model_dump() if hasattr(f, "model_dump") else dict(f) for f in faults]
            config = SimConfig.model_validate({**config.model_dump(), "faults": dumped})
        self.config = config
        self.seed = self.scenario.seed if seed is None else int(seed)
        self.image_format = image_format
        self.duration_ns = seconds_to_ns(self.scenario.duration_s)
        self.sensors = self._select(rig, config.sensors)
        check_sensors(config.faults, set(self.sensors))
        self.world = World(self.scenario)
        self.ego = ScenarioEgo(self.world.ego_tracks)
        mounts = {name: true_mount(rig.sensor_to_base(name), config.faults, name) for name in self.sensors}
        ticks, fault_records = self._schedule()
        self._ticks = ticks
        self.truth = DriveTruth(self.scenario, self.world, self.ego, mounts, fault_records)
        self._models = {name: self._model(sensor, mounts[name]) for name, sensor in self.sensors.items()}

    # ------------------------------------------------------------------ public
    @property
    def ticks(self) -> tuple[Tick, ...]:
        """Every frame the drive will produce, in output order (stamp, then rig order)."""
        return self._ticks

    def samples(self) -> Iterator[SensorSample]:
        """Sensor samples in time order (payload arrays as documented in the README)."""
        for tick in self._ticks:
            yield self.sample(tick)

    def sample(self, tick: Tick) -> SensorSample:
        """Generate one frame (and record its truth)."""
        sensor = self.sensors[tick.sensor]
        model = self._models[tick.sensor]
        object_ids = None
        boxes: tuple = ()
        if sensor.kind == "lidar":
            payload = model.sweep(tick.true_ns, tick.index)
            object_ids = payload["object_id"]
        elif sensor.kind == "camera":
            rendered = model.render(tick.true_ns)
            payload = {"image": rendered.image}
            boxes = rendered.boxes
        elif sensor.kind == "radar":
            payload, object_ids = model.scan(tick.true_ns, tick.index)
        else:
            payload = model.read(tick.index)
        self.truth.frames[(tick.sensor, tick.stamp)] = FrameTruth(
            tick.sensor, sensor.kind, tick.stamp, tick.true_ns, object_ids, boxes
        )
        return SensorSample(tick.sensor, tick.stamp, payload)

    def messages(self) -> Iterator[tuple[str, str, Any, Stamp]]:
        """``(topic, msgtype, ROS message, stamp_ns)`` in time order (camera_info follows each image)."""
        from mmfusion_annotate.sim.messages import sample_messages  # noqa: PLC0415 - loads ROS types

        for sample in self.samples():
            yield from sample_messages(self, sample)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _select(rig: Rig, names: tuple[str, ...] | None) -> dict[str, Sensor]:
        if names is None:
            return dict(rig.sensors)
        unknown = [n for n in names if n not in rig.sensors]
        if unknown:
            raise ConfigError(
                f"unknown sensor(s) {', '.join(unknown)} (rig has {', '.join(rig.sensors)})", key="sensors"
            )
        return {n: s for n, s in rig.sensors.items() if n in names}

    def _true_times(self) -> dict[str, np.ndarray]:
        timing, seed, duration = self.config.timing, self.seed, self.duration_ns
        times: dict[str, np.ndarray] = {}
        lidars = [s for s in self.sensors.values() if s.kind == "lidar"]
        for sensor in self.sensors.values():
            if sensor.kind == "lidar":
                times[sensor.name] = lidar_sweep_starts(
                    sensor.rate_hz, duration, timing.lidar_jitter_ms, seed, sensor.name
                )
            elif sensor.kind == "camera" and timing.camera_trigger == "lidar" and lidars:
                lidar = lidars[0]
                starts = lidar_sweep_starts(lidar.rate_hz, duration, timing.lidar_jitter_ms, seed, lidar.name)
                axis = self.rig.transform(lidar.frame_id, sensor.frame_id)[:3, :3] @ np.array([0.0, 0.0, 1.0])
                fraction = sweep_fraction_at(math.atan2(axis[1], axis[0]), timing)
                times[sensor.name] = triggered(
                    starts, lidar.period_ns, fraction, timing.camera_jitter_ms, seed, sensor.name
                )
            else:
                jitter = {"camera": timing.camera_jitter_ms, "radar": timing.radar_jitter_ms}.get(
                    sensor.kind, timing.imu_jitter_ms
                )
                times[sensor.name] = free_running(
                    sensor.rate_hz,
                    duration,
                    jitter,
                    seed,
                    sensor.name,
                    phase=sensor.kind in ("camera", "radar"),
                )
        return times

    def _schedule(self):
        faults = self.config.faults
        ticks: list[Tick] = []
        records = []
        self._true = self._true_times()
        removed_all = {name: np.zeros(len(t), dtype=bool) for name, t in self._true.items()}
        for i, fault in enumerate(faults):
            true_ns = self._true[fault.sensor]
            removed = removed_by(fault, i, true_ns, self.seed)
            removed_all[fault.sensor] |= removed
            records.append(fault_truth(fault, self.duration_ns, true_ns[removed]))
        for order, (name, sensor) in enumerate(self.sensors.items()):
            true_ns = self._true[name]
            stamps = true_ns - sensor.time_offset_ns + clock_error_ns(faults, name, true_ns)
            for index in np.nonzero(~removed_all[name])[0]:
                ticks.append(Tick(int(stamps[index]), int(true_ns[index]), name, int(index), order))
        ticks.sort(key=lambda t: (t.stamp, t.order, t.index))
        return tuple(ticks), tuple(records)

    def _model(self, sensor: Sensor, mount: np.ndarray):
        cfg = self.config
        if sensor.kind == "lidar":
            return LidarModel(sensor, mount, self.world, self.ego, cfg.timing, cfg.noise, self.seed)
        if sensor.kind == "camera":
            return CameraRenderer(sensor, mount, self.world, self.ego, cfg.render)
        if sensor.kind == "radar":
            return RadarModel(sensor, mount, self.world, self.ego, cfg.noise, self.seed)
        if sensor.kind == "imu":
            return ImuModel(
                self.ego, mount[:3, :3], self._true[sensor.name], cfg.noise, self.seed, sensor.name
            )
        return OdometryModel(self.ego, self._true[sensor.name], cfg.noise, self.seed, sensor.name)
