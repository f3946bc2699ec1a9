"""A contact sheet (PNG) of a drive, for a person to look at: at each chosen time, every camera image with
its ground-truth 2D boxes, and a bird's-eye view of the LiDAR sweep with the ground-truth cuboids."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import cv2
import numpy as np

from mmfusion_annotate.sim.drive import Drive
from mmfusion_annotate.sim.geometry import box_corners
from mmfusion_annotate.types import seconds_to_ns

TILE_W, TILE_H = 400, 225
BEV_SIZE, BEV_RANGE_M = 450, 40.0
_ID_COLORS = np.random.default_rng(0).integers(80, 255, (256, 3))


def render_contact_sheet(
    drive: Drive, out_png: str | os.PathLike, times: Sequence[float] = (2.0, 8.0, 9.0, 12.0)
) -> np.ndarray:
    """Write one row per time in ``times`` (seconds): camera tiles (3 a row), then the BEV. Returns RGB."""
    rows = [_row(drive, seconds_to_ns(t), f"{drive.scenario.name}  t = {t:.2f} s") for t in times]
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)
    if not cv2.imwrite(str(out_png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{out_png}: cannot write the contact sheet")
    return sheet


def _nearest(drive: Drive, sensor: str, t_ns: int):
    ticks = [t for t in drive.ticks if t.sensor == sensor]
    return min(ticks, key=lambda t: abs(t.true_ns - t_ns)) if ticks else None


def _row(drive: Drive, t_ns: int, title: str) -> np.ndarray:
    tiles = []
    for name, sensor in drive.sensors.items():
        if sensor.kind != "camera" or (tick := _nearest(drive, name, t_ns)) is None:
            continue
        image = np.ascontiguousarray(drive.sample(tick).payload["image"])
        for b in drive.truth.frames[(name, tick.stamp)].boxes_2d:
            x0, y0, x1, y1 = (int(round(v)) for v in b.box)
            cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 0), 3)
            cv2.putText(
                image,
                f"{b.cls} {b.object_id}",
                (x0, max(y0 - 8, 20)),
                cv2.FONT_HERSHEY_SIMPLEX,
                1.0,
                (255, 255, 0),
                2,
            )
        tile = cv2.resize(image, (TILE_W, TILE_H), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        tiles.append(tile)
    while len(tiles) % 3:
        tiles.append(np.zeros((TILE_H, TILE_W, 3), np.uint8))
    cams = (
        np.concatenate([np.concatenate(tiles[i : i + 3], axis=1) for i in range(0, len(tiles), 3)], axis=0)
        if tiles
        else np.zeros((BEV_SIZE, 0, 3), np.uint8)
    )
    bev = _bev(drive, t_ns)
    height = max(cams.shape[0], bev.shape[0])
    row = np.concatenate(
        [
            np.pad(cams, ((0, height - cams.shape[0]), (0, 0), (0, 0))),
            np.pad(bev, ((0, height - bev.shape[0]), (0, 0), (0, 0))),
        ],
        axis=1,
    )
    cv2.putText(row, title, (6, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    return row


def _bev(drive: Drive, t_ns: int) -> np.ndarray:
    """Top view of base_link at the sweep start, x up, y left; points by object id, cuboids in orange."""
    image = np.zeros((BEV_SIZE, BEV_SIZE, 3), np.uint8)
    scale = BEV_SIZE / (2 * BEV_RANGE_M)

    def pixels(xy: np.ndarray) -> np.ndarray:
        return np.stack([BEV_SIZE / 2 - xy[:, 1] * scale, BEV_SIZE / 2 - xy[:, 0] * scale], axis=1)

    lidars = [n for n, s in drive.sensors.items() if s.kind == "lidar"]
    if not lidars or (tick := _nearest(drive, lidars[0], t_ns)) is None:
        return image
    payload = drive.sample(tick).payload
    to_base = np.linalg.inv(drive.truth.ego_pose(tick.true_ns))
    xyz = payload["xyz"].astype(np.float64)
    base = np.empty_like(xyz)
    for t in np.unique(payload["t_ns"]):  # each column through its own pose: a deskewed view
        sel = payload["t_ns"] == t
        T = to_base @ drive.truth.sensor_pose(lidars[0], int(t))
        base[sel] = xyz[sel] @ T[:3, :3].T + T[:3, 3]
    uv = pixels(base[:, :2]).astype(int)
    ok = (uv >= 0).all(axis=1) & (uv < BEV_SIZE).all(axis=1)
    ids = payload["object_id"]
    colors = np.where((ids > 0)[:, None], _ID_COLORS[ids % 256], 90)
    image[uv[ok, 1], uv[ok, 0]] = colors[ok]
    for o in drive.truth.objects(tick.true_ns):
        if np.abs(o.center_base[:2]).max() > BEV_RANGE_M + 10:
            continue
        corners = box_corners(o.center_base, o.yaw_base, np.array(o.size))[::2, :2][[0, 1, 3, 2]]
        cv2.polylines(image, [pixels(corners).astype(np.int32)], True, (255, 150, 0), 1)
    ego = np.array([[3.8, 0.95], [3.8, -0.95], [-1.0, -0.95], [-1.0, 0.95]])
    cv2.polylines(image, [pixels(ego).astype(np.int32)], True, (255, 255, 255), 1)
    cv2.putText(
        image,
        f"{lidars[0]} BEV +-{math.floor(BEV_RANGE_M)} m",
        (6, 18),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 255),
        1,
    )
    return image
