"""Time is geometry: motion compensation, clock offsets and radar projection against exact truth."""

from dataclasses import replace

import numpy as np
import pytest
from test_fusion_backends import ArcEgo

from mmfusion_annotate.fusion import FusionConfig, FusionPipeline
from mmfusion_annotate.fusion.measure import SWEEP_NS, arc_pose, measure_compensation
from mmfusion_annotate.fusion.poses import invert_pose
from mmfusion_annotate.rig import default_rig_path, load_rig
from mmfusion_annotate.types import SensorSample


@pytest.fixture(scope="module")
def nuscenes_rig():
    return load_rig(default_rig_path())


@pytest.mark.parametrize(("speed", "yaw_rate"), [(10.0, 0.0), (30.0, 0.0), (10.0, 0.3), (30.0, 0.3)])
def test_compensation_cuts_the_error_at_least_five_times(nuscenes_rig, speed, yaw_rate):
    result = measure_compensation(nuscenes_rig, speed, yaw_rate, points=4000)
    assert result.pixel_without > 1.0  # ego motion dominates: the uncompensated sweep is visibly off
    assert result.pixel_with * 5 <= result.pixel_without
    assert result.metres_with * 5 <= result.metres_without
    assert result.pixel_with < 0.05


def _radar_samples(rig, stamp_radar, stamp_camera, world_point, lidar_stamp=SWEEP_NS // 2):
    """A one-detection radar scan of ``world_point`` measured at ``stamp_radar`` while driving the arc."""
    radar_from_world = invert_pose(arc_pose(stamp_radar, 30.0, 0.3) @ rig.sensor_to_base("radar"))
    xyz = (radar_from_world @ np.append(world_point, 1.0))[:3]
    lidar = SensorSample("lidar", lidar_stamp, {"xyz": np.zeros((1, 3), np.float32)})
    return {
        "lidar": lidar,
        "radar": SensorSample("radar", stamp_radar, {"xyz": xyz[None].astype(np.float32)}),
        "front": SensorSample("front", stamp_camera, {}),
    }


def _truth_pixel(rig, world_point, stamp):
    cam_from_world = invert_pose(arc_pose(stamp, 30.0, 0.3) @ rig.sensor_to_base("front"))
    uv, _, ok = rig.sensor("front").camera.project((cam_from_world @ np.append(world_point, 1.0))[None, :3])
    assert ok[0]
    return uv[0]


def test_radar_detections_project_where_the_camera_sees_them(small_rig):
    world_point = (
        arc_pose(50_000_000, 30.0, 0.3)[:3, :3] @ [20.0, 0.5, 0.8] + arc_pose(50_000_000, 30.0, 0.3)[:3, 3]
    )
    samples = _radar_samples(small_rig, 10_000_000, 90_000_000, world_point)
    truth = _truth_pixel(small_rig, world_point, 90_000_000)
    for compensate, check in ((True, lambda e: e < 0.01), (False, lambda e: e > 5.0)):
        frame = FusionPipeline(small_rig, FusionConfig(motion_compensation=compensate)).fuse(
            samples, ArcEgo()
        )
        projected = frame.radars["radar"].cameras["front"]
        assert projected.in_image[0]
        assert check(float(np.linalg.norm(projected.uv[0] - truth))), compensate
    # the radar view keeps the detections and their base_link positions
    radar = frame.radars["radar"]
    np.testing.assert_allclose(
        radar.xyz[0],
        (invert_pose(arc_pose(10_000_000, 30.0, 0.3)) @ np.append(world_point, 1.0))[:3],
        atol=1e-4,
    )


def test_clock_offsets_of_rig_and_configuration_add_up(small_rig):
    world_point = np.array([20.0, 0.5, 0.8])
    # the camera's true exposure is 40 ms after its stamp: configure it, or split it over rig and config
    samples = _radar_samples(small_rig, 10_000_000, 50_000_000, world_point)
    truth = _truth_pixel(small_rig, world_point, 90_000_000)

    def error(pipeline):
        frame = pipeline.fuse(samples, ArcEgo())
        assert frame.cameras["front"].exposure_stamp == 90_000_000
        return float(np.linalg.norm(frame.radars["radar"].cameras["front"].uv[0] - truth))

    assert error(FusionPipeline(small_rig, FusionConfig(clock_offsets_ns={"front": 40_000_000}))) < 0.01
    front = replace(small_rig.sensor("front"), time_offset_ns=15_000_000)
    rig = replace(small_rig, sensors={**small_rig.sensors, "front": front})
    pipeline = FusionPipeline(rig, FusionConfig(clock_offsets_ns={"front": 25_000_000}))
    assert pipeline.clock_offset("front") == 40_000_000
    assert error(pipeline) < 0.01
