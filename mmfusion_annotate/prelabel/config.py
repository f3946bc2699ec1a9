"""PrelabelConfig: every parameter of the pre-labeller, grouped per step.

Defaults are general (metric units, no dataset-specific values): they hold for any spinning LiDAR from
16 to 128 beams mounted on a road vehicle, with ``base_link`` on or near the ground. ``params_version``
is a short hash of the whole model and goes into every label's provenance.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroundConfig(_Model):
    """Polar-grid slope filter: per azimuth sector, walk outward and accept a cell's lowest point as
    ground when it continues the previous ground cell within ``max_slope_deg`` (slopes, ramps) plus
    ``step_tolerance_m`` (curbs)."""

    sector_deg: float = Field(2.0, gt=0, le=30)
    bin_m: float = Field(0.5, gt=0)
    max_slope_deg: float = Field(12.0, ge=0, lt=45)
    step_tolerance_m: float = Field(0.2, ge=0)
    point_tolerance_m: float = Field(0.2, ge=0, description="points this close above the ground are ground")
    seed_range_m: tuple[float, float] = (2.5, 12.0)


class ClusterConfig(_Model):
    """Bird's-eye-view grid connected components over non-ground points."""

    cell_m: float = Field(0.3, gt=0)
    min_height_m: float = Field(0.25, ge=0, description="above local ground; drops curb tops and grass")
    max_height_m: float = Field(4.2, gt=0, description="above local ground; drops overhangs and bridges")
    max_range_m: float = Field(80.0, gt=0)
    min_range_m: float = Field(1.5, ge=0, description="drops the ego vehicle's own returns")
    min_points: int = Field(5, ge=1)
    merge_min_incidence_deg: float = Field(
        4.0,
        ge=0,
        lt=90,
        description="merge components along the line of sight as far apart as returns on a surface seen at "
        "this incidence (grazing sides of vehicles); 0: off",
    )
    merge_max_gap_m: float = Field(3.0, ge=0, description="cap of that along-the-ray gap")
    max_extent_m: float = Field(18.0, gt=0, description="longer clusters are walls, fences, buildings")


class FitConfig(_Model):
    """L-shape (search-based rectangle) fitting in BEV; ``angle_step_deg`` is the heading search step."""

    angle_step_deg: float = Field(2.0, gt=0, le=15)
    max_fit_points: int = Field(256, ge=8)
    min_size_m: float = Field(0.2, gt=0)


class TrackerConfig(_Model):
    """Constant-velocity Kalman filter with Hungarian assignment and birth/retire hysteresis."""

    gate_m: float = Field(2.5, gt=0)
    birth_hits: int = Field(2, ge=1)
    retire_misses: int = Field(3, ge=1)
    process_noise: float = Field(2.0, gt=0, description="acceleration noise, m/s^2")
    measurement_noise_m: float = Field(0.3, gt=0)
    heading_speed_mps: float = Field(1.0, ge=0, description="above this speed heading follows velocity")
    class_flip_votes: int = Field(3, ge=1, description="consecutive votes needed to change a track's class")


class RadarConfig(_Model):
    gate_margin_m: float = Field(1.0, ge=0)
    candidate_cluster_m: float = Field(2.0, gt=0)
    candidate_confidence: float = Field(0.2, ge=0, le=1)
    range_rate_tolerance_mps: float = Field(1.5, gt=0)


class CameraConfig(_Model):
    near_plane_m: float = Field(0.1, gt=0)
    min_visible_fraction: float = Field(0.3, ge=0, le=1)
    min_box_px: float = Field(8.0, ge=0)
    evidence_threshold: float = Field(0.15, ge=0, le=1)
    hog_people: bool = True
    mismatch_iou: float = Field(0.5, ge=0, le=1)
    # camera-only people detector (prelabel/people.py): HOG over one whole image per scheduled frame
    detector: bool = Field(True, description="run the camera-only HOG people detector")
    detector_cameras: tuple[str, ...] = Field((), description="round-robin order; empty: the rig's cameras")
    detector_every: int = Field(
        10,
        ge=1,
        description="run on every n-th frame, one camera each time (~135 ms per 1600x900 image, "
        "~26 ms per 1242x375 at scale 0.75)",
    )
    detector_lag: int = Field(
        8,
        ge=1,
        description="frames after its own at which a detector result is taken (capped at detector_every, "
        "so it is taken before the next scheduled frame): the detector runs beside that many frames "
        "before the pipeline would wait for it",
    )
    detector_scale: float = Field(
        0.75,
        gt=0,
        le=1,
        description="image scale before HOG; smallest person found ~96/scale px tall (128 px at 0.75)",
    )
    detector_threshold: float = Field(
        0.0, ge=0, description="SVM margin a HOG window must reach (>= 0: OpenCV's NMS rejects below)"
    )
    detector_nms_iou: float = Field(0.4, gt=0, le=1, description="non-maximum suppression overlap")
    detector_match_iou: float = Field(
        0.3, ge=0, le=1, description="camera-only: IoU below this with every projected cuboid box"
    )
    detector_match_cover: float = Field(
        0.5, gt=0, le=1, description="... and every projected cuboid box lies less than this inside it"
    )


class PrelabelConfig(_Model):
    ground: GroundConfig = GroundConfig()
    cluster: ClusterConfig = ClusterConfig()
    fit: FitConfig = FitConfig()
    tracker: TrackerConfig = TrackerConfig()
    radar: RadarConfig = RadarConfig()
    camera: CameraConfig = CameraConfig()

    @property
    def params_version(self) -> str:
        """Short content hash of the parameters; recorded in every label's provenance."""
        return hashlib.sha1(self.model_dump_json().encode()).hexdigest()[:10]
