"""Built-in synthetic scenarios: each scripted situation is tagged at its true time with its objects."""

import pytest
from events_sim import observations

from mmfusion_annotate.events import Category, EventTagger
from mmfusion_annotate.sim import builtin_scenarios, load_scenario
from mmfusion_annotate.types import seconds_to_ns

TOLERANCE = seconds_to_ns(0.3)
# scenario event type -> (tagger rule, how its true time is compared)
#   onset: the event starts within +-0.3 s of the true time
#   during: the true time (a moment inside the situation: stepping onto the road, side by side) lies within
#           the event, +-0.3 s
EXPECTED = {
    "hard_braking": ("hard_braking", "onset"),
    "lead_vehicle_braking": ("lead_braking", "onset"),
    "cut_in": ("cut_in", "onset"),
    "pedestrian_crossing": ("vru_proximity", "during"),
    "cyclist_close_pass": ("vru_proximity", "during"),
}


def _ids(objects):
    return tuple(sorted(o for o in objects if o != "ego"))


@pytest.mark.parametrize("name", [n for n in builtin_scenarios() if load_scenario(n).events])
def test_scripted_events_found_at_their_time_with_their_objects(rig, rules, name):
    drive, obs = observations(rig, rules, name)
    events = EventTagger(rules).run(obs)
    for truth in drive.truth.events:
        rule, mode = EXPECTED[truth.type]
        matches = [e for e in events if e.type == rule and e.object_ids == _ids(truth.objects)]
        if mode == "onset":
            found = [e for e in matches if abs(e.start - truth.t_ns) <= TOLERANCE]
        else:
            found = [e for e in matches if e.start - TOLERANCE <= truth.t_ns <= e.end + TOLERANCE]
        assert len(found) == 1, f"{name}: {truth.type} at {truth.t_ns / 1e9:.2f} s not tagged once: {events}"


def test_calm_drive_gives_no_driving_event(rig, rules):
    _, obs = observations(rig, rules, "calm")
    events = EventTagger(rules).run(obs)
    assert [e for e in events if e.category is Category.DRIVING] == []


def test_scenario_replay_is_deterministic(rig, rules):
    _, obs = observations(rig, rules, "hard_braking")
    first, second = EventTagger(rules).run(obs), EventTagger(rules).run(obs)
    assert first == second and first


@pytest.mark.slow
def test_hard_braking_through_the_real_chain(rig):
    """sync -> fusion -> pre-labels -> events (the Annotator), from the simulated sensors alone."""
    from mmfusion_annotate.annotator import Annotator
    from mmfusion_annotate.config import PipelineConfig
    from mmfusion_annotate.sim import Drive, SimConfig

    scenario = load_scenario("hard_braking").model_copy(update={"duration_s": 10.0})
    drive = Drive(rig, scenario, image_format="raw",
                  config=SimConfig(sensors=("lidar_top", "imu", "odometry", "cam_front")))
    annotator = Annotator(rig, PipelineConfig(alignment_every=1000))
    events = [e for tick in drive.ticks if tick.true_ns >= seconds_to_ns(7.0)
              for e in annotator.feed(drive.sample(tick)).events] + annotator.finish().events
    (truth,) = [t for t in drive.truth.events if t.type == "hard_braking"]
    braking = [e for e in events if e.type == "hard_braking"]
    assert len(braking) == 1 and abs(braking[0].start - truth.t_ns) <= TOLERANCE
    assert not [e for e in events if e.type == "vru_proximity"]
