"""PandaSet sequences (PandaSet by Hesai and Scale AI, CC BY 4.0) as numpy arrays and integer nanoseconds.

A sequence folder (``002/``) holds ``lidar/{NN.pkl.gz, poses.json, timestamps.json}``,
``camera/<camera>/{NN.jpg, intrinsics.json, poses.json, timestamps.json}``,
``annotations/cuboids/NN.pkl.gz`` and ``annotations/semseg/{NN.pkl.gz, classes.json}``. Frame ``NN``
indexes element ``int(NN)`` of every per-sequence JSON list. Points and cuboids are in the sequence's
world frame; a pose is ``T_world_<sensor>`` with a (w, x, y, z) quaternion. The pickles are pandas
DataFrames, so reading them needs pandas; unpickling runs code, so read only files you trust.

Only ``lidar/poses.json`` and ``lidar/timestamps.json`` are required; every other file may be missing
(``SequenceFiles`` says which are), so a partial copy still imports what it has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.msgs.point_time import TimeRule, to_absolute_ns

CAMERAS = (
    "front_camera",
    "front_left_camera",
    "front_right_camera",
    "left_camera",
    "right_camera",
    "back_camera",
)
LIDARS = ("pandar64", "pandargt")
"""LiDAR names by the device number of the sweep pickles' ``d`` column (0 = Pandar64, 1 = PandarGT)."""
REQUIRED = ("lidar/poses.json", "lidar/timestamps.json")
_EPOCH_SECONDS = TimeRule("t", "s", relative=False)


def seconds_to_stamps(seconds: Any) -> np.ndarray:
    """Unix seconds (float64) -> int64 ns without the float rounding of ``seconds * 1e9`` at epoch scale."""
    return to_absolute_ns(np.asarray(seconds, np.float64), _EPOCH_SECONDS, 0)


def find_sequence(path: str | Path) -> Path:
    """The sequence folder at ``path``, or in its only sub-folder that is one (``pandaset_seq002/002``).

    ConfigError naming what is missing when neither is a PandaSet sequence.
    """
    path = Path(path)
    if not path.is_dir():
        raise ConfigError("not a folder", file=str(path))
    if all((path / name).is_file() for name in REQUIRED):
        return path
    inner = [p for p in sorted(path.iterdir()) if p.is_dir() and all((p / n).is_file() for n in REQUIRED)]
    if len(inner) == 1:
        return inner[0]
    missing = ", ".join(name for name in REQUIRED if not (path / name).is_file())
    more = f" ({len(inner)} sequence folders inside: give one)" if inner else ""
    raise ConfigError(f"not a PandaSet sequence: missing {missing}{more}", file=str(path))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read PandaSet JSON ({exc})", file=str(path)) from None


def _poses(doc: Any, path: Path) -> np.ndarray:
    """(N, 4, 4) T_world_sensor from a list of ``{"position": {x,y,z}, "heading": {w,x,y,z}}``."""
    try:
        position = np.array([[p["position"][k] for k in "xyz"] for p in doc], np.float64)
        quaternion = np.array([[p["heading"][k] for k in "xyzw"] for p in doc], np.float64)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"not a list of position/heading poses ({exc!r})", file=str(path)) from None
    poses = np.tile(np.eye(4), (len(doc), 1, 1))
    poses[:, :3, :3] = Rotation.from_quat(quaternion).as_matrix()
    poses[:, :3, 3] = position
    return poses


def _stamps(doc: Any, path: Path, count: int | None = None) -> np.ndarray:
    if not isinstance(doc, list) or (count is not None and len(doc) != count):
        expected = "a list" if count is None else f"a list of {count} times"
        raise ConfigError(f"must be {expected} (Unix seconds)", file=str(path))
    return seconds_to_stamps(doc)


@dataclass(frozen=True)
class Camera:
    """One camera's per-sequence files: pinhole ``K`` (3x3), poses T_world_cam and stamps per frame."""

    name: str
    K: np.ndarray
    poses: np.ndarray
    stamps_ns: np.ndarray


@dataclass(frozen=True)
class Sweep:
    """One frame's points of both LiDARs, in the file's row order (= the semseg rows)."""

    xyz_world: np.ndarray  # (N, 3) float64
    intensity: np.ndarray  # (N,) float32, 0..255
    t_ns: np.ndarray  # (N,) int64 capture time of each point
    device: np.ndarray  # (N,) int64: index into LIDARS


@dataclass(frozen=True)
class PandaCuboid:
    """One annotated cuboid in the world frame; ``length`` runs along (-sin yaw, cos yaw)."""

    uuid: str
    label: str
    center: tuple[float, float, float]
    yaw: float
    width: float
    length: float
    height: float
    stationary: bool
    rider_status: str | None
    sensor_id: int
    sibling_id: str | None


class PandaSetSequence:
    """One sequence folder: per-sequence JSON read at once, per-frame files read on demand."""

    def __init__(self, path: str | Path) -> None:
        self.root = find_sequence(path)
        self.stamps_ns = _stamps(_read_json(self.root / REQUIRED[1]), self.root / REQUIRED[1])
        poses_path = self.root / REQUIRED[0]
        self.lidar_poses = _poses(_read_json(poses_path), poses_path)
        if len(self.lidar_poses) != len(self.stamps_ns):
            raise ConfigError(
                f"{len(self.lidar_poses)} poses for {len(self.stamps_ns)} timestamps", file=str(poses_path)
            )
        self.cameras: dict[str, Camera] = {}
        self.cameras_without_calibration: list[str] = []
        for name in CAMERAS:
            camera = self._camera(name)
            if camera is None:
                self.cameras_without_calibration.append(name)
            else:
                self.cameras[name] = camera

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def frame_count(self) -> int:
        return len(self.stamps_ns)

    def _camera(self, name: str) -> Camera | None:
        folder = self.root / "camera" / name
        files = [folder / f for f in ("intrinsics.json", "poses.json", "timestamps.json")]
        if not all(f.is_file() for f in files):
            return None
        intrinsics = _read_json(files[0])
        try:
            fx, fy, cx, cy = (float(intrinsics[k]) for k in ("fx", "fy", "cx", "cy"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"needs fx, fy, cx, cy ({exc!r})", file=str(files[0])) from None
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        poses = _poses(_read_json(files[1]), files[1])
        stamps = _stamps(_read_json(files[2]), files[2], self.frame_count)
        if len(poses) != self.frame_count:
            raise ConfigError(f"must list {self.frame_count} poses", file=str(files[1]))
        return Camera(name, K, poses, stamps)

    # -- per-frame files -------------------------------------------------------------------------------

    def lidar_path(self, frame: int) -> Path:
        return self.root / "lidar" / f"{frame:02d}.pkl.gz"

    def image_path(self, camera: str, frame: int) -> Path:
        return self.root / "camera" / camera / f"{frame:02d}.jpg"

    def cuboids_path(self, frame: int) -> Path:
        return self.root / "annotations" / "cuboids" / f"{frame:02d}.pkl.gz"

    def semseg_path(self, frame: int) -> Path:
        return self.root / "annotations" / "semseg" / f"{frame:02d}.pkl.gz"

    def frames_present(self) -> list[int]:
        """Frames with at least one file (sweep, image or annotation), in order."""
        return [
            i
            for i in range(self.frame_count)
            if self.lidar_path(i).is_file()
            or self.cuboids_path(i).is_file()
            or self.semseg_path(i).is_file()
            or any(self.image_path(c, i).is_file() for c in CAMERAS)
        ]

    def read_sweep(self, frame: int) -> Sweep:
        table = _read_pickle(self.lidar_path(frame), ("x", "y", "z", "i", "t", "d"))
        return Sweep(
            table[["x", "y", "z"]].to_numpy(np.float64),
            table["i"].to_numpy(np.float32),
            seconds_to_stamps(table["t"].to_numpy(np.float64)),
            table["d"].to_numpy(np.int64),
        )

    def read_semseg(self, frame: int) -> np.ndarray:
        """(N,) uint8 semantic class per point (ids of ``semseg_classes``), rows as the sweep's."""
        return _read_pickle(self.semseg_path(frame), ("class",))["class"].to_numpy(np.uint8)

    def semseg_classes(self) -> dict[int, str]:
        """Semantic class id -> name (``annotations/semseg/classes.json``); empty when missing."""
        path = self.root / "annotations" / "semseg" / "classes.json"
        return {int(k): str(v) for k, v in _read_json(path).items()} if path.is_file() else {}

    def read_cuboids(self, frame: int) -> list[PandaCuboid]:
        columns = ("uuid", "label", "yaw", "stationary", "position.x", "position.y", "position.z",
                   "dimensions.x", "dimensions.y", "dimensions.z")  # fmt: skip
        table = _read_pickle(self.cuboids_path(frame), columns)
        n = len(table)

        def column(name: str, default: Any = None) -> list:
            return table[name].tolist() if name in table.columns else [default] * n

        return [
            PandaCuboid(
                uuid=str(uuid),
                label=str(label),
                center=(float(x), float(y), float(z)),
                yaw=float(yaw),
                width=float(width),
                length=float(length),
                height=float(height),
                stationary=bool(stationary),
                rider_status=_text(rider),
                sensor_id=int(sensor),
                sibling_id=_text(sibling),
            )
            for uuid, label, x, y, z, yaw, width, length, height, stationary, rider, sensor, sibling in zip(
                *(column(name) for name in columns[:2]),
                *(column(f"position.{a}") for a in "xyz"),
                column("yaw"),
                *(column(f"dimensions.{a}") for a in "xyz"),
                column("stationary"),
                column("attributes.rider_status"),
                column("cuboids.sensor_id", -1),
                column("cuboids.sibling_id"),
                strict=True,
            )
        ]


def _text(value: Any) -> str | None:
    """A string cell, None for pandas' NaN and PandaSet's "-" placeholders."""
    return value if isinstance(value, str) and value not in ("", "-") else None


def _read_pickle(path: Path, columns: tuple[str, ...]):
    """A pickled DataFrame with at least ``columns``; ConfigError naming the file otherwise."""
    import pandas  # noqa: PLC0415 - heavy, and only PandaSet needs it

    try:
        table = pandas.read_pickle(path)
    except Exception as exc:  # noqa: BLE001 - unpickling raises anything; name the file either way
        raise ConfigError(
            f"cannot read PandaSet pickle ({type(exc).__name__}: {exc})", file=str(path)
        ) from None
    missing = [c for c in columns if c not in getattr(table, "columns", ())]
    if missing:
        raise ConfigError(f"PandaSet table lacks column(s) {', '.join(missing)}", file=str(path))
    return table
