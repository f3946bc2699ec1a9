"""Real KITTI frames: LiDAR points on the road take the road's colour (grey, low saturation).

Honest criterion: the road in these frames is grey asphalt, so the colours sampled for ground points
(z < -1.5 m in the Velodyne frame, 5-20 m ahead) must have a low HSV saturation, and clearly lower
than two controls from the same image: random pixels, and the colours of points above the ground
(cars, walls, vegetation). A projection that is off lands partly on kerbs, grass and cars and fails.
"""

import cv2
import numpy as np
import pytest

from mmfusion_annotate.fusion import FusionConfig, FusionPipeline
from mmfusion_annotate.rig.kitti import kitti_rig
from mmfusion_annotate.types import SensorSample


def _saturation(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    top = rgb.max(axis=1)
    return (top - rgb.min(axis=1)) / np.maximum(top, 1.0)


@pytest.mark.parametrize("frame_id", ["000000", "000001", "000002"])
def test_ground_points_take_the_road_colour(frame_id, shared_path):
    kitti = shared_path("data", "kitti", "training")
    rig = kitti_rig(kitti / "calib" / f"{frame_id}.txt")
    scan = np.fromfile(kitti / "velodyne" / f"{frame_id}.bin", dtype=np.float32).reshape(-1, 4)
    image = cv2.imread(str(kitti / "image_2" / f"{frame_id}.png"))[..., ::-1].copy()
    samples = {
        "velodyne": SensorSample("velodyne", 0, {"xyz": scan[:, :3], "intensity": scan[:, 3]}),
        "image_2": SensorSample("image_2", 0, {"image": image}),
    }
    view = FusionPipeline(rig, FusionConfig(backend="cpu")).fuse(samples, ego=None).cameras["image_2"]
    points = scan[view.index]
    ground = view.visible & (points[:, 2] < -1.5) & (points[:, 0] > 5.0) & (points[:, 0] < 20.0)
    above = view.visible & (points[:, 2] > -1.0)
    assert ground.sum() > 2000
    road = _saturation(view.colors[ground])
    rng = np.random.default_rng(0)
    random_pixels = image[rng.integers(0, image.shape[0], 5000), rng.integers(0, image.shape[1], 5000)]
    assert np.median(road) < 0.15
    assert (road < 0.2).mean() > 0.7
    assert np.median(road) < np.median(_saturation(random_pixels)) - 0.04
    assert np.median(road) < np.median(_saturation(view.colors[above])) - 0.05
