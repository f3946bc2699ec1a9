"""When a synced set becomes ready live: the rig's rate tolerances let the synchronizer prove a set as
soon as its LiDAR sweep arrives, instead of waiting for the next sweep (100 ms more latency)."""

import numpy as np
import pytest

from mmfusion_annotate.annotator import Annotator, sync_inputs
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.recording.publish_order import in_publish_order
from mmfusion_annotate.rig import Rig, rig_from_dict, rig_to_dict
from mmfusion_annotate.sim import Drive
from mmfusion_annotate.sim.messages import publish_ns
from mmfusion_annotate.sync.config import lower_bound_ns
from mmfusion_annotate.types import SensorSample

MS = 1_000_000


@pytest.fixture(scope="module")
def drive(rig):
    return Drive(rig, "cut_in", image_format="raw")


def _published(drive: Drive) -> list[tuple[int, SensorSample]]:
    """(publish time, payload-less sample) in the order a car's drivers put them out, as the sim node does."""
    samples = (SensorSample(t.sensor, t.stamp, {}) for t in drive.ticks)
    return list(in_publish_order((s.stamp, publish_ns(drive, s), s) for s in samples))


def _readiness_ms(rig: Rig, drive: Drive) -> np.ndarray:
    """Per set: when intake made it ready, minus when its LiDAR sweep was published (ms)."""
    annotator = Annotator(rig, PipelineConfig(background_checks=False))
    lidar = annotator.fusion.lidar
    sweep_out = {}
    delays = []
    for publish, sample in _published(drive):
        if sample.sensor == lidar:
            sweep_out[sample.stamp] = publish
        for step in annotator.intake(sample):
            if step.synced is not None:
                delays.append((publish - sweep_out[step.synced.reference_stamp]) / MS)
    return np.array(delays)


def test_the_default_rigs_tolerances_hold_on_the_simulated_clocks(rig, drive):
    """A bound the stamps break would let the synchronizer publish a set that is not the optimal one."""
    config = PipelineConfig()
    stamps: dict[str, list[int]] = {}
    for tick in drive.ticks:
        stamps.setdefault(tick.sensor, []).append(tick.stamp)
    for spec in sync_inputs(rig, config):
        shortest = int(np.diff(stamps[spec.name]).min())
        assert shortest >= lower_bound_ns(spec, config.sync), spec.name


def test_every_set_is_ready_when_its_lidar_sweep_arrives(rig, drive):
    delays = _readiness_ms(rig, drive)
    assert len(delays) >= 190  # 20 s at 10 Hz
    # the odometry covering the sweep's end comes with it; nothing waits for the next sweep
    assert delays.max() <= 10.0, np.sort(delays)[-5:]


def test_without_the_tolerances_some_sets_wait_for_the_next_sweep(rig, drive):
    """The comparison that makes the test above mean something: the synchronizer's default bound alone
    (25 % of each period) cannot prove every set before the next sweep."""
    data = rig_to_dict(rig)
    for entry in data["sensors"]:
        entry.pop("rate_tolerance", None)
    delays = _readiness_ms(rig_from_dict(data), drive)
    assert delays.max() >= 90.0
