"""Pre-label quality targets on the synthetic drives, measured against the simulator's truth.

Each scenario runs for 4 s around its interesting part, with the front camera only (the 2D figures need
one camera; LiDAR and radar are complete), through the real chain (sync -> fusion -> pre-labels).
Targets (issue 6): car recall >= 0.9 and precision >= 0.8 within 30 m, pedestrian recall >= 0.8
within 20 m, no id switch on the calm drive. The other bounds sit well above the measured errors
(README, Pre-labels), so a regression fails here before it reaches annotators. The classes come from
the LiDAR alone here: the simulator renders road users as coloured boxes, which a COCO-trained camera
detector does not take for anything, so a configured detector must leave these figures as they are.
"""

from __future__ import annotations

import pytest

from mmfusion_annotate.prelabel import PrelabelConfig
from mmfusion_annotate.prelabel.camera_detector import CameraDetector
from mmfusion_annotate.sim_eval import SimEvalResult, evaluate_scenario

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
        _cache[scenario] = evaluate_scenario(
            scenario, start_s=start, duration_s=duration, cameras=["cam_front"]
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
@pytest.mark.parametrize("scenario", ["cut_in", "calm"])
def test_a_drive_without_people_gets_almost_no_person_labels(scenario):
    """cut_in and calm hold only cars, poles and walls: the poles behind parked cars (foot hidden), car
    corners (too sparse for a person) and bicycle-height car ends must not come out as people. The
    target is none; the bound is what the LiDAR alone reaches (car ends seen before they move)."""
    det = _report(scenario)["detection"]
    for cls in ("pedestrian", "cyclist"):
        assert det[f"{cls}@30m"]["fp"] <= 1, det
        assert det[f"{cls}@50m"]["fp"] <= 6, det


@pytest.mark.slow
def test_calm_drive_has_no_id_switch():
    report = _report("calm")
    assert report["frames"] >= 35
    assert report["id_switches"] == 0


@pytest.mark.slow
def test_a_camera_detector_finds_nothing_in_rendered_images_and_changes_nothing(model_dir, monkeypatch):
    """With a COCO model on every frame of cam_front, the pedestrian crossing's labels are the LiDAR's:
    the detector finds no road user in the rendered boxes, and a silent detector demotes nothing."""
    monkeypatch.setenv("MMFUSION_MODEL_DIR", str(model_dir))
    looked, real_detect = [], CameraDetector.detect

    def detect(self, rgb, horizon_v=None):
        found = real_detect(self, rgb, horizon_v)
        looked.append(len(found))
        return found

    monkeypatch.setattr(CameraDetector, "detect", detect)
    start, duration = WINDOWS["pedestrian_crossing"]
    cfg = PrelabelConfig.model_validate(
        {"camera": {"detector": {"model": "deimv2-femto", "cameras": ["cam_front"]}}}
    )
    with_model = evaluate_scenario(
        "pedestrian_crossing", start_s=start, duration_s=duration, cameras=["cam_front"], cfg=cfg
    )
    lidar_only = _result("pedestrian_crossing")
    assert len(looked) == len(with_model.frames) and set(looked) == {
        0
    }  # every frame looked at, nothing found

    def labels(result):
        return [[(c.object_id, c.label, c.center) for c in f.labels.cuboids] for f in result.frames]

    assert labels(with_model) == labels(lidar_only)
    assert with_model.report["detection"] == lidar_only.report["detection"]
