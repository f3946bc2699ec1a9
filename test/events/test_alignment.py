"""Edge-alignment primitives: depth edges, planar motion, stacked scores, peak refinement."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mmfusion_annotate.events import load_rules
from mmfusion_annotate.events.alignment import (
    alignment_scores,
    depth_edges,
    image_edge_map,
    move_planar,
    perturbations,
    strongest,
)
from mmfusion_annotate.events.drift import refine_peak


def test_depth_edges_keep_the_near_side_of_a_jump(rules):
    # one ring: a wall at 20 m with a pole at 8 m in front of it (azimuth order scrambled)
    az = np.radians(np.arange(-10, 11))
    rng = np.where(np.abs(np.degrees(az)) <= 2, 8.0, 20.0)
    pts = np.stack([rng * np.cos(az), rng * np.sin(az), np.zeros_like(az)], 1)
    order = np.random.default_rng(0).permutation(len(az))
    idx, w = depth_edges(pts[order], np.zeros(len(az), int), np.zeros(3), rules.edges)
    assert sorted(np.degrees(az[order][idx]).round().tolist()) == [-2.0, 2.0]
    assert np.allclose(w, np.sqrt(12.0))
    keep, _ = strongest(np.arange(5), np.array([1.0, 5.0, 3.0, 5.0, 2.0]), 3)
    assert keep.tolist() == [1, 2, 3]


@given(st.floats(-0.2, 0.2), st.floats(-0.5, 0.5), st.floats(0, 30), st.floats(-2, 2), st.floats(-0.5, 0.5))
def test_planar_motion_round_trip(dt, yaw_rate, vx, vy, z):
    p = np.array([[12.0, -3.0, z], [-4.0, 7.5, z]])
    there = move_planar(p, np.full(2, dt), (vx, vy), yaw_rate, np)
    back = move_planar(there, np.full(2, -dt), (vx, vy), yaw_rate, np)
    assert np.allclose(back, p, atol=1e-9)


def test_static_point_seen_later_is_nearer_by_the_distance_driven():
    moved = move_planar(np.array([[20.0, 0.0, 1.0]]), np.array([0.1]), (10.0, 0.0), 0.0, np)
    assert np.allclose(moved, [[19.0, 0.0, 1.0]])


def test_stacked_scores_equal_one_call_per_hypothesis(rig, rules):
    camera = rig.sensor("cam_front")
    T_cam_base = np.linalg.inv(rig.sensor_to_base("cam_front"))
    image = np.zeros((camera.camera.height, camera.camera.width), np.uint8)
    image[300:700, 500:560] = 255
    edge_map = image_edge_map(image, rules.edges)
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(8, 30, 300), rng.uniform(-6, 6, 300), rng.uniform(0, 3, 300)])
    dt, w = rng.uniform(0, 0.1, 300), rng.uniform(0.5, 2, 300)
    shifts = np.array([-0.02, 0.0, 0.03])
    _, rotations = perturbations(0.5)
    stacked = alignment_scores(edge_map, pts, dt, w, shifts, rotations, T_cam_base, camera.camera,
                               (10.0, 0.2), 0.1)
    looped = [[alignment_scores(edge_map, pts, dt, w, shifts[[m]], rotations[[k]], T_cam_base, camera.camera,
                                (10.0, 0.2), 0.1)[0, 0] for k in range(len(rotations))] for m in range(3)]
    assert stacked.shape == (3, 27) and np.allclose(stacked, looped)


def test_edge_map_peaks_on_edges_and_decays_away():
    image = np.zeros((100, 200), np.uint8)
    image[:, 100:] = 200
    d = image_edge_map(image, load_rules().edges)
    assert d[50, 99] > d[50, 90] > d[50, 60] > 0 and d.max() <= 1.0 + 1e-6


def test_refine_peak_finds_a_parabola_vertex_between_samples():
    xs = np.arange(-5, 6) * 10.0
    assert abs(refine_peak(xs, -((xs - 13.0) ** 2)) - 13.0) < 1e-9
    assert refine_peak(xs, xs) == 50.0  # at the border: no refinement


def test_coarse_edge_spread_stays_within_a_pixel_of_the_exact_one():
    rng = np.random.default_rng(3)
    image = (rng.random((90, 160)) > 0.995).astype(np.uint8) * 255  # sparse dots: long distances
    image[40:, 70:] = 120
    exact = image_edge_map(image, load_rules().edges.model_copy(update={"spread_scale": 1}))
    coarse = image_edge_map(image, load_rules().edges)
    gamma = load_rules().edges.gamma
    assert load_rules().edges.spread_scale == 2
    assert np.abs(coarse - exact).max() <= 1.0 - gamma**2  # about one pixel of spread, at most two
