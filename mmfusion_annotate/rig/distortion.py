"""Lens distortion functions of sensor_msgs/CameraInfo, written once against ``xp`` (numpy or cupy).

Coordinates are *normalized* image coordinates (x = X/Z, y = Y/Z for the pinhole models; for the
equidistant fisheye the incidence angle). Coefficients are passed as Python floats so no parameter
array has to live on the device.

Models (the same formulas as OpenCV, which ROS image_geometry uses):
- ``plumb_bob`` (k1, k2, p1, p2, k3) and ``rational_polynomial`` (k1, k2, p1, p2, k3, k4, k5, k6):
  radial factor (1 + k1 r² + k2 r⁴ + k3 r⁶) / (1 + k4 r² + k5 r⁴ + k6 r⁶) plus tangential p1, p2.
- ``equidistant`` (k1, k2, k3, k4): θd = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸), OpenCV's fisheye model.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

DISTORTION_MODELS = ("plumb_bob", "rational_polynomial", "equidistant")
COEFFICIENT_COUNT = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4}

_NEWTON_STEPS = 20


def padded_rational(D: Sequence[float]) -> tuple[float, ...]:
    """plumb_bob / rational coefficients as the 8 rational ones (missing trailing terms are zero)."""
    return tuple(float(c) for c in D) + (0.0,) * (8 - len(D))


def _radial(r2: Any, c: tuple[float, ...]) -> Any:
    """Radial factor g(r²); the rational denominator is skipped when k4 = k5 = k6 = 0 (plumb_bob)."""
    k1, k2, _, _, k3, k4, k5, k6 = c
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    if k4 == k5 == k6 == 0.0:
        return num
    return num / (1.0 + r2 * (k4 + r2 * (k5 + r2 * k6)))


def _radial_with_derivative(r2: Any, c: tuple[float, ...]) -> tuple[Any, Any]:
    """g(r²) and dg/d(r²), for Newton steps."""
    k1, k2, _, _, k3, k4, k5, k6 = c
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    dnum = k1 + r2 * (2.0 * k2 + r2 * 3.0 * k3)
    dden = k4 + r2 * (2.0 * k5 + r2 * 3.0 * k6)
    return num / den, (dnum * den - num * dden) / (den * den)


def distort_pinhole(x: Any, y: Any, D: Sequence[float]) -> tuple[Any, Any]:
    """plumb_bob / rational_polynomial: undistorted normalized (x, y) to distorted normalized."""
    c = padded_rational(D)
    p1, p2 = c[2], c[3]
    r2 = x * x + y * y
    g = _radial(r2, c)
    if p1 == p2 == 0.0:
        return x * g, y * g
    xy = x * y
    return x * g + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x), y * g + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy


def undistort_pinhole(xd: Any, yd: Any, D: Sequence[float], r_max: float, xp: ModuleType) -> tuple[Any, Any]:
    """Invert :func:`distort_pinhole` by Newton's method with the analytic 2x2 Jacobian.

    Newton converges quadratically inside the monotonic region (OpenCV's fixed-point iteration needs
    many more steps under strong distortion); the radius is kept below ``r_max`` so an iterate never
    jumps to the folded-back branch of the polynomial.
    """
    c = padded_rational(D)
    p1, p2 = c[2], c[3]
    x, y = xd, yd
    for _ in range(_NEWTON_STEPS):
        r2 = x * x + y * y
        g, dg = _radial_with_derivative(r2, c)
        xy = x * y
        ex = x * g + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x) - xd
        ey = y * g + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy - yd
        jxx = g + 2.0 * x * x * dg + 2.0 * p1 * y + 6.0 * p2 * x
        jyy = g + 2.0 * y * y * dg + 6.0 * p1 * y + 2.0 * p2 * x
        jxy = 2.0 * xy * dg + 2.0 * p1 * x + 2.0 * p2 * y
        det = jxx * jyy - jxy * jxy
        det = xp.where(xp.abs(det) > 1e-12, det, 1e-12)
        x = x - (jyy * ex - jxy * ey) / det
        y = y - (jxx * ey - jxy * ex) / det
        r = xp.sqrt(x * x + y * y)
        shrink = xp.where(r > r_max, r_max / xp.where(r > 0, r, 1.0), 1.0)
        x, y = x * shrink, y * shrink
    return x, y


def distort_equidistant(theta: Any, D: Sequence[float]) -> Any:
    """Equidistant fisheye: incidence angle θ to distorted angle θd."""
    k1, k2, k3, k4 = (float(c) for c in D)
    t2 = theta * theta
    return theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))


def undistort_equidistant(theta_d: Any, D: Sequence[float], theta_max: float, xp: ModuleType) -> Any:
    """Invert :func:`distort_equidistant` by Newton's method, keeping θ in [0, theta_max]."""
    k1, k2, k3, k4 = (float(c) for c in D)
    theta = theta_d
    for _ in range(_NEWTON_STEPS):
        t2 = theta * theta
        f = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))) - theta_d
        df = 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)))
        df = xp.where(xp.abs(df) > 1e-12, df, 1e-12)
        theta = xp.clip(theta - f / df, 0.0, theta_max)
    return theta


def max_incidence_angle(model: str, D: Sequence[float], samples: int = 20000) -> float:
    """Largest incidence angle (rad) up to which the radial distortion is strictly increasing.

    Beyond that angle a polynomial lens model folds points back towards the image centre, so
    projecting them would paint far-off-axis points into the image. Pinhole models are capped just
    below 90° (z > 0); the equidistant model is evaluated up to 180°.
    """
    limit = np.pi / 2 if model != "equidistant" else np.pi
    theta = np.linspace(0.0, limit, samples + 1)[1:-1]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if model == "equidistant":
            rd = distort_equidistant(theta, D)
        else:
            r = np.tan(theta)
            g = _radial(r * r, padded_rational(D))
            rd = r * g
    ok = np.isfinite(rd) & (rd > 0)
    rising = ok[1:] & ok[:-1] & (np.diff(rd) > 0)
    bad = np.flatnonzero(~rising)
    if bad.size == 0:
        return float(limit)
    return float(theta[bad[0]])
