"""Pre-labelling speed per stage on a 64-beam (KITTI HDL-64) and a 128-beam sweep, one core.

The 128-beam sweep is the KITTI sweep plus a copy raised by half a beam spacing (0.2 deg), i.e. twice
the points at the same range profile. Baselines in the same run: Open3D RANSAC ground plane (one plane)
and Open3D DBSCAN clustering, on the same points. Run: ``.venv/bin/python bench/bench_prelabel.py``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import open3d as o3d

from mmfusion_annotate.prelabel.classify import decide, size_scores
from mmfusion_annotate.prelabel.cluster import cluster_points
from mmfusion_annotate.prelabel.config import PrelabelConfig
from mmfusion_annotate.prelabel.fit import fit_lshape
from mmfusion_annotate.prelabel.ground import remove_ground
from mmfusion_annotate.prelabel.tracker import Measurement, Tracker

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kitti" / "training" / "velodyne"
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


def bench(xyz: np.ndarray, label: str) -> None:
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    cfg = PrelabelConfig()
    t_ground, g = _ms(lambda: remove_ground(xyz, cfg.ground, cfg.cluster.max_range_m + 5))
    t_cluster, labels = _ms(lambda: cluster_points(xyz, g.height, cfg.cluster))

    def fit_all():
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(labels.max() + 2))
        out = []
        for k in range(labels.max() + 1):
            p = xyz[order[bounds[k] : bounds[k + 1]]]
            box = fit_lshape(p[:, :2], cfg.fit.angle_step_deg, cfg.fit.max_fit_points, cfg.fit.min_size_m)
            out.append(decide(size_scores(box.length, box.width, float(np.ptp(p[:, 2])))))
        return out

    t_fit, boxes = _ms(fit_all)
    tracker = Tracker(cfg.tracker)
    meas = [Measurement((float(i), 0.0), 0.0, c) for i, (c, _) in enumerate(boxes)]
    t_track, _ = _ms(lambda: tracker.step(time.perf_counter(), meas))
    total = t_ground + t_cluster + t_fit + t_track
    print(f"{label}: {len(xyz)} points, {labels.max() + 1} clusters")
    print(f"  ground (polar slope filter) {t_ground:7.1f} ms")
    print(f"  cluster (BEV grid CC)       {t_cluster:7.1f} ms")
    print(f"  cuboid fit + class          {t_fit:7.1f} ms")
    print(f"  tracker                     {t_track:7.1f} ms")
    print(f"  TOTAL                       {total:7.1f} ms  (target < 100 ms)")
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz.astype(np.float64)))
    t_ransac, (_, inliers) = _ms(lambda: pcd.segment_plane(0.2, 3, 100), repeat=2)
    ransac_ground = np.zeros(len(xyz), bool)
    ransac_ground[inliers] = True
    agree = float((ransac_ground == np.asarray(g.is_ground)).mean())
    print(f"  baseline: RANSAC plane      {t_ransac:7.1f} ms  (agrees with slope filter: {agree:.1%})")
    obj = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz[labels >= 0].astype(np.float64)))
    t_db, db = _ms(lambda: np.asarray(obj.cluster_dbscan(eps=0.5, min_points=5)), repeat=1)
    print(f"  baseline: Open3D DBSCAN     {t_db:7.1f} ms  ({db.max() + 1} clusters on the same points)")


def main() -> None:
    xyz = np.fromfile(DATA / "000001.bin", dtype=np.float32).reshape(-1, 4)[:, :3].copy()
    bench(xyz, "64-beam (KITTI 000001)")
    bench(_upsample(xyz), "128-beam (upsampled)")


if __name__ == "__main__":
    main()
