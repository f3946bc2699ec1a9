"""Pre-labelling speed per stage on a 64-beam (KITTI HDL-64) and a 128-beam sweep, one core.

The 128-beam sweep is the KITTI sweep plus a copy raised by half a beam spacing (0.2 deg), i.e. twice
the points at the same range profile. Each sweep is fused with its camera image by the real
``FusionPipeline`` (KITTI rig from ``calib/``), then every stage is timed: LiDAR stages, the camera
steps (cuboid projection, image evidence) and ``Prelabeler.process`` as a whole (LiDAR-only classes:
the camera detector has its own benchmark, ``bench_camera_detector.py``). Baselines in the same run:
Open3D RANSAC ground plane (one plane) and Open3D DBSCAN clustering on the same points.

Then the camera steps per fused frame on the default rig (6 cameras, 1600x900), on the frames of a cached
drive (``drive_cache.py``) pre-labelled by the real ``Annotator``: image evidence on each box's region
(``ImageEvidence``, the live code) against the previous full-image implementation (Lab, grey, Canny and
two integral images of every camera with a box) and against that same full-image code on half-resolution
images, with the score differences to the full-image baseline; and the cuboid projection in one call per
camera (``project_cuboids``) against one call per object and camera.
Needs the ``bench`` extra (open3d): ``.venv/bin/pip install -e .[bench]`` and ``libusb-1.0-0`` from apt.
Run: ``.venv/bin/python bench/bench_prelabel.py [--skip-kitti]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import open3d as o3d  # noqa: E402
from drive_cache import cached_drive  # noqa: E402

from mmfusion_annotate.annotator import Annotator  # noqa: E402
from mmfusion_annotate.config import PipelineConfig  # noqa: E402
from mmfusion_annotate.datasets.kitti_evaluate import CAMERA, LIDAR, load_frame  # noqa: E402
from mmfusion_annotate.fusion import FusionPipeline  # noqa: E402
from mmfusion_annotate.fusion.config import FusionConfig  # noqa: E402
from mmfusion_annotate.msgs.samples import decode_sample  # noqa: E402
from mmfusion_annotate.prelabel import PrelabelConfig, Prelabeler  # noqa: E402
from mmfusion_annotate.prelabel.boxes2d import (  # noqa: E402
    cuboid_corners,
    project_cuboids,
    transform_points,
)
from mmfusion_annotate.prelabel.classify import decide, size_scores  # noqa: E402
from mmfusion_annotate.prelabel.cluster import along_ray_gap_per_m, cluster_points  # noqa: E402
from mmfusion_annotate.prelabel.detect import LidarGeometry, detect  # noqa: E402
from mmfusion_annotate.prelabel.evidence import ImageEvidence  # noqa: E402
from mmfusion_annotate.prelabel.fit import fit_lshape  # noqa: E402
from mmfusion_annotate.prelabel.ground import (  # noqa: E402
    _walk_bins,
    _walk_bins_kernel,
    polar_cells,
    remove_ground,
    walk_parameters,
)
from mmfusion_annotate.prelabel.tracker import Measurement, Tracker  # noqa: E402
from mmfusion_annotate.recording import BagReader, deserialize  # noqa: E402
from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: E402
from mmfusion_annotate.types import SensorSample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kitti" / "training"
REPEAT = 5


def _ms(fn, repeat=REPEAT):
    fn()
    t = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return (time.perf_counter() - t) / repeat * 1e3, out


class FullImageEvidence:
    """Baseline: the evidence score as computed before, from integral images of the whole image.

    ``scale`` < 1 runs it on a downscaled image (INTER_AREA) with the box scaled alike.
    """

    EDGE_REF, COLOUR_REF, RING = 0.08, 25.0, 0.25

    def __init__(self, rgb: np.ndarray, scale: float = 1.0) -> None:
        if scale != 1.0:
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        self.rgb, self.scale = rgb, scale
        self.height, self.width = rgb.shape[:2]
        self._edges = self._lab = None

    def _integrals(self):
        if self._edges is None:
            gray = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)
            edges = (cv2.Canny(gray, 80, 160) > 0).astype(np.uint8)
            self._edges = cv2.integral(edges, sdepth=cv2.CV_32S)
            self._lab = cv2.integral(cv2.cvtColor(self.rgb, cv2.COLOR_RGB2LAB), sdepth=cv2.CV_32S)
        return self._edges, self._lab

    def _clip(self, box):
        limits = (self.width, self.height) * 2
        return tuple(int(np.clip(v, 0, lim)) for v, lim in zip(box, limits, strict=True))

    @staticmethod
    def _sum(integral, box):
        x1, y1, x2, y2 = box
        corners = integral[[y2, y1, y2, y1], [x2, x2, x1, x1]].astype(np.float64)
        return corners[0] - corners[1] - corners[2] + corners[3]

    def score(self, box) -> float:
        box = [v * self.scale for v in box]
        inner = self._clip(box)
        w, h = box[2] - box[0], box[3] - box[1]
        r = self.RING
        outer = self._clip((box[0] - r * w, box[1] - r * h, box[2] + r * w, box[3] + r * h))
        a_in = (inner[2] - inner[0]) * (inner[3] - inner[1])
        a_ring = (outer[2] - outer[0]) * (outer[3] - outer[1]) - a_in
        if a_in <= 0 or a_ring <= 0:
            return 0.0
        edges, lab = self._integrals()
        e_in = self._sum(edges, inner) / a_in
        e_ring = (self._sum(edges, outer) - self._sum(edges, inner)) / a_ring
        lab_in = self._sum(lab, inner) / a_in
        lab_ring = (self._sum(lab, outer) - self._sum(lab, inner)) / a_ring
        edge = min(1.0, e_in / self.EDGE_REF) * min(1.0, e_in / max(e_ring, 1e-3))
        colour = min(1.0, float(np.linalg.norm(lab_in - lab_ring)) / self.COLOUR_REF)
        return float(0.5 * edge + 0.5 * colour)


def _upsample(xyz: np.ndarray) -> np.ndarray:
    r = np.linalg.norm(xyz, axis=1)
    lifted = xyz.copy()
    lifted[:, 2] += r * math.tan(math.radians(0.2))
    return np.vstack([xyz, lifted]).astype(np.float32)


def bench(frame, rig, label: str) -> None:
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    cfg = PrelabelConfig()
    xyz = np.asarray(frame.sweep.xyz_deskewed)
    lidar = LidarGeometry.from_rig(rig, LIDAR)
    gap = along_ray_gap_per_m(cfg.cluster, lidar.azimuth_resolution_deg)
    t_ground, g = _ms(lambda: remove_ground(xyz, cfg.ground, cfg.cluster.max_range_m + 5))
    zmin = polar_cells(xyz, cfg.ground, cfg.cluster.max_range_m + 5)[2]
    walk = (zmin, *walk_parameters(cfg.ground, float(np.median(zmin[np.isfinite(zmin)]))))
    t_walk_kernel, _ = _ms(lambda: _walk_bins_kernel(*walk))
    t_walk_array, _ = _ms(lambda: _walk_bins(*walk))
    t_cluster, labels = _ms(lambda: cluster_points(xyz, g.height, cfg.cluster, lidar.xy, gap))
    t_grid, grid_only = _ms(lambda: cluster_points(xyz, g.height, cfg.cluster))

    def fit_all():
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
        out = []
        for k in range(labels.max() + 1):
            p = xyz[order[bounds[k] : bounds[k + 1]]]
            box = fit_lshape(p[:, :2], cfg.fit.angle_step_deg, cfg.fit.max_fit_points, cfg.fit.min_size_m)
            out.append(decide(size_scores(box.length, box.width, float(np.ptp(p[:, 2])))))
        return out

    t_fit, classes = _ms(fit_all)
    tracker = Tracker(cfg.tracker)
    meas = [Measurement((float(i), 0.0), 0.0, c) for i, (c, _) in enumerate(classes)]
    t_track, _ = _ms(lambda: tracker.step(time.perf_counter(), meas))

    # camera steps on the detected objects (whatever their class, as the 2D boxes are made)
    dets, _ = detect(xyz, cfg, lidar)
    camera = rig.sensor(CAMERA)
    T_cam_base = rig.transform(camera.frame_id, rig.base_frame)
    image = frame.cameras[CAMERA].image

    def project_per_object():
        for d in dets:
            corners = transform_points(T_cam_base, cuboid_corners(d.center, d.size, d.box.yaw))
            project_cuboids(corners[None], camera.camera_model, cfg.camera.near_plane_m)

    def project_all():
        centres = np.array([d.center for d in dets]).reshape(-1, 3)
        sizes = np.array([d.size for d in dets]).reshape(-1, 3)
        corners = transform_points(T_cam_base, cuboid_corners(centres, sizes, [d.box.yaw for d in dets]))
        projected, _ = project_cuboids(corners, camera.camera, cfg.camera.near_plane_m)
        return [(d, tuple(b)) for d, b in zip(dets, projected, strict=True) if not np.isnan(b[0])]

    t_project, boxes = _ms(project_all)
    t_project_loop, _ = _ms(project_per_object)

    def evidence_all():
        evidence = ImageEvidence(image)  # one per camera image, as in Prelabeler
        return [evidence.score(b) for _, b in boxes]

    def evidence_full_image():
        evidence = FullImageEvidence(image)
        return [evidence.score(b) for _, b in boxes]

    t_evidence, _ = _ms(evidence_all)
    t_evidence_full, _ = _ms(evidence_full_image)
    t_process, result = _ms(lambda: Prelabeler(rig, cfg).process(frame))

    lidar_total = t_ground + t_cluster + t_fit + t_track
    camera_total = t_project + t_evidence
    print(
        f"{label}: {len(xyz)} points, {labels.max() + 1} clusters ({grid_only.max() + 1} before the merge), "
        f"{len(boxes)} boxes in {CAMERA} ({image.shape[1]}x{image.shape[0]})"
    )
    print(f"  ground (polar slope filter)      {t_ground:7.1f} ms   (bin walk: CPU kernel "
          f"{t_walk_kernel:.2f} ms, numpy/CuPy loop {t_walk_array:.2f} ms)")  # fmt: skip
    print(f"  cluster (BEV grid CC + merge)    {t_cluster:7.1f} ms   (grid CC alone {t_grid:.1f} ms)")
    print(f"  cuboid fit + class               {t_fit:7.1f} ms")
    print(f"  tracker                          {t_track:7.1f} ms")
    print(f"  camera: cuboid projection        {t_project:7.1f} ms   (per object: {t_project_loop:.1f} ms)")
    print(f"  camera: edge/colour evidence     {t_evidence:7.1f} ms   (full image: {t_evidence_full:.1f} ms)")
    print(
        f"  LiDAR stages {lidar_total:.1f} ms + camera steps {camera_total:.1f} ms = "
        f"{lidar_total + camera_total:.1f} ms  (target < 100 ms)"
    )
    print(f"  Prelabeler.process (one call)    {t_process:7.1f} ms  ({len(result.cuboids)} cuboids)")
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz.astype(np.float64)))
    t_ransac, (_, inliers) = _ms(lambda: pcd.segment_plane(0.2, 3, 100), repeat=2)
    ransac_ground = np.zeros(len(xyz), bool)
    ransac_ground[inliers] = True
    agree = float((ransac_ground == np.asarray(g.is_ground)).mean())
    print(f"  baseline: RANSAC plane           {t_ransac:7.1f} ms  (agrees with slope filter: {agree:.1%})")
    obj = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz[labels >= 0].astype(np.float64)))
    t_db, db = _ms(lambda: np.asarray(obj.cluster_dbscan(eps=0.5, min_points=5)), repeat=1)
    print(f"  baseline: Open3D DBSCAN          {t_db:7.1f} ms  ({db.max() + 1} clusters on the same points)")


def default_rig_frames(scenario: str, seconds: float, warmup_s: float):
    """(rig, [(per camera (image, boxes scored in the live run), cuboids)] per fused frame) of a drive."""
    rig = load_rig(default_rig_path())
    cfg = PipelineConfig()
    annotator = Annotator(rig, cfg)
    sensors = {s.topic: s for s in rig.sensors.values()}
    min_px = cfg.prelabel.camera.min_box_px
    frames = []
    start = None
    for message in BagReader(cached_drive(scenario, seconds)):
        sensor = sensors.get(message.topic)
        if sensor is None:
            continue
        sample = decode_sample(sensor, deserialize(message.msgtype, message.data))
        for annotated in annotator.feed(sample).frames:
            start = annotated.frame.stamp if start is None else start
            if annotated.frame.stamp - start < warmup_s * 1e9:
                continue
            per_camera = []
            for name, view in sorted(annotated.frame.cameras.items()):
                scored = [
                    b.box
                    for b in annotated.labels.boxes2d
                    if b.camera == name and min(b.box[2] - b.box[0], b.box[3] - b.box[1]) >= min_px
                ]
                if scored and view.image is not None:
                    per_camera.append((view.image, scored))
            frames.append((per_camera, annotated.labels.cuboids))
    return rig, frames


def bench_default_rig(scenario: str, seconds: float) -> None:
    rig, frames = default_rig_frames(scenario, seconds, warmup_s=1.0)
    n_boxes = sum(len(b) for f, _ in frames for _, b in f)
    n_images = sum(len(f) for f, _ in frames)

    def evidence(factory):
        def run():
            out = []
            for per_camera, _ in frames:
                for image, boxes in per_camera:
                    ev = factory(image)
                    out += [ev.score(b) for b in boxes]
            return np.array(out)

        t, scores = _ms(run, repeat=2)
        return t / len(frames), scores

    t_full, s_full = evidence(FullImageEvidence)
    t_crop, s_crop = evidence(ImageEvidence)
    t_half, s_half = evidence(lambda image: FullImageEvidence(image, 0.5))
    print(
        f"default rig ({scenario}, {len(frames)} fused frames): {n_boxes / len(frames):.1f} scored boxes in "
        f"{n_images / len(frames):.1f} of 6 images per frame"
    )
    print("  camera evidence per fused frame          ms   max |score - full|  mean")
    for name, t, s in (
        ("full image (baseline)", t_full, s_full),
        ("box region + ring (live)", t_crop, s_crop),
        ("full image at half resolution", t_half, s_half),
    ):
        diff = np.abs(s - s_full)
        print(f"    {name:<32} {t:7.1f}   {diff.max():10.4f}       {diff.mean():.4f}")

    near = PrelabelConfig().camera.near_plane_m
    cameras = [(c.camera, rig.transform(c.frame_id, rig.base_frame)) for c in rig.cameras()]

    def per_object():
        for _, cuboids in frames:
            for model, T in cameras:
                for c in cuboids:
                    corners = transform_points(T, cuboid_corners(c.center, c.size, c.yaw))
                    project_cuboids(corners[None], model, near)

    def batched():
        for _, cuboids in frames:
            centres = np.array([c.center for c in cuboids]).reshape(-1, 3)
            sizes = np.array([c.size for c in cuboids]).reshape(-1, 3)
            yaws = np.array([c.yaw for c in cuboids])
            for model, T in cameras:
                project_cuboids(transform_points(T, cuboid_corners(centres, sizes, yaws)), model, near)

    n_cuboids = sum(len(c) for _, c in frames) / len(frames)
    t_loop, _ = _ms(per_object, repeat=2)
    t_batch, _ = _ms(batched, repeat=2)
    print(f"  cuboid projection per fused frame ({n_cuboids:.1f} cuboids x 6 cameras)")
    print(f"    one project call per object (baseline) {t_loop / len(frames):7.2f} ms")
    print(f"    one project call per camera (live)     {t_batch / len(frames):7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-kitti", action="store_true", help="only the default-rig camera steps")
    parser.add_argument("--scenario", default="cut_in")
    parser.add_argument("--seconds", type=float, default=6.0, help="drive length (cached under /tmp)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    bench_default_rig(args.scenario, args.seconds)
    if args.skip_kitti:
        return
    sample = load_frame(ROOT, "000001")
    bench(sample.frame, sample.rig, "64-beam (KITTI 000001)")
    raw = np.fromfile(ROOT / "velodyne" / "000001.bin", dtype=np.float32).reshape(-1, 4)
    up = _upsample(raw[:, :3])
    samples = {
        LIDAR: SensorSample(LIDAR, 0, {"xyz": up, "intensity": np.tile(raw[:, 3], 2)}),
        CAMERA: SensorSample(CAMERA, 0, {"image": sample.image}),
    }
    frame = FusionPipeline(sample.rig, FusionConfig(backend="cpu")).fuse(samples, None)
    bench(frame, sample.rig, "128-beam (upsampled)")


if __name__ == "__main__":
    main()
