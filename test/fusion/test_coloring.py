"""The nearest camera colours each point, whatever the number of cameras, overlaps and ties."""

from types import SimpleNamespace

import numpy as np
import pytest

from mmfusion_annotate.fusion.coloring import nearest_colors


def _view(rng, n_points, hits):
    index = rng.choice(n_points, hits, replace=False).astype(np.int32)  # a point projects once per camera
    depth = rng.choice(np.array([5.0, 10.0, 20.0], np.float32), hits)  # few values: ties across cameras
    return SimpleNamespace(index=index, depth=depth, visible=rng.random(hits) < 0.7,
                           colors=rng.integers(0, 256, (hits, 3), dtype=np.uint8))


def _reference(n_points, views):
    """The rule, camera by camera: a strictly nearer visible hit takes the point."""
    best = np.full(n_points, np.inf)
    colours = np.zeros((n_points, 3), np.uint8)
    for view in views:
        for i, d, seen, c in zip(view.index, view.depth, view.visible, view.colors, strict=True):
            if seen and d < best[i]:
                best[i], colours[i] = d, c
    points = np.flatnonzero(np.isfinite(best))
    return points, colours[points]


@pytest.mark.parametrize("cameras", [1, 2, 6])
def test_nearest_colors_follow_the_nearest_visible_hit_first_camera_on_a_tie(cameras):
    rng = np.random.default_rng(cameras)
    n_points = 400
    views = [_view(rng, n_points, 300) for _ in range(cameras)]
    points, colours = nearest_colors(n_points, views)
    expected_points, expected_colours = _reference(n_points, views)
    np.testing.assert_array_equal(points, expected_points)
    np.testing.assert_array_equal(colours, expected_colours)


def test_no_camera_colours_nothing():
    points, colours = nearest_colors(10, [])
    assert points.shape == (0,) and colours.shape == (0, 3)
