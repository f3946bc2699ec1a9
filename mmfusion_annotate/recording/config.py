"""``RecorderConfig``: what the recorder can be told, one pydantic model (ROS parameters map onto it)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class RecorderConfig(BaseModel):
    """Recorder settings; sizes in MB (10^6 bytes) and times in seconds, as people write them."""

    compression: Literal["none", "lz4", "zstd"] = Field(
        "none", description="MCAP chunk compression: none or lz4 on the car (zstd costs far more CPU)"
    )
    split_size_mb: float = Field(
        0.0, ge=0.0, le=1e6, description="start a new file after this size (0: never)"
    )
    split_duration_s: float = Field(
        0.0, ge=0.0, le=86400.0, description="start a new file after this much recorded time (0: never)"
    )
    queue_limit_mb: float = Field(
        512.0, ge=1.0, le=65536.0, description="messages waiting for the disk, in MB; beyond it they drop"
    )
    chunk_size_mb: float = Field(4.0, ge=0.01, le=256.0, description="MCAP chunk size before compression")
    flush_interval_s: float = Field(
        0.5, gt=0.0, le=1.0, description="close the open chunk at least this often (what a kill -9 loses)"
    )
    fsync_interval_s: float = Field(3.0, gt=0.0, le=60.0, description="force written data to disk this often")
    retry_interval_s: float = Field(2.0, gt=0.0, le=600.0, description="retry after a disk error this often")
    sensor_qos: Literal["sensor_data", "reliable"] = Field(
        "sensor_data",
        description="QoS of the rig's sensor subscriptions (must match the drivers' publishers)",
    )
    include: str = Field("", description="regex: also record matching topics (discovered while running)")
    exclude: str = Field("", description="regex: never record matching topics")
    discovery_period_s: float = Field(1.0, gt=0.0, le=60.0, description="how often to look for new topics")
    close_timeout_s: float = Field(5.0, gt=0.0, le=120.0, description="bound on a clean close at shutdown")

    @field_validator("include", "exclude")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a regular expression: {error}") from None
        return value

    def split_size_bytes(self) -> int | None:
        return int(self.split_size_mb * 1e6) or None

    def split_duration_ns(self) -> int | None:
        return int(round(self.split_duration_s * 1e9)) or None

    def excluded(self, topic: str) -> bool:
        """True when ``topic`` matches ``exclude`` (never recorded, even if the rig lists it)."""
        return bool(self.exclude) and re.search(self.exclude, topic) is not None

    def discovers(self, topic: str) -> bool:
        """True when a topic found while running should be recorded: matches ``include``, not ``exclude``."""
        return bool(self.include) and re.search(self.include, topic) is not None and not self.excluded(topic)
