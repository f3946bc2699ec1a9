"""``mmfusion import kitti``: frames of a KITTI object-layout folder as a test car's recording.

KITTI object frames are single moments from different drives, with no time, pose or track id. So:

- Frame ``k`` (in name order) is stamped ``FRAME_SPACING_NS`` (1 s) after frame ``k - 1``, and the rig
  says every sensor publishes at that rate. One second is ten sweep periods, far beyond the sync
  window, so no set mixes two frames; a longer gap would fail replay, which releases a set only when
  the next frame's messages prove it complete and by then must still hold its ego pose (2 s of
  history). The tracker retires tracks by missed frames, not seconds, so no gap would separate the
  scenes more. Sweep and image share the frame's stamp (KITTI's camera fires as the Velodyne faces
  forward).
- The ego car stands still at the world origin in every frame (identity odometry, zero twist): KITTI
  gives no poses, and its sweeps carry no point times to deskew.
- One rig for the bag: the Velodyne upright under base_link at the mounting height measured on the
  sweeps (median over frames; ``rig.lidar_mounting``), not KITTI's datasheet; one camera per distinct
  calibration and image size (frames from different days), named ``image_2`` for the first and
  ``image_2_<first frame>`` for the others, all optional then (each frame has one). Replay's sync
  leaves a camera silent for longer than its deadline out of the set it was in, so the frames of a
  folder that mixes calibrations reach fusion without their image (no 2D pre-labels): import one
  calibration's frames per folder to score 2D. Images are the PNG files' bytes as CompressedImage.
- Intensity is KITTI's reflectance (0..1) times 255, the 0..255 scale a Velodyne driver publishes.
- Labels go to ``/truth/objects`` in base_link, one id per object and frame (no track ids exist),
  with KITTI's type, truncation and occlusion as metadata; DontCare regions are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mmfusion_annotate.datasets.bag_import import (
    ImportSummary,
    Logged,
    camera_messages,
    ego_messages,
    write_import,
)
from mmfusion_annotate.datasets.kitti import (
    KittiObject,
    find_folder,
    frame_names,
    frame_path,
    read_labels,
    read_scan,
    rect_from_velodyne,
)
from mmfusion_annotate.errors import MmfusionError
from mmfusion_annotate.msgs.pointcloud2 import encode, make_points
from mmfusion_annotate.outputs.labels import SCENE_UPDATE
from mmfusion_annotate.outputs.truth import TRUTH_OBJECTS, truth_entity, truth_scene_update
from mmfusion_annotate.rig import Rig, rig_from_dict
from mmfusion_annotate.rig.image_size import image_size
from mmfusion_annotate.rig.kitti import CAMERA, LIDAR, kitti_camera, kitti_lidar, read_kitti_calib
from mmfusion_annotate.rig.lidar_mounting import LidarMounting, measure_mounting
from mmfusion_annotate.types import NS_PER_S, Stamp

FRAME_SPACING_NS = NS_PER_S
RATE_HZ = NS_PER_S / FRAME_SPACING_NS
"""Every sensor publishes once a frame: the rig says so, or replay would see a dropout between frames."""
ATTRIBUTION = "KITTI Vision Benchmark by Geiger, Lenz and Urtasun (CC BY-NC-SA 3.0, non-commercial)"
MOUNTING_FRAMES = 5
"""Sweeps the LiDAR mounting is measured on (spread over the folder), median of their figures."""


@dataclass(frozen=True)
class _Frame:
    """One frame: its name, stamp, calibration (None when missing) and camera (None without image)."""

    name: str
    stamp: Stamp
    calib: dict[str, np.ndarray] | None
    camera: str | None


def _calibrations(root: Path, names: list[str], summary: ImportSummary) -> dict[str, dict | None]:
    """Each frame's calibration, None (and a gap) when its file is missing or unreadable."""
    calibs: dict[str, dict | None] = {}
    for name in names:
        path = frame_path(root, "calib", name)
        calibs[name] = summary.read(path, partial(read_kitti_calib, path))
    return calibs


def _mounting(root: Path, names: list[str]) -> tuple[LidarMounting, list[str]]:
    with_scan = [n for n in names if frame_path(root, "velodyne", n).is_file()]
    spread = np.linspace(0, len(with_scan) - 1, min(MOUNTING_FRAMES, len(with_scan)))
    picked = sorted({with_scan[int(i)] for i in spread})
    measured = []
    for name in picked:
        try:
            mounting = measure_mounting(read_scan(frame_path(root, "velodyne", name))[:, :3])
        except (MmfusionError, OSError):
            continue  # named as a gap when the frame is written
        if mounting is not None:
            measured.append(mounting)
    if not measured:
        raise MmfusionError(f"{root}: no sweep with enough ground points to measure the LiDAR's mounting")
    ranges = np.array([m.vertical_range_deg for m in measured])
    return LidarMounting(
        round(float(np.median([m.height_m for m in measured])), 3),
        (float(np.min(ranges[:, 0])), float(np.max(ranges[:, 1]))),
    ), picked


def _rig(root: Path, names: list[str], calibs: dict, mounting: LidarMounting) -> tuple[Rig, dict[str, str]]:
    """The bag's rig and each frame's camera (one camera per distinct calibration and image size)."""
    cameras: list[dict[str, Any]] = []
    keys: dict[tuple, str] = {}
    camera_of: dict[str, str] = {}
    for name in names:
        image = frame_path(root, "image_2", name)
        if calibs[name] is None or not image.is_file():
            continue
        try:
            wh = image_size(image)
        except MmfusionError:
            continue  # named as a gap when the frame is written
        key = (*(calibs[name][k].tobytes() for k in ("P2", "R0_rect", "Tr_velo_to_cam")), wh)
        if key not in keys:
            camera = CAMERA if not keys else f"{CAMERA}_{name}"
            keys[key] = camera
            topic = f"/kitti/{camera}/image_raw/compressed"
            cameras.append(kitti_camera(calibs[name], wh, name=camera, topic=topic,
                                        frame_id=f"{camera}_optical", compressed=True))  # fmt: skip
        camera_of[name] = keys[key]
    odometry = {"name": "odometry", "kind": "odometry", "topic": "/odom", "frame_id": "base_link",
                "rate_hz": RATE_HZ}  # fmt: skip
    if len(cameras) > 1:  # each frame has one of them: the others are optional, left out of its set
        # after their deadline (periods of KITTI's 10 Hz camera), as a car's silent camera would be
        cameras = [{**camera, "optional": True} for camera in cameras]
    else:
        cameras = [{**camera, "rate_hz": RATE_HZ} for camera in cameras]
    sensors = [{**kitti_lidar(mounting), "rate_hz": RATE_HZ}, *cameras, odometry]
    doc = {"name": f"kitti_{root.parent.name}_{root.name}", "sensors": sensors}
    return rig_from_dict(doc, source=str(root)), camera_of


def import_kitti(
    folder: str | os.PathLike,
    bag_dir: str | os.PathLike,
    *,
    compression: str = "none",
    progress: bool = False,
) -> ImportSummary:
    """Import every frame of a KITTI object-layout folder (or its ``training/``) into ``bag_dir``."""
    root = find_folder(Path(folder))
    names = frame_names(root)
    if not any(frame_path(root, "velodyne", n).is_file() for n in names):
        raise MmfusionError(f"{root / 'velodyne'}: no .bin sweeps")
    summary = ImportSummary(Path(bag_dir), dataset="kitti")
    calibs = _calibrations(root, names, summary)
    mounting, measured_on = _mounting(root, names)
    rig, camera_of = _rig(root, names, calibs, mounting)
    frames = [_Frame(n, (k + 1) * FRAME_SPACING_NS, calibs[n], camera_of.get(n)) for k, n in enumerate(names)]
    summary.notes.update(
        dataset="kitti",
        attribution=ATTRIBUTION,
        source=str(root.resolve()),
        frames=", ".join(names),
        frame_spacing_s=FRAME_SPACING_NS / NS_PER_S,
        lidar_height_m=mounting.height_m,
        lidar_vertical_range_deg=list(mounting.vertical_range_deg),
        lidar_measured_on=", ".join(measured_on),
        cameras=", ".join(sorted(set(camera_of.values()))),
        intensity="reflectance x 255",
        ego="standing still at the origin in every frame (KITTI object frames carry no pose)",
    )
    odometry = rig.of_kind("odometry")[0]
    T_base_velo = rig.sensor_to_base(LIDAR)
    next_id = iter(range(1, 1 << 31))

    def frame_messages() -> Iterator[tuple[Stamp, list[Logged]]]:
        for frame in tqdm(frames, desc="import", unit="frame", disable=not progress):
            messages = ego_messages(odometry, frame.stamp, np.eye(4), np.zeros(3), np.zeros(3))
            messages += _sweep(root, frame, rig, summary)
            messages += _image(root, frame, rig, summary)
            objects = _labels(root, frame, T_base_velo, summary)
            if objects is not None:
                truth = [_entity(next(next_id), o, frame, rig.base_frame) for o in objects if not o.dont_care]
                update = truth_scene_update(truth)
                messages.append(Logged(TRUTH_OBJECTS, SCENE_UPDATE, update, frame.stamp))
            summary.frames += 1
            yield frame.stamp, messages

    write_import(bag_dir, rig, frame_messages(), summary, compression=compression)
    return summary


def _sweep(root: Path, frame: _Frame, rig: Rig, summary: ImportSummary) -> list[Logged]:
    path = frame_path(root, "velodyne", frame.name)
    scan = summary.read(path, partial(read_scan, path))
    if scan is None:
        return []
    sensor = rig.sensor(LIDAR)
    points = make_points(scan[:, :3], intensity=(scan[:, 3] * 255.0).astype(np.float32))
    cloud = encode(points, sensor.frame_id, frame.stamp)
    return [Logged(sensor.topic, sensor.msgtype, cloud, frame.stamp)]


def _image(root: Path, frame: _Frame, rig: Rig, summary: ImportSummary) -> list[Logged]:
    path = frame_path(root, "image_2", frame.name)
    if frame.camera is None:  # missing, or its size or calibration was not to be had
        reason = "unreadable image" if frame.calib is not None else "no calibration to place it"
        summary.gap(path, reason if path.is_file() else "missing")
        return []
    data = summary.read(path, path.read_bytes)
    if data is None:
        return []
    return camera_messages(rig.sensor(frame.camera), frame.stamp, data, "png")


def _labels(root: Path, frame: _Frame, T_base_velo: np.ndarray, summary: ImportSummary) -> list | None:
    path = frame_path(root, "label_2", frame.name)
    if frame.calib is None:
        summary.gap(path, "no calibration to place it" if path.is_file() else "missing")
        return None
    T_base_rect = T_base_velo @ np.linalg.inv(rect_from_velodyne(frame.calib))
    return summary.read(path, partial(read_labels, path, T_base_rect))


def _entity(object_id: int, obj: KittiObject, frame: _Frame, base_frame: str) -> dict[str, Any]:
    metadata = [("label", obj.type), ("truncated", f"{obj.truncated:.2f}"), ("occluded", str(obj.occluded)),
                ("frame", frame.name)]  # fmt: skip
    return truth_entity(object_id, obj.object_class.value, obj.center, obj.yaw, obj.size, base_frame,
                        frame.stamp, metadata)  # fmt: skip
