"""Cross-modal disagreement from the bias the camera's images put on the projected cuboids.

A camera rotated by a small error shifts every projected cuboid in its image by about the same pixels b;
a camera whose clock is off by dt shows each object where it was dt earlier or later, a shift of
dt x u_i (u_i the box's image velocity). Only still objects count (``max_speed_mps``): their image
velocity is the ego's motion alone, while a moving object's cuboid lags by its track's velocity error
and the sweep's capture time, a shift along its motion that a clock error would make too. One box's offset r_i
(where the image's edges put it, ``prelabel.evidence.ImageEvidence.locate``) says little: its cuboid may
be a little off. Over a window the offsets of many boxes give b and dt well: r_i = b + dt x u_i is
fitted per camera by ``scipy.optimize.least_squares`` with a soft-L1 loss - robust to the boxes whose
edge search caught another object's edge, and its residuals at the solution give the fit's weights, from
which the delete-one-track jackknife (the standard errors the significance test needs) is a few 3x3
solves (sklearn's HuberRegressor gives no standard errors; RANSAC's random draws would make replay differ
from live unless seeded, and it throws away the inliers' weights).

The window is a fixed-size ring buffer per camera (``max_pairs`` newest boxes within ``window_s``); the
fit runs every ``fit_every_s`` of stream time per camera (a fit costs milliseconds, a camera sends ten
frames a second) and starts from the camera's previous solution: the same observations in the same order
always give the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from mmfusion_annotate.events.config import BoxBiasRule, EventRules
from mmfusion_annotate.events.episodes import Episode, identity
from mmfusion_annotate.events.model import BoxOffsets, Category, Event
from mmfusion_annotate.types import Stamp, seconds_to_ns

MAD_TO_SIGMA = 1.4826
"""Median absolute deviation to the standard deviation of a normal distribution."""
_SCALES = np.array([1.0, 1.0, 0.01])
"""Typical sizes of b (px) and dt (s): the solver's steps in comparable units."""


@dataclass(frozen=True)
class BiasFit:
    """b (px, image x and y), dt (s) and their standard errors; ``scale_px`` the residuals' robust spread;
    ``pairs`` boxes of ``objects`` tracks."""

    bias_px: tuple[float, float]
    offset_s: float
    sigma_bias_px: tuple[float, float]
    sigma_offset_s: float
    scale_px: float
    pairs: int
    objects: int


def fit_bias(offsets: np.ndarray, velocities: np.ndarray, objects: np.ndarray, loss_scale_px: float,
             start: np.ndarray | None = None) -> BiasFit:
    """Fit r_i = b + dt x u_i to box offsets (N, 2, px) and image velocities (N, 2, px/s) of the boxes of
    ``objects`` (N track ids).

    The standard errors are the delete-one-track jackknife's (``_jackknife_sigma``); a parameter the data
    cannot tell has an infinite one.
    """
    n = len(offsets)
    r = offsets.T.reshape(-1)  # x residuals then y residuals
    jac = np.zeros((2 * n, 3))
    jac[:n, 0] = jac[n:, 1] = -1.0
    jac[:n, 2], jac[n:, 2] = -velocities[:, 0], -velocities[:, 1]

    def residuals(p: np.ndarray) -> np.ndarray:
        return r + jac @ p

    def jacobian(_: np.ndarray) -> np.ndarray:
        return jac  # the model is linear in (b, dt)

    solution = least_squares(residuals, np.zeros(3) if start is None else start, jac=jacobian,
                             loss="soft_l1", f_scale=loss_scale_px, x_scale=_SCALES)
    sigma = _jackknife_sigma(jac, solution.fun, objects, loss_scale_px)
    spread = MAD_TO_SIGMA * float(np.median(np.abs(solution.fun)))
    bx, by, dt = (float(v) for v in solution.x)
    return BiasFit((bx, by), dt, (float(sigma[0]), float(sigma[1])), float(sigma[2]), spread, n,
                   len(np.unique(objects)))


def _jackknife_sigma(jac: np.ndarray, fun: np.ndarray, objects: np.ndarray, loss_scale_px: float
                     ) -> np.ndarray:
    """Standard errors of (bx, by, dt) by the delete-one-track jackknife (CV3 in MacKinnon, Nielsen & Webb,
    "Cluster-robust inference: A guide to empirical practice", J. Econometrics 2023), on the weighted least
    squares the soft-L1 fit converged to: each refit leaves one track's boxes out in closed form (3x3).

    One track's boxes share its cuboid's error, so they are one witness; and where dt rests on the one fast
    track, leaving it out moves dt far, which the sandwich form (the residuals at the solution, which the
    fit passes through) does not see. Infinite when a refit cannot tell a parameter (one track held all the
    image motion) or fewer than two tracks are in the window."""
    weights = 1.0 / np.sqrt(1.0 + (fun / loss_scale_px) ** 2)  # soft L1: rho'(z^2) = (1 + z^2)^-1/2
    _, cluster = np.unique(np.concatenate([objects, objects]), return_inverse=True)
    groups = int(cluster.max()) + 1 if len(cluster) else 0
    if groups < 2:
        return np.full(3, np.inf)
    wj = jac * weights[:, None]
    parts_a = np.zeros((groups, 3, 3))  # each track's share of J^T W J ...
    np.add.at(parts_a, cluster, wj[:, :, None] * jac[:, None, :])
    parts_g = np.zeros((groups, 3))  # ... and of the gradient J^T W f (their sum is ~0 at the solution)
    np.add.at(parts_g, cluster, wj * fun[:, None])
    left = parts_a.sum(axis=0)[None] - parts_a
    if np.any(np.linalg.cond(left) > 1e12):
        return np.full(3, np.inf)
    # the refit without track g moves from the solution by d: (A - A_g) d = -(gradient - g_g)
    steps = np.linalg.solve(left, (parts_g - parts_g.sum(axis=0))[:, :, None])[:, :, 0]
    return np.sqrt((groups - 1) / groups * (steps**2).sum(axis=0))


class _Window:
    """The newest ``capacity`` boxes of one camera: stamps and (track, rx, ry, ux, uy) rows, preallocated."""

    def __init__(self, capacity: int) -> None:
        self.stamps = np.zeros(capacity, dtype=np.int64)
        self.rows = np.zeros((capacity, 5))
        self.size = 0
        self.head = 0  # next row written

    def add(self, stamp: Stamp, rows: np.ndarray) -> None:
        capacity = len(self.stamps)
        rows = rows[-capacity:]
        at = (self.head + np.arange(len(rows))) % capacity
        self.stamps[at] = stamp
        self.rows[at] = rows
        self.head = int((self.head + len(rows)) % capacity)
        self.size = min(capacity, self.size + len(rows))

    def since(self, first: Stamp) -> np.ndarray:
        """The kept rows stamped after ``first``, oldest first."""
        order = (self.head - self.size + np.arange(self.size)) % len(self.stamps)
        return self.rows[order[self.stamps[order] > first]]


class BoxBias:
    """The ``cross_modal_disagreement`` events of the box-bias fit (``DisagreementRule.bias``), per camera."""

    def __init__(self, rules: EventRules) -> None:
        parent = rules.disagreement
        self.rule: BoxBiasRule = parent.bias
        self._identity = identity("cross_modal_disagreement", Category.SENSOR_HEALTH,
                                  rules.version_of("disagreement"), parent.min_duration_s, parent.merge_gap_s,
                                  lower_is_worse=False, severity=lambda _: parent.severity,
                                  max_duration_s=parent.max_duration_s)
        self._episodes: dict[str, Episode] = {}
        self._windows: dict[str, _Window] = {}
        self._starts: dict[str, np.ndarray] = {}
        self._fitted: dict[str, Stamp] = {}
        self._span = seconds_to_ns(self.rule.window_s)
        self._every = seconds_to_ns(self.rule.fit_every_s)

    def on_offsets(self, frame: BoxOffsets) -> list[Event]:
        if not self.rule.enabled:
            return []
        camera = frame.camera
        if camera not in self._windows:
            self._windows[camera] = _Window(self.rule.max_pairs)
            self._episodes[camera] = Episode(self._identity, f"bias:{camera}", sensor=camera)
        window = self._windows[camera]
        boxes = np.asarray(frame.boxes, dtype=np.float64).reshape(-1, 6)
        still = boxes[boxes[:, 1] <= self.rule.max_speed_mps]
        if len(still):
            window.add(frame.stamp, still[:, [0, 2, 3, 4, 5]])
        if frame.stamp - self._fitted.get(camera, frame.stamp - self._every) < self._every:
            return []
        self._fitted[camera] = frame.stamp
        rows = window.since(frame.stamp - self._span)
        if len(rows) < self.rule.min_pairs or len(np.unique(rows[:, 0])) < self.rule.min_objects:
            event = self._episodes[camera].step(frame.stamp, False, False)
            return [event] if event is not None else []
        fit = fit_bias(rows[:, 1:3], rows[:, 3:], rows[:, 0], self.rule.loss_scale_px,
                       self._starts.get(camera))
        self._starts[camera] = np.array([*fit.bias_px, fit.offset_s])
        enter, value, evidence = self._judge(fit, frame.focal_px, 1.0)
        hold = enter or self._judge(fit, frame.focal_px, self.rule.release)[0]
        event = self._episodes[camera].step(frame.stamp, enter, hold, value, evidence)
        return [event] if event is not None else []

    def _judge(self, fit: BiasFit, focal_px: tuple[float, float], share: float
               ) -> tuple[bool, float, dict[str, float]]:
        """Whether b across the image or dt passes ``share`` of both its thresholds; how far past its floor
        (the peak value: the larger estimate over its physical floor) and the evidence.

        The vertical bias is fitted (it would otherwise leak into dt) but not judged: a cuboid's height
        comes from the ground estimate and the class's size prior, which put its box a few pixels lower or
        higher on real drives whatever the camera does; its width comes from the points themselves."""
        rule = self.rule
        degrees = [math.degrees(math.atan2(b, f)) for b, f in zip(fit.bias_px, focal_px, strict=True)]
        across = (abs(degrees[0]) >= share * rule.min_bias_deg
                  and abs(fit.bias_px[0]) >= share * rule.sigmas * fit.sigma_bias_px[0])
        offset_ms = fit.offset_s * 1e3
        sync = (abs(offset_ms) >= share * rule.min_offset_ms
                and abs(fit.offset_s) >= share * rule.sigmas * fit.sigma_offset_s)
        value = max(abs(degrees[0]) / rule.min_bias_deg, abs(offset_ms) / rule.min_offset_ms)
        evidence = {
            "bias_x_px": fit.bias_px[0], "bias_y_px": fit.bias_px[1],
            "bias_x_deg": degrees[0], "bias_y_deg": degrees[1],
            "sigma_bias_x_px": fit.sigma_bias_px[0], "sigma_bias_y_px": fit.sigma_bias_px[1],
            "offset_ms": offset_ms, "sigma_offset_ms": fit.sigma_offset_s * 1e3,
            "pairs": float(fit.pairs), "objects": float(fit.objects), "residual_scale_px": fit.scale_px,
            "min_bias_deg": rule.min_bias_deg, "min_offset_ms": rule.min_offset_ms, "sigmas": rule.sigmas,
        }
        return across or sync, value, {k: v for k, v in evidence.items() if math.isfinite(v)}

    def flush(self) -> list[Event]:
        return [e for key in sorted(self._episodes) if (e := self._episodes[key].flush()) is not None]
