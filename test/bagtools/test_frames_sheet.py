"""The demo's contact sheet (``bagtools.report``): labelled boxes over the LiDAR overlay, a legend."""

from __future__ import annotations

import cv2
import numpy as np

from mmfusion_annotate import drawing
from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.bagtools.report import render_frames_sheet
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.outputs.labels import class_color_rgb8
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sim import Drive, SimConfig, load_scenario


def test_demo_sheet_draws_labelled_boxes_over_the_lidar_overlay_and_a_legend(tmp_path):
    rig = load_rig(default_rig_path())
    scenario = load_scenario("cut_in").model_copy(update={"duration_s": 1.0})
    sensors = ("lidar_top", "imu", "odometry", "cam_front")
    drive = Drive(rig, scenario, image_format="raw", config=SimConfig(sensors=sensors))
    annotator = Annotator(rig, PipelineConfig())
    frames = [f for s in drive.samples() for f in annotator.feed(s).frames] + annotator.finish().frames
    labelled = [f for f in frames if f.labels.boxes2d][-1:]
    assert labelled, "the drive's cars are seen by cam_front"
    sheet = render_frames_sheet(labelled, tmp_path / "demo.png")
    assert (cv2.imread(str(tmp_path / "demo.png"))[..., ::-1] == sheet).all()
    tile_w, tile_h = drawing.TILE_SIZE
    cam_front = sheet[28 : 28 + tile_h, :tile_w]
    colors = {class_color_rgb8(b.label) for b in labelled[0].labels.boxes2d}
    assert sum((cam_front == c).all(axis=-1).sum() for c in colors) > 40  # the boxes
    assert (cam_front == drawing.PLATE).all(axis=-1).sum() > 100  # their labels' plates
    turbo = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1]
    packed = cam_front.astype(np.int32) @ (1 << 16, 1 << 8, 1)
    depth_colors = turbo.astype(np.int32) @ (1 << 16, 1 << 8, 1)
    assert np.isin(packed, depth_colors).sum() > 500  # the LiDAR points on the image, coloured by depth
    legend = sheet[28 + drawing.TOP_VIEW_PX :]
    assert all((legend == class_color_rgb8(c)).all(axis=-1).sum() >= 16 * 16 for c in ObjectClass)
