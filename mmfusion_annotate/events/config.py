"""EventRules: the rule file model (every threshold of the event tagger, with its default).

The defaults are defined here, once; the shipped ``default_rules.yaml`` (and its copy in ``config/``)
writes every one of them out with where it comes from, for users to copy and edit, and
``test/events/test_config.py`` fails when a file's raw values and ``EventRules().model_dump()`` differ.
The model also states ranges and consistency (tiers ordered, release thresholds looser than entry
thresholds) so a wrong file fails with one line naming the file and the key. ``version_of(rule)`` is a
short hash of one rule's parameters: it goes into every event so a changed threshold is visible in the
recording.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.events.model import Severity
from mmfusion_annotate.textfile import parse_yaml, read_text_file, validate_model

RULES_PACKAGE = "mmfusion_annotate.events"
DEFAULT_RULES_FILE = "default_rules.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Model):
    """A severity reached when the signal goes beyond ``at`` (below for decelerations/TTC, else above)."""

    at: float
    severity: Severity


class EpisodeRule(_Model):
    """Hysteresis and merging shared by every rule: one situation gives one event.

    An episode starts when the entry condition holds, is confirmed once it held continuously for
    ``min_duration_s``, continues while the looser ``release`` condition holds, and closes after it has
    been false for ``merge_gap_s`` (a new confirmation inside the gap extends the same event).
    """

    enabled: bool = True
    min_duration_s: float = Field(0.0, ge=0)
    merge_gap_s: float = Field(1.0, ge=0)


class TieredRule(EpisodeRule):
    """A scalar signal against severity tiers; ``direction`` says which way is worse."""

    direction: Literal["below", "above"]
    tiers: tuple[Tier, ...] = Field(min_length=1)
    release: float

    @model_validator(mode="after")
    def _ordered(self) -> TieredRule:
        sign = -1.0 if self.direction == "below" else 1.0
        values = [sign * t.at for t in self.tiers]
        if values != sorted(values):
            raise ValueError("tiers must go from the mildest to the most extreme threshold")
        if sign * self.release > values[0]:
            raise ValueError("release must be milder than (or equal to) the first tier")
        return self

    @property
    def enter(self) -> float:
        return self.tiers[0].at

    def beyond(self, value: float, threshold: float) -> bool:
        return value <= threshold if self.direction == "below" else value >= threshold

    def severity(self, peak: float) -> Severity:
        """The most extreme tier the peak value reached."""
        reached = [t.severity for t in self.tiers if self.beyond(peak, t.at)]
        return reached[-1] if reached else self.tiers[0].severity


class EgoGeometry(_Model):
    """Ego footprint relative to ``base_link`` and the assumed lane (for in-path tests)."""

    front_m: float = Field(3.6, gt=0, description="base_link origin to the front bumper")
    rear_m: float = Field(0.9, ge=0, description="base_link origin to the rear bumper")
    half_width_m: float = Field(0.95, gt=0)
    lane_half_width_m: float = Field(1.75, gt=0)
    min_speed_mps: float = Field(1.0, ge=0, description="below this the path is straight ahead")


class EgoFilterConfig(_Model):
    """Causal Butterworth low-pass on the IMU accelerations and yaw rate (streaming == batch)."""

    sample_rate_hz: float = Field(100.0, gt=0)
    cutoff_hz: float = Field(2.0, gt=0)
    order: int = Field(2, ge=1, le=6)

    @model_validator(mode="after")
    def _nyquist(self) -> EgoFilterConfig:
        if self.cutoff_hz >= self.sample_rate_hz / 2:
            raise ValueError("cutoff_hz must be below half the sample rate")
        return self


class TtcRule(TieredRule):
    min_closing_mps: float = Field(0.5, gt=0)
    max_range_m: float = Field(80.0, gt=0)


class HeadwayRule(TieredRule):
    min_speed_mps: float = Field(5.0, ge=0)
    classes: tuple[str, ...] = ("car", "truck", "bus")


class LeadBrakingRule(TieredRule):
    """Tiers on the in-path lead vehicle's acceleration, differenced over ``span_s`` of track frames."""

    span_s: float = Field(0.2, gt=0)
    classes: tuple[str, ...] = ("car", "truck", "bus", "cyclist")


class VruRule(TieredRule):
    """Tiers are on TTC; ``path_margin_m`` is the clearance to the ego corridor (its width along the path).

    A VRU alongside the ego body (no TTC) within the margin keeps the event open: a close pass is one
    event from the moment the TTC fell below the entry tier until the VRU is behind the ego.
    """

    path_margin_m: float = Field(2.0, ge=0)
    classes: tuple[str, ...] = ("pedestrian", "cyclist")
    min_closing_mps: float = Field(0.3, gt=0)
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="class confidence a pedestrian/cyclist track needs to count as one"
    )


class CutInRule(EpisodeRule):
    """A cut-in is rated by how close it came: the constant-velocity TTC to the cutting-in vehicle while
    the episode lasts, against the same sourced tiers as ``low_ttc`` (a faster car cutting in ahead opens
    the gap and stays ``severity``)."""

    min_duration_s: float = Field(0.1, ge=0)
    max_gap_m: float = Field(30.0, gt=0)
    min_lateral_speed_mps: float = Field(0.5, gt=0)
    release_lateral_speed_mps: float = Field(0.3, ge=0)
    entry_window_s: float = Field(3.0, gt=0, description="its centre was outside the lane this recently")
    classes: tuple[str, ...] = ("car", "truck", "bus")
    severity: Severity = Severity.WATCH
    ttc_tiers: tuple[Tier, ...] = Field(
        (Tier(at=3.0, severity=Severity.WATCH), Tier(at=1.5, severity=Severity.CRITICAL),
         Tier(at=0.95, severity=Severity.SEVERE)),
        description="severity from the time-to-collision to the cutting-in vehicle (``severity`` at least); "
        "the low_ttc tiers and their sources",
    )

    def severity_at(self, ttc: float) -> Severity:
        """The worst of ``severity`` and the TTC tier reached (TTC tiers go from mildest to worst)."""
        reached = [t.severity for t in self.ttc_tiers if ttc <= t.at]
        return max([self.severity, *reached], key=lambda s: s.rank)


class DropoutRule(EpisodeRule):
    """``delivery_lag_s``: how far (stream time) a sensor's messages may arrive behind the newest stamp of
    any input before the sensor counts as silent. Live, DDS delivers high-rate topics late under load,
    and judging silence against the newest stamp alone turned such lag into dropouts that the recorded bag
    disproves; the event's start, end and gap stay exact, only its detection waits this long."""

    max_gap_periods: float = Field(3.0, gt=1)
    delivery_lag_s: float = Field(1.5, ge=0)
    severity: Severity = Severity.CRITICAL


class RateDropRule(EpisodeRule):
    merge_gap_s: float = Field(2.0, ge=0)
    window_s: float = Field(10.0, gt=0)
    min_fraction: float = Field(0.8, gt=0, lt=1)
    severity: Severity = Severity.WATCH


class BoxBiasRule(_Model):
    """The camera's error from where its own images put the projected cuboids (``events.box_bias``).

    Per camera, the offsets r_i of the located boxes (``prelabel`` ``Box2D.image_offset``, px) over the last
    ``window_s`` are fitted robustly as r_i = b + dt x u_i, u_i the box's image velocity: a small rotation
    error shifts every box by the same b, a clock error dt each by dt x u_i. One box says little (a cuboid
    a little off is as likely), many tracks say it well. An event when b across the image or dt is both
    significant (``sigmas`` standard errors, clustered by track) and big enough to matter (``min_bias_deg``,
    ``min_offset_ms``): with many boxes a tiny real bias is significant too, and no annotator should be
    sent to it. The vertical bias is fitted, reported, and not judged (cuboid heights carry the ground
    estimate's and the size prior's bias); a pitch error is ``calibration_drift``'s to find.
    """

    enabled: bool = True
    window_s: float = Field(
        4.0, gt=0, description="boxes of this many seconds are fitted together (a fault is found once it "
        "holds about half of them: the fit is robust)"
    )
    min_pairs: int = Field(30, ge=4, description="located boxes in the window before the fit is judged")
    min_objects: int = Field(5, ge=2, description="... of at least this many tracks (each is one witness)")
    max_speed_mps: float = Field(
        1.0, ge=0, description="only boxes of tracks this slow over ground: a moving object's cuboid lags "
        "by the tracker's velocity error and the sweep's capture time, which looks like a clock error"
    )
    max_pairs: int = Field(600, ge=4, description="the newest boxes kept (a bounded fit)")
    fit_every_s: float = Field(0.5, ge=0, description="stream time between two fits of one camera")
    loss_scale_px: float = Field(
        2.0, gt=0, description="residual (px) beyond which a box counts less (soft L1): a badly fitted cuboid"
    )
    sigmas: float = Field(4.0, gt=0, description="an estimate must exceed this many standard errors")
    min_bias_deg: float = Field(0.25, gt=0, description="... and a bias this angle (either image axis)")
    min_offset_ms: float = Field(15.0, gt=0, description="... or a clock offset this long")
    release: float = Field(
        0.8, gt=0, le=1, description="the event holds while an estimate passes this share of both thresholds"
    )


class DisagreementRule(EpisodeRule):
    """Camera-LiDAR disagreement, by two signals, each an event of its own per camera: the rate of review
    items per labelled object over ``window_s``, and the bias the located boxes share (``bias``)."""

    merge_gap_s: float = Field(2.0, ge=0)
    window_s: float = Field(10.0, gt=0)
    max_rate: float = Field(0.25, gt=0, description="review items per labelled object")
    min_objects: int = Field(20, ge=1, description="objects in the window before the rate is judged")
    max_duration_s: float = Field(
        10.0, gt=0, description="a longer episode is closed and a new one begun (never one drive-long event)"
    )
    severity: Severity = Severity.WATCH
    bias: BoxBiasRule = BoxBiasRule()


class EdgeConfig(_Model):
    """Levinson & Thrun edge maps: image edges with an inverse distance transform, LiDAR depth edges."""

    alpha: float = Field(0.3333, ge=0, le=1, description="weight of the raw edge vs its spread (their 1/3)")
    gamma: float = Field(0.98, gt=0, lt=1, description="per-pixel decay of the spread edge")
    edge_quantile: float = Field(0.97, gt=0, lt=1, description="image pixels above it seed the spread")
    spread_scale: int = Field(
        2, ge=1, le=8, description="the spread (distance transform) is computed this many times coarser"
    )
    min_depth_jump_m: float = Field(0.5, gt=0, description="LiDAR range jump that makes a depth edge")
    max_points: int = Field(6000, ge=100, description="strongest depth edges kept per frame")
    min_points: int = Field(50, ge=1, description="fewer static depth edges in view: frame skipped")
    mover_speed_mps: float = Field(0.5, ge=0, description="tracks faster than this are moving objects")
    mover_margin_m: float = Field(1.0, ge=0, description="added to a mover's half-diagonal")


class SyncDriftRule(EpisodeRule):
    """Camera-LiDAR time offset estimated from the data (edge alignment over time shifts)."""

    merge_gap_s: float = Field(2.0, ge=0)
    cameras: tuple[str, ...] = ()
    search_ms: float = Field(100.0, gt=0)
    step_ms: float = Field(5.0, gt=0)
    tolerance_ms: float = Field(10.0, gt=0)
    min_shift_m: float = Field(
        0.12,
        ge=0,
        description="below the ego's travel of this much during the offset, an offset is within tolerance: "
        "the edge alignment's own bias is a few cm, which at low speed reads as a large time offset",
    )
    max_off_fraction: float = Field(0.1, ge=0, lt=1)
    window_s: float = Field(10.0, gt=0)
    min_frames: int = Field(8, ge=1)
    frame_group: int = Field(3, ge=1, description="frames pooled for one per-frame estimate")
    pan_steps: int = Field(4, ge=0, description="pans searched jointly, in calibration_drift steps each side")
    min_speed_mps: float = Field(3.0, ge=0, description="a still vehicle says nothing about time")
    expected_offset_ms: dict[str, float] = Field(default_factory=dict)
    severity: Severity = Severity.CRITICAL


class CalibrationDriftRule(EpisodeRule):
    """The current extrinsic must be a local maximum of the edge score among small rotations."""

    merge_gap_s: float = Field(2.0, ge=0)
    cameras: tuple[str, ...] = ()
    step_deg: float = Field(0.25, gt=0, le=2)
    margin: float = Field(0.03, ge=0, description="relative score gain a neighbour needs to count")
    max_yaw_rate_dps: float = Field(2.0, gt=0)
    window_frames: int = Field(10, ge=1)
    min_speed_mps: float = Field(0.0, ge=0)
    severity: Severity = Severity.CRITICAL


WATCH, CRITICAL, SEVERE = Severity.WATCH, Severity.CRITICAL, Severity.SEVERE


def _tiers(*tiers: tuple[float, Severity]) -> tuple[Tier, ...]:
    return tuple(Tier(at=at, severity=severity) for at, severity in tiers)


class EventRules(_Model):
    """The whole rule file."""

    rules_version: str = "1"
    ego: EgoGeometry = EgoGeometry()
    ego_filter: EgoFilterConfig = EgoFilterConfig()
    hard_braking: TieredRule = TieredRule(
        direction="below", tiers=_tiers((-4.0, WATCH), (-6.0, CRITICAL)), release=-3.5, min_duration_s=0.3
    )
    harsh_acceleration: TieredRule = TieredRule(
        direction="above", tiers=_tiers((2.4, WATCH)), release=2.0, min_duration_s=0.3
    )
    harsh_lateral: TieredRule = TieredRule(
        direction="above", tiers=_tiers((3.0, WATCH)), release=2.5, min_duration_s=0.3
    )
    high_jerk: TieredRule = TieredRule(
        direction="above", tiers=_tiers((8.4, WATCH)), release=7.0, min_duration_s=0.1
    )
    low_ttc: TtcRule = TtcRule(
        direction="below", tiers=_tiers((3.0, WATCH), (1.5, CRITICAL), (0.95, SEVERE)), release=3.3,
        min_duration_s=0.1,
    )
    lead_braking: LeadBrakingRule = LeadBrakingRule(
        direction="below", tiers=_tiers((-4.0, WATCH), (-6.0, CRITICAL)), release=-3.5, min_duration_s=0.3
    )
    short_headway: HeadwayRule = HeadwayRule(
        direction="below", tiers=_tiers((0.9, WATCH)), release=1.0, min_duration_s=2.0, merge_gap_s=2.0
    )
    vru_proximity: VruRule = VruRule(
        direction="below", tiers=_tiers((3.0, CRITICAL), (1.5, SEVERE)), release=3.3, min_duration_s=0.1
    )
    cut_in: CutInRule = CutInRule()
    dropout: DropoutRule = DropoutRule()
    rate_drop: RateDropRule = RateDropRule()
    disagreement: DisagreementRule = DisagreementRule()
    edges: EdgeConfig = EdgeConfig()
    sync_drift: SyncDriftRule = SyncDriftRule()
    calibration_drift: CalibrationDriftRule = CalibrationDriftRule()

    def version_of(self, rule: str) -> str:
        """``<rules_version>.<8 hex of the rule's parameters>``: changes whenever a threshold does."""
        params = getattr(self, rule).model_dump_json()
        return f"{self.rules_version}.{hashlib.sha1(params.encode()).hexdigest()[:8]}"


def default_rules_path() -> Path:
    """The rule file shipped inside the package."""
    return Path(str(resources.files(RULES_PACKAGE) / DEFAULT_RULES_FILE))


def load_rules(path: str | Path | None = None, overrides: dict | None = None) -> EventRules:
    """Read and validate a rule file (the model's defaults when ``path`` is None).

    ``overrides`` is merged one level deep per rule (e.g. ``{"hard_braking": {"min_duration_s": 0.5}}``)
    into the file's section, or into the default rule when the file has none.
    """
    defaults = EventRules().model_dump(mode="json")
    if path is None:
        data, name = dict(defaults), "default rules"
    else:
        name = str(path)
        data = parse_yaml(read_text_file(path, "rule file"), name) or {}
    if not isinstance(data, dict):
        raise ConfigError("the rule file must be a mapping", file=name)
    for key, value in (overrides or {}).items():
        data[key] = {**data.get(key, defaults.get(key, {})), **value} if isinstance(value, dict) else value
    return validate_model(EventRules, data, name)
