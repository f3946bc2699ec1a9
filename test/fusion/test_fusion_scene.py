"""Projection, occlusion and colours against a ray-cast truth scene (a car on flat ground)."""

import dataclasses

import numpy as np
import pytest
from fusion_scene import CAR_RGB, GROUND_RGB, hidden_from, render, scan_scene

from mmfusion_annotate.fusion import FusionConfig, FusionPipeline
from mmfusion_annotate.types import SensorSample

CAMERAS = ("front", "left", "right")


@pytest.fixture(scope="module")
def scene(small_rig):
    xyz, label = scan_scene()
    samples = {"lidar": SensorSample("lidar", 0, {"xyz": xyz})}
    for name in CAMERAS:
        samples[name] = SensorSample(name, 0, {"image": render(small_rig, name)})
    frame = FusionPipeline(small_rig, FusionConfig(backend="cpu")).fuse(samples, ego=None)
    return frame, label, samples


def _near(colors: np.ndarray, rgb: np.ndarray, tol: int = 40) -> np.ndarray:
    return np.abs(colors.astype(int) - rgb.astype(int)).max(axis=1) <= tol


def test_car_points_fall_inside_the_cars_box_in_the_image(scene):
    frame, label, samples = scene
    view = frame.cameras["front"]
    rows, cols = np.nonzero((samples["front"].payload["image"] == CAR_RGB).all(axis=2))
    car = (label[view.index] == 1) & view.visible
    assert car.sum() > 200
    u, v = view.uv[car, 0], view.uv[car, 1]
    inside = (
        (u >= cols.min() - 0.5) & (u <= cols.max() + 0.5) & (v >= rows.min() - 0.5) & (v <= rows.max() + 0.5)
    )
    assert inside.mean() >= 0.99
    assert _near(view.colors[car], CAR_RGB).mean() >= 0.97  # edge pixels blend with the background


def test_points_hidden_behind_the_car_take_no_car_colour(scene, small_rig):
    frame, label, _ = scene
    view = frame.cameras["front"]
    hidden = hidden_from(small_rig, "front", frame.sweep.xyz[view.index].astype(np.float64)) & (
        label[view.index] != 1
    )
    assert hidden.sum() > 100, "the scene must hide some LiDAR points from the camera"
    took_car_colour = view.visible[hidden] & _near(view.colors[hidden], CAR_RGB)
    assert took_car_colour.mean() < 0.01
    # without occlusion handling they would (so the check above can fail)
    unfiltered = FusionPipeline(small_rig, FusionConfig(backend="cpu", zbuffer_tolerance_m=1e3)).fuse(
        {"lidar": scene[2]["lidar"], "front": scene[2]["front"]}, ego=None
    )
    naive = unfiltered.cameras["front"]
    assert (naive.visible[hidden] & _near(naive.colors[hidden], CAR_RGB)).mean() > 0.5


def test_visible_ground_keeps_its_colour_and_is_not_over_occluded(scene, small_rig):
    frame, label, _ = scene
    for name in CAMERAS:
        view = frame.cameras[name]
        ground = label[view.index] == 0
        open_ground = ground & ~hidden_from(small_rig, name, frame.sweep.xyz[view.index].astype(np.float64))
        # the block z-buffer hides some far road seen at a grazing angle (rows a few pixels apart,
        # metres apart in depth): a known cost of the block rule, measured here so it cannot grow unseen
        assert view.visible[open_ground].mean() >= 0.4, name  # measured 0.77 / 0.70 / 0.46 (fisheye)
        assert _near(view.colors[open_ground & view.visible], GROUND_RGB).mean() >= 0.97, name


def test_no_point_behind_a_camera_or_outside_its_image(scene, small_rig):
    frame, _, _ = scene
    for name in CAMERAS:
        view = frame.cameras[name]
        cam_from_base = np.linalg.inv(small_rig.sensor_to_base(name))
        cam = frame.sweep.xyz[view.index].astype(np.float64) @ cam_from_base[:3, :3].T + cam_from_base[:3, 3]
        assert (cam[:, 2] > 0).all()
        np.testing.assert_allclose(view.depth, cam[:, 2], rtol=1e-6)
        assert ((view.uv >= 0) & (view.uv < [view.width, view.height])).all()


def test_sparse_depth_and_coloured_cloud(scene):
    frame, _, _ = scene
    view = frame.cameras["front"]
    depth = view.sparse_depth()
    assert depth.shape == (view.height, view.width)
    filled = depth > 0
    assert filled.sum() == len(np.unique(np.floor(view.uv[view.visible]).astype(int), axis=0))
    col, row = np.floor(view.uv[view.visible][0]).astype(int)
    assert depth[row, col] <= view.depth[view.visible][0]
    index, colors = frame.colored_points()
    assert set(view.visible_index) <= set(index)
    assert len(index) == len(colors) and frame.cameras["front"].mask().sum() == view.visible.sum()


def test_hits_of_finds_each_sweep_point_among_the_views_hits(scene):
    """The binary search agrees with a full-length table over the sweep, for hits and misses alike."""
    frame, _, _ = scene
    view = frame.cameras["front"]
    table = np.full(view.n_points, -1)
    table[view.index] = np.arange(len(view.index))
    points = np.random.default_rng(0).choice(view.n_points, 500, replace=False)
    points = np.concatenate([points, view.index[:5], [0, view.n_points - 1]])
    hits = view.hits_of(points)
    np.testing.assert_array_equal(hits, table[points])
    assert (hits >= 0).any() and (hits < 0).any()
    assert view.hits_of(np.array([], dtype=np.int64)).shape == (0,)
    empty = dataclasses.replace(view, index=np.array([], np.int32))  # a camera no point lands in
    np.testing.assert_array_equal(empty.hits_of(points[:3]), [-1, -1, -1])


def test_overlay_png_marks_the_points(scene, tmp_path):
    import cv2

    from mmfusion_annotate.fusion.overlay import write_overlays

    frame, _, samples = scene
    paths = write_overlays(frame, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{name}_{frame.stamp}.png" for name in CAMERAS)
    overlay = cv2.imread(str(tmp_path / f"front_{frame.stamp}.png"))[..., ::-1]
    view = frame.cameras["front"]
    assert overlay.shape == (view.height, view.width, 3)
    col, row = np.floor(view.uv[view.visible] + 0.5).astype(int).T
    col, row = np.minimum(col, view.width - 1), np.minimum(row, view.height - 1)
    changed = (overlay[row, col] != samples["front"].payload["image"][row, col]).any(axis=1)
    assert changed.mean() > 0.95
