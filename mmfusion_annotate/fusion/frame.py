"""FusedFrame: one LiDAR sweep with everything the synchronizer matched to it, projected.

Everything downstream (pre-labels, events, the recorder's annotations) works on this unit. Arrays are
host numpy arrays, read-only; per-camera arrays are full length (one entry per sweep point) so a
point index means the same point in every camera.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmfusion_annotate.fusion.coloring import nearest_colors
from mmfusion_annotate.fusion.compensation import PoseTrack
from mmfusion_annotate.types import Stamp


def _frozen(*arrays: np.ndarray | None) -> None:
    for array in arrays:
        if array is not None:
            array.setflags(write=False)


@dataclass(frozen=True)
class Sweep:
    """The LiDAR sweep in base_link; ``t_ns`` are absolute per-point capture times (clock-corrected).

    ``xyz`` is where each point was in base_link at its own capture time; ``xyz_deskewed`` is the same
    point in base_link at ``stamp`` (equal to ``xyz`` when motion compensation is off).
    """

    lidar: str
    stamp: Stamp
    xyz: np.ndarray  # (N, 3) float32
    xyz_deskewed: np.ndarray  # (N, 3) float32
    intensity: np.ndarray  # (N,) float32
    ring: np.ndarray  # (N,) uint16
    t_ns: np.ndarray  # (N,) int64

    def __post_init__(self) -> None:
        _frozen(self.xyz, self.xyz_deskewed, self.intensity, self.ring, self.t_ns)

    def __len__(self) -> int:
        return len(self.xyz)


@dataclass(frozen=True)
class CameraView:
    """Where the sweep points land in one camera at that camera's exposure time.

    Compact: only the M points ``in`` the image (in front, inside the lens' valid field of view, inside
    the image, within the depth range) are listed, by ``index`` into the sweep (increasing); a point
    not listed is not projected. ``visible`` excludes points hidden behind a nearer surface (z-buffer);
    ``colors`` is the image colour at visible points, 0 elsewhere. Full-length masks: ``mask()``.
    """

    name: str
    image: np.ndarray | None  # (H, W, 3) uint8 RGB
    exposure_stamp: Stamp  # clock-corrected
    width: int
    height: int
    n_points: int  # N, the sweep size
    index: np.ndarray  # (M,) int32
    uv: np.ndarray  # (M, 2) float32 pixels (OpenCV convention: pixel centres at integers)
    depth: np.ndarray  # (M,) float32 camera z in metres
    visible: np.ndarray  # (M,) bool
    colors: np.ndarray  # (M, 3) uint8

    def __post_init__(self) -> None:
        _frozen(self.image, self.index, self.uv, self.depth, self.visible, self.colors)

    @property
    def visible_index(self) -> np.ndarray:
        """Sweep indices of the visible points."""
        return self.index[self.visible]

    def hits_of(self, points: np.ndarray) -> np.ndarray:
        """Position of each sweep index in ``points`` among this view's hits, -1 where it is not in the image.

        A binary search in the increasing ``index``: a few objects' points cost their own size, where a
        full-length lookup table would cost the sweep's (260k points) for every camera of every frame.
        """
        points = np.asarray(points)
        if len(self.index) == 0:
            return np.full(len(points), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.index, points), len(self.index) - 1)
        return np.where(self.index[pos] == points, pos, -1)

    def mask(self, visible_only: bool = True) -> np.ndarray:
        """(N,) bool over the sweep: visible points (or all points in the image)."""
        mask = np.zeros(self.n_points, dtype=bool)
        mask[self.visible_index if visible_only else self.index] = True
        return mask

    def sparse_depth(self) -> np.ndarray:
        """(H, W) float32 depth image of the visible points (nearest wins), 0 where no point lands.

        Computed on demand: a dense 1600x900 image per camera would dominate the frame's memory.
        """
        image = np.full(self.height * self.width, np.inf, dtype=np.float32)
        # float32 rounding can put a hit just inside the border at u == width (v == height)
        row = np.minimum(np.floor(self.uv[self.visible, 1]), self.height - 1).astype(np.int64)
        col = np.minimum(np.floor(self.uv[self.visible, 0]), self.width - 1).astype(np.int64)
        np.minimum.at(image, row * self.width + col, self.depth[self.visible])
        image[np.isinf(image)] = 0.0
        return image.reshape(self.height, self.width)


@dataclass(frozen=True)
class ProjectedDetections:
    """Radar detections in one camera (no occlusion test: a radar return is not on a sampled surface)."""

    uv: np.ndarray  # (M, 2) float32, NaN where not in_image
    depth: np.ndarray  # (M,) float32
    in_image: np.ndarray  # (M,) bool

    def __post_init__(self) -> None:
        _frozen(self.uv, self.depth, self.in_image)


@dataclass(frozen=True)
class RadarView:
    """One radar scan: its decoded detections, positions in base_link, and projection into each camera."""

    name: str
    stamp: Stamp  # clock-corrected
    detections: Mapping[str, np.ndarray]  # the decoded payload (range, azimuth, range_rate, rcs...)
    xyz: np.ndarray  # (M, 3) float32 in base_link at ``stamp``
    cameras: Mapping[str, ProjectedDetections]

    def __post_init__(self) -> None:
        _frozen(self.xyz)


@dataclass(frozen=True)
class FrameEgo:
    """Ego motion around the sweep: pose at the sweep stamp, body twist, and the track used to deskew."""

    stamp: Stamp
    pose: np.ndarray  # (4, 4) T_world_base at ``stamp``
    linear_velocity: np.ndarray  # (3,) m/s in base_link
    angular_velocity: np.ndarray  # (3,) rad/s in base_link
    track: PoseTrack  # T_ref_base over the sweep and the camera exposures, ref = pose at ``stamp``


@dataclass(frozen=True)
class FusedFrame:
    """The unit of work after synchronization (see the module docstring)."""

    stamp: Stamp
    sweep: Sweep
    cameras: Mapping[str, CameraView]
    radars: Mapping[str, RadarView]
    ego: FrameEgo | None  # None when no ego motion was available (no compensation then)
    rig: Any  # mmfusion_annotate.rig.Rig: the calibration used
    backend: str  # which projection backend produced the camera views

    def colored_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices, RGB uint8) of points visible in any camera; the nearest camera gives the colour."""
        return nearest_colors(len(self.sweep), list(self.cameras.values()))
