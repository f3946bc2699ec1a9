"""``mmfusion sheet``: a contact sheet of a labelled bag (labels, LiDAR overlay, legend) or a raw one."""

from __future__ import annotations

import cv2
import numpy as np
from labelled_bag import write_labelled_bag

from mmfusion_annotate import drawing
from mmfusion_annotate.cli import main
from mmfusion_annotate.outputs.labels import class_color_rgb8
from mmfusion_annotate.prelabel.model import ObjectClass


def _read(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_sheet_of_a_labelled_bag_draws_its_labels_points_and_legend(labelled_bag, tmp_path, capsys):
    assert main(["sheet", str(labelled_bag.path), "-o", str(tmp_path / "s.png"), "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 moments" in out and "pre-labels drawn" in out
    sheet = _read(tmp_path / "s.png")
    tile_w, tile_h = drawing.TILE_SIZE
    rig_cameras = len(labelled_bag.rig.cameras())
    rows_of_tiles = -(-rig_cameras // drawing.TILES_PER_ROW)
    assert sheet.shape[1] == drawing.TILES_PER_ROW * tile_w + drawing.TOP_VIEW_PX
    row_h = 28 + max(rows_of_tiles * tile_h, drawing.TOP_VIEW_PX)
    cam_front = sheet[28 : 28 + tile_h, :tile_w]  # the rig's first camera
    car, truck = class_color_rgb8(ObjectClass.CAR), class_color_rgb8(ObjectClass.TRUCK)
    assert (cam_front == car).all(axis=-1).sum() > 50 and (cam_front == truck).all(axis=-1).sum() > 50
    assert (cam_front == drawing.PLATE).all(axis=-1).sum() > 200  # the labels' plates
    top = sheet[28:row_h, drawing.TILES_PER_ROW * tile_w :]
    assert (top == truck).all(axis=-1).sum() > 20  # the truck's cuboid from above
    legend = sheet[2 * row_h :]
    assert all((legend == class_color_rgb8(c)).all(axis=-1).sum() >= 16 * 16 for c in ObjectClass)


def test_sheet_of_a_raw_bag_draws_the_sensors_and_says_so(tmp_path, capsys):
    bag = write_labelled_bag(tmp_path / "raw", with_prelabels=False).path
    assert main(["sheet", str(bag), "-o", str(tmp_path / "raw.png"), "--rows", "1"]) == 0
    assert "no pre-labels in the bag: sensors only" in capsys.readouterr().out
    sheet = _read(tmp_path / "raw.png")
    assert (sheet == class_color_rgb8(ObjectClass.CAR)).all(axis=-1).sum() == 0  # no labels invented


def test_sheet_of_what_is_not_a_bag_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["sheet", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("mmfusion sheet: error:")
