"""Evaluate the pre-labeller on any dataset in the KITTI object layout, against its labels.

Layout: ``velodyne/*.bin`` (float32 x, y, z, reflectance), ``image_2/*.png``, ``calib/*.txt`` (P2,
R0_rect, Tr_velo_to_cam), ``label_2/*.txt``. Each frame is pre-labelled on its own (KITTI object frames
are not consecutive): the rig comes from its calibration file (``rig.kitti.kitti_rig``: ``base_link`` on
the ground under the Velodyne, camera ``image_2`` from P2), with the LiDAR's mounting height and vertical
field of view measured on the frame's points or taken from a given rig, never KITTI's assumed; the frame
is fused by the same ``FusionPipeline`` as live data. Labels are converted from rectified cam-0 (bottom
centre, rotation_y) to base_link (``datasets.kitti``).
Only objects inside the camera's field of view are labelled in KITTI, so predictions are scored only
when their projected box lands in the image and not mostly inside a DontCare region.
Nothing here is tuned to a particular dataset: image size, LiDAR, ranges all come from the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mmfusion_annotate.datasets import kitti
from mmfusion_annotate.errors import MmfusionError
from mmfusion_annotate.fusion import FusedFrame, FusionPipeline
from mmfusion_annotate.fusion.config import FusionConfig
from mmfusion_annotate.outputs.labels import class_color_rgb8
from mmfusion_annotate.prelabel import PrelabelConfig, Prelabeler, PrelabelResult
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners, transform_points
from mmfusion_annotate.prelabel.camera_detector import describe, load_camera_detector
from mmfusion_annotate.prelabel.metrics import Evaluator, GtObject, format_metrics
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.rig.kitti import CAMERA, LIDAR, kitti_rig, read_kitti_calib
from mmfusion_annotate.rig.lidar_mounting import LidarMounting, measure_mounting
from mmfusion_annotate.types import SensorSample

_DONTCARE_OVERLAP = 0.5


@dataclass(frozen=True)
class KittiFrame:
    """One KITTI sample: its rig (from ``calib/``), the fused frame, and the labels in base_link."""

    name: str
    rig: Rig
    frame: FusedFrame
    gts: list[GtObject]
    dontcare: list[tuple]

    @property
    def image(self) -> np.ndarray:
        image = self.frame.cameras[CAMERA].image
        assert image is not None, "load_frame fuses every frame with its image"
        return image


def read_labels(path: Path, T_base_rect: np.ndarray) -> tuple[list[GtObject], list[tuple]]:
    """(3D objects in base_link, DontCare 2D regions) from a ``label_2`` file (``datasets.kitti``).

    ``T_base_rect`` maps the rectified cam-0 frame of the labels into base_link.
    """
    objects, dontcare = [], []
    for o in kitti.read_labels(path, T_base_rect):
        if o.dont_care:
            dontcare.append(o.box2d)
            continue
        gt = GtObject(
            o.line - 1, o.object_class, o.center, o.size, o.yaw, boxes2d={CAMERA: o.box2d}, ignore=o.ignore
        )
        objects.append(gt)
    return objects, dontcare


def lidar_mounting(rig: Rig | None, xyz: np.ndarray, source: Path) -> LidarMounting:
    """The LiDAR's mounting height and vertical field of view: from ``rig`` (its first LiDAR) when given,
    else measured on the frame's own points (``rig.lidar_mounting``), never assumed."""
    if rig is not None:
        lidar = rig.lidars()[0]
        angles = lidar.lidar.vertical_angles_deg if lidar.lidar is not None else ()
        if not angles:
            raise MmfusionError(f"rig '{rig.name}': LiDAR '{lidar.name}' has no vertical_range_deg/angles")
        height = float(rig.sensor_to_base(lidar.name)[2, 3])
        return LidarMounting(height, (float(min(angles)), float(max(angles))))
    mounting = measure_mounting(xyz)
    if mounting is None:
        raise MmfusionError(f"{source}: too few ground points to measure the LiDAR's mounting: give --rig")
    return mounting


def load_frame(
    root: Path, name: str, fusion_config: FusionConfig | None = None, mounting_rig: Rig | None = None
) -> KittiFrame:
    """Read one sample of a KITTI object folder and fuse it (stamp 0, no ego motion, no radar).

    The LiDAR's mounting comes from ``mounting_rig`` when given, else from the frame's points.
    """
    image_path = root / "image_2" / f"{name}.png"
    bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MmfusionError(f"{image_path}: cannot read image")
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    velodyne = root / "velodyne" / f"{name}.bin"
    scan = kitti.read_scan(velodyne)
    calib_path = root / "calib" / f"{name}.txt"
    mounting = lidar_mounting(mounting_rig, scan[:, :3], velodyne)
    rig = kitti_rig(calib_path, image_wh=(image.shape[1], image.shape[0]), mounting=mounting)
    T_rect_velo = kitti.rect_from_velodyne(read_kitti_calib(calib_path))
    T_base_rect = rig.sensor_to_base(LIDAR) @ np.linalg.inv(T_rect_velo)
    gts, dontcare = read_labels(root / "label_2" / f"{name}.txt", T_base_rect)
    samples = {
        LIDAR: SensorSample(
            LIDAR, 0, {"xyz": np.ascontiguousarray(scan[:, :3]), "intensity": scan[:, 3].copy()}
        ),
        CAMERA: SensorSample(CAMERA, 0, {"image": image}),
    }
    frame = FusionPipeline(rig, fusion_config or FusionConfig(backend="cpu")).fuse(samples, None)
    return KittiFrame(name, rig, frame, gts, dontcare)


def _scored(result: PrelabelResult, dontcare: list[tuple]):
    """Cuboids seen in the camera and not mostly in a DontCare region, and their 2D boxes."""
    boxes = {b.object_id: b for b in result.boxes2d if b.camera == CAMERA}
    keep = []
    for c in result.cuboids:
        b = boxes.get(c.object_id)
        if b is None:
            continue
        x1, y1, x2, y2 = b.box
        area = max((x2 - x1) * (y2 - y1), 1e-9)
        covered = max(
            (
                max(0.0, min(x2, d[2]) - max(x1, d[0])) * max(0.0, min(y2, d[3]) - max(y1, d[1])) / area
                for d in dontcare
            ),
            default=0.0,
        )
        if covered < _DONTCARE_OVERLAP:
            keep.append(c)
    return keep, [boxes[c.object_id] for c in keep]


@dataclass(frozen=True)
class EvaluationReport:
    """What ``mmfusion evaluate`` prints: the ``Evaluator`` figures of a whole KITTI-layout folder."""

    dataset: str
    params_version: str
    frames: tuple[str, ...]
    metrics: dict
    camera_detector: str = ""  # ``camera_detector.describe``: what gave the classes

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "params_version": self.params_version,
            "camera_detector": self.camera_detector,
            **self.metrics,
        }


def evaluate_kitti(
    dataset_dir: str | Path,
    images_dir: str | Path | None = None,
    progress: bool = False,
    cfg: PrelabelConfig | None = None,
    rig: Rig | None = None,
) -> EvaluationReport:
    """Pre-label every frame of a KITTI-layout folder and score it against ``label_2``.

    The LiDAR's mounting height and vertical field of view come from ``rig`` (its first LiDAR) when
    given, else from each frame's points (ground plane, outer beams); the camera from ``calib/``.

    With ``images_dir`` a side-by-side PNG per frame (labels left, pre-labels right) is written there;
    ``progress`` shows a progress bar on stderr.
    """
    root = Path(dataset_dir)
    for sub in ("velodyne", "image_2", "calib", "label_2"):
        if not (root / sub).is_dir():
            raise MmfusionError(f"{root}: not a KITTI object layout (missing {sub}/)")
    names = sorted(p.stem for p in (root / "velodyne").glob("*.bin"))
    if not names:
        raise MmfusionError(f"{root / 'velodyne'}: no .bin files")
    cfg = cfg or PrelabelConfig()
    # KITTI stores reflectance in 0..1; the point classifier reads intensity on the 0..255 scale
    cfg = cfg.model_copy(update={"semantics": cfg.semantics.model_copy(update={"intensity_scale": 255.0})})
    detector = load_camera_detector(cfg.camera.detector)  # once: a session per frame would cost its load
    evaluator = Evaluator()
    for name in tqdm(names, desc="evaluate", unit="frame", disable=not progress):
        sample = load_frame(root, name, mounting_rig=rig)
        # KITTI object frames are not consecutive: each one is pre-labelled on its own
        result = Prelabeler(sample.rig, cfg, detector).process(sample.frame)
        cuboids, boxes = _scored(result, sample.dontcare)
        evaluator.add_frame(sample.gts, cuboids, boxes)
        if images_dir is not None:
            out = Path(images_dir)
            out.mkdir(parents=True, exist_ok=True)
            side = write_side_by_side(sample, result)
            cv2.imwrite(str(out / f"{name}.png"), cv2.cvtColor(side, cv2.COLOR_RGB2BGR))
    report = evaluator.report()
    return EvaluationReport(str(root), cfg.params_version, tuple(names), report, describe(detector))


_EDGE_PAIRS = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))


def _draw_cuboid(img: np.ndarray, rig: Rig, center, size, yaw, colour) -> None:
    camera = rig.sensor(CAMERA)
    corners = transform_points(
        rig.transform(camera.frame_id, rig.base_frame), cuboid_corners(center, size, yaw)
    )
    if (corners[:, 2] < 0.5).any():
        return
    uv, _, _ = camera.camera_model.project(corners)
    if not np.isfinite(uv).all():
        return
    for a, b in _EDGE_PAIRS:
        cv2.line(img, tuple(int(v) for v in uv[a]), tuple(int(v) for v in uv[b]), colour, 1, cv2.LINE_AA)


def write_side_by_side(sample: KittiFrame, result: PrelabelResult) -> np.ndarray:
    """RGB image: labels (left) and pre-labels with confidences (right), 3D boxes and 2D boxes drawn."""
    left, right = sample.image.copy(), sample.image.copy()
    for g in sample.gts:
        colour = class_color_rgb8(g.label)
        _draw_cuboid(left, sample.rig, g.center, g.size, g.yaw, colour)
        if CAMERA in g.boxes2d:
            x1, y1, x2, y2 = (int(v) for v in g.boxes2d[CAMERA])
            cv2.rectangle(left, (x1, y1), (x2, y2), colour, 1)
    boxes = {b.object_id: b for b in result.boxes2d}
    for c in result.cuboids:
        colour = class_color_rgb8(c.label)
        _draw_cuboid(right, sample.rig, c.center, c.size, c.yaw, colour)
        if c.object_id in boxes:
            x1, y1, x2, y2 = (int(v) for v in boxes[c.object_id].box)
            cv2.rectangle(right, (x1, y1), (x2, y2), colour, 1)
            text = f"{c.label.value} {c.provenance.confidence:.2f}"
            cv2.putText(
                right, text, (x1, max(y1 - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA
            )
    cv2.putText(left, "labels", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    cv2.putText(right, "pre-labels", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    return np.hstack([left, right])


def format_report(report: EvaluationReport) -> str:
    """The text ``mmfusion evaluate`` prints."""
    head = f"dataset: {report.dataset} (params {report.params_version})\n"
    if report.camera_detector:
        head += report.camera_detector + "\n"
    return head + format_metrics(report.metrics)
