import json
from pathlib import Path

import pytest

from mmfusion_annotate.datasets.kitti_evaluate import evaluate_kitti, format_report


@pytest.fixture(scope="module")
def kitti_dir(shared_path) -> Path:
    return shared_path("data", "kitti", "training", "velodyne").parent


def test_kitti_evaluation_finds_the_pedestrian_and_writes_side_by_side_images(kitti_dir, tmp_path):
    report = evaluate_kitti(kitti_dir, images_dir=tmp_path)
    figures = report.to_dict()
    assert figures["frames"] == 3 and report.frames == ("000000", "000001", "000002")
    # frame 000000: one pedestrian 8.4 m ahead, well sampled (376 points): it must be found
    assert figures["detection"]["pedestrian@20m"]["recall"] == 1.0
    assert figures["box2d_pairs"] >= 1 and figures["box2d_iou_mean"] > 0.6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert "car@30m" in format_report(report)
    assert json.loads(json.dumps(figures)) == figures  # --json output is plain JSON
