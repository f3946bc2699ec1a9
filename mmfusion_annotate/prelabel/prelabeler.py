"""Prelabeler: one call turns a fused frame into cuboids, tracks, 2D boxes, radar candidates, review items.

The object keeps the tracker between calls, so feed frames in time order (one Prelabeler per drive).
Everything is deterministic: same frames in, same labels and ids out.
"""

from __future__ import annotations

import math
from concurrent.futures import Future
from dataclasses import dataclass, replace

import numpy as np

from mmfusion_annotate.deferred import run_job
from mmfusion_annotate.prelabel import review
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners, project_cuboids, transform_points
from mmfusion_annotate.prelabel.classify import CLASSES, motion_factor
from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.detect import Detection, LidarGeometry, complete, detect, reclassify
from mmfusion_annotate.prelabel.evidence import HOG_AVAILABLE, ImageEvidence
from mmfusion_annotate.prelabel.model import (
    Box2D,
    CameraOnlyPeople,
    Cuboid,
    ObjectClass,
    PrelabelResult,
    Provenance,
    RadarCandidate,
    Track,
)
from mmfusion_annotate.prelabel.people import PeopleDetector, PersonDetection, scheduled_camera, unmatched
from mmfusion_annotate.prelabel.radar import RadarScan, associate, compensate, group_candidates
from mmfusion_annotate.prelabel.tracker import Measurement, Tracker
from mmfusion_annotate.types import Stamp, ns_to_seconds

ALGORITHM_CUBOID = "polar-ground+bev-cc+lshape+size-prior"
ALGORITHM_TRACK = "cv-kalman+hungarian"
ALGORITHM_BOX2D = "cuboid-projection+edge-colour-evidence"
ALGORITHM_RADAR = "radar-bev-gating"
ALGORITHM_PEOPLE = "hog_people"
TENTATIVE_FACTOR = 0.6  # confidence factor of a detection whose track is not yet confirmed


@dataclass(frozen=True)
class _PendingPeople:
    """The people detector's job on one frame's image, with what its result is matched against."""

    frame_stamp: Stamp
    camera: str
    exposure_stamp: Stamp
    projected: list[tuple]  # the frame's cuboid boxes in that camera
    detections: Future[list[PersonDetection]]
    due: int  # taken once this many frames were processed (``detector_lag`` after its own)


@dataclass(frozen=True)
class _Object:
    """Internal join of a detection with its track, in base_link at the sweep stamp."""

    det: Detection
    cuboid: Cuboid


def _yaw_of(T: np.ndarray) -> float:
    return math.atan2(T[1, 0], T[0, 0])


class Prelabeler:
    """Stateful pre-labeller for one drive (see module docstring)."""

    def __init__(self, rig, cfg: PrelabelConfig | None = None) -> None:
        self.rig = rig
        self.cfg = cfg or PrelabelConfig()
        self.version = self.cfg.params_version
        self.tracker = Tracker(self.cfg.tracker)
        self._prev_ids: set[int] = set()
        self._recent_retired: dict[int, tuple[float, float, float]] = {}
        self._last_positions: dict[int, tuple[float, float]] = {}
        cam = self.cfg.camera
        self._people = PeopleDetector(cam) if cam.detector and HOG_AVAILABLE else None
        self._detector_cameras = cam.detector_cameras or tuple(sorted(c.name for c in rig.cameras()))
        self._frame_index = 0
        self._pending_people: _PendingPeople | None = None

    def _prov(self, algorithm: str, confidence: float) -> Provenance:
        return Provenance(algorithm, self.version, float(np.clip(confidence, 0.0, 1.0)))

    # ------------------------------------------------------------------ LiDAR + tracking
    def _objects(self, frame, detections: list[Detection], sensor_xy) -> tuple[list[_Object], list, list]:
        T_world_base = frame.ego.pose if frame.ego is not None else np.eye(4)
        base_yaw = _yaw_of(T_world_base)
        detections = self._with_view(frame, detections, T_world_base, sensor_xy)
        dets = [d for d in detections if d.label is not ObjectClass.UNKNOWN]
        meas = []
        for d in dets:
            centres = {d.label: d.box}
            centres.update({c: complete(d.measured, c, sensor_xy) for c in CLASSES if c is not d.label})
            world = {
                c: transform_points(T_world_base, np.array([[b.cx, b.cy, 0.0]]))[0]
                for c, b in centres.items()
            }
            by_class = tuple((c, (float(w[0]), float(w[1]))) for c, w in world.items())
            meas.append(Measurement(by_class[0][1], d.box.yaw + base_yaw, d.label, by_class))
        update = self.tracker.step(ns_to_seconds(frame.stamp), meas)
        states = {t.object_id: t for t in self.tracker.tracks}
        R_base_world = T_world_base[:3, :3].T
        objects = []
        for d, oid in zip(dets, update.ids, strict=True):
            t = states[oid]
            v_base = R_base_world @ np.array([t.x[2], t.x[3], 0.0])
            speed = float(np.hypot(v_base[0], v_base[1]))
            label = t.label
            scores = d.scores * motion_factor(speed) if t.hits >= 3 else d.scores
            box = complete(d.measured, label, sensor_xy) if label is not d.label else d.box
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
                provenance=self._prov(ALGORITHM_CUBOID, conf),
                velocity=(float(v_base[0]), float(v_base[1])),
            )
            objects.append(_Object(d, cub))
        return objects, list(update.class_flips), list(update.retired)

    def _with_view(self, frame, detections: list[Detection], T_world_base, sensor_xy) -> list[Detection]:
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
                box = d.box if label is d.label else complete(d.measured, label, sensor_xy)
                w = transform_points(T_world_base, np.array([[box.cx, box.cy, 0.0]]))[0]
                dist = float(np.hypot(w[0] - xy[0], w[1] - xy[1]))
                if dist <= best_dist:
                    best, best_dist = v, dist
            if best is None:
                out.append(d)
                continue
            across = abs(math.sin(math.atan2(best[1], best[0]) - (d.measured.yaw + base_yaw)))
            out.append(reclassify(d, "end" if across > math.sqrt(0.5) else "side", sensor_xy))
        return out

    def _tracks(self) -> tuple[Track, ...]:
        out = []
        for t in self.tracker.tracks:
            conf = min(1.0, t.hits / (self.cfg.tracker.birth_hits + 2)) if t.confirmed else 0.3
            out.append(
                Track(
                    t.object_id,
                    t.label,
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
    def _radar(self, frame, objects: list[_Object]) -> tuple[list[_Object], list[RadarCandidate], list]:
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
                        position=tuple(float(v) for v in xyz[sel].mean(axis=0)),
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
    def _boxes(self, frame, objects: list[_Object]) -> tuple[list[Box2D], list[tuple[Box2D, tuple | None]]]:
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
            T_cam_base = self.rig.transform(sensor.frame_id, self.rig.base_frame)
            dt = ns_to_seconds(view.exposure_stamp - frame.stamp)
            if frame.ego is not None:
                T_cam_base = T_cam_base @ np.linalg.inv(frame.ego.track.pose(view.exposure_stamp))
            corners = transform_points(T_cam_base, cuboid_corners(centres + velocities * dt, sizes, yaws))
            projected, truncations = project_cuboids(corners, sensor.camera, self.cfg.camera.near_plane_m)
            in_view = np.flatnonzero(~np.isnan(projected[:, 0]))
            if len(in_view) == 0:
                continue
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
                    if (
                        c.label is ObjectClass.PEDESTRIAN
                        and self.cfg.camera.hog_people
                        and evidence.person_in(box)
                    ):
                        score = max(score, 1.0)
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
                )
                boxes.append(b)
                pts_box = None
                if vis.sum() >= review.MIN_POINTS_FOR_2D_CHECK:
                    uv = view.uv[hit[vis]]
                    pts_box = (*uv.min(axis=0).tolist(), *uv.max(axis=0).tolist())
                observed.append((b, pts_box))
        return boxes, observed

    def detector_camera(self) -> str | None:
        """The camera the people detector looks at in the next frame ``process`` gets (None: none)."""
        if self._people is None:
            return None
        return scheduled_camera(self._frame_index, self._detector_cameras, self.cfg.camera.detector_every)

    def detect_people(self, image: np.ndarray) -> list[PersonDetection]:
        """The people detector on one image: what a caller may start early on another thread (``process``)."""
        if self._people is None:
            return []
        return self._people.detect(image)

    def _hold_people(self, frame, boxes: list[Box2D], people: Future[list[PersonDetection]] | None) -> None:
        """Keep this frame's people job (when scheduled) for ``take_people``; run now without ``people``."""
        name = self.detector_camera()
        due = self._frame_index + min(self.cfg.camera.detector_lag, self.cfg.camera.detector_every)
        self._frame_index += 1
        view = frame.cameras.get(name) if name is not None else None
        if view is None or view.image is None:
            return
        if self._pending_people is not None:
            raise RuntimeError("Prelabeler: the previous frame's people were not taken (take_people)")
        projected = [b.box for b in boxes if b.camera == name]
        self._pending_people = _PendingPeople(
            frame.stamp, name, view.exposure_stamp, projected,
            people if people is not None else run_job(None, lambda: self.detect_people(view.image)), due,
        )  # fmt: skip

    def take_people(self, *, final: bool = False) -> CameraOnlyPeople | None:
        """The camera-only people of the last scheduled frame once they are due (waiting for the detector
        then), once; None if none is pending or due.

        Call it before every frame, and with ``final`` at a restart or the end (due or not). A result
        is due ``detector_lag`` frames after its own, a count of frames and not of time, so a detector
        on another thread gives what it gives inline. A detector that raised gives an empty record with
        ``detector_error`` (the record always comes: that camera's annotations wait for it).
        """
        pending = self._pending_people
        if pending is None or (not final and self._frame_index < pending.due):
            return None
        self._pending_people = None
        try:
            found = pending.detections.result()
        except Exception as exc:  # noqa: BLE001 - OpenCV errors included: a detector failure stops nothing
            return CameraOnlyPeople(pending.frame_stamp, pending.camera, detector_error=repr(exc))
        cfg = self.cfg.camera
        detections = unmatched(found, pending.projected, cfg.detector_match_iou, cfg.detector_match_cover)
        boxes = tuple(
            Box2D(-1, pending.camera, pending.exposure_stamp, d.box, 0.0, 0.0, d.confidence,
                  ObjectClass.PEDESTRIAN, self._prov(ALGORITHM_PEOPLE, d.confidence))
            for d in detections
        )  # fmt: skip
        items = review.collect(
            stamp=pending.frame_stamp, cfg=cfg, cuboids=[], observed_boxes=[], radar_candidates=[],
            radar_mismatches=[], class_flips=[], id_switches=[], camera_only=list(boxes),
        )  # fmt: skip
        return CameraOnlyPeople(pending.frame_stamp, pending.camera, boxes, tuple(items))

    def people_pending(self, stamp: Stamp) -> str | None:
        """The camera whose people of the frame at ``stamp`` ``take_people`` has yet to hand over, or None."""
        pending = self._pending_people
        return pending.camera if pending is not None and pending.frame_stamp == stamp else None

    # ------------------------------------------------------------------ the one call
    def process(self, frame, people: Future[list[PersonDetection]] | None = None) -> PrelabelResult:
        """Pre-label one fused frame (``mmfusion_annotate.fusion.FusedFrame``).

        ``people``: ``detect_people`` already started on this frame's image of ``detector_camera()``
        (on another thread, so the ~130 ms detector runs beside this frame and the next few); without it the
        detector runs here when scheduled. Either way its camera-only people are not in this frame's
        result: ``take_people`` hands them over ``detector_lag`` frames later, and must have done so
        before the next scheduled frame (a ``RuntimeError`` says so otherwise: results are never dropped
        unseen).
        """
        lidar = (
            LidarGeometry.from_rig(self.rig, frame.sweep.lidar)
            if frame.sweep.lidar in self.rig.sensors
            else None
        )
        sensor_xy = lidar.xy if lidar is not None else (0.0, 0.0)
        detections, _ = detect(frame.sweep.xyz_deskewed, self.cfg, lidar, capture_xyz=frame.sweep.xyz)
        objects, flips, retired = self._objects(frame, detections, sensor_xy)
        objects, candidates, radar_mismatch = self._radar(frame, objects)
        boxes, observed = self._boxes(frame, objects)
        self._hold_people(frame, boxes, people)
        items = review.collect(
            stamp=frame.stamp,
            cfg=self.cfg.camera,
            cuboids=[o.cuboid for o in objects],
            observed_boxes=observed,
            radar_candidates=candidates,
            radar_mismatches=radar_mismatch,
            class_flips=flips,
            id_switches=self._id_switches(frame, objects, retired),
        )
        return PrelabelResult(
            frame.stamp,
            tuple(o.cuboid for o in objects),
            self._tracks(),
            tuple(boxes),
            tuple(candidates),
            tuple(items),
        )

    def _id_switches(self, frame, objects: list[_Object], retired: list[int]) -> list[tuple[int, int]]:
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
