"""The whole loop on a real pipeline output: sim -> replay -> export -> import-labels -> evaluate.

Importing the exported pre-labels as truth must make ``mmfusion evaluate`` find every pre-label exactly
where its truth is: the export and the import lose nothing the evaluation reads.
"""

from __future__ import annotations

import json

import pytest
from rigs import write_small_rig

from mmfusion_annotate.bagtools.evaluate_bag import evaluate_bag
from mmfusion_annotate.bagtools.replay import replay_bag
from mmfusion_annotate.export import export_bag, import_labels
from mmfusion_annotate.rig import load_rig
from mmfusion_annotate.sim import Drive, load_scenario
from mmfusion_annotate.sim.bag import write_bag

pytestmark = pytest.mark.slow


def test_exported_pre_labels_imported_as_truth_score_perfectly(tmp_path):
    rig = load_rig(write_small_rig(tmp_path))
    scenario = load_scenario("cut_in").model_copy(update={"duration_s": 1.0})
    write_bag(Drive(rig, scenario, seed=3), tmp_path / "sim")
    replay_bag(tmp_path / "sim", tmp_path / "replayed", rig, compression="none")
    summary = export_bag(tmp_path / "replayed", tmp_path / "out", rig, check_schema=True)
    document = json.loads(summary.files[0].read_text())["openlabel"]
    assert summary.frames == len(document["frames"]) >= 8
    for frame in document["frames"].values():
        assert set(frame["frame_properties"]["streams"]) == {"lidar_top", "cam_front"}
    assert document["objects"], "the cut-in drive has cars to pre-label"
    import_labels(summary.files[0], tmp_path / "replayed", tmp_path / "corrected", rig)
    result = evaluate_bag(tmp_path / "corrected", rig, min_points=0)
    assert result.frames == summary.frames
    for rule in (result.bev_iou, result.centre):
        detection = rule["detection"]
        assert sum(v["tp"] for v in detection.values()) > 0
        assert all(v["fp"] == 0 and v["fn"] == 0 for v in detection.values()), detection
        assert rule["id_switches"] == 0 and rule["mota"] == pytest.approx(1.0)
