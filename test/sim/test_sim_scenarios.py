"""The built-in scenarios contain their documented events at the documented times (and calm has none)."""

from __future__ import annotations

import numpy as np
import pytest

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.sim import builtin_scenarios, load_scenario
from mmfusion_annotate.sim.ego import ScenarioEgo
from mmfusion_annotate.sim.world import World

T = np.arange(0, 20_000_000_000, 10_000_000)  # 100 Hz
EGO_HALF_WIDTH = 0.95


def _world(name):
    world = World(load_scenario(name))
    return world, ScenarioEgo(world.ego_tracks)


def _ego_accel(ego):
    return np.gradient(ego.state(T).velocity[:, 0], 0.01)


def _actor(world, object_id):
    k = int(np.nonzero(world.ids == object_id)[0][0])
    return world.boxes(T, rows=np.array([k])), world.sizes[k]


def test_builtins_are_listed_and_load():
    assert builtin_scenarios() == ["calm", "cut_in", "cyclist_passing", "hard_braking", "pedestrian_crossing"]
    for name in builtin_scenarios():
        scenario = load_scenario(name)
        assert scenario.duration_s == 20.0 and scenario.name == name


def test_hard_braking():
    world, ego = _world("hard_braking")
    (event_lead, event_ego) = load_scenario("hard_braking").events
    hard = _ego_accel(ego) <= -5.0
    assert hard.sum() * 0.01 >= 0.5
    assert T[hard][0] / 1e9 == pytest.approx(event_ego.t_s, abs=0.02)
    lead, _ = _actor(world, 1)
    lead_accel = np.gradient(lead.velocity[0, :, 0], 0.01)
    assert T[lead_accel <= -5.0][0] / 1e9 == pytest.approx(event_lead.t_s, abs=0.02)
    gap = lead.center[0, :, 0] - ego.state(T).position[:, 0]
    assert gap.min() > 8.0  # no collision


def test_cut_in():
    world, ego = _world("cut_in")
    (event,) = load_scenario("cut_in").events
    car, _ = _actor(world, 1)
    y = car.center[0, :, 1]
    crossing = T[np.nonzero(y < 1.75)[0][0]] / 1e9  # centre crosses the lane line into the ego lane
    assert crossing == pytest.approx(event.t_s, abs=0.05)
    i = int(event.t_s * 100)
    ahead = car.center[0, i, 0] - ego.state(T[i]).position[0, 0]
    assert 8.0 <= ahead <= 16.0
    assert 0.8 <= abs(car.velocity[0, i, 1]) <= 1.6


def test_pedestrian_crossing():
    world, ego = _world("pedestrian_crossing")
    (event,) = load_scenario("pedestrian_crossing").events
    ped, _ = _actor(world, 1)
    enters = T[np.nonzero(ped.center[0, :, 1] > -1.75)[0][0]] / 1e9  # steps onto the road
    assert enters == pytest.approx(event.t_s, abs=0.1)
    i = int(event.t_s * 100)
    st = ego.state(T[i])
    ttc = (ped.center[0, i, 0] - st.position[0, 0]) / st.velocity[0, 0]
    assert ttc < 3.0
    # the pedestrian is never inside the ego's footprint (front 3.8 m ahead of base_link)
    ego_x = ego.state(T).position[:, 0]
    inside = (np.abs(ped.center[0, :, 1]) < EGO_HALF_WIDTH + 0.3) & (
        np.abs(ped.center[0, :, 0] - ego_x - 1.4) < 2.7
    )
    assert not inside.any()


def test_cyclist_passing():
    world, ego = _world("cyclist_passing")
    (event,) = load_scenario("cyclist_passing").events
    bike, size = _actor(world, 1)
    rel_x = bike.center[0, :, 0] - ego.state(T).position[:, 0]
    level = T[np.nonzero(rel_x < 0)[0][0]] / 1e9
    assert level == pytest.approx(event.t_s, abs=0.02)
    clearance = abs(bike.center[0, int(level * 100), 1]) - size[1] / 2 - EGO_HALF_WIDTH
    assert 0.5 < clearance <= 1.5


def test_calm_has_no_event_situations():
    world, ego = _world("calm")
    assert load_scenario("calm").events == ()
    assert np.abs(_ego_accel(ego)).max() <= 0.55
    st = ego.state(T)
    for o in world.objects:
        if o.moving:
            box, size = _actor(world, o.id)
            rel = box.center[0, :, :2] - st.position[:, :2]
            lateral = np.abs(rel[:, 1]) - size[1] / 2 - EGO_HALF_WIDTH
            alongside = np.abs(rel[:, 0]) < size[0] / 2 + 4.0
            assert (lateral[alongside] > 1.5).all()
            assert o.cls in ("car", "truck")


def test_bad_scenario_file_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nactors:\n  - {id: 1, class: spaceship, size_m: [1, 1, 1]}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*actors.0.class"):
        load_scenario(path)
    with pytest.raises(ConfigError, match="built-ins"):
        load_scenario("no_such_scenario")
