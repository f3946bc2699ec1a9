"""``mmfusion import nuscenes``: a nuScenes sample in mmdetection3d's layout as a test car's recording.

The folder holds an mmdetection3d (v1.1) info file (``*.info.json``, here or in ``derived/``; else the
``*.pkl`` with the same content, unpickled: read only files you trust) and the sample's files named by
it: ``LIDAR_TOP`` as ``.pcd.bin`` (float32 x, y, z, intensity 0..255, ring; sensor frame x right,
y forward, z up) and six JPEGs. nuScenes (Motional, CC BY-NC-SA 4.0).

- Rig (``rig.nuscenes``): ``base_link`` is nuScenes' ego frame; LIDAR_TOP by ``lidar2ego``, the cameras
  by their static ``cam2ego``; plus odometry.
- Ego motion: the info gives the ego pose at the LiDAR stamp (``ego2global``), and each camera's
  ``lidar2cam`` chains the ego poses at the LiDAR and camera stamps, so ``cam2ego · lidar2cam ·
  lidar2ego⁻¹`` is the ego's motion between them: seven poses over 43 ms. A constant velocity and yaw
  rate fitted to them gives ``/odom`` over the sweep, so replay's motion compensation and the 2D
  scoring follow the car as the dataset's own ``lidar2cam`` does.
- Point times: nuScenes stamps a sweep when its rotation completes, and fires each camera as the beam
  crosses the camera's optical axis. So the azimuth where the rotation ends is read off the cameras'
  axes and stamps (they agree within ``PHASE_TOLERANCE_DEG``), and each point's time follows from its
  azimuth at 20 rotations a second, clockwise; the cloud is stamped at its first point (the sweep's
  start), as the project's drivers stamp it.
- Raw sweep: nuScenes' points are motion-compensated to the LiDAR stamp (its paper says so, and the
  boxes' ``num_lidar_pts`` count them so), so each is moved into the sensor frame as it stood at the
  point's own time (``datasets.poses``, as the PandaSet import does) and replay's compensation gives
  them back.
- Truth: the 3D boxes (LiDAR frame at the LiDAR stamp) moved to base_link at the sweep's start (ego
  motion, and the box's velocity when known), one id per box (the info has no instance tokens);
  bicycles and motorcycles are cyclists when their camera attribute says ``cycle.with_rider``.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.datasets.bag_import import (
    ImportSummary,
    Logged,
    camera_messages,
    ego_messages,
    write_import,
)
from mmfusion_annotate.datasets.poses import interpolate_poses, world_to_moving_frame
from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.fusion.poses import invert_pose, make_pose
from mmfusion_annotate.msgs.pointcloud2 import encode_xyzirt
from mmfusion_annotate.outputs.labels import SCENE_UPDATE
from mmfusion_annotate.outputs.truth import TRUTH_OBJECTS, truth_entity, truth_scene_update
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.rig import Rig, rig_from_dict
from mmfusion_annotate.rig.nuscenes import CAMERAS, info_sample, nuscenes_sensors
from mmfusion_annotate.types import NS_PER_S, Stamp

LIDAR = "LIDAR_TOP"
ROTATION_HZ = 20.0
PHASE_TOLERANCE_DEG = 5.0
"""The cameras' estimates of where the rotation ends must agree this well, or points get no times."""
ODOMETRY_STEP_NS = 10_000_000
ATTRIBUTION = "nuScenes by Motional (CC BY-NC-SA 4.0, non-commercial), via open-mmlab/mmdetection3d's demo"
CLASS_OF_CATEGORY = {
    "car": ObjectClass.CAR,
    "truck": ObjectClass.TRUCK,
    "trailer": ObjectClass.TRUCK,
    "construction_vehicle": ObjectClass.TRUCK,
    "bus": ObjectClass.BUS,
    "pedestrian": ObjectClass.PEDESTRIAN,
}
"""Other categories (cones, barriers, riderless two-wheelers) are ``unknown``."""
RIDDEN = frozenset({"bicycle", "motorcycle"})
WITH_RIDER = 0
"""``attr_label`` of ``cycle.with_rider`` (mmdetection3d's nus_attributes)."""


def find_info(path: str | os.PathLike) -> tuple[Path, Any]:
    """(info file, its loaded content) of a nuScenes folder; ConfigError naming what is missing."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError("not a folder", file=str(root))
    infos = sorted(root.glob("*.info.json")) + sorted(root.glob("derived/*.info.json"))
    if infos:
        try:
            doc = json.loads(infos[0].read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read nuScenes info ({exc})", file=str(infos[0])) from None
        return infos[0], doc
    pickles = sorted(root.glob("*.pkl"))
    if not pickles:
        raise ConfigError("not a nuScenes folder: missing an mmdetection3d info file (*.info.json or *.pkl)",
                          file=str(root))  # fmt: skip
    try:
        with pickles[0].open("rb") as handle:
            doc = pickle.load(handle)  # noqa: S301 (documented: the user's own dataset file)
    except (
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        ValueError,
        TypeError,
    ) as exc:
        raise ConfigError(f"cannot read nuScenes info pickle ({exc})", file=str(pickles[0])) from None
    return pickles[0], doc


def _seconds(value: Any) -> Stamp:
    return round(float(value) * 1e6) * 1000  # nuScenes stamps are whole microseconds


def _ego_poses(sample: dict[str, Any], source: str) -> tuple[np.ndarray, np.ndarray]:
    """(stamps, T_world_ego) at the LiDAR stamp and at each camera's, sorted by time."""
    lidar2ego = np.asarray(sample["lidar_points"]["lidar2ego"], np.float64)
    ego_lidar = np.asarray(sample["ego2global"], np.float64)
    stamps, poses = [_seconds(sample["timestamp"])], [ego_lidar]
    for cam in CAMERAS:
        image = sample["images"].get(cam)
        if not image or "lidar2cam" not in image or "cam2ego" not in image:
            continue
        # cam2ego · lidar2cam · lidar2ego⁻¹ = (ego at the camera stamp)⁻¹ · (ego at the LiDAR stamp)
        moved = np.asarray(image["cam2ego"]) @ np.asarray(image["lidar2cam"]) @ invert_pose(lidar2ego)
        stamps.append(_seconds(image["timestamp"]))
        poses.append(ego_lidar @ invert_pose(moved))
    order = np.argsort(stamps, kind="stable")
    if len(order) < 2:
        raise ConfigError("no camera with lidar2cam and cam2ego: cannot tell the ego's motion", file=source)
    return np.asarray(stamps, np.int64)[order], np.asarray(poses)[order]


class _ConstantTwist:
    """Ego poses fitted by a constant velocity and yaw rate about the LiDAR stamp's pose."""

    def __init__(self, stamps: np.ndarray, poses: np.ndarray, reference_ns: Stamp) -> None:
        self.reference_ns = reference_ns
        self.reference = poses[int(np.argmin(np.abs(stamps - reference_ns)))]
        dt = (stamps - reference_ns) / NS_PER_S
        A = np.c_[dt, np.ones_like(dt)]
        self.velocity = np.linalg.lstsq(A, poses[:, :3, 3], rcond=None)[0][0]
        yaws = np.unwrap([math.atan2(T[1, 0], T[0, 0]) for T in poses])
        self.yaw_rate = float(np.linalg.lstsq(A, yaws, rcond=None)[0][0])
        fitted = np.array([self.pose(int(t))[:3, 3] for t in stamps])
        self.residual_m = float(np.abs(fitted - poses[:, :3, 3]).max())

    def pose(self, stamp: Stamp) -> np.ndarray:
        dt = (stamp - self.reference_ns) / NS_PER_S
        turn = Rotation.from_euler("z", self.yaw_rate * dt).as_matrix()
        return make_pose(turn @ self.reference[:3, :3], self.reference[:3, 3] + self.velocity * dt)

    def twist(self, stamp: Stamp) -> tuple[np.ndarray, np.ndarray]:
        """(linear, angular) in the ego's own axes, as nav_msgs/Odometry carries them."""
        R = self.pose(stamp)[:3, :3]
        return R.T @ self.velocity, R.T @ np.array([0.0, 0.0, self.yaw_rate])


def _rotation_end_deg(sample: dict[str, Any], rig: Rig, lidar_ns: Stamp) -> float | None:
    """Azimuth (LiDAR frame, degrees) where the rotation ends at the LiDAR stamp, from each camera's
    optical axis and trigger time; None when the cameras disagree by more than ``PHASE_TOLERANCE_DEG``."""
    estimates = []
    for sensor in rig.cameras():
        T = rig.transform(rig.sensor(LIDAR).frame_id, sensor.frame_id)
        axis = T[:3, :3] @ np.array([0.0, 0.0, 1.0])
        azimuth = math.degrees(math.atan2(axis[1], axis[0]))
        behind_s = (lidar_ns - _seconds(sample["images"][sensor.name]["timestamp"])) / NS_PER_S
        estimates.append(azimuth - 360.0 * ROTATION_HZ * behind_s)  # clockwise: azimuth falls with time
    if not estimates:
        return None
    mean = math.degrees(np.angle(np.mean(np.exp(1j * np.radians(estimates)))))
    spread = max(abs((e - mean + 180.0) % 360.0 - 180.0) for e in estimates)
    return mean if spread <= PHASE_TOLERANCE_DEG else None


def point_times(xyz: np.ndarray, lidar_ns: Stamp, end_deg: float) -> np.ndarray:
    """Capture time (ns) of each point of a clockwise sweep ending at ``lidar_ns`` at azimuth ``end_deg``."""
    azimuth = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))
    before_end = np.mod(azimuth - end_deg, 360.0) / 360.0  # fraction of a rotation before the end
    return lidar_ns - np.round(before_end * NS_PER_S / ROTATION_HZ).astype(np.int64)


def _class_of(category: str, attribute: int | None) -> ObjectClass:
    if category in RIDDEN:
        return ObjectClass.CYCLIST if attribute == WITH_RIDER else ObjectClass.UNKNOWN
    return CLASS_OF_CATEGORY.get(category, ObjectClass.UNKNOWN)


def _attributes(sample: dict[str, Any], centres_lidar: np.ndarray) -> list[int | None]:
    """Each 3D box's camera attribute: the ``cam_instances`` box whose centre is its own (within 5 cm)."""
    out: list[int | None] = [None] * len(centres_lidar)
    for cam, boxes in (sample.get("cam_instances") or {}).items():
        lidar2cam = np.asarray(sample["images"][cam]["lidar2cam"], np.float64)
        in_cam = centres_lidar @ lidar2cam[:3, :3].T + lidar2cam[:3, 3]
        for box in boxes:
            d = np.linalg.norm(in_cam - np.asarray(box["bbox_3d"][:3]), axis=1)
            if len(d) and d.min() < 0.05:
                out[int(np.argmin(d))] = int(box.get("attr_label", -1))
    return out


def _truth(
    sample: dict[str, Any], categories: dict, rig: Rig, ego: _ConstantTwist, start_ns: Stamp
) -> list[dict[str, Any]]:
    """The sample's 3D boxes as ``/truth/objects`` entities in base_link at the sweep's start."""
    names = {int(v): str(k) for k, v in categories.items()}
    instances = sample.get("instances") or []
    boxes = np.array([i["bbox_3d"] for i in instances], np.float64).reshape(-1, 7)
    attributes = _attributes(sample, boxes[:, :3])
    T_base_lidar = rig.sensor_to_base(LIDAR)
    T_world_lidar = ego.pose(ego.reference_ns) @ T_base_lidar
    T_base_world = invert_pose(ego.pose(start_ns))
    dt = (start_ns - ego.reference_ns) / NS_PER_S
    entities = []
    for n, (instance, box, attribute) in enumerate(zip(instances, boxes, attributes, strict=True), start=1):
        category = names.get(int(instance.get("bbox_label_3d", -1)), "other")
        velocity = np.array([*(instance.get("velocity") or [math.nan, math.nan])[:2], 0.0], np.float64)
        known = bool(np.isfinite(velocity).all())
        moved = T_world_lidar[:3, :3] @ velocity * dt if known else np.zeros(3)
        centre_world = T_world_lidar[:3, :3] @ box[:3] + T_world_lidar[:3, 3] + moved
        centre = T_base_world[:3, :3] @ centre_world + T_base_world[:3, 3]
        R = T_base_world[:3, :3] @ T_world_lidar[:3, :3]
        heading = R @ np.array([math.cos(box[6]), math.sin(box[6]), 0.0])
        metadata = [("label", category), ("num_lidar_pts", str(instance.get("num_lidar_pts", "")))]
        if known:
            metadata.insert(
                0, ("velocity_base", " ".join(f"{v:.4f}" for v in T_base_lidar[:3, :3] @ velocity))
            )
        if attribute is not None:
            metadata.append(("attr_label", str(attribute)))
        entities.append(truth_entity(n, _class_of(category, attribute).value, centre,
                                     math.atan2(heading[1], heading[0]), box[3:6], rig.base_frame, start_ns,
                                     metadata))  # fmt: skip
    return entities


def _raw_sweep(
    rig: Rig, scan: np.ndarray, t_ns: np.ndarray | None, lidar_ns: Stamp, knots: np.ndarray, poses: np.ndarray
) -> Logged:
    """The sweep as the sensor captured it: each point, given in the LiDAR frame at ``lidar_ns``, moved
    into the sensor frame at its own time (``poses`` T_world_base at ``knots``); stamped at its first
    point. Without point times the cloud stays as given, stamped at ``lidar_ns``."""
    sensor = rig.sensor(LIDAR)
    xyz = scan[:, :3].astype(np.float64)
    if t_ns is None:
        stamp, t_ns = lidar_ns, np.full(len(xyz), lidar_ns, np.int64)
    else:
        T_base_lidar = rig.sensor_to_base(LIDAR)
        rotation, translation = interpolate_poses(knots, poses, np.array([lidar_ns]))
        T_world_lidar = make_pose(rotation.as_matrix()[0], translation[0]) @ T_base_lidar
        world = xyz @ T_world_lidar[:3, :3].T + T_world_lidar[:3, 3]
        base = world_to_moving_frame(knots, poses, world, t_ns)
        lidar_from_base = invert_pose(T_base_lidar)
        xyz = base @ lidar_from_base[:3, :3].T + lidar_from_base[:3, 3]
        stamp = int(t_ns.min())
    cloud = encode_xyzirt(xyz, scan[:, 3], scan[:, 4], t_ns, sensor.frame_id, stamp)
    return Logged(sensor.topic, sensor.msgtype, cloud, lidar_ns)


def import_nuscenes(
    folder: str | os.PathLike, bag_dir: str | os.PathLike, *, compression: str = "none"
) -> ImportSummary:
    """Import the (first) sample of a nuScenes folder in mmdetection3d's layout into ``bag_dir``."""
    info_path, doc = find_info(folder)
    root = Path(folder)
    source = str(info_path)
    sample = info_sample(doc, source)
    categories = (doc.get("metainfo") or {}).get("categories")
    if not isinstance(categories, dict):
        raise ConfigError(
            "missing key (cannot name the boxes' classes)", file=source, key="metainfo.categories"
        )
    summary = ImportSummary(Path(bag_dir), dataset="nuscenes")
    odometry = {"name": "odometry", "kind": "odometry", "topic": "/odom", "frame_id": "base_link",
                "rate_hz": NS_PER_S / ODOMETRY_STEP_NS}  # fmt: skip
    sensors = [*nuscenes_sensors(sample, source, root), odometry]
    rig = rig_from_dict(
        {"name": f"nuscenes_{sample.get('token', 'sample')}", "sensors": sensors}, source=source
    )
    lidar_ns = _seconds(sample["timestamp"])
    start_ns = lidar_ns - round(NS_PER_S / ROTATION_HZ)
    ego = _ConstantTwist(*_ego_poses(sample, source), lidar_ns)
    knots = np.arange(start_ns - ODOMETRY_STEP_NS, lidar_ns + 2 * ODOMETRY_STEP_NS, ODOMETRY_STEP_NS)
    base_poses = np.array([ego.pose(int(k)) for k in knots])  # T_world_base on the odometry's stamps
    messages: list[Logged] = []
    for stamp, pose in zip(knots, base_poses, strict=True):
        messages += ego_messages(rig.of_kind("odometry")[0], int(stamp), pose, *ego.twist(int(stamp)))
    end_deg = _rotation_end_deg(sample, rig, lidar_ns)
    cloud_path = root / Path(str(sample["lidar_points"].get("lidar_path", ""))).name
    scan = summary.read(cloud_path, lambda: np.fromfile(cloud_path, np.float32))
    if scan is not None:
        width = int(sample["lidar_points"].get("num_pts_feats", 5))
        if scan.size % width or width < 5:
            summary.gap(cloud_path, f"unreadable (not N x {width} float32 with a ring column)")
        else:
            scan = scan.reshape(-1, width)
            t_ns = point_times(scan[:, :3], lidar_ns, end_deg) if end_deg is not None else None
            messages.append(_raw_sweep(rig, scan, t_ns, lidar_ns, knots, base_poses))
            start_ns = int(t_ns.min()) if t_ns is not None else lidar_ns
    for sensor in rig.cameras():
        image = sample["images"][sensor.name]
        path = root / Path(str(image.get("img_path", ""))).name
        data = summary.read(path, path.read_bytes)
        if data is not None:
            messages += camera_messages(sensor, _seconds(image["timestamp"]), data, "jpeg")
    truth = truth_scene_update(_truth(sample, categories, rig, ego, start_ns))
    messages.append(Logged(TRUTH_OBJECTS, SCENE_UPDATE, truth, lidar_ns))
    summary.frames = 1
    summary.notes.update(
        dataset="nuscenes",
        attribution=ATTRIBUTION,
        source=str(info_path.resolve()),
        sample_token=str(sample.get("token", "")),
        ego_motion=f"constant velocity {np.linalg.norm(ego.velocity):.2f} m/s and yaw rate "
        f"{math.degrees(ego.yaw_rate):.2f} deg/s fitted to the ego poses at the LiDAR and camera stamps "
        f"(largest residual {ego.residual_m * 1e3:.1f} mm)",
        point_times=f"from azimuth, clockwise at 20 Hz, rotation ending at {end_deg:.1f} deg"
        if end_deg is not None
        else "none: the cameras disagree on the LiDAR's phase",
        truth_objects=len(sample.get("instances") or []),
    )
    write_import(bag_dir, rig, [(int(knots[0]), messages)], summary, compression=compression)
    return summary
