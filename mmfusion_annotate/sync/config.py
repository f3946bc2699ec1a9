"""Configuration of the synchronizer: one ``SyncConfig`` for the stage, one ``InputSpec`` per input.

All durations are integer nanoseconds, like every stamp inside the core, so matching never depends on
float rounding. ``SyncConfig`` is flat (scalars only) so it maps onto ROS parameters one to one; the
inputs come from the rig file (topic, rate, optional flag, time offset).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mmfusion_annotate.errors import ConfigError

Policy = Literal["greedy", "optimal"]


class InputSpec(BaseModel):
    """One synchronizer input (a topic or a sensor)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Name used in stats, warnings and the drop callback (topic or sensor)")
    optional: bool = Field(False, description="An optional input may go silent without stalling sets")
    period_ns: int | None = Field(None, gt=0, description="Expected period (1/rate); None = unknown")
    deadline_ns: int | None = Field(
        None, gt=0, description="Silence after which an optional input is left out of sets"
    )
    offset_ns: int = Field(0, description="Constant offset subtracted from this input's stamps")
    lower_bound_ns: int | None = Field(
        None, ge=0, description="Smallest gap between two messages (optimal policy); None = from period"
    )


class SyncConfig(BaseModel):
    """Parameters of the sync stage (both policies)."""

    model_config = ConfigDict(extra="forbid")

    policy: Policy = Field("optimal", description="greedy (message_filters Python) or optimal (C++ policy)")
    queue_size: int = Field(10, ge=1, le=10_000, description="Messages kept per input")
    slop_ns: int = Field(50_000_000, ge=0, description="greedy: a set's span must stay below this")
    max_interval_ns: int | None = Field(None, ge=0, description="optimal: largest span of a set")
    age_penalty: float = Field(0.1, ge=0.0, le=100.0, description="optimal: preference for older sets")
    max_latency_ns: int | None = Field(
        None, gt=0, description="optimal: publish the best candidate when unproven for this long"
    )
    rate_tolerance: float = Field(
        0.25, ge=0.0, lt=1.0, description="Fraction of the period a gap may be shorter before it is wrong"
    )
    deadline_periods: float = Field(
        3.0, gt=0.0, le=1000.0, description="Default optional-input deadline, in expected periods"
    )
    time_jump_ns: int | None = Field(
        1_000_000_000,
        gt=0,
        description="A stamp (or clock) this far behind its input's last one resets the sync; None = never",
    )
    reference: str | None = Field(None, description="Input whose stamp is a set's reference (default first)")


def lower_bound_ns(spec: InputSpec, config: SyncConfig) -> int:
    """Inter-message lower bound: explicit, else the expected period shrunk by the rate tolerance."""
    if spec.lower_bound_ns is not None:
        return spec.lower_bound_ns
    if spec.period_ns is None:
        return 0
    return shrunk_period_ns(spec.period_ns, config.rate_tolerance)


def shrunk_period_ns(period_ns: int, rate_tolerance: float) -> int:
    """The shortest gap expected between two messages of an input at ``period_ns`` with that tolerance."""
    return int(period_ns * (1.0 - rate_tolerance))


def deadline_ns(spec: InputSpec, config: SyncConfig, index: int) -> int | None:
    """Silence allowed to an optional input before sets go out without it (None for required inputs)."""
    if not spec.optional:
        return None
    if spec.deadline_ns is not None:
        return spec.deadline_ns
    if spec.period_ns is None:
        raise ConfigError(
            f"optional input '{spec.name}' needs deadline_ns or period_ns", key=f"inputs[{index}].deadline_ns"
        )
    return int(spec.period_ns * config.deadline_periods)
