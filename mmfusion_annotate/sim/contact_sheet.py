"""A contact sheet (PNG) of a drive, for a person to look at: at each chosen time, every camera image with
its ground-truth 2D boxes, and a bird's-eye view of the LiDAR sweep with the ground-truth cuboids (the
drawing is ``drawing``'s, as on every other sheet)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from mmfusion_annotate import drawing
from mmfusion_annotate.sim.drive import Drive
from mmfusion_annotate.types import seconds_to_ns

TRUTH_BOX: drawing.Color = (255, 255, 0)
TRUTH_CUBOID: drawing.Color = (255, 150, 0)
LEGEND = [
    ("truth 2D box", TRUTH_BOX),
    ("truth cuboid", TRUTH_CUBOID),
    ("LiDAR return, by object", (170, 170, 170)),
]
_ID_COLORS = np.random.default_rng(0).integers(80, 255, (256, 3))


def render_contact_sheet(
    drive: Drive, out_png: str | os.PathLike, times: Sequence[float] = (2.0, 8.0, 9.0, 12.0)
) -> np.ndarray:
    """Write one row per time in ``times`` (seconds): camera tiles, then the bird's-eye view. Returns RGB."""
    rows = [_row(drive, seconds_to_ns(t), f"{drive.scenario.name}  t = {t:.2f} s") for t in times]
    sheet = drawing.contact_sheet(rows, LEGEND)
    drawing.write_png(out_png, sheet)
    return sheet


def _nearest(drive: Drive, sensor: str, t_ns: int):
    ticks = [t for t in drive.ticks if t.sensor == sensor]
    return min(ticks, key=lambda t: abs(t.true_ns - t_ns)) if ticks else None


def _row(drive: Drive, t_ns: int, title: str) -> np.ndarray:
    tiles = []
    for name, sensor in drive.sensors.items():
        if sensor.kind != "camera" or (tick := _nearest(drive, name, t_ns)) is None:
            continue
        image = drive.sample(tick).payload["image"]
        tags = [
            drawing.Tag(b.box, f"{b.cls} {b.object_id}", TRUTH_BOX)
            for b in drive.truth.frames[(name, tick.stamp)].boxes_2d
        ]
        size = (image.shape[1], image.shape[0])
        tiles.append(drawing.camera_tile(image, size, drawing.TILE_SIZE, title=name, tags=tags))
    return drawing.sheet_row(tiles, _top_view(drive, t_ns), title)


def _top_view(drive: Drive, t_ns: int) -> np.ndarray:
    """Base_link at the sweep start, points coloured by object id, truth cuboids in orange."""
    lidars = [n for n, s in drive.sensors.items() if s.kind == "lidar"]
    if not lidars or (tick := _nearest(drive, lidars[0], t_ns)) is None:
        return drawing.top_view(None, [], size_px=drawing.TOP_VIEW_PX, title="no LiDAR")
    payload = drive.sample(tick).payload
    to_base = np.linalg.inv(drive.truth.ego_pose(tick.true_ns))
    xyz = payload["xyz"].astype(np.float64)
    base = np.empty_like(xyz)
    for t in np.unique(payload["t_ns"]):  # each column through its own pose: a deskewed view
        sel = payload["t_ns"] == t
        T = to_base @ drive.truth.sensor_pose(lidars[0], int(t))
        base[sel] = xyz[sel] @ T[:3, :3].T + T[:3, 3]
    ids = payload["object_id"]
    colors = np.where((ids > 0)[:, None], _ID_COLORS[ids % 256], 90)
    boxes = [
        drawing.TopBox(tuple(o.center_base), o.size, o.yaw_base, TRUTH_CUBOID, f"{o.cls} {o.id}")
        for o in drive.truth.objects(tick.true_ns)
        if np.abs(o.center_base[:2]).max() <= drawing.TOP_VIEW_RANGE_M + 10
    ]
    return drawing.top_view(
        base, boxes, size_px=drawing.TOP_VIEW_PX, point_colors=colors, title=f"{lidars[0]}, truth"
    )
