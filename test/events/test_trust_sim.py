"""Events and review items of a synthetic drive judged against its truth, through the real chain.

A 4 s window around the scripted cut-in (front camera, LiDAR, radars) pins what the benchmark
(bench/bench_events_quality.py) measures on whole drives: no false critical or severe event on a clean
drive, the scripted event found, and every review-item kind right at least 80 % of the time.
"""

import pytest

from mmfusion_annotate.sim_eval import trust_scenario

WINDOW = {"start_s": 6.5, "duration_s": 4.0, "cameras": ["cam_front"]}
PRECISION_FLOOR = 0.8
MIN_JUDGED = 3  # fewer judged items of a kind say nothing about its precision


@pytest.mark.slow
def test_clean_cut_in_window_has_no_false_alarm_and_trustworthy_items():
    report = trust_scenario("cut_in", **WINDOW).report
    events = report["events"]
    assert sum(row["false_critical_or_severe"] for row in events.values()) == 0
    assert events["cut_in"]["recall"] == 1.0 and events["cut_in"]["precision"] == 1.0
    assert "cross_modal_disagreement" not in events
    for kind, row in report["review_items"].items():
        if row["tp"] + row["fp"] >= MIN_JUDGED:
            assert row["precision"] >= PRECISION_FLOOR, (kind, row)

