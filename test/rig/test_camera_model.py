"""CameraModel vs OpenCV (projectPoints, fisheye.projectPoints, undistortPoints), round trips, FOV guard."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmfusion_annotate.errors import RigError
from mmfusion_annotate.rig import CameraModel

PINHOLE_K = [[800.0, 0.0, 645.3], [0.0, 805.0, 358.1], [0.0, 0.0, 1.0]]
FISHEYE_K = [[400.0, 0.0, 641.0], [0.0, 401.0, 399.0], [0.0, 0.0, 1.0]]
CAMERAS = {
    "plumb_bob": CameraModel(1280, 720, PINHOLE_K, (-0.28, 0.07, 0.0008, -0.0004, -0.006), "plumb_bob"),
    "rational_polynomial": CameraModel(
        1280, 720, PINHOLE_K, (2.1, 0.8, 0.0008, -0.0004, 0.02, 2.45, 1.4, 0.1), "rational_polynomial"
    ),
    "equidistant": CameraModel(1280, 800, FISHEYE_K, (-0.013, 0.02, -0.012, 0.003), "equidistant"),
}


def opencv_project(cam: CameraModel, points: np.ndarray) -> np.ndarray:
    K, D = cam.K, np.array(cam.D)
    if cam.distortion_model == "equidistant":
        uv, _ = cv2.fisheye.projectPoints(points[:, None, :], np.zeros(3), np.zeros(3), K, D)
    else:
        uv, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), K, D)
    return uv[:, 0]


def opencv_undistort(cam: CameraModel, uv: np.ndarray, R=None, P=None) -> np.ndarray:
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-15)
    K, D = cam.K, np.array(cam.D)
    if cam.distortion_model == "equidistant":
        return cv2.fisheye.undistortPoints(uv[:, None], K, D, R=R, P=P, criteria=criteria)[:, 0]
    if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4.x; 5.x folded the criteria into undistortPoints
        return cv2.undistortPointsIter(uv[:, None], K, D, R, P, criteria)[:, 0]
    return cv2.undistortPoints(uv[:, None], K, D, R=R, P=P, criteria=criteria)[:, 0]


def points_in_fov(cam: CameraModel, n: int, seed: int, max_angle_deg: float) -> np.ndarray:
    """Random points whose incidence angle is below ``max_angle_deg``, 0.5..60 m away."""
    rng = np.random.default_rng(seed)
    theta = np.radians(rng.uniform(0, max_angle_deg, n))
    phi = rng.uniform(-np.pi, np.pi, n)
    rays = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)
    return rays * rng.uniform(0.5, 60.0, n)[:, None]


@pytest.mark.parametrize("model", list(CAMERAS))
def test_project_matches_opencv(model: str) -> None:
    cam = CAMERAS[model]
    points = points_in_fov(cam, 5000, seed=1, max_angle_deg=40 if model != "equidistant" else 85)
    uv, depth, valid = cam.project(points)
    ref = opencv_project(cam, points)
    assert np.abs(uv - ref).max() < 1e-3
    np.testing.assert_array_equal(depth, points[:, 2])
    inside = (ref[:, 0] >= 0) & (ref[:, 0] < cam.width) & (ref[:, 1] >= 0) & (ref[:, 1] < cam.height)
    np.testing.assert_array_equal(valid, inside)
    assert 0.2 < valid.mean() < 1.0  # the sample reaches past the image border


@pytest.mark.parametrize("model", list(CAMERAS))
def test_pixel_to_ray_matches_undistort_points(model: str) -> None:
    cam = CAMERAS[model]
    uv = np.random.default_rng(2).uniform([0, 0], [cam.width, cam.height], (5000, 2))
    rays = cam.pixel_to_ray(uv)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=1), 1.0, atol=1e-12)
    # OpenCV's fisheye inverse goes through tan(theta): compare where the ray is < 80 deg off-axis
    usable = rays[:, 2] > math.cos(math.radians(80))
    assert usable.mean() > 0.7
    ideal_px = (rays[usable, :2] / rays[usable, 2:]) * cam.K[0, 0]
    ref_px = opencv_undistort(cam, uv[usable]) * cam.K[0, 0]
    assert np.abs(ideal_px - ref_px).max() < 1e-3


@pytest.mark.parametrize("model", list(CAMERAS))
def test_project_unproject_round_trip(model: str) -> None:
    cam = CAMERAS[model]
    uv = np.random.default_rng(3).uniform([0, 0], [cam.width, cam.height], (3000, 2))
    rays = cam.pixel_to_ray(uv)
    front = rays[:, 2] > 0.05
    depth = np.random.default_rng(4).uniform(1.0, 80.0, front.sum())
    points = cam.unproject(uv[front], depth)
    np.testing.assert_allclose(points[:, 2], depth, rtol=1e-12)
    back, _, valid = cam.project(points)
    assert valid.all()
    assert np.abs(back - uv[front]).max() < 1e-6


@pytest.mark.parametrize("model", list(CAMERAS))
def test_rectify_pixels_matches_opencv(model: str) -> None:
    cam0 = CAMERAS[model]
    R = cv2.Rodrigues(np.array([0.02, -0.01, 0.005]))[0]
    P = np.array([[500.0, 0, 630, 0], [0, 500, 360, 0], [0, 0, 1, 0]])
    cam = CameraModel(cam0.width, cam0.height, cam0.K, cam0.D, cam0.distortion_model, R=R, P=P)
    uv = np.random.default_rng(5).uniform([100, 100], [cam.width - 100, cam.height - 100], (2000, 2))
    ref = opencv_undistort(cam, uv, R=R, P=P)
    assert np.abs(cam.rectify_pixels(uv) - ref).max() < 1e-3


def test_project_rectified_uses_r_then_p() -> None:
    R = cv2.Rodrigues(np.array([0.01, 0.03, -0.02]))[0]
    P = np.array([[700.0, 0, 600, -380.0], [0, 700, 180, 0], [0, 0, 1, 0.004]])
    cam = CameraModel(1242, 375, [[710.0, 0, 610], [0, 710, 185], [0, 0, 1]], (), "plumb_bob", R=R, P=P)
    points = points_in_fov(cam, 500, seed=6, max_angle_deg=30)
    uv, depth, valid = cam.project_rectified(points)
    uvw = (P @ np.vstack([R @ points.T, np.ones(len(points))])).T
    np.testing.assert_allclose(uv, uvw[:, :2] / uvw[:, 2:], rtol=0, atol=1e-9)
    np.testing.assert_allclose(depth, (R @ points.T)[2], rtol=1e-12)
    assert valid.any() and not valid.all()


def test_fov_guard_rejects_fold_back_of_strong_barrel() -> None:
    # r_d = r - 0.5 r^3 peaks at r = sqrt(2/3) (39.2 deg) and then folds back towards the centre
    cam = CameraModel(1280, 720, PINHOLE_K, (-0.5, 0.0, 0.0, 0.0, 0.0), "plumb_bob")
    assert math.degrees(cam.theta_max) == pytest.approx(math.degrees(math.atan(math.sqrt(2 / 3))), abs=0.01)
    beyond = np.array([[1.3, 0.0, 1.0], [0.9, 0.9, 1.0]])  # 52 and 52 deg off-axis
    naive = opencv_project(cam, beyond)
    assert ((naive[:, 0] >= 0) & (naive[:, 0] < 1280) & (naive[:, 1] >= 0) & (naive[:, 1] < 720)).all()
    uv, _, valid = cam.project(beyond)
    assert not valid.any()
    assert np.isnan(uv).all()
    inside, _, ok = cam.project(np.array([[0.5, 0.2, 1.0]]))
    assert ok.all() and np.isfinite(inside).all()


def test_fov_guard_fisheye_and_behind_camera() -> None:
    # theta_d = theta - 0.3 theta^3 peaks at 60.4 deg
    cam = CameraModel(1280, 800, FISHEYE_K, (-0.3, 0.0, 0.0, 0.0), "equidistant")
    assert math.degrees(cam.theta_max) == pytest.approx(math.degrees(math.sqrt(1 / 0.9)), abs=0.01)
    at_80 = np.array([[math.sin(math.radians(80)), 0.0, math.cos(math.radians(80))]])
    naive = opencv_project(cam, at_80)
    assert 0 <= naive[0, 0] < 1280  # OpenCV paints it into the image
    assert not cam.project(at_80)[2].any()
    at_100 = np.array([[math.sin(math.radians(100)), 0.0, math.cos(math.radians(100))]])
    for model in CAMERAS.values():
        assert not model.project(at_100)[2].any()


def test_configured_max_fov_narrows_the_guard() -> None:
    cam = CameraModel(1280, 800, FISHEYE_K, CAMERAS["equidistant"].D, "equidistant", max_fov_deg=90.0)
    angles = np.radians([40.0, 50.0])
    points = np.stack([np.sin(angles), np.zeros(2), np.cos(angles)], axis=1)
    np.testing.assert_array_equal(cam.project(points)[2], [True, False])


def test_float32_points_stay_float32() -> None:
    cam = CAMERAS["plumb_bob"]
    points = points_in_fov(cam, 1000, seed=7, max_angle_deg=35)
    uv32, depth32, valid32 = cam.project(points.astype(np.float32))
    uv64, _, _ = cam.project(points)
    assert uv32.dtype == np.float32 and depth32.dtype == np.float32
    assert np.abs(uv32 - uv64).max() < 0.01


@settings(max_examples=40, deadline=None)
@given(
    fx=st.floats(300, 2000),
    k1=st.floats(-0.3, 0.3),
    k2=st.floats(-0.1, 0.1),
    p=st.tuples(st.floats(-0.002, 0.002), st.floats(-0.002, 0.002)),
    u=st.floats(0.01, 1599.99),
    v=st.floats(0.01, 899.99),
    depth=st.floats(0.5, 200.0),
)
def test_unproject_then_project_is_identity(fx, k1, k2, p, u, v, depth) -> None:
    cam = CameraModel(
        1600, 900, [[fx, 0, 800], [0, fx, 450], [0, 0, 1]], (k1, k2, p[0], p[1], 0.0), "plumb_bob"
    )
    point = cam.unproject(np.array([[u, v]]), np.array([depth]))
    if np.isnan(
        point
    ).any():  # the pixel lies beyond the fold of this distortion: no ray, and no projection to it
        grid = np.stack(np.meshgrid(np.linspace(0, 1, 200), np.linspace(0, 1, 200)), -1).reshape(-1, 2)
        rays = np.stack([grid[:, 0] * 3, grid[:, 1] * 3, np.ones(len(grid))], axis=1)
        uv, _, valid = cam.project(rays)
        assert not (valid & (np.abs(uv - [u, v]).max(axis=1) < 0.5)).any()
        return
    uv, d, valid = cam.project(point)
    assert valid[0]
    assert np.abs(uv[0] - [u, v]).max() < 1e-6
    assert d[0] == pytest.approx(depth)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"distortion_model": "fisheye"}, "distortion_model"),
        ({"D": (0.1, 0.2)}, "D"),
        ({"K": [[800, 0, 640], [0, -800, 360], [0, 0, 1]]}, "K"),
        ({"K": [[800, 0, 640], [0, 800, 360]]}, "K"),
        ({"R": [[1, 0, 0], [0, 1, 0.1], [0, 0, 1]]}, "R"),
        ({"P": [[800, 0, 640], [0, 800, 360], [0, 0, 1]]}, "P"),
        ({"width": 0}, "width"),
        ({"max_fov_deg": -5.0}, "max_fov_deg"),
    ],
)
def test_invalid_camera_models_are_rejected(kwargs, key) -> None:
    args = {"width": 1280, "height": 720, "K": PINHOLE_K, "D": (), "distortion_model": "plumb_bob", **kwargs}
    with pytest.raises(RigError) as err:
        CameraModel(**args)
    assert err.value.key == key
    assert f"key '{key}'" in str(err.value)
