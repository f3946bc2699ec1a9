"""Evaluate the pre-labeller on any dataset in the KITTI object layout, against its labels.

Layout: ``velodyne/*.bin`` (float32 x, y, z, reflectance), ``image_2/*.png``, ``calib/*.txt`` (P2,
R0_rect, Tr_velo_to_cam), ``label_2/*.txt``. Each frame is pre-labelled on its own (KITTI object frames
are not consecutive), with ``base_link`` = the LiDAR frame and one camera ``image_2`` whose model comes
from P2. Labels are converted from rectified cam-0 (bottom centre, rotation_y) to the LiDAR frame.
Only objects inside the camera's field of view are labelled in KITTI, so predictions are scored only
when their projected box lands in the image and not mostly inside a DontCare region.
Nothing here is tuned to a particular dataset: image size, LiDAR, ranges all come from the files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mmfusion_annotate.errors import CalibrationError, MmfusionError
from mmfusion_annotate.fusion.frame import CameraView, FusedFrame, Sweep
from mmfusion_annotate.fusion.zbuffer import visible_mask
from mmfusion_annotate.prelabel import PrelabelConfig, Prelabeler, PrelabelResult
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners, transform_points
from mmfusion_annotate.prelabel.metrics import Evaluator, GtObject, format_report
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.rig.camera_model import CameraModel

CAMERA = "image_2"
LIDAR = "velodyne"
_KITTI_CLASS = {
    "Car": (ObjectClass.CAR, False),
    "Van": (ObjectClass.CAR, True),
    "Pedestrian": (ObjectClass.PEDESTRIAN, False),
    "Person_sitting": (ObjectClass.PEDESTRIAN, True),
    "Cyclist": (ObjectClass.CYCLIST, False),
    "Truck": (ObjectClass.TRUCK, True),
    "Tram": (ObjectClass.UNKNOWN, True),
    "Misc": (ObjectClass.UNKNOWN, True),
}
_ZBUFFER = {"block": 4, "radius": 1, "tol_abs": 0.3, "tol_rel": 0.05}  # FusionConfig defaults
_DONTCARE_OVERLAP = 0.5


@dataclass(frozen=True)
class KittiCalib:
    """P2 camera model and T_cam2_velo (rectified cam-2 optical frame <- LiDAR)."""

    camera: CameraModel
    T_cam_velo: np.ndarray
    T_rect_velo: np.ndarray


def read_calib(path: Path, width: int, height: int) -> KittiCalib:
    """Parse a KITTI ``calib/*.txt``; CalibrationError naming the file and key on a missing/bad entry."""
    values: dict[str, np.ndarray] = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, rest = line.split(":", 1)
            values[key.strip()] = np.array(rest.split(), dtype=np.float64)
    need = {"P2": 12, "R0_rect": 9, "Tr_velo_to_cam": 12}
    for key, n in need.items():
        if key not in values or values[key].size != n:
            raise CalibrationError(f"needs {n} numbers", file=str(path), key=key)
    P2 = values["P2"].reshape(3, 4)
    R0 = np.eye(4)
    R0[:3, :3] = values["R0_rect"].reshape(3, 3)
    Tr = np.eye(4)
    Tr[:3, :] = values["Tr_velo_to_cam"].reshape(3, 4)
    K = P2[:, :3]
    T_cam2_rect = np.eye(4)
    T_cam2_rect[:3, 3] = np.linalg.solve(K, P2[:, 3])  # the baseline term of P2
    T_rect_velo = R0 @ Tr
    camera = CameraModel(width=width, height=height, K=K, P=P2)
    return KittiCalib(camera, T_cam2_rect @ T_rect_velo, T_rect_velo)


def read_labels(path: Path, T_rect_velo: np.ndarray) -> tuple[list[GtObject], list[tuple]]:
    """(3D objects in the LiDAR frame, DontCare 2D regions) from a ``label_2`` file."""
    T_velo_rect = np.linalg.inv(T_rect_velo)
    objects, dontcare = [], []
    for n, line in enumerate(path.read_text().splitlines()):
        f = line.split()
        if not f:
            continue
        if len(f) < 15:
            raise MmfusionError(f"{path}: line {n + 1}: expected 15 fields, got {len(f)}")
        box2d = tuple(float(v) for v in f[4:8])
        if f[0] == "DontCare" or f[0] not in _KITTI_CLASS:
            dontcare.append(box2d)
            continue
        h, w, length = (float(v) for v in f[8:11])
        bottom = np.array([float(v) for v in f[11:14]])
        ry = float(f[14])
        centre_rect = bottom - np.array([0.0, h / 2, 0.0])
        centre = T_velo_rect[:3, :3] @ centre_rect + T_velo_rect[:3, 3]
        heading = T_velo_rect[:3, :3] @ np.array([math.cos(ry), 0.0, -math.sin(ry)])
        label, ignore = _KITTI_CLASS[f[0]]
        objects.append(
            GtObject(
                object_id=n,
                label=label,
                center=tuple(float(v) for v in centre),
                size=(length, w, h),
                yaw=math.atan2(heading[1], heading[0]),
                boxes2d={CAMERA: box2d},
                ignore=ignore,
            )
        )
    return objects, dontcare


class _KittiRig:
    """The two sensors of a KITTI frame, with the few Rig methods the pre-labeller uses."""

    base_frame = LIDAR

    def __init__(self, calib: KittiCalib) -> None:
        self._calib = calib
        self.sensors = {
            LIDAR: _Sensor(LIDAR, LIDAR, None),
            CAMERA: _Sensor(CAMERA, CAMERA, calib.camera),
        }

    def sensor(self, name: str):
        return self.sensors[name]

    def sensor_to_base(self, name: str) -> np.ndarray:
        return np.eye(4) if name == LIDAR else np.linalg.inv(self._calib.T_cam_velo)

    def transform(self, target: str, source: str) -> np.ndarray:
        return self.sensor_to_base(source) if target == LIDAR else np.linalg.inv(self.sensor_to_base(target))


@dataclass(frozen=True)
class _Sensor:
    name: str
    frame_id: str
    camera: CameraModel | None


def kitti_frame(velodyne: Path, image: np.ndarray, calib: KittiCalib) -> tuple[FusedFrame, _KittiRig]:
    """A FusedFrame of one KITTI sample (stamp 0, no ego motion, no radar)."""
    scan = np.fromfile(velodyne, dtype=np.float32)
    if scan.size % 4:
        raise MmfusionError(f"{velodyne}: size is not a multiple of 4 float32")
    scan = scan.reshape(-1, 4)
    xyz = np.ascontiguousarray(scan[:, :3])
    n = len(xyz)
    sweep = Sweep(LIDAR, 0, xyz, xyz, scan[:, 3].copy(), np.zeros(n, np.uint16), np.zeros(n, np.int64))
    cam = transform_points(calib.T_cam_velo, xyz.astype(np.float64))
    uv, depth, in_image = calib.camera.project(cam)
    inside = np.flatnonzero(in_image)
    uv_in, depth_in = uv[inside], depth[inside].astype(np.float64)
    width, height = calib.camera.width, calib.camera.height
    visible = visible_mask(uv_in, depth_in, width, height, xp=np, **_ZBUFFER)
    colors = np.zeros((len(inside), 3), np.uint8)
    px = np.floor(uv_in[visible]).astype(np.int64)
    colors[visible] = image[px[:, 1], px[:, 0]]
    view = CameraView(
        CAMERA,
        image,
        0,
        width,
        height,
        n,
        inside.astype(np.int32),
        uv_in.astype(np.float32),
        depth_in.astype(np.float32),
        visible,
        colors,
    )
    rig = _KittiRig(calib)
    return FusedFrame(0, sweep, {CAMERA: view}, {}, None, rig, "cpu"), rig


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
class FrameOutcome:
    frame: str
    image: np.ndarray
    calib: KittiCalib
    gts: list[GtObject]
    result: PrelabelResult


def evaluate_kitti(
    dataset_dir: str | Path, cfg: PrelabelConfig | None = None, images_out: str | Path | None = None
) -> dict:
    """Pre-label every frame of a KITTI-layout folder, score against ``label_2``; returns the report dict.

    With ``images_out`` a side-by-side PNG per frame (labels left, pre-labels right) is written there.
    """
    root = Path(dataset_dir)
    for sub in ("velodyne", "image_2", "calib", "label_2"):
        if not (root / sub).is_dir():
            raise MmfusionError(f"{root}: not a KITTI object layout (missing {sub}/)")
    frames = sorted(p.stem for p in (root / "velodyne").glob("*.bin"))
    if not frames:
        raise MmfusionError(f"{root / 'velodyne'}: no .bin files")
    cfg = cfg or PrelabelConfig()
    evaluator = Evaluator()
    for name in frames:
        image_path = root / "image_2" / f"{name}.png"
        bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise MmfusionError(f"{image_path}: cannot read image")
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        calib = read_calib(root / "calib" / f"{name}.txt", image.shape[1], image.shape[0])
        gts, dontcare = read_labels(root / "label_2" / f"{name}.txt", calib.T_rect_velo)
        frame, rig = kitti_frame(root / "velodyne" / f"{name}.bin", image, calib)
        result = Prelabeler(rig, cfg).process(frame)
        cuboids, boxes = _scored(result, dontcare)
        evaluator.add_frame(gts, cuboids, boxes)
        if images_out is not None:
            out = Path(images_out)
            out.mkdir(parents=True, exist_ok=True)
            side = write_side_by_side(FrameOutcome(name, image, calib, gts, result))
            cv2.imwrite(str(out / f"{name}.png"), cv2.cvtColor(side, cv2.COLOR_RGB2BGR))
    report = evaluator.report()
    report["dataset"] = str(root)
    report["params_version"] = cfg.params_version
    return report


_COLOURS = {
    ObjectClass.CAR: (0, 200, 255),
    ObjectClass.TRUCK: (0, 120, 255),
    ObjectClass.BUS: (120, 0, 255),
    ObjectClass.PEDESTRIAN: (255, 60, 60),
    ObjectClass.CYCLIST: (255, 200, 0),
    ObjectClass.UNKNOWN: (160, 160, 160),
}
_EDGE_PAIRS = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))


def _draw_cuboid(img: np.ndarray, calib: KittiCalib, center, size, yaw, colour) -> None:
    corners = transform_points(calib.T_cam_velo, cuboid_corners(center, size, yaw))
    if (corners[:, 2] < 0.5).any():
        return
    uv, _, _ = calib.camera.project(corners)
    if not np.isfinite(uv).all():
        return
    for a, b in _EDGE_PAIRS:
        cv2.line(img, tuple(int(v) for v in uv[a]), tuple(int(v) for v in uv[b]), colour, 1, cv2.LINE_AA)


def write_side_by_side(outcome: FrameOutcome) -> np.ndarray:
    """RGB image: labels (left) and pre-labels with confidences (right), 3D boxes and 2D boxes drawn."""
    left, right = outcome.image.copy(), outcome.image.copy()
    for g in outcome.gts:
        colour = _COLOURS[g.label]
        _draw_cuboid(left, outcome.calib, g.center, g.size, g.yaw, colour)
        if CAMERA in g.boxes2d:
            x1, y1, x2, y2 = (int(v) for v in g.boxes2d[CAMERA])
            cv2.rectangle(left, (x1, y1), (x2, y2), colour, 1)
    boxes = {b.object_id: b for b in outcome.result.boxes2d}
    for c in outcome.result.cuboids:
        colour = _COLOURS[c.label]
        _draw_cuboid(right, outcome.calib, c.center, c.size, c.yaw, colour)
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


def print_report(report: dict) -> str:
    """The text the CLI prints for ``mmfusion evaluate``."""
    return f"dataset: {report['dataset']} (params {report['params_version']})\n" + format_report(report)
