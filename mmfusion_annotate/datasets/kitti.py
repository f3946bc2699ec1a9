"""Folders in the KITTI object layout (KITTI by Geiger, Lenz and Urtasun, CC BY-NC-SA 3.0) as numpy arrays.

A folder holds ``velodyne/NAME.bin`` (float32 x, y, z, reflectance 0..1, Velodyne frame: x forward, y
left, z up), ``image_2/NAME.png`` (rectified left colour camera), ``calib/NAME.txt`` (``rig.kitti``)
and ``label_2/NAME.txt`` (one object a line: type, truncated, occluded, alpha, 2D box, h w l, the
bottom centre in rectified cam-0 coordinates, rotation_y). ``velodyne/`` and ``calib/`` make a folder
one; any single file of a frame may be missing. Object frames are not consecutive and carry no time,
no pose and no track ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.types import vec3

REQUIRED = ("velodyne", "calib")
KINDS = {"velodyne": ".bin", "image_2": ".png", "calib": ".txt", "label_2": ".txt"}
CLASS_OF_TYPE: dict[str, tuple[ObjectClass, bool]] = {
    "Car": (ObjectClass.CAR, False),
    "Van": (ObjectClass.CAR, True),
    "Pedestrian": (ObjectClass.PEDESTRIAN, False),
    "Person_sitting": (ObjectClass.PEDESTRIAN, True),
    "Cyclist": (ObjectClass.CYCLIST, False),
    "Truck": (ObjectClass.TRUCK, True),
    "Tram": (ObjectClass.UNKNOWN, True),
    "Misc": (ObjectClass.UNKNOWN, True),
}
"""KITTI type -> (class, ignore): ``ignore`` marks types KITTI's own benchmark neither rewards nor
penalises for that class (a van found as a car is not a false positive)."""


def find_folder(path: str | Path) -> Path:
    """The KITTI-layout folder at ``path`` or its ``training/`` sub-folder; ConfigError naming what is
    missing when neither is one."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError("not a folder", file=str(path))
    for candidate in (path, path / "training"):
        if all((candidate / sub).is_dir() for sub in REQUIRED):
            return candidate
    missing = ", ".join(f"{sub}/" for sub in REQUIRED if not (path / sub).is_dir())
    raise ConfigError(f"not a KITTI object layout: missing {missing}", file=str(path))


def frame_names(root: Path) -> list[str]:
    """Every frame with at least one file in the layout's folders, in name order."""
    return sorted({p.stem for kind, ext in KINDS.items() if (root / kind).is_dir()
                   for p in (root / kind).glob(f"*{ext}")})  # fmt: skip


def frame_path(root: Path, kind: str, name: str) -> Path:
    return root / kind / f"{name}{KINDS[kind]}"


def read_scan(path: Path) -> np.ndarray:
    """(N, 4) float32 x, y, z, reflectance of a ``velodyne/*.bin`` file."""
    scan = np.fromfile(path, dtype=np.float32)
    if scan.size % 4:
        raise ConfigError("size is not a multiple of 4 float32 (x, y, z, reflectance)", file=str(path))
    return scan.reshape(-1, 4)


def rect_from_velodyne(calib: dict[str, np.ndarray]) -> np.ndarray:
    """T (4x4) from Velodyne to the rectified cam-0 frame the labels are in: R0_rect · Tr_velo_to_cam."""
    R0 = np.eye(4)
    R0[:3, :3] = calib["R0_rect"]
    return R0 @ np.vstack([calib["Tr_velo_to_cam"], [0.0, 0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class KittiObject:
    """One ``label_2`` line; 3D fields in the frame of ``T_base_rect`` given to ``read_labels``."""

    line: int
    type: str
    truncated: float
    occluded: int
    box2d: tuple[float, float, float, float]
    center: tuple[float, float, float]
    size: tuple[float, float, float]  # length (along the heading), width, height
    yaw: float

    @property
    def dont_care(self) -> bool:
        return self.type not in CLASS_OF_TYPE

    @property
    def object_class(self) -> ObjectClass:
        return CLASS_OF_TYPE.get(self.type, (ObjectClass.UNKNOWN, True))[0]

    @property
    def ignore(self) -> bool:
        return CLASS_OF_TYPE.get(self.type, (ObjectClass.UNKNOWN, True))[1]


def read_labels(path: Path, T_base_rect: np.ndarray) -> list[KittiObject]:
    """The objects of a ``label_2`` file, box centres and headings moved by ``T_base_rect`` (DontCare
    regions and unknown types come back with ``dont_care`` set and their 2D box only)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read KITTI labels ({exc})", file=str(path)) from None
    objects = []
    for n, line in enumerate(lines, start=1):
        f = line.split()
        if not f:
            continue
        try:
            if len(f) < 15:
                raise ValueError(f"expected 15 fields, got {len(f)}")
            values = [float(v) for v in f[1:15]]
        except ValueError as exc:
            raise ConfigError(str(exc), file=str(path), line=n) from None
        h, w, length = values[7:10]
        ry = values[13]
        centre = np.asarray(values[10:13]) - np.array([0.0, h / 2, 0.0])  # bottom centre -> centre
        heading = T_base_rect[:3, :3] @ np.array([math.cos(ry), 0.0, -math.sin(ry)])
        objects.append(
            KittiObject(
                n,
                f[0],
                values[0],
                int(values[1]),
                (values[3], values[4], values[5], values[6]),
                vec3(T_base_rect[:3, :3] @ centre + T_base_rect[:3, 3]),
                (length, w, h),
                math.atan2(heading[1], heading[0]),
            )
        )
    return objects
