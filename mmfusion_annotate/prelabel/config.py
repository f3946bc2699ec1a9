"""PrelabelConfig: every parameter of the pre-labeller, grouped per step.

Defaults are general (metric units, no dataset-specific values): they hold for any spinning LiDAR from
16 to 128 beams mounted on a road vehicle, with ``base_link`` on or near the ground. ``params_version``
is a short hash of the whole model and goes into every label's provenance.
"""

from __future__ import annotations

import hashlib
from typing import Literal

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


class DetectorConfig(_Model):
    """The camera detector (``camera_detector``: a COCO-trained ONNX model) and its fusion with the LiDAR
    clusters (``camera_fusion``). Without ``model`` the classes come from the LiDAR alone."""

    model: str | None = Field(
        None,
        description="a model name of the model store (`mmfusion models`) or the path of an .onnx file; "
        "None: no camera detector, LiDAR-only classes",
    )
    architecture: Literal["auto", "deimv2", "yolox"] = Field(
        "auto", description="the export's interface; auto: recognised from its inputs and outputs"
    )
    score_threshold: float = Field(0.4, gt=0, lt=1, description="detections scoring less are ignored")
    tiles: int = Field(
        0,
        ge=0,
        le=8,
        description="square tiles across the image width along the horizon, run besides the whole image "
        "for small far objects (0: the whole image only)",
    )
    classes: tuple[Literal["pedestrian", "bicycle", "motorcycle", "car", "truck", "bus"], ...] = Field(
        ("pedestrian", "bicycle", "motorcycle", "car", "truck", "bus"),
        min_length=1,
        description="the classes whose boxes are used (others are dropped): a model whose vehicle boxes "
        "name more wrong clusters than right ones on a rig keeps its people there",
    )
    threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads per inference")
    cameras: tuple[str, ...] = Field((), description="round-robin order; empty: the rig's cameras by name")
    every: int = Field(1, ge=1, description="run on every n-th frame")
    per_frame: int = Field(1, ge=0, description="cameras per scheduled frame, taken in turn; 0: every camera")
    cover: float = Field(
        0.5,
        gt=0,
        le=1,
        description="share of a cluster's visible points a box must hold to give the cluster its class",
    )
    detectable_px: float = Field(
        32.0,
        gt=0,
        description="a person this tall in the model's input (px) is one the detector finds: a pedestrian "
        "or cyclist cluster that tall in a camera that sees it, without a person box, is demoted",
    )


class CameraConfig(_Model):
    near_plane_m: float = Field(0.1, gt=0)
    min_visible_fraction: float = Field(0.3, ge=0, le=1)
    min_box_px: float = Field(8.0, ge=0)
    evidence_threshold: float = Field(0.15, ge=0, le=1)
    mismatch_iou: float = Field(0.5, ge=0, le=1)
    locate_search_px: int = Field(
        24,
        ge=0,
        description="how far (px) each side of a box is searched for the image's edge (its image_offset, "
        "which the cross_modal_disagreement rule fits per camera); 0: boxes are not located",
    )
    locate_min_visible: float = Field(
        0.7,
        ge=0,
        le=1,
        description="only boxes with at least this share of their LiDAR points visible are located (an "
        "occluded object's extent in the image is not its cuboid's)",
    )
    detector: DetectorConfig = DetectorConfig()


class SemanticsConfig(_Model):
    """Learned per-point classes (``prelabel/semantics.py``): points the classifier gives little chance of
    being a road user (vegetation, walls, poles) are kept out of the object clusters, and a cluster with
    too little of a person in it is no pedestrian or cyclist. Off by default: a model is only valid for
    LiDARs like those it was trained on (the shipped one: PandaSet's Pandar64 and PandarGT; on the
    synthetic drive's ray-cast world it drops cars), so a rig turns it on with its pipeline file
    (``config/pipeline_pandaset.yaml``)."""

    enabled: bool = False
    model: str | None = Field(None, description="model JSON; None: the shipped PandaSet-trained one")
    min_object_probability: float = Field(
        0.1, ge=0, le=1, description="a point stays in clustering when P(vehicle) + P(person) reaches this"
    )
    min_person_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="a cluster is called pedestrian or cyclist only when this share of its points is person",
    )
    min_vehicle_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="a cluster is called car, truck or bus only when this share of its points "
        "is vehicle (a car-sized hedge or wall is unknown)",
    )
    vehicle_share_for_class: float = Field(
        0.8,
        ge=0,
        le=1,
        description="an unknown cluster with this share of vehicle points (a car seen in part) "
        "takes the vehicle class its footprint fits best; 1 < value: never",
    )
    min_points_for_class: int = Field(
        20, ge=1, description="... when it has at least this many points (a share of a handful says little)"
    )
    intensity_scale: float = Field(
        1.0, gt=0, description="multiplies the sweep's intensity onto the model's 0-255 scale (KITTI: 255)"
    )


class PrelabelConfig(_Model):
    semantics: SemanticsConfig = SemanticsConfig()
    ground: GroundConfig = GroundConfig()
    cluster: ClusterConfig = ClusterConfig()
    fit: FitConfig = FitConfig()
    tracker: TrackerConfig = TrackerConfig()
    radar: RadarConfig = RadarConfig()
    camera: CameraConfig = CameraConfig()
    min_confidence: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="a cuboid less confident than this is tracked but not labelled (a tentative track of a "
        "fragment); 0: label every one",
    )

    @property
    def params_version(self) -> str:
        """Short content hash of the parameters; recorded in every label's provenance."""
        return hashlib.sha1(self.model_dump_json().encode()).hexdigest()[:10]
