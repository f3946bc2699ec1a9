"""LiDAR truth: labels lie inside their boxes at each point's time, the sweep is skewed by ego motion."""

from __future__ import annotations

import numpy as np
import pytest

from mmfusion_annotate.sim import Drive, SimConfig
from mmfusion_annotate.sim.geometry import points_in_box, ray_boxes
from mmfusion_annotate.sim.raycast import cast


def _sweeps(rig, scenario, config, count, start_s=0.0):
    drive = Drive(rig, scenario, config=config.model_copy(update={"sensors": ("lidar_top",)}))
    ticks = [t for t in drive.ticks if t.true_ns >= start_s * 1e9][:count]
    return drive, [(t, drive.sample(t)) for t in ticks]


def _to_world(drive, sensor, xyz, t_ns):
    """Each point through the true sensor pose at its own time."""
    out = np.empty((len(xyz), 3))
    for t in np.unique(t_ns):
        sel = t_ns == t
        T = drive.truth.sensor_pose(sensor, int(t))
        out[sel] = xyz[sel].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    return out


def test_labelled_points_lie_in_their_box_at_their_time(light_rig, exact):
    drive, sweeps = _sweeps(
        light_rig, "cut_in", exact, 2, start_s=7.5
    )  # during the cut-in: moving, turning box
    for _, sample in sweeps:
        p = sample.payload
        world = _to_world(drive, "lidar_top", p["xyz"], p["t_ns"])
        ids = p["object_id"]
        assert (ids > 0).sum() > 500
        index = {int(i): k for k, i in enumerate(drive.world.ids)}
        for object_id in np.unique(ids[ids > 0]):
            sel = ids == object_id
            k = index[int(object_id)]
            boxes = drive.world.boxes(p["t_ns"][sel], rows=np.array([k]))
            inside = points_in_box(
                world[sel], boxes.center[0], boxes.yaw[0], drive.world.sizes[k] / 2, margin=1e-3
            )
            assert inside.all(), (
                f"object {object_id}: {(~inside).sum()} of {sel.sum()} points outside its box"
            )
        ground = world[ids == 0]
        assert np.abs(ground[:, 2]).max() < 1e-3  # unlabelled returns are the ground plane


def test_points_are_timed_column_by_column_over_one_period(light_rig, exact):
    _, [(tick, sample)] = _sweeps(light_rig, "calm", exact, 1, start_s=1.0)
    t = sample.payload["t_ns"]
    assert np.all(np.diff(t) >= 0)
    assert t[0] >= tick.true_ns and t[-1] < tick.true_ns + 100_000_000
    assert t[-1] - t[0] > 95_000_000
    assert sample.stamp == tick.true_ns  # header stamp = start of the sweep


def test_sweep_skew_matches_ego_motion(light_rig, exact):
    """Static points mapped with the single sweep-start pose are off by exactly the ego's travel since."""
    drive, [(tick, sample)] = _sweeps(light_rig, "calm", exact, 1, start_s=3.0)
    p = sample.payload
    static = np.isin(p["object_id"], [o.id for o in drive.world.objects if not o.moving]) & (
        p["object_id"] > 0
    )
    xyz, t_ns = p["xyz"][static].astype(np.float64), p["t_ns"][static]
    exact_world = _to_world(drive, "lidar_top", xyz, t_ns)
    T0 = drive.truth.sensor_pose("lidar_top", tick.true_ns)
    naive_world = xyz @ T0[:3, :3].T + T0[:3, 3]
    travel = (
        np.array([drive.truth.ego_state(int(t)).position[0] for t in t_ns])
        - drive.truth.ego_state(tick.true_ns).position[0]
    )
    # the ego goes straight, so the skew is a pure translation by its travel (up to 1.3 m in 0.1 s)
    assert np.abs(travel[:, 0]).max() > 1.0
    np.testing.assert_allclose(exact_world - naive_world, travel, atol=2e-3)


def test_compiled_caster_matches_numpy_reference():
    rng = np.random.default_rng(3)
    m, n, b = 7, 50, 4
    origin = rng.uniform(-1, 1, (m, 3))
    dirs = rng.normal(size=(m, n, 3))
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    center = rng.uniform(-8, 8, (b, m, 3))
    yaw = rng.uniform(-3, 3, (b, m))
    half = rng.uniform(0.5, 3, (b, 3))
    ground = np.full((m, n), np.inf)
    t, which, normal, full = cast(
        origin,
        dirs,
        ground,
        center,
        yaw,
        half,
        np.ones((b, m), bool),
        np.zeros(b, np.int64),
        np.full(b, n, np.int64),
    )
    ref_t, ref_n = ray_boxes(
        origin[None, :, None], dirs[None], center[:, :, None], yaw[:, :, None], half[:, None, None]
    )
    expected = ref_t.min(axis=0)
    assert np.isfinite(expected).sum() > 20
    np.testing.assert_allclose(t, expected, rtol=1e-12)
    hit = which >= 0
    np.testing.assert_array_equal(hit, np.isfinite(expected))
    np.testing.assert_array_equal(which[hit], ref_t.argmin(axis=0)[hit])
    picked = np.take_along_axis(ref_n, ref_t.argmin(axis=0)[None, ..., None], axis=0)[0]
    np.testing.assert_allclose(normal[hit], picked[hit], atol=1e-12)
    np.testing.assert_array_equal(full, np.isfinite(ref_t).sum(axis=(1, 2)))


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_dropout_and_range_noise(light_rig, exact, dropout):
    noisy = exact.model_copy(
        update={"noise": exact.noise.model_copy(update={"lidar_dropout": dropout, "lidar_range_m": 0.05})}
    )
    _, [(_, clean)] = _sweeps(light_rig, "calm", exact, 1, start_s=2.0)
    _, [(_, sample)] = _sweeps(light_rig, "calm", noisy, 1, start_s=2.0)
    ratio = len(sample.payload["xyz"]) / len(clean.payload["xyz"])
    assert ratio == pytest.approx(1 - dropout, abs=0.02)
    if dropout == 0.0:
        err = np.linalg.norm(sample.payload["xyz"], axis=1) - np.linalg.norm(clean.payload["xyz"], axis=1)
        assert np.std(err) == pytest.approx(0.05, rel=0.1)


def test_config_sensors_must_exist(light_rig):
    from mmfusion_annotate.errors import ConfigError

    with pytest.raises(ConfigError, match="sensors"):
        Drive(light_rig, "calm", config=SimConfig(sensors=("lidar_nope",)))


def test_a_sweep_with_no_object_in_range_is_ground_only(light_rig, exact):
    """Long drives leave every object behind (a 60 s cut_in did): the sweep is ground, not a crash."""
    drive = Drive(light_rig, "calm", config=exact.model_copy(update={"sensors": ("lidar_top",)}))
    tick = drive.ticks[0]
    drive._models["lidar_top"].max_range = 8.0  # the nearest ground rings, no object
    sample = drive.sample(tick)
    assert len(sample.payload["xyz"]) > 0 and (sample.payload["object_id"] == 0).all()
