"""The synthetic drive: object points land inside their ground-truth 2D boxes (>= 99%)."""

import numpy as np
import pytest

from mmfusion_annotate.fusion import EgoMotion, FusionConfig, FusionPipeline
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.sim import Drive


@pytest.fixture(scope="module")
def drive_frame():
    rig = load_rig(default_rig_path())
    drive = Drive(rig, "calm", image_format="raw")
    lidar = rig.lidars()[0].name
    sweep_tick = [t for t in drive.ticks if t.sensor == lidar][3]
    samples = {lidar: drive.sample(sweep_tick)}
    for camera in rig.cameras():
        nearest = min(
            (t for t in drive.ticks if t.sensor == camera.name), key=lambda t: abs(t.stamp - sweep_tick.stamp)
        )
        samples[camera.name] = drive.sample(nearest)
    ego = EgoMotion()  # fed with the drive's own odometry and IMU, as the live node does
    for tick in drive.ticks:
        if (
            rig.sensor(tick.sensor).kind in ("odometry", "imu")
            and tick.stamp <= sweep_tick.stamp + 300_000_000
        ):
            ego.feed(drive.sample(tick))
    frame = FusionPipeline(rig, FusionConfig(backend="cpu")).fuse(samples, ego)
    return drive, samples, frame


def test_object_points_fall_inside_their_ground_truth_boxes(drive_frame):
    drive, samples, frame = drive_frame
    object_id = samples[frame.sweep.lidar].payload["object_id"]
    checked = inside = 0
    for name, view in frame.cameras.items():
        truth = drive.truth.frames[(name, samples[name].stamp)]
        for box in truth.boxes_2d:
            points = view.visible & (object_id[view.index] == box.object_id)
            x0, y0, x1, y1 = box.box
            u, v = view.uv[points, 0], view.uv[points, 1]
            inside += int(((u >= x0 - 1) & (u <= x1 + 1) & (v >= y0 - 1) & (v <= y1 + 1)).sum())
            checked += int(points.sum())
        boxed = [box.object_id for box in truth.boxes_2d]
        # a visible object point always belongs to an object the renderer saw in that camera
        assert not (view.visible & (object_id[view.index] > 0) & ~np.isin(object_id[view.index], boxed)).any()
    assert checked > 500
    assert inside / checked >= 0.99
