"""Contact sheet (PNG) of annotated frames, for a person: each camera with its LiDAR points coloured by depth
and the 2D pre-label boxes, beside a bird's-eye view of the deskewed sweep with the cuboids."""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from mmfusion_annotate.annotator import AnnotatedFrame
from mmfusion_annotate.outputs.labels import class_color_rgb8
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners

TILE_W, TILE_H = 400, 225
BEV_SIZE, BEV_RANGE_M = 450, 40.0
DEPTH_RANGE_M = 60.0
TILES_PER_ROW = 3


def _camera_tile(annotated: AnnotatedFrame, name: str) -> np.ndarray:
    """The image at tile size with every visible LiDAR point as a pixel (turbo: near red, far blue)."""
    view = annotated.frame.cameras[name]
    if view.image is None:
        tile = np.zeros((TILE_H, TILE_W, 3), np.uint8)
    else:
        tile = cv2.resize(
            np.ascontiguousarray(view.image[..., :3]), (TILE_W, TILE_H), interpolation=cv2.INTER_AREA
        )
    sx, sy = TILE_W / view.width, TILE_H / view.height
    uv = view.uv[view.visible]
    depth = view.depth[view.visible]
    px = np.clip((uv * (sx, sy)).astype(int), 0, (TILE_W - 1, TILE_H - 1))
    scale = np.clip(255.0 * (1.0 - depth / DEPTH_RANGE_M), 0, 255).astype(np.uint8)
    tile[px[:, 1], px[:, 0]] = cv2.applyColorMap(scale[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1]
    for box in annotated.labels.boxes2d:
        if box.camera != name:
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in np.multiply(box.box, (sx, sy, sx, sy)))
        color = class_color_rgb8(box.label)
        cv2.rectangle(tile, (x0, y0), (x1, y1), color, 1)
        cv2.putText(tile, f"{box.label.value} #{box.object_id}", (x0, max(y0 - 3, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, color, 1)  # fmt: skip
    cv2.putText(tile, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return tile


def _bev(annotated: AnnotatedFrame) -> np.ndarray:
    """Top view of base_link: x up, y left; points grey by height, cuboids in their class colour."""
    image = np.zeros((BEV_SIZE, BEV_SIZE, 3), np.uint8)
    scale = BEV_SIZE / (2 * BEV_RANGE_M)

    def pixels(xy: np.ndarray) -> np.ndarray:
        return np.stack([BEV_SIZE / 2 - xy[:, 1] * scale, BEV_SIZE / 2 - xy[:, 0] * scale], axis=1)

    xyz = np.asarray(annotated.frame.sweep.xyz_deskewed)
    uv = pixels(xyz[:, :2]).astype(int)
    ok = (uv >= 0).all(axis=1) & (uv < BEV_SIZE).all(axis=1)
    shade = np.clip(90 + 60 * xyz[:, 2], 60, 255).astype(np.uint8)
    image[uv[ok, 1], uv[ok, 0]] = shade[ok, None]
    for cuboid in annotated.labels.cuboids:
        corners = cuboid_corners(cuboid.center, cuboid.size, cuboid.yaw)[:4, :2]
        cv2.polylines(image, [pixels(corners).astype(np.int32)], True, class_color_rgb8(cuboid.label), 2)
    ego = np.array([[3.8, 0.95], [3.8, -0.95], [-1.0, -0.95], [-1.0, 0.95]])
    cv2.polylines(image, [pixels(ego).astype(np.int32)], True, (255, 255, 255), 1)
    return image


def _row(annotated: AnnotatedFrame, origin_ns: int) -> np.ndarray:
    tiles = [_camera_tile(annotated, name) for name in annotated.frame.cameras]
    while len(tiles) % TILES_PER_ROW or not tiles:
        tiles.append(np.zeros((TILE_H, TILE_W, 3), np.uint8))
    cams = np.concatenate(
        [np.concatenate(tiles[i : i + TILES_PER_ROW], axis=1) for i in range(0, len(tiles), TILES_PER_ROW)]
    )
    bev = _bev(annotated)
    height = max(cams.shape[0], bev.shape[0])
    row = np.concatenate([np.pad(a, ((0, height - a.shape[0]), (0, 0), (0, 0))) for a in (cams, bev)], axis=1)
    labels = annotated.labels
    seconds = (annotated.frame.stamp - origin_ns) / 1e9
    title = f"t = {seconds:.2f} s   {len(labels.cuboids)} cuboids, {len(labels.review_items)} review items"
    cv2.putText(row, title, (6, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    return row


def render_frames_sheet(
    frames: Sequence[AnnotatedFrame], out_png: str | os.PathLike, *, origin_ns: int = 0
) -> np.ndarray:
    """Write one row per annotated frame to ``out_png``; returns the RGB sheet."""
    if not frames:
        raise ValueError("no frames to draw")
    rows = [_row(f, origin_ns) for f in frames]
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    if not cv2.imwrite(str(out_png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{out_png}: cannot write the contact sheet")
    return sheet
