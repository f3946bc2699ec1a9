"""Pre-label quality targets on the synthetic drives, measured against the simulator's truth.

Each scenario runs for 4 s around its interesting part, with the front camera only (the 2D figures need
one camera; LiDAR and radar are complete), through the real chain (sync -> fusion -> pre-labels).
Targets (issue 6): car recall >= 0.9 and precision >= 0.8 within 30 m, pedestrian recall >= 0.8
within 20 m, no id switch on the calm drive. The other bounds sit well above the measured errors
(README, Pre-labels), so a regression fails here before it reaches annotators. The camera-only
people detector runs on every frame here (not the live budget), so all its chances to mistake the
simulator's boxes and poles for people are checked.
"""

from __future__ import annotations

import pytest

from mmfusion_annotate.prelabel import PrelabelConfig
from mmfusion_annotate.prelabel.config import CameraConfig
from mmfusion_annotate.prelabel.review import CAMERA_WITHOUT_LIDAR
from mmfusion_annotate.prelabel.sim_eval import SimEvalResult, evaluate_scenario

WINDOWS = {  # scenario -> (start, duration) in seconds
    "calm": (0.0, 4.0),  # passes a parked car close beside the ego at ~2.5 s
    "pedestrian_crossing": (7.5, 4.0),  # the pedestrian walks out 25 m ahead at 9.0 s
    "cut_in": (5.0, 4.0),  # lane change 5.5-10.5 s, crossing the line at 8.0 s
    "hard_braking": (6.0, 4.0),  # lead brakes at 8.0 s
    "cyclist_passing": (3.0, 4.0),
}
_cache: dict[str, SimEvalResult] = {}


def _result(scenario: str) -> SimEvalResult:
    if scenario not in _cache:
        start, duration = WINDOWS[scenario]
        cfg = PrelabelConfig(camera=CameraConfig(detector_every=1, detector_cameras=("cam_front",)))
        _cache[scenario] = evaluate_scenario(
            scenario, start_s=start, duration_s=duration, cameras=["cam_front"], cfg=cfg
        )
    return _cache[scenario]


def _report(scenario: str) -> dict:
    return _result(scenario).report


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(WINDOWS))
def test_cars_within_30m_are_found_and_placed(scenario):
    report = _report(scenario)
    cars = report["detection"]["car@30m"]
    assert cars["tp"] + cars["fn"] >= 20, "too few cars in view to measure"
    assert cars["recall"] >= 0.9, report["detection"]
    assert cars["precision"] >= 0.8, report["detection"]
    # a constant-velocity filter lags a -6 m/s2 stop by ~0.85 m/s (hard_braking); 0.3-0.4 elsewhere
    assert report["velocity_error_mps"] <= 1.2
    assert report["heading_error_deg"] <= 12.0
    assert report["box2d_pairs"] >= 20 and report["box2d_iou_mean"] >= 0.7


@pytest.mark.slow
def test_pedestrian_within_20m_is_found():
    peds = _report("pedestrian_crossing")["detection"]["pedestrian@20m"]
    assert peds["tp"] + peds["fn"] >= 10, "the pedestrian should be in view for 1 s or more"
    assert peds["recall"] >= 0.8


@pytest.mark.slow
def test_calm_drive_has_no_id_switch():
    report = _report("calm")
    assert report["frames"] >= 35
    assert report["id_switches"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(WINDOWS))
def test_no_camera_only_detection_on_boxes_and_poles(scenario):
    """The simulator draws road users as boxes and poles as bars: HOG fires on some of them (poles),
    but each such window holds a LiDAR object's box, so no camera-only item may come out."""
    result = _result(scenario)
    assert len(result.frames) >= 35
    assert len(result.people) >= len(result.frames) - 1  # the detector ran on (nearly) every frame
    camera_only = [b for f in result.frames for b in f.labels.boxes2d if b.object_id == -1]
    camera_only += [b for p in result.people for b in p.boxes]
    items = [i for f in result.frames for i in f.labels.review_items if i.reason == CAMERA_WITHOUT_LIDAR]
    items += [i for p in result.people for i in p.review_items]
    assert camera_only == [] and items == []
