import math

import numpy as np

from mmfusion_annotate.prelabel.config import FitConfig
from mmfusion_annotate.prelabel.fit import fit_lshape


def _rear_view(seed: int, yaw: float, rings: int = 8, width: float = 1.9) -> np.ndarray:
    """BEV returns of a car seen from behind (PandaSet shows this shape): its rear face bulges, so each
    ring hits it at another depth; its corners are short faces at about 40 degrees that every ring hits
    at the same place, a dense straight line."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(rings):
        v = np.arange(-0.6, 0.6, 0.05)
        parts.append(np.c_[-0.15 * (v / 0.6) ** 2 + rng.uniform(0.0, 0.15), v])
        t = np.arange(0.0, 0.4, 0.05)
        for sign in (-1.0, 1.0):
            parts.append(np.c_[-0.15 + t, sign * (0.6 + t * (width / 2 - 0.6) / 0.4)])
    xy = np.concatenate(parts)
    xy = xy + rng.normal(0.0, 0.01, xy.shape)
    c, s = math.cos(yaw), math.sin(yaw)
    return xy @ np.array([[c, s], [-s, c]]) + (-15.0, 2.0)


def test_a_car_seen_from_behind_keeps_its_heading_not_its_corners():
    fit = FitConfig()
    yaw = 0.1
    for seed in range(5):
        box = fit_lshape(_rear_view(seed, yaw), fit.angle_step_deg, fit.max_fit_points, fit.min_size_m)
        error = (box.yaw - yaw + math.pi / 4) % (math.pi / 2) - math.pi / 4  # the rectangle's axes
        assert abs(error) < math.radians(5), (seed, math.degrees(error))

