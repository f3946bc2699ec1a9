"""Camera detector: ms per image per model (whole image, tiles), its cost in a fused frame and live, and
its quality on the real labelled images.

    .venv/bin/python bench/bench_camera_detector.py [--repeat 5] [--seconds 6] [--sections images frame ...]

Models are read from ``../shared/models`` (never copied into the repository). Sections:

1. ms per image (median of ``--repeat`` runs after one warm-up, 1 onnxruntime thread) per model, whole
   image and whole image + 3 tiles along the horizon, on a KITTI (1242x375), a nuScenes (1600x900) and a
   PandaSet (1920x1080) image.
2. ms of ``Prelabeler.process`` on the nuScenes keyframe (34,688 points, 6 cameras): LiDAR only, and with
   one or all six cameras' detections handed in ready (what the fusion adds beside inference).
3. Live: the cached ``cut_in`` drive of the default rig fed to the ``Annotator`` message by message as
   ``fusion_node`` does (helper threads on), LiDAR-only against each model on one camera every frame and
   every second frame, in turn: wall ms per frame of fusion + pre-labels (mean, p95), the part of it
   spent waiting for the detector thread, and all stages per frame. The simulator's rendered images hold
   nothing the models detect, so the fusion itself costs less here than on real images; the inference
   costs the same.
4. 2D precision and recall per class (IoU >= 0.5, greedy by score) of each model, whole image and with
   tiles, on the 3 KITTI frames (``label_2``, DontCare regions ignored, Van and Person_sitting neither
   hit nor miss) and the 6 nuScenes keyframe cameras (``cam_instances``; bicycles and motorcycles with
   a rider are cyclists, without one two-wheelers). "vehicle" pools car, truck and bus on both sides
   (COCO's and the datasets' vehicle classes are cut differently).
5. ``mmfusion evaluate`` on the KITTI folder: LiDAR-only against each model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drive_cache import cached_drive  # noqa: E402

from mmfusion_annotate.annotator import Annotator  # noqa: E402
from mmfusion_annotate.config import PipelineConfig  # noqa: E402
from mmfusion_annotate.datasets.kitti_evaluate import evaluate_kitti, format_report  # noqa: E402
from mmfusion_annotate.fusion import FusionPipeline  # noqa: E402
from mmfusion_annotate.fusion.config import FusionConfig  # noqa: E402
from mmfusion_annotate.msgs.samples import decode_sample  # noqa: E402
from mmfusion_annotate.prelabel import PrelabelConfig, Prelabeler  # noqa: E402
from mmfusion_annotate.prelabel.boxes2d import box_iou  # noqa: E402
from mmfusion_annotate.prelabel.camera_detector import CameraDetector, open_model  # noqa: E402
from mmfusion_annotate.prelabel.camera_fusion import camera_objects  # noqa: E402
from mmfusion_annotate.prelabel.config import DetectorConfig  # noqa: E402
from mmfusion_annotate.recording import BagReader, deserialize  # noqa: E402
from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: E402
from mmfusion_annotate.rig.nuscenes import CAMERAS, nuscenes_rig  # noqa: E402
from mmfusion_annotate.types import SensorSample  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS = {"deimv2-femto": "deimv2_hgnetv2_femto_coco.onnx", "yolox-nano": "yolox_nano.onnx"}
KITTI = SHARED / "data" / "kitti" / "training"
NUSCENES = SHARED / "data" / "nuscenes_keyframe"
NUSCENES_INFO = NUSCENES / "derived" / "n015-2018-07-24-11-22-45+0800.info.json"
PANDASET_IMAGE = SHARED / "data" / "pandaset_seq002" / "002" / "camera" / "front_camera" / "30.jpg"
TILES = 3
IOU = 0.5
KITTI_CLASSES = {"Pedestrian": "pedestrian", "Cyclist": "cyclist", "Car": "car", "Truck": "truck"}
KITTI_IGNORED = {"Van": "car", "Person_sitting": "pedestrian"}  # neither hit nor miss for that class
NUSCENES_CLASSES = {0: "car", 1: "truck", 2: "truck", 3: "bus", 4: "truck", 7: "pedestrian"}
VEHICLES = ("car", "truck", "bus")
ROWS = ("pedestrian", "cyclist", "two-wheeler", "car", "vehicle")


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _detector(name: str, tiles: int = 0, **cfg) -> CameraDetector:
    model = open_model(SHARED / "models" / MODELS[name], "auto", threads=1)
    return CameraDetector(model, DetectorConfig(model=name, tiles=tiles, **cfg), name)


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


# --------------------------------------------------------------------------------------- 1. per image
def per_image(repeat: int) -> None:
    images = {
        "KITTI 1242x375": _rgb(KITTI / "image_2" / "000001.png"),
        "nuScenes 1600x900": _rgb(next(NUSCENES.glob("*CAM_FRONT__*.jpg"))),
        "PandaSet 1920x1080": _rgb(PANDASET_IMAGE),
    }
    print(f"1. ms per image (median of {repeat}, 1 thread): whole image | whole + {TILES} tiles")
    for name in MODELS:
        whole, tiled = _detector(name), _detector(name, tiles=TILES)
        cells = [
            f"{label} {_median_ms(lambda d=whole, i=img: d.detect(i), repeat):6.1f} | "
            f"{_median_ms(lambda d=tiled, i=img: d.detect(i), repeat):6.1f}"
            for label, img in images.items()
        ]
        print(f"  {name:<13} " + "    ".join(cells))


# ---------------------------------------------------------------------------------- 2. fused frame
def nuscenes_frame():
    """The nuScenes keyframe fused on its own calibration (cameras hung off the LiDAR by lidar2cam)."""
    rig = nuscenes_rig(NUSCENES_INFO, extrinsics="sample")
    scan = np.fromfile(next(NUSCENES.glob("*LIDAR_TOP*.pcd.bin")), dtype=np.float32).reshape(-1, 5)
    samples = {"LIDAR_TOP": SensorSample("LIDAR_TOP", 0, {"xyz": np.ascontiguousarray(scan[:, :3])})}
    for cam in CAMERAS:
        samples[cam] = SensorSample(cam, 0, {"image": _rgb(next(NUSCENES.glob(f"*__{cam}__*.jpg")))})
    return rig, FusionPipeline(rig, FusionConfig(backend="cpu")).fuse(samples, None)


def fused_frame(repeat: int) -> None:
    """Variants timed in turn, ``repeat`` rounds, so a busy spell of the shared machine hits them alike."""
    rig, frame = nuscenes_frame()
    runs = {"LiDAR only": lambda: Prelabeler(rig).process(frame)}
    boxes = {}
    for name in MODELS:
        detector = _detector(name)
        for per_frame in (1, 0):
            cfg = PrelabelConfig.model_validate(
                {"camera": {"detector": {"model": name, "per_frame": per_frame}}}
            )
            pre = Prelabeler(rig, cfg, detector)
            found = pre.detect_cameras({c: frame.cameras[c].image for c in pre.detector_cameras()})
            ready: Future = Future()
            ready.set_result(found)
            label = f"{name:<13} {'all 6 cameras' if per_frame == 0 else '1 camera':<14}"
            runs[label] = lambda c=cfg, d=detector, r=ready: Prelabeler(rig, c, d).process(frame, r)
            boxes[label] = sum(len(f.detections) for f in found)
    times: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(repeat + 1):  # the first round warms up
        for label, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[label].append((time.perf_counter() - t0) * 1e3)
    ms = {label: statistics.median(t[1:]) for label, t in times.items()}
    print(
        f"2. Prelabeler.process on the nuScenes keyframe (ms, median of {repeat}; detections handed in ready)"
    )
    base = ms["LiDAR only"]
    for label, value in ms.items():
        extra = "" if label == "LiDAR only" else f"  ({boxes[label]:2d} boxes, fusion {value - base:+.1f})"
        print(f"  {label:<29} {value:6.1f}{extra}")


# ------------------------------------------------------------------------------------------- 3. live
def live(seconds: float) -> None:
    rig = load_rig(default_rig_path())
    bag = cached_drive("cut_in", seconds)
    messages = list(BagReader(bag))
    sensors = {s.topic: s for s in rig.sensors.values()}
    print(f"3. live (cut_in, {seconds:g} s, default rig, helper threads): wall ms per frame")
    print(
        "  model         every  fusion+prelabel mean / p95   of which waiting for the detector   all stages"
    )
    variants = [(None, 1)] + [(name, every) for name in MODELS for every in (1, 2)]
    for name, every in variants:
        detector = {"model": str(SHARED / "models" / MODELS[name]), "every": every} if name else {}
        config = PipelineConfig(prelabel=PrelabelConfig.model_validate({"camera": {"detector": detector}}))
        annotator = Annotator(rig, config)
        annotator.warm_up()
        waits: list[float] = []
        take = annotator.prelabeler._camera_detections

        def timed(*args, take=take, waits=waits):
            t0 = time.perf_counter()
            found = take(*args)
            waits.append((time.perf_counter() - t0) * 1e3)
            return found

        annotator.prelabeler._camera_detections = timed
        per_frame, t0 = [], time.perf_counter()
        for message in messages:
            sensor = sensors.get(message.topic)
            if sensor is None:
                continue
            out = annotator.feed(decode_sample(sensor, deserialize(message.msgtype, message.data)))
            per_frame += [f.stage_ms["fusion"] + f.stage_ms["prelabel"] for f in out.frames]
        wall = (time.perf_counter() - t0) * 1e3 / len(per_frame)
        per_frame, waits = per_frame[10:], waits[10:]  # the tracker's start left out
        p95 = float(np.percentile(per_frame, 95))
        print(
            f"  {name or 'LiDAR only':<13} {every:>5}  {statistics.mean(per_frame):6.1f} / {p95:6.1f}"
            f"              {statistics.mean(waits):6.1f}                      {wall:6.1f}"
        )


# ---------------------------------------------------------------------------------------- 4. quality
def kitti_images():
    """(image, [(box, class, ignored)], DontCare boxes) per KITTI frame."""
    for label_file in sorted((KITTI / "label_2").glob("*.txt")):
        gts, dontcare = [], []
        for line in label_file.read_text().splitlines():
            f = line.split()
            box = tuple(float(v) for v in f[4:8])
            if f[0] in KITTI_CLASSES:
                gts.append((box, KITTI_CLASSES[f[0]], False))
            elif f[0] in KITTI_IGNORED:
                gts.append((box, KITTI_IGNORED[f[0]], True))
            else:
                dontcare.append(box)
        yield _rgb(KITTI / "image_2" / f"{label_file.stem}.png"), gts, dontcare


def nuscenes_images():
    info = json.loads(NUSCENES_INFO.read_text())["data_list"][0]
    for cam in CAMERAS:
        gts = []
        for inst in info["cam_instances"][cam]:
            label = inst["bbox_label"]
            if label in (5, 6):
                gts.append(
                    (tuple(inst["bbox"]), "cyclist" if inst["attr_label"] == 0 else "two-wheeler", False)
                )
            elif label in NUSCENES_CLASSES:
                gts.append((tuple(inst["bbox"]), NUSCENES_CLASSES[label], False))
        yield _rgb(NUSCENES / info["images"][cam]["img_path"]), gts, []


def _class_of(obj) -> str:
    return "two-wheeler" if obj.label is None else obj.label.value


def _score(preds, gts, dontcare, row: str, counts: dict) -> None:
    """Greedy matching of one image's predictions of ``row`` to its labels; adds tp, fp, fn."""

    def in_row(cls: str) -> bool:
        return cls in VEHICLES if row == "vehicle" else cls == row

    labels = [(box, ignored and row != "vehicle") for box, cls, ignored in gts if in_row(cls)]
    free = list(range(len(labels)))
    for p in sorted((p for p in preds if in_row(_class_of(p))), key=lambda p: -p.score):
        best = max(free, key=lambda k: box_iou(p.box, labels[k][0]), default=None)
        if best is not None and box_iou(p.box, labels[best][0]) >= IOU:
            free.remove(best)
            counts["tp"] += 0 if labels[best][1] else 1
        elif not any(_inside(p.box, d) >= 0.5 for d in dontcare):
            counts["fp"] += 1
    counts["fn"] += sum(1 for k in free if not labels[k][1])


def _inside(inner, outer) -> float:
    w = min(inner[2], outer[2]) - max(inner[0], outer[0])
    h = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return w * h / area if w > 0 and h > 0 and area > 0 else 0.0


def _pr(c: dict) -> str:
    p = f"{c['tp'] / (c['tp'] + c['fp']):.2f}" if c["tp"] + c["fp"] else "   -"
    r = f"{c['tp'] / (c['tp'] + c['fn']):.2f}" if c["tp"] + c["fn"] else "   -"
    return f"{p}/{r} ({c['tp']}/{c['fp']}/{c['fn']})"


def quality() -> None:
    datasets = {"KITTI 3 frames": list(kitti_images()), "nuScenes 6 cameras": list(nuscenes_images())}
    for dataset, images in datasets.items():
        labelled = {
            row: sum(
                1
                for _, gts, _ in images
                for _, c, ig in gts
                if not ig and (c in VEHICLES if row == "vehicle" else c == row)
            )
            for row in ROWS
        }
        print(
            f"4. 2D P/R (tp/fp/fn) at IoU >= {IOU}, {dataset}; labels: "
            + ", ".join(f"{row} {n}" for row, n in labelled.items())
        )
        print("  model          input      " + "".join(f"{row:<21}" for row in ROWS))
        for name in MODELS:
            for tiles in (0, TILES):
                detector = _detector(name, tiles=tiles)
                counts = {row: {"tp": 0, "fp": 0, "fn": 0} for row in ROWS}
                for image, gts, dontcare in images:
                    preds = camera_objects(detector.detect(image))
                    for row in ROWS:
                        _score(preds, gts, dontcare, row, counts[row])
                how = f"+{tiles} tiles" if tiles else "whole"
                print(f"  {name:<14} {how:<10} " + "".join(f"{_pr(counts[row]):<21}" for row in ROWS))


def kitti_evaluate() -> None:
    print("5. mmfusion evaluate ../shared/data/kitti/training: LiDAR only, then each model")
    for name in (None, *MODELS):
        detector = {"model": str(SHARED / "models" / MODELS[name])} if name else {}
        report = evaluate_kitti(KITTI, cfg=PrelabelConfig.model_validate({"camera": {"detector": detector}}))
        rows = [line for line in format_report(report).splitlines() if "@" in line or "precision" in line]
        print(f"  -- {name or 'LiDAR only'}")
        print("\n".join("    " + line for line in rows))


SECTIONS = {
    "images": per_image,
    "frame": fused_frame,
    "live": live,
    "quality": quality,
    "evaluate": kitti_evaluate,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing runs per figure (sections 1, 2)")
    parser.add_argument("--seconds", type=float, default=6.0, help="live: seconds of the cut_in drive")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args()
    for name in args.sections:
        fn = SECTIONS[name]
        fn(*{"images": (args.repeat,), "frame": (args.repeat,), "live": (args.seconds,)}.get(name, ()))


if __name__ == "__main__":
    main()
