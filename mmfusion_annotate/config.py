"""The one place where the stage configurations are assembled into the pipeline's configuration.

Each stage owns its pydantic model (``SyncConfig``, ``FusionConfig``, ``PrelabelConfig``, the event rule
file); ``PipelineConfig`` groups them with the few choices that span stages. ROS parameters and CLI
flags map onto this model; nothing else reads YAML on its own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.sync.config import SyncConfig
from mmfusion_annotate.textfile import parse_yaml, read_text_file, validate_model


class PipelineConfig(BaseModel):
    """sync -> fusion -> prelabel -> events, as one validated model."""

    model_config = ConfigDict(extra="forbid")

    sync: SyncConfig = Field(default_factory=SyncConfig)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    prelabel: PrelabelConfig = Field(default_factory=PrelabelConfig)
    rules_file: str | None = Field(None, description="event rule file; None: the shipped defaults")
    cameras_required: bool = Field(
        False,
        description="False: a silent camera is left out of sets after its deadline (no stall)",
    )
    sync_slack_periods: float = Field(
        1.0, gt=0, le=5, description="optimal policy: largest set span, in LiDAR periods"
    )
    time_jump_ns: int = Field(
        1_000_000_000, gt=0,
        description="a stamp this far ahead of the stream clock (newest accepted stamp), or this + "
        "ego_wait_ns behind it, is held and, unless another input confirms the jump, rejected "
        "(sync.stamp_gate); a confirmed jump back restarts the pipeline (looped bag, new sim)",
    )  # fmt: skip
    ego_wait_ns: int = Field(
        1_500_000_000,
        ge=0,
        description="longest wait (stream time) for odometry covering a set before fusing; reliable DDS "
        "topics stall for up to a second when a sample is repaired, and a frame fused without its ego "
        "motion is lost, while in normal flow the odometry is there and nothing waits",
    )
    alignment_every: int = Field(
        10, ge=1, le=1000,
        description="run the LiDAR-image edge checks (sync/calibration drift) on every N-th image of each "
        "camera; lower values find drift sooner and cost more CPU per fused frame",
    )  # fmt: skip
    alignment_cameras: list[str] | None = Field(
        None, description="cameras the edge checks look at (None: every camera of the rig)"
    )
    background_checks: bool = Field(
        True,
        description="run the edge checks and the camera detector on helper threads beside the "
        "frame path (identical results, taken at fixed points of the stream); False: inline",
    )
    decode_threads: int = Field(
        2, ge=1, le=16,
        description="threads that decode a set's compressed camera images side by side before it is fused "
        "(the pipeline thread and decode_threads - 1 helpers; identical results); 1: the pipeline thread "
        "alone",
    )  # fmt: skip


def load_pipeline_config(path: str | Path | None) -> PipelineConfig:
    """Read a pipeline YAML (stage sections ``sync``, ``fusion``, ``prelabel``...); defaults when None."""
    if path is None:
        return PipelineConfig()
    data = parse_yaml(read_text_file(path, "pipeline config"), str(path)) or {}
    return validate_model(PipelineConfig, data, str(path))
