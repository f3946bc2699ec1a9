"""Prelabeler: one call turns a fused frame into cuboids, tracks, 2D boxes, radar candidates, review items.

The object keeps the tracker between calls, so feed frames in time order (one Prelabeler per drive).
Everything is deterministic: same frames in, same labels and ids out. With a camera detector configured,
the scheduled cameras' detections of a frame are fused with that frame's clusters before tracking
(``camera_fusion``), and what a camera said about an object stays with its track until a camera looks
at it again, so a camera looked at in turn still labels the object in the frames between.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from mmfusion_annotate.prelabel import review
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners, project_cuboids, transform_points
from mmfusion_annotate.prelabel.camera_detector import (
    CameraDetector,
    ImageDetections,
    load_camera_detector,
    scheduled_cameras,
)
from mmfusion_annotate.prelabel.camera_fusion import (
    CameraObject,
    FramePoints,
    Verdict,
    fuse_camera,
    relabelled,
)
from mmfusion_annotate.prelabel.classify import CLASSES, motion_factor
from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.detect import Detection, LidarGeometry, Stages, detect, reclassify
from mmfusion_annotate.prelabel.evidence import ImageEvidence
from mmfusion_annotate.prelabel.model import (
    PERSON_CLASSES,
    Box2D,
    Cuboid,
    ObjectClass,
    PrelabelResult,
    Provenance,
    RadarCandidate,
    Track,
)
from mmfusion_annotate.prelabel.radar import RadarScan, associate, compensate, group_candidates
from mmfusion_annotate.prelabel.semantics import DEFAULT_MODEL_PATH, load_model
from mmfusion_annotate.prelabel.tracker import Measurement, Tracker
from mmfusion_annotate.types import ns_to_seconds, vec3

if TYPE_CHECKING:
    from mmfusion_annotate.fusion.frame import FusedFrame
    from mmfusion_annotate.rig import Rig

ALGORITHM_CUBOID = "polar-ground+bev-cc+lshape+size-prior"
ALGORITHM_TRACK = "cv-kalman+hungarian"
ALGORITHM_BOX2D = "cuboid-projection+edge-colour-evidence"
ALGORITHM_RADAR = "radar-bev-gating"
TENTATIVE_FACTOR = 0.6  # confidence factor of a detection whose track is not yet confirmed
HORIZON_M = 1000.0  # a point this far ahead at the camera's height lies on the horizon in its image
_VELOCITY_STEP_NS = 20_000_000  # a box's image velocity: its projection this much later, differenced
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Object:
    """Internal join of a detection with its track, in base_link at the sweep stamp; ``verdict`` is what
    a camera said about it in this frame."""

    det: Detection
    cuboid: Cuboid
    verdict: Verdict | None = None


@dataclass(frozen=True)
class _CameraResult:
    """The scheduled cameras' word on one frame: verdicts per LiDAR detection (seeds appended to the
    detections), and the boxes that found no LiDAR points, by camera."""

    detections: list[Detection]
    verdicts: list[Verdict | None]
    camera_only: list[tuple[str, CameraObject]]


def _yaw_of(T: np.ndarray) -> float:
    return math.atan2(T[1, 0], T[0, 0])


def _horizon_row(rig: Rig, name: str) -> float | None:
    """The image row of the horizon straight ahead of a camera (where far road users stand), or None
    when the camera looks up or down too steeply to see it."""
    sensor = rig.sensor(name)
    T_cam_base = rig.transform(sensor.frame_id, rig.base_frame)
    T_base_cam = np.linalg.inv(T_cam_base)
    ahead = T_base_cam[:3, 2].copy()
    ahead[2] = 0.0
    if np.linalg.norm(ahead) < 1e-6:
        return None
    far = T_base_cam[:3, 3] + HORIZON_M * ahead / np.linalg.norm(ahead)
    uv, _, valid = sensor.camera_model.project(transform_points(T_cam_base, far[None]))
    return float(uv[0, 1]) if bool(np.asarray(valid)[0]) and np.isfinite(uv[0, 1]) else None


class Prelabeler:
    """Stateful pre-labeller for one drive (see module docstring)."""

    def __init__(
        self, rig: Rig, cfg: PrelabelConfig | None = None, detector: CameraDetector | None = None
    ) -> None:
        """``detector``: the camera detector, loaded once and shared (a session per drive would cost its
        load every time); None loads the configured one (``ConfigError`` when it cannot be used)."""
        self.rig = rig
        self.cfg = cfg or PrelabelConfig()
        self.version = self.cfg.params_version
        self.tracker = Tracker(self.cfg.tracker)
        sem = self.cfg.semantics
        self.semantics = load_model(sem.model or DEFAULT_MODEL_PATH) if sem.enabled else None
        self._cuboid_algorithm = (
            f"{ALGORITHM_CUBOID}+semantics:{self.semantics.version}" if self.semantics else ALGORITHM_CUBOID
        )  # the point classifier's version travels in every cuboid's provenance
        self._prev_ids: set[int] = set()
        self._recent_retired: dict[int, tuple[float, float, float]] = {}
        self._last_positions: dict[int, tuple[float, float]] = {}
        det_cfg = self.cfg.camera.detector
        self.detector = detector if detector is not None else load_camera_detector(det_cfg)
        self._detector_cameras = det_cfg.cameras or tuple(sorted(c.name for c in rig.cameras()))
        self._horizons = {c.name: _horizon_row(rig, c.name) for c in rig.cameras()}
        self._frame_index = 0
        self._memory: dict[int, Verdict] = {}  # track id -> the last thing a camera said about it
        self.detector_failures = 0  # images the detector raised on (their frames went on LiDAR-only)

    def _prov(self, algorithm: str, confidence: float) -> Provenance:
        return Provenance(algorithm, self.version, float(np.clip(confidence, 0.0, 1.0)))

    # ------------------------------------------------------------------ LiDAR + tracking
    def _objects(
        self, frame: FusedFrame, detections: list[Detection], verdicts: list[Verdict | None], sensor_xy
    ) -> tuple[list[_Object], list, list]:
        T_world_base = frame.ego.pose if frame.ego is not None else np.eye(4)
        base_yaw = _yaw_of(T_world_base)
        detections = self._with_view(frame, detections, T_world_base, sensor_xy)
        detections = [
            d if v is None else relabelled(d, v, sensor_xy) for d, v in zip(detections, verdicts, strict=True)
        ]
        detections = self._recalled(frame, detections, verdicts, T_world_base, sensor_xy)
        keep = [k for k, d in enumerate(detections) if d.label is not ObjectClass.UNKNOWN]
        dets = [detections[k] for k in keep]
        meas = []
        for d in dets:
            centres = {d.label: d.box}
            centres.update({c: d.grown(c, sensor_xy) for c in CLASSES if c is not d.label})
            world = {
                c: transform_points(T_world_base, np.array([[b.cx, b.cy, 0.0]]))[0]
                for c, b in centres.items()
            }
            by_class = tuple((c, (float(w[0]), float(w[1]))) for c, w in world.items())
            meas.append(Measurement(by_class[0][1], d.box.yaw + base_yaw, d.label, by_class))
        update = self.tracker.step(ns_to_seconds(frame.stamp), meas)
        for oid in update.retired:
            self._memory.pop(oid, None)
        states = {t.object_id: t for t in self.tracker.tracks}
        R_base_world = T_world_base[:3, :3].T
        objects = []
        for k, d, oid in zip(keep, dets, update.ids, strict=True):
            t = states[oid]
            v_base = R_base_world @ np.array([t.x[2], t.x[3], 0.0])
            speed = float(np.hypot(v_base[0], v_base[1]))
            if (verdict := verdicts[k]) is not None:
                self._remember(oid, verdict)
            memo = self._memory.get(oid)
            label = t.label
            if memo is not None and memo.positive:
                d = d if d.label is memo.label else relabelled(d, memo, sensor_xy)
                label = memo.label
            elif memo is not None and (label in PERSON_CLASSES or d.label in PERSON_CLASSES):
                continue  # no road user (a post, a bush, a parked bicycle): tracked, not labelled
            scores = d.scores * motion_factor(speed) if t.hits >= 3 else d.scores
            box = d.grown(label, sensor_xy) if label is not d.label else d.box
            conf = float(scores[CLASSES.index(label)]) / (float(scores.sum()) + 1e-9) * d.confidence**0.5
            if not t.confirmed:
                conf *= TENTATIVE_FACTOR
            yaw = math.atan2(math.sin(t.heading - base_yaw), math.cos(t.heading - base_yaw))
            cub = Cuboid(
                object_id=oid,
                stamp=frame.stamp,
                center=(box.cx, box.cy, (d.z_bottom + d.z_top) / 2),
                size=(box.length, box.width, d.z_top - d.z_bottom),
                yaw=yaw,
                label=label,
                num_points=len(d.point_index),
                provenance=self._prov(self._cuboid_algorithm, conf),
                velocity=(float(v_base[0]), float(v_base[1])),
            )
            objects.append(_Object(d, cub, verdicts[k]))
        return objects, list(update.class_flips), list(update.retired)

    def _remember(self, oid: int, verdict: Verdict) -> None:
        """Keep what a camera said about a track: a box's class replaces anything, a demotion replaces
        only another demotion (a person the detector found once stays one when it misses them later)."""
        old = self._memory.get(oid)
        if verdict.positive or old is None or not old.positive:
            self._memory[oid] = verdict

    def _recalled(
        self, frame: FusedFrame, detections: list[Detection], verdicts: list[Verdict | None],
        T_world_base, sensor_xy
    ) -> list[Detection]:
        """Unknown clusters at the predicted place of a track a camera named, given that class again.

        The LiDAR alone leaves a partly seen object unknown, and unknown clusters are not tracked: without
        this a track born from a camera's class would end at the next frame no camera looks at it. Each
        track takes its nearest cluster within the gate, labelled ones included (so a track whose own
        labelled cluster is there lends its class to no other fragment).
        """
        named = {oid: m for oid, m in self._memory.items() if m.positive}
        if not named:
            return detections
        t_s = ns_to_seconds(frame.stamp)
        predicted = {
            track.object_id: xy
            for track, (_, xy, _, _) in zip(self.tracker.tracks, self.tracker.predicted(t_s), strict=True)
            if track.object_id in named
        }
        pairs = []
        for k, d in enumerate(detections):
            if verdicts[k] is not None:
                continue
            for oid, xy in predicted.items():
                box = d.box if d.label is named[oid].label else d.grown(named[oid].label, sensor_xy)
                w = transform_points(T_world_base, np.array([[box.cx, box.cy, 0.0]]))[0]
                dist = float(np.hypot(w[0] - xy[0], w[1] - xy[1]))
                if dist <= self.cfg.tracker.gate_m:
                    pairs.append((dist, k, oid))
        out = list(detections)
        used_k, used_oid = set(), set()
        for _, k, oid in sorted(pairs):
            if k in used_k or oid in used_oid:
                continue
            used_k.add(k)
            used_oid.add(oid)
            if detections[k].label is ObjectClass.UNKNOWN:
                out[k] = relabelled(detections[k], named[oid], sensor_xy)
        return out

    def _with_view(self, frame: FusedFrame,
                   detections: list[Detection], T_world_base, sensor_xy) -> list[Detection]:
        """Detections next to a moving track, classified again knowing which side they show.

        A moving object travels along its length: when the track's velocity runs across the longer
        measured side, that side is the object's end (a car's rear, not a cyclist's flank), and along
        it, its flank. Below ``heading_speed_mps`` or before 3 hits nothing changes.
        """
        cfg = self.cfg.tracker
        moving = [
            (label, xy, v)
            for label, xy, v, hits in self.tracker.predicted(ns_to_seconds(frame.stamp))
            if hits >= 3 and float(np.hypot(*v)) >= cfg.heading_speed_mps
        ]
        if not moving:
            return detections
        base_yaw = _yaw_of(T_world_base)
        out = []
        for d in detections:
            best, best_dist = None, cfg.gate_m
            for label, xy, v in moving:
                box = d.box if label is d.label else d.grown(label, sensor_xy)
                w = transform_points(T_world_base, np.array([[box.cx, box.cy, 0.0]]))[0]
                dist = float(np.hypot(w[0] - xy[0], w[1] - xy[1]))
                if dist <= best_dist:
                    best, best_dist = v, dist
            if best is None:
                out.append(d)
                continue
            across = abs(math.sin(math.atan2(best[1], best[0]) - (d.measured.yaw + base_yaw)))
            out.append(
                reclassify(d, "end" if across > math.sqrt(0.5) else "side", sensor_xy, self.cfg.semantics)
            )
        return out

    def _tracks(self) -> tuple[Track, ...]:
        """The tracker's tracks with the classes the cameras gave them; those no road user are left out."""
        out = []
        for t in self.tracker.tracks:
            conf = min(1.0, t.hits / (self.cfg.tracker.birth_hits + 2)) if t.confirmed else 0.3
            memo = self._memory.get(t.object_id)
            label = t.label
            if memo is not None and memo.positive:
                label = memo.label
            elif memo is not None and label in PERSON_CLASSES:
                continue
            out.append(
                Track(
                    t.object_id,
                    label,
                    (float(t.x[0]), float(t.x[1])),
                    (float(t.x[2]), float(t.x[3])),
                    float(t.heading),
                    t.age,
                    t.hits,
                    t.misses,
                    t.confirmed,
                    self._prov(ALGORITHM_TRACK, conf),
                )
            )
        return tuple(out)

    # ------------------------------------------------------------------ radar
    def _radar(self, frame: FusedFrame,
               objects: list[_Object]) -> tuple[list[_Object], list[RadarCandidate], list]:
        if not frame.radars:
            return objects, [], []
        lin = frame.ego.linear_velocity if frame.ego is not None else np.zeros(3)
        ang = frame.ego.angular_velocity if frame.ego is not None else np.zeros(3)
        boxes = [
            (o.cuboid.center[0], o.cuboid.center[1], o.cuboid.size[0], o.cuboid.size[1], o.cuboid.yaw)
            for o in objects
        ]
        per_object: dict[int, list[tuple[float, np.ndarray]]] = {}
        candidates: list[RadarCandidate] = []
        for name in sorted(frame.radars):
            view = frame.radars[name]
            xyz = np.asarray(view.xyz, dtype=np.float64)
            if len(xyz) == 0:
                continue
            origin = self.rig.sensor_to_base(name)[:3, 3]
            rr = np.asarray(view.detections["range_rate"], dtype=np.float64)
            radial, los = compensate(xyz, rr, origin, lin, ang)
            rcs = np.asarray(view.detections.get("rcs", np.zeros(len(xyz))), dtype=np.float64)
            scan = RadarScan(name, xyz, radial, rcs, los)
            which = associate(scan, boxes, self.cfg.radar.gate_margin_m)
            for k in np.unique(which[which >= 0]):
                sel = which == k
                per_object.setdefault(int(k), []).extend(zip(radial[sel], los[sel], strict=True))
            free = (which < 0) & (np.abs(radial) >= self.cfg.radar.range_rate_tolerance_mps)
            groups = group_candidates(xyz[free], self.cfg.radar.candidate_cluster_m)
            for g in np.unique(groups):
                sel = np.flatnonzero(free)[groups == g]
                candidates.append(
                    RadarCandidate(
                        candidate_id=len(candidates),
                        radar=name,
                        stamp=view.stamp,
                        position=vec3(xyz[sel].mean(axis=0)),
                        range_rate=float(np.median(radial[sel])),
                        rcs=float(rcs[sel].max()),
                        num_detections=int(len(sel)),
                        provenance=self._prov(ALGORITHM_RADAR, self.cfg.radar.candidate_confidence),
                    )
                )
        mismatches = []
        out = []
        for k, o in enumerate(objects):
            hits = per_object.get(k)
            if not hits:
                out.append(o)
                continue
            radial = np.array([h[0] for h in hits])
            los = np.array([h[1] for h in hits])
            measured = float(np.median(radial))
            expected = float(np.median(los[:, :2] @ np.asarray(o.cuboid.velocity)))
            if abs(measured - expected) > self.cfg.radar.range_rate_tolerance_mps:
                mismatches.append((o.cuboid.object_id, measured, expected))
            out.append(_Object(o.det, replace(o.cuboid, radial_velocity=measured, radar_hits=len(hits))))
        return out, candidates, mismatches

    # ------------------------------------------------------------------ cameras
    def _boxes(self, frame: FusedFrame,
               objects: list[_Object]) -> tuple[list[Box2D], list[tuple[Box2D, tuple | None]]]:
        boxes: list[Box2D] = []
        observed: list[tuple[Box2D, tuple | None]] = []
        if not objects:
            return boxes, observed
        cuboids = [o.cuboid for o in objects]
        centres = np.array([c.center for c in cuboids])
        velocities = np.array([(*c.velocity, 0.0) for c in cuboids])
        sizes = np.array([c.size for c in cuboids])
        yaws = np.array([c.yaw for c in cuboids])
        for name in sorted(frame.cameras):
            view = frame.cameras[name]
            sensor = self.rig.sensor(name)
            T_cam_rig = self.rig.transform(sensor.frame_id, self.rig.base_frame)

            def project(stamp: int, T_cam_rig=T_cam_rig, sensor=sensor) -> tuple[np.ndarray, np.ndarray]:
                """The cuboids' boxes in this camera at ``stamp`` (moved by their velocity and the ego's)."""
                dt = ns_to_seconds(stamp - frame.stamp)
                T_cam_base = T_cam_rig
                if frame.ego is not None:
                    T_cam_base = T_cam_rig @ np.linalg.inv(frame.ego.track.pose(stamp))
                corners = transform_points(T_cam_base, cuboid_corners(centres + velocities * dt, sizes, yaws))
                return project_cuboids(corners, sensor.camera_model, self.cfg.camera.near_plane_m)

            projected, truncations = project(view.exposure_stamp)
            in_view = np.flatnonzero(~np.isnan(projected[:, 0]))
            if len(in_view) == 0:
                continue
            later, _ = project(view.exposure_stamp + _VELOCITY_STEP_NS)
            velocity = ((later[:, :2] + later[:, 2:]) - (projected[:, :2] + projected[:, 2:])) / (
                2 * ns_to_seconds(_VELOCITY_STEP_NS))
            evidence = ImageEvidence(view.image) if view.image is not None else None
            for k in in_view:
                o, c = objects[k], cuboids[k]
                box = tuple(projected[k].tolist())
                idx = o.det.point_index
                hit = view.hits_of(idx)
                in_image = hit >= 0
                vis = np.zeros(len(idx), dtype=bool)
                vis[in_image] = view.visible[hit[in_image]]
                visible_fraction = float(vis.mean()) if len(idx) else 0.0
                score = 0.0
                if (
                    evidence is not None
                    and min(box[2] - box[0], box[3] - box[1]) >= self.cfg.camera.min_box_px
                ):
                    score = evidence.score(box)
                if o.verdict is not None and o.verdict.positive and o.verdict.camera == name:
                    score = max(score, o.verdict.score)  # the detector's box in this image
                offset = None
                if (evidence is not None and self.cfg.camera.locate_search_px > 0 and truncations[k] == 0
                        and visible_fraction >= self.cfg.camera.locate_min_visible
                        and score >= self.cfg.camera.evidence_threshold):
                    offset = evidence.locate(box, self.cfg.camera.locate_search_px)
                image_velocity = tuple(velocity[k].tolist()) if np.isfinite(velocity[k]).all() else None
                b = Box2D(
                    c.object_id,
                    name,
                    view.exposure_stamp,
                    box,
                    float(truncations[k]),
                    visible_fraction,
                    score,
                    c.label,
                    self._prov(ALGORITHM_BOX2D, c.provenance.confidence * min(1.0, 0.5 + score)),
                    offset,
                    image_velocity,
                )
                boxes.append(b)
                pts_box = None
                if vis.sum() >= review.MIN_POINTS_FOR_2D_CHECK:
                    uv = view.uv[hit[vis]]
                    pts_box = (*uv.min(axis=0).tolist(), *uv.max(axis=0).tolist())
                observed.append((b, pts_box))
        return boxes, observed

    def detector_cameras(self) -> tuple[str, ...]:
        """The cameras the detector looks at in the next frame ``process`` gets (none without a detector)."""
        if self.detector is None:
            return ()
        cfg = self.cfg.camera.detector
        return scheduled_cameras(self._frame_index, self._detector_cameras, cfg.every, cfg.per_frame)

    def detect_cameras(self, images: dict[str, np.ndarray]) -> list[ImageDetections]:
        """The detector on some cameras' images: what a caller may start early on another thread
        (``process``); an image the detector raises on comes back with its ``error``."""
        if self.detector is None:
            return []
        return self.detector.detect_images(
            [(name, image, self._horizons.get(name)) for name, image in images.items()]
        )

    def _camera_detections(
        self, frame: FusedFrame, scheduled: tuple[str, ...], started: Future[list[ImageDetections]] | None
    ) -> list[ImageDetections]:
        """The scheduled cameras' detections (run here unless ``started``); failures counted and logged."""
        if not scheduled:
            return []
        if started is None:
            views = (frame.cameras.get(name) for name in scheduled)
            found = self.detect_cameras(
                {v.name: v.image for v in views if v is not None and v.image is not None}
            )
        else:
            found = started.result()
        for image in found:
            if image.error:
                self.detector_failures += 1
                _log.warning("camera detector failed on %s at %d (LiDAR-only there): %s",
                             image.camera, frame.stamp, image.error)  # fmt: skip
        return [image for image in found if not image.error and image.camera in frame.cameras]

    def _camera(self, frame: FusedFrame,
                detections: list[Detection], stages: Stages, found: list[ImageDetections],
                sensor_xy) -> _CameraResult:  # fmt: skip
        """This frame's detections fused with its clusters, camera by camera (``camera_fusion``)."""
        verdicts: list[Verdict | None] = [None] * len(detections)
        if not found or self.detector is None:  # detections come from the detector: none without it
            return _CameraResult(detections, verdicts, [])
        taken = np.zeros(len(frame.sweep), dtype=bool)
        for d in detections:
            if d.label is not ObjectClass.UNKNOWN:
                taken[d.point_index] = True
        points = FramePoints(frame.sweep.xyz_deskewed, stages.height, stages.is_ground, taken)
        cfg = self.cfg.camera
        seeded: list[Detection] = []
        camera_only: list[tuple[str, CameraObject]] = []
        for image in found:
            view = frame.cameras[image.camera]
            fused = fuse_camera(
                image.camera, view, image.detections, detections, points,
                cover=cfg.detector.cover, min_visible=cfg.min_visible_fraction,
                detectable_height_px=self.detector.detectable_height(view.width, view.height),
                cluster=self.cfg.cluster, fit=self.cfg.fit, sensor_xy=sensor_xy,
            )  # fmt: skip
            for c, v in fused.verdicts.items():
                taken[detections[c].point_index] = True
                old = verdicts[c]
                if old is None or (v.positive and (not old.positive or v.score > old.score)):
                    verdicts[c] = v
            for det, obj in fused.seeds:
                seeded.append(det)
                verdicts.append(Verdict(det.label, obj.score, image.camera, obj))
                taken[det.point_index] = True
            camera_only += [(image.camera, o) for o in fused.camera_only]
        return _CameraResult(detections + seeded, verdicts, camera_only)

    def _camera_only(self, frame: FusedFrame, camera_only: list[tuple[str, CameraObject]]) -> list[Box2D]:
        """Boxes of road users whose frustum holds too few LiDAR points for a cuboid (``object_id`` -1)."""
        if self.detector is None:  # camera-only objects come from the detector: none without it
            return []
        return [
            Box2D(-1, name, frame.cameras[name].exposure_stamp, o.box, 0.0, 0.0, o.score, label,
                  self._prov(self.detector.label, o.score))
            for name, o in camera_only if (label := o.label) is not None  # a class-less object seeds nothing
        ]  # fmt: skip

    # ------------------------------------------------------------------ the one call
    def process(self, frame: FusedFrame,
                cameras: Future[list[ImageDetections]] | None = None) -> PrelabelResult:
        """Pre-label one fused frame (``mmfusion_annotate.fusion.FusedFrame``).

        ``cameras``: ``detect_cameras`` already started on this frame's images of ``detector_cameras()``
        (on another thread, so the detector runs beside fusion and the LiDAR steps); without it the
        detector runs here on the scheduled cameras. Either way its detections are fused with this frame.
        """
        scheduled = self.detector_cameras()
        self._frame_index += 1
        lidar = (
            LidarGeometry.from_rig(self.rig, frame.sweep.lidar)
            if frame.sweep.lidar in self.rig.sensors
            else None
        )
        sensor_xy = lidar.xy if lidar is not None else (0.0, 0.0)
        semantics = (self.semantics, frame.sweep.intensity) if self.semantics is not None else None
        detections, stages = detect(
            frame.sweep.xyz_deskewed, self.cfg, lidar, capture_xyz=frame.sweep.xyz, semantics=semantics
        )
        found = self._camera_detections(frame, scheduled, cameras)
        camera = self._camera(frame, detections, stages, found, sensor_xy)
        objects, flips, retired = self._objects(frame, camera.detections, camera.verdicts, sensor_xy)
        objects = [o for o in objects if o.cuboid.provenance.confidence >= self.cfg.min_confidence]
        objects, candidates, radar_mismatch = self._radar(frame, objects)
        boxes, observed = self._boxes(frame, objects)
        camera_only = self._camera_only(frame, camera.camera_only)
        items = review.collect(
            stamp=frame.stamp,
            cfg=self.cfg.camera,
            cuboids=[o.cuboid for o in objects],
            observed_boxes=observed,
            radar_candidates=candidates,
            radar_mismatches=radar_mismatch,
            radar_tolerance_mps=self.cfg.radar.range_rate_tolerance_mps,
            radar_near_cuboid_m=self.cfg.radar.candidate_cluster_m,
            class_flips=flips,
            id_switches=self._id_switches(frame, objects, retired),
            camera_only=camera_only,
        )
        return PrelabelResult(
            frame.stamp,
            tuple(o.cuboid for o in objects),
            self._tracks(),
            tuple(boxes + camera_only),
            tuple(candidates),
            tuple(items),
        )

    def _id_switches(self, frame: FusedFrame,
                     objects: list[_Object], retired: list[int]) -> list[tuple[int, int]]:
        """(old id, new id) where a new track starts where a confirmed track just vanished."""
        t = ns_to_seconds(frame.stamp)
        for oid in retired:
            if oid in self._last_positions:
                self._recent_retired[oid] = (t, *self._last_positions[oid])
        window = self.cfg.tracker.retire_misses * 0.5
        self._recent_retired = {k: v for k, v in self._recent_retired.items() if t - v[0] <= window}
        T = frame.ego.pose if frame.ego is not None else np.eye(4)
        switches = []
        positions = {}
        for o in objects:
            world = transform_points(T, np.array([o.cuboid.center]))[0]
            positions[o.cuboid.object_id] = (float(world[0]), float(world[1]))
            if o.cuboid.object_id in self._prev_ids:
                continue
            for old, (_, x, y) in self._recent_retired.items():
                if math.hypot(world[0] - x, world[1] - y) <= 2 * self.cfg.tracker.gate_m:
                    switches.append((old, o.cuboid.object_id))
        confirmed = {t.object_id for t in self.tracker.tracks if t.confirmed}
        self._last_positions = {k: v for k, v in positions.items() if k in confirmed}
        self._prev_ids = set(positions)
        return switches
