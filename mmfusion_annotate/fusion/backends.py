"""Projection backends: reference (numpy), CUDA (the same xp code on CuPy), fast CPU (numba).

A backend turns (sweep points, capture times, pose track, camera jobs) into one ``Projection`` per
camera. The xp backend is the reference: it calls the rig's ``CameraModel.project`` and the xp
z-buffer and colour sampling, so running it with ``xp=cupy`` is the CUDA path and every line of it is
exercised by the CPU tests. The numba backend fuses the same steps into two kernels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, Protocol

import numpy as np

from mmfusion_annotate.fusion.compensation import PoseTrack, track_points
from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.fusion.sampling import sample_colors
from mmfusion_annotate.fusion.zbuffer import visible_mask
from mmfusion_annotate.xp import Backend, select_backend, to_numpy

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraJob:
    """One camera to project into: its model, pose of the reference frame at its exposure, image."""

    name: str
    model: Any  # mmfusion_annotate.rig.CameraModel
    cam_from_ref: np.ndarray  # (4, 4): p_cam = T @ p_ref
    image: np.ndarray | None  # (H, W, 3) uint8, None: no colours


@dataclass(frozen=True)
class Projection:
    """Per-camera result on the host, compact (M points in the image); see ``CameraView``."""

    index: np.ndarray  # (M,) int32, increasing indices into the sweep
    uv: np.ndarray  # (M, 2) float32
    depth: np.ndarray  # (M,) float32
    visible: np.ndarray  # (M,) bool
    colors: np.ndarray  # (M, 3) uint8


class ProjectionBackend(Protocol):
    """A way to project a sweep into cameras; ``name`` is recorded in the FusedFrame."""

    name: str

    def project(
        self,
        points: np.ndarray,
        base_from_sensor: np.ndarray,
        t_ns: np.ndarray,
        track: PoseTrack | None,
        jobs: Sequence[CameraJob],
        config: FusionConfig,
    ) -> tuple[np.ndarray, np.ndarray, list[Projection]]:
        """LiDAR-frame points (N,3) -> (base_link float32, reference frame float32, one Projection
        per job); the reference frame is base_link at the track's reference stamp."""
        ...


class XpBackend:
    """The reference implementation against an array module (numpy: reference, cupy: cuda)."""

    def __init__(self, xp: ModuleType, name: str) -> None:
        self.xp = xp
        self.name = name

    def project(
        self,
        points: np.ndarray,
        base_from_sensor: np.ndarray,
        t_ns: np.ndarray,
        track: PoseTrack | None,
        jobs: Sequence[CameraJob],
        config: FusionConfig,
    ) -> tuple[np.ndarray, np.ndarray, list[Projection]]:
        xp = self.xp
        pose = xp.asarray(base_from_sensor)
        base = xp.asarray(points, dtype=xp.float64) @ pose[:3, :3].T + pose[:3, 3]
        ref = base if track is None else track_points(base, xp.asarray(t_ns), track, xp)
        results = []
        for job in jobs:
            transform = xp.asarray(job.cam_from_ref)
            cam = ref @ transform[:3, :3].T + transform[:3, 3]
            uv, depth, valid = job.model.project(cam, xp)
            in_image = valid & (depth >= config.min_depth_m) & (depth <= config.max_depth_m)
            index = xp.flatnonzero(in_image)
            uv_in = uv[index]
            # what is stored is float32; visibility and colours are decided on the stored values
            uv32 = uv_in.astype(xp.float32)
            depth32 = depth[index].astype(xp.float32)
            visible = visible_mask(
                uv_in,
                depth32.astype(xp.float64),
                job.model.width,
                job.model.height,
                block=config.zbuffer_block_px,
                radius=config.zbuffer_neighbourhood,
                tol_abs=config.zbuffer_tolerance_m,
                tol_rel=config.zbuffer_tolerance_rel,
                xp=xp,
            )
            if job.image is None:
                colors = xp.zeros((len(index), 3), dtype=xp.uint8)
            else:
                colors = sample_colors(xp.asarray(job.image), uv32, visible, config.color_sampling, xp)
            results.append(
                Projection(
                    to_numpy(index.astype(xp.int32)),
                    to_numpy(uv32),
                    to_numpy(depth32),
                    to_numpy(visible),
                    to_numpy(colors),
                )
            )
        return to_numpy(base.astype(xp.float32)), to_numpy(ref.astype(xp.float32)), results


def numba_thread_limit() -> int:
    """Threads numba was started with (``NUMBA_NUM_THREADS``, default: the cores)."""
    import numba  # noqa: PLC0415

    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]  # read from the environment at import


def make_backend(name: Backend | Literal["reference"], *, threads: int | None = None) -> ProjectionBackend:
    """``auto``: CUDA when usable else the fast CPU path (logged); ``cpu``: numba; ``cuda``: CuPy.

    ``threads`` limits the fast CPU path's kernel threads (at most numba's ``NUMBA_NUM_THREADS``)."""
    if name == "reference":
        return XpBackend(np, "reference")
    resolved, xp = select_backend(name)  # raises BackendError for an unknown name or a missing GPU
    if resolved == "cuda":
        return XpBackend(xp, "cuda")
    from mmfusion_annotate.fusion.fast_cpu import NumbaBackend  # noqa: PLC0415 - slow import

    if name == "auto":
        _log.info("fusion backend: fast CPU (numba)")
    return NumbaBackend(None if threads is None else min(threads, numba_thread_limit()))
