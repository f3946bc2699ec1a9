"""Pre-labelling speed per stage on a 64-beam (KITTI HDL-64) and a 128-beam sweep, one core.

The 128-beam sweep is the KITTI sweep plus a copy raised by half a beam spacing (0.2 deg), i.e. twice
the points at the same range profile. Each sweep is fused with its camera image by the real
``FusionPipeline`` (KITTI rig from ``calib/``), then every stage is timed: LiDAR stages, the camera
steps (cuboid projection, image evidence, HOG on pedestrian boxes) and ``Prelabeler.process`` as a
whole. Baselines in the same run: Open3D RANSAC ground plane (one plane), Open3D DBSCAN clustering on
the same points, and OpenCV's HOG people detector over the whole image (instead of inside the boxes).
Run: ``.venv/bin/python bench/bench_prelabel.py``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import open3d as o3d  # noqa: E402

from mmfusion_annotate.bagtools.evaluate import CAMERA, LIDAR, load_frame  # noqa: E402
from mmfusion_annotate.fusion import FusionPipeline  # noqa: E402
from mmfusion_annotate.fusion.config import FusionConfig  # noqa: E402
from mmfusion_annotate.prelabel import ObjectClass, PrelabelConfig, Prelabeler  # noqa: E402
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners, project_cuboid, transform_points  # noqa: E402
from mmfusion_annotate.prelabel.classify import decide, size_scores  # noqa: E402
from mmfusion_annotate.prelabel.cluster import along_ray_gap_per_m, cluster_points  # noqa: E402
from mmfusion_annotate.prelabel.detect import LidarGeometry, detect  # noqa: E402
from mmfusion_annotate.prelabel.evidence import ImageEvidence  # noqa: E402
from mmfusion_annotate.prelabel.fit import fit_lshape  # noqa: E402
from mmfusion_annotate.prelabel.ground import remove_ground  # noqa: E402
from mmfusion_annotate.prelabel.tracker import Measurement, Tracker  # noqa: E402
from mmfusion_annotate.types import SensorSample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kitti" / "training"
REPEAT = 5


def _ms(fn, repeat=REPEAT):
    fn()
    t = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return (time.perf_counter() - t) / repeat * 1e3, out


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

    def project_all():
        out = []
        for d in dets:
            corners = transform_points(T_cam_base, cuboid_corners(d.center, d.size, d.box.yaw))
            box, _ = project_cuboid(corners, camera.camera, cfg.camera.near_plane_m)
            if box is not None:
                out.append((d, box))
        return out

    t_project, boxes = _ms(project_all)

    def evidence_all():
        evidence = ImageEvidence(image)  # one per camera image, as in Prelabeler
        return [evidence.score(b) for _, b in boxes]

    def hog_all():
        evidence = ImageEvidence(image)
        return [evidence.person_in(b) for b in people]

    t_evidence, _ = _ms(evidence_all)
    people = [b for d, b in boxes if d.label is ObjectClass.PEDESTRIAN]
    t_hog, _ = _ms(hog_all, repeat=2)
    t_process, result = _ms(lambda: Prelabeler(rig, cfg).process(frame))

    lidar_total = t_ground + t_cluster + t_fit + t_track
    camera_total = t_project + t_evidence + t_hog
    print(
        f"{label}: {len(xyz)} points, {labels.max() + 1} clusters ({grid_only.max() + 1} before the merge), "
        f"{len(boxes)} boxes in {CAMERA} ({image.shape[1]}x{image.shape[0]}), {len(people)} pedestrian boxes"
    )
    print(f"  ground (polar slope filter)      {t_ground:7.1f} ms")
    print(f"  cluster (BEV grid CC + merge)    {t_cluster:7.1f} ms   (grid CC alone {t_grid:.1f} ms)")
    print(f"  cuboid fit + class               {t_fit:7.1f} ms")
    print(f"  tracker                          {t_track:7.1f} ms")
    print(f"  camera: cuboid projection        {t_project:7.1f} ms")
    print(f"  camera: edge/colour evidence     {t_evidence:7.1f} ms")
    print(f"  camera: HOG in pedestrian boxes  {t_hog:7.1f} ms")
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
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    t_full, (found, _) = _ms(lambda: hog.detectMultiScale(image, winStride=(8, 8), scale=1.05), repeat=1)
    print(f"  baseline: HOG over the image     {t_full:7.1f} ms  ({len(found)} detections)")


def main() -> None:
    cv2.setNumThreads(1)
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
