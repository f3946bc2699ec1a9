from pathlib import Path

import pytest

from mmfusion_annotate.bagtools.evaluate import evaluate_kitti, print_report

KITTI = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kitti" / "training"


@pytest.fixture(scope="module")
def kitti_dir() -> Path:
    if not (KITTI / "velodyne").is_dir():
        pytest.fail(f"KITTI sample data missing at {KITTI} (see shared/data/kitti/PROVENANCE.md)")
    return KITTI


def test_kitti_evaluation_finds_the_pedestrian_and_writes_side_by_side_images(kitti_dir, tmp_path):
    report = evaluate_kitti(kitti_dir, images_out=tmp_path)
    assert report["frames"] == 3
    # frame 000000: one pedestrian 8.4 m ahead, well sampled (376 points): it must be found
    assert report["detection"]["pedestrian@20m"]["recall"] == 1.0
    assert report["box2d_pairs"] >= 1 and report["box2d_iou_mean"] > 0.6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert "car@30m" in print_report(report)
