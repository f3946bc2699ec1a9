"""Fused frames: LiDAR and radar projected into every camera, motion-compensated.

``FusionPipeline(rig, FusionConfig()).fuse(samples, ego)`` returns a ``FusedFrame``; ``EgoMotion``
turns odometry / IMU samples into poses at any instant; backends: reference (numpy), fast CPU (numba),
CUDA (the reference code on CuPy), chosen by ``FusionConfig.backend``.
"""

from mmfusion_annotate.fusion.backends import (
    CameraJob,
    Projection,
    ProjectionBackend,
    XpBackend,
    make_backend,
)
from mmfusion_annotate.fusion.compensation import PoseTrack, track_points
from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.fusion.ego import EgoMotion, EgoMotionSource, sampled_track
from mmfusion_annotate.fusion.frame import (
    CameraView,
    FrameEgo,
    FusedFrame,
    ProjectedDetections,
    RadarView,
    Sweep,
)
from mmfusion_annotate.fusion.pipeline import FusionPipeline

__all__ = [
    "CameraJob",
    "CameraView",
    "EgoMotion",
    "EgoMotionSource",
    "FrameEgo",
    "FusedFrame",
    "FusionConfig",
    "FusionPipeline",
    "PoseTrack",
    "ProjectedDetections",
    "Projection",
    "ProjectionBackend",
    "RadarView",
    "Sweep",
    "XpBackend",
    "make_backend",
    "sampled_track",
    "track_points",
]
