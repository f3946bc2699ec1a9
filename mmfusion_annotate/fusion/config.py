"""FusionConfig: every knob of the fusion stage in one validated model.

Configuration is data: ROS parameters and CLI flags map onto this model, nothing else reads YAML.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FusionConfig(BaseModel):
    """How a LiDAR sweep is projected into the cameras of a rig."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when a device is usable, else the fast CPU path (logged)"
    )
    lidar: str | None = Field(None, description="LiDAR sensor whose sweep defines the frame; None: the first")
    motion_compensation: bool = Field(
        True, description="move every point from its capture time to each camera's exposure time"
    )
    max_depth_m: float = Field(120.0, gt=0, description="points farther than this from a camera are dropped")
    min_depth_m: float = Field(0.5, gt=0, description="points nearer than this to a camera are dropped")
    zbuffer_block_px: int = Field(4, ge=1, le=64, description="z-buffer cell size in pixels (square)")
    zbuffer_neighbourhood: int = Field(
        1, ge=0, le=4, description="a point is compared with the nearest depth of cells within this radius"
    )
    zbuffer_tolerance_m: float = Field(0.3, ge=0, description="absolute depth slack before a point is hidden")
    zbuffer_tolerance_rel: float = Field(
        0.05, ge=0, description="depth slack proportional to depth (sloped surfaces, ground)"
    )
    color_sampling: Literal["nearest", "bilinear"] = Field("bilinear", description="how a colour is read")
    clock_offsets_ns: dict[str, int] = Field(
        default_factory=dict,
        description="extra clock offset per sensor added to the rig's time_offset_ns (true = stamp + offset)",
    )
    kernel_threads: int = Field(
        2,
        ge=1,
        le=256,
        description="threads of the fast CPU path's two projection kernels, capped at numba's "
        "NUMBA_NUM_THREADS (the cores); their OpenMP team sleeps between frames (OMP_WAIT_POLICY=PASSIVE, "
        "set by the entry points), so a second core shortens the kernels' time per frame without "
        "spinning beside the other stages; 1: serial builds on the calling thread, no team at all",
    )
    cpu_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="threads of the OpenBLAS and OpenCV pools (process-wide, so applied by the entry "
        "points: the fusion node's process, mmfusion replay); 1 by default: the node's stages have "
        "threads of their own, and idle OpenBLAS workers spin beside them",
    )
    max_extrapolation_ns: int = Field(
        200_000_000, ge=0, description="how far ego motion may be extrapolated past the odometry/IMU history"
    )
