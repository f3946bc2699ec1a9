"""``mmfusion export --format coco``: one COCO file per camera, its images beside it."""

from __future__ import annotations

import json

import pytest
from labelled_bag import BACK, FRONT

from mmfusion_annotate.cli import main


def test_coco_per_camera_with_images_and_corner_based_boxes(labelled_bag, tmp_path, capsys):
    out = tmp_path / "coco"
    assert main(["export", str(labelled_bag.path), "--format", "coco", "-o", str(out)]) == 0
    assert "exported 3 frames" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.json")) == [f"{BACK}.json", f"{FRONT}.json"]
    coco = json.loads((out / f"{FRONT}.json").read_text())
    categories = {c["id"]: c["name"] for c in coco["categories"]}
    assert [i["stamp_ns"] for i in coco["images"]] == labelled_bag.front_stamps
    for image in coco["images"]:
        assert (out / image["file_name"]).is_file()
        assert (image["width"], image["height"]) == (1600, 900)
    assert len(coco["annotations"]) == 6
    for ann in coco["annotations"]:
        k = ann["image_id"] - 1
        oid = ann["attributes"]["track_id"]
        x1, y1, x2, y2 = labelled_bag.boxes[k][oid]
        assert ann["bbox"] == pytest.approx([x1 + 0.5, y1 + 0.5, x2 - x1, y2 - y1])
        assert categories[ann["category_id"]] == {7: "car", 9: "truck"}[oid]
        assert ann["score"] == pytest.approx(0.8)
    back = json.loads((out / f"{BACK}.json").read_text())
    assert len(back["images"]) == 3 and back["annotations"] == []  # images to label, nothing pre-labelled
