"""Radar truth: range rates are the relative velocity along the line of sight; detections stay in the FOV."""

from __future__ import annotations

import math

import numpy as np

from mmfusion_annotate.sim import Drive, SimConfig


def _scans(rig, config, scenario, at_s, count, sensor="radar_front"):
    drive = Drive(rig, scenario, config=config.model_copy(update={"sensors": (sensor,)}))
    ticks = [t for t in drive.ticks if t.true_ns >= at_s * 1e9][:count]
    return drive, [(t, drive.sample(t)) for t in ticks]


def test_range_rate_is_relative_velocity_along_line_of_sight(rig, exact):
    # cut-in: the cutting car moves sideways and turns; the ego brakes from 8.5 s
    drive, scans = _scans(rig, exact, "cut_in", 8.4, 4)
    checked = 0
    for tick, sample in scans:
        p = sample.payload
        ids = drive.truth.frames[("radar_front", tick.stamp)].object_ids
        T = drive.truth.sensor_pose("radar_front", tick.true_ns)
        ego = drive.truth.ego_state(tick.true_ns)
        lever = T[:3, 3] - ego.position[0]
        v_radar = ego.velocity[0] + ego.yaw_rate[0] * np.array([-lever[1], lever[0], 0.0])
        objects = {o.id: o for o in drive.truth.objects(tick.true_ns)}
        for xyz, rr, object_id in zip(p["xyz"].astype(np.float64), p["range_rate"], ids, strict=True):
            point = T[:3, :3] @ xyz + T[:3, 3]
            los = (point - T[:3, 3]) / np.linalg.norm(point - T[:3, 3])
            if object_id == 0:  # clutter is static: it closes at the radar's own speed
                expected = -(v_radar @ los)
            else:
                o = objects[int(object_id)]
                arm = point - o.center_world
                v_point = o.velocity_world + o.yaw_rate * np.array([-arm[1], arm[0], 0.0])
                expected = (v_point - v_radar) @ los
            assert abs(rr - expected) < 2e-4, (object_id, rr, expected)
            checked += object_id > 0
    assert checked >= 8


def test_detections_inside_field_of_view_and_ranges(rig):
    drive, scans = _scans(rig, SimConfig(), "hard_braking", 5.0, 10, sensor="radar_front_left")
    spec = drive.rig.sensor("radar_front_left").radar
    count = 0
    for _, sample in scans:
        p = sample.payload
        count += len(p["range"])
        margin = math.radians(2.0)
        assert np.all(np.abs(p["azimuth"]) <= math.radians(spec.hfov_deg) / 2 + margin)
        assert np.all(np.abs(p["elevation"]) <= math.radians(spec.vfov_deg) / 2 + margin)
        assert np.all(p["range"] <= spec.max_range_m + 1.0)
        np.testing.assert_allclose(np.linalg.norm(p["xyz"], axis=1), p["range"], rtol=1e-5)
    assert count > 10


def test_misses_and_false_alarms(rig, exact):
    lossy = exact.model_copy(
        update={
            "noise": exact.noise.model_copy(
                update={"radar_detection_probability": 0.5, "radar_false_alarms_per_scan": 3.0}
            )
        }
    )
    drive_all, all_scans = _scans(rig, exact, "calm", 3.0, 20)
    drive_lossy, lossy_scans = _scans(rig, lossy, "calm", 3.0, 20)
    real_all = sum(
        (drive_all.truth.frames[("radar_front", t.stamp)].object_ids > 0).sum() for t, _ in all_scans
    )
    ids = [drive_lossy.truth.frames[("radar_front", t.stamp)].object_ids for t, _ in lossy_scans]
    real = sum((i > 0).sum() for i in ids)
    false = sum((i == 0).sum() for i in ids)
    assert 0.3 < real / real_all < 0.7
    assert 30 <= false <= 95  # Poisson(3) over 20 scans
