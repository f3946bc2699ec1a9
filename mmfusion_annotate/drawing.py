"""The one place pictures for people are drawn: camera tiles, bird's-eye views, legends and sheets (RGB).

Every picture a person looks at (the sim and demo contact sheets, ``mmfusion sheet``, the review page,
the evaluation images) is drawn here, so a box, a projected cuboid or a bird's-eye view looks the same
everywhere and a fix to the drawing reaches all of them. OpenCV draws (already a dependency, fast on
uint8 arrays, antialiased text); callers hand over plain arrays and say what to draw.

Labels never overlap one another: each goes to the first free place among above, below and inside its
box (then further up or down), and sits on a dark plate so it reads over an image or a LiDAR overlay.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mmfusion_annotate.outputs.labels import class_color_rgb8
from mmfusion_annotate.prelabel.boxes2d import clipped_edge_points, cuboid_corners
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.rig.camera_model import CameraModel

Color = tuple[int, int, int]
Rect = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels, x1/y1 exclusive."""

FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_SCALE = 0.45
WHITE: Color = (255, 255, 255)
PLATE: Color = (20, 20, 20)
HIGHLIGHT: Color = (255, 230, 0)
"""The object under review (yellow: apart from every class colour)."""
CUBOID: Color = (0, 230, 255)
"""A cuboid projected into a camera (cyan)."""
DEPTH_RANGE_M = 60.0
NEAR_M = 0.1
EGO_OUTLINE = np.array([[3.8, 0.95], [3.8, -0.95], [-1.0, -0.95], [-1.0, 0.95]])
"""A car's footprint in base_link (front axle forward): the ego in bird's-eye views."""
TILE_SIZE = (480, 270)
"""Camera tiles of contact sheets (w, h): two rows of them as tall as the bird's-eye view."""
TOP_VIEW_PX = 540
TOP_VIEW_RANGE_M = 40.0
TILES_PER_ROW = 3


@dataclass(frozen=True)
class Tag:
    """A 2D box with its label text, in the pixels of the image it is drawn on."""

    box: tuple[float, float, float, float]
    text: str
    color: Color
    thickness: int = 2


@dataclass(frozen=True)
class TopBox:
    """A cuboid seen from above: centre, size (length, width, height) and yaw in the view's frame."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    color: Color
    text: str = ""
    highlight: bool = False


def class_legend(classes: Iterable[ObjectClass] = tuple(ObjectClass)) -> list[tuple[str, Color]]:
    """(name, colour) of each class, the legend of every labelled picture."""
    return [(c.value, class_color_rgb8(c)) for c in classes]


def text_size(text: str, scale: float = TEXT_SCALE) -> tuple[int, int, int]:
    """(width, height above the baseline, depth below it) of ``text`` in pixels."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    return w, h, base


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(
    anchors: Sequence[Rect], sizes: Sequence[tuple[int, int]], bounds: tuple[int, int]
) -> list[Rect]:
    """A plate (x0, y0, x1, y1) per label, none overlapping another: label ``i`` of ``sizes[i]`` (w, h)
    goes above, below or inside the top of ``anchors[i]``, else steps further up then down until free.
    ``bounds`` is the image (width, height); plates stay inside it where they fit."""
    width, height = bounds
    placed: list[Rect] = []
    for (x0, y0, _x1, y1), (w, h) in zip(anchors, sizes, strict=True):
        x = int(min(max(x0, 0), max(width - w, 0)))
        tops = [y0 - h, y1, y0]
        tops += [y0 - h * k for k in range(2, 40)] + [y1 + h * k for k in range(1, 40)]
        choice = None
        for top in tops:
            top = int(top)
            rect = (x, top, x + w, top + h)
            if top < 0 or top + h > height:
                continue
            if not any(_overlaps(rect, other) for other in placed):
                choice = rect
                break
        placed.append(choice or (x, int(min(max(y0 - h, 0), max(height - h, 0))), x + w, int(y0)))
    return placed


STRIPE_PX = 4
"""A label's colour is a stripe at the left of its plate; the text is white, readable on any colour."""


def put_label(image: np.ndarray, rect: Rect, text: str, color: Color, scale: float = TEXT_SCALE) -> None:
    """White ``text`` on a dark plate filling ``rect``, a ``color`` stripe at its left (none for white)."""
    x0, y0, x1, y1 = rect
    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), PLATE, -1)
    indent = 3
    if color != WHITE:
        cv2.rectangle(image, (x0, y0), (x0 + STRIPE_PX - 1, y1 - 1), color, -1)
        indent += STRIPE_PX
    _, h, base = text_size(text, scale)
    cv2.putText(image, text, (x0 + indent, y1 - base - 1), FONT, scale, WHITE, 1, cv2.LINE_AA)


def draw_tags(image: np.ndarray, tags: Sequence[Tag]) -> None:
    """Each tag's box in its colour, and its text on a plate placed so that no two labels overlap."""
    height, width = image.shape[:2]
    for tag in tags:
        x0, y0, x1, y1 = (int(round(v)) for v in tag.box)
        cv2.rectangle(image, (x0, y0), (x1, y1), tag.color, tag.thickness, cv2.LINE_AA)
    sizes = []
    for tag in tags:
        w, h, base = text_size(tag.text)
        sizes.append((w + 6 + STRIPE_PX, h + base + 4))
    anchors: list[Rect] = [(round(t.box[0]), round(t.box[1]), round(t.box[2]), round(t.box[3])) for t in tags]
    for tag, rect in zip(tags, place_labels(anchors, sizes, (width, height)), strict=True):
        put_label(image, rect, tag.text, tag.color)


def draw_depth_points(image: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> None:
    """LiDAR points as pixels coloured by depth (turbo: near red, far blue) at ``uv`` (N, 2)."""
    if len(uv) == 0:
        return
    height, width = image.shape[:2]
    ok = np.isfinite(uv).all(axis=1)
    px = np.clip(uv[ok].astype(int), 0, (width - 1, height - 1))
    scale = np.clip(255.0 * (1.0 - depth[ok] / DEPTH_RANGE_M), 0, 255).astype(np.uint8)
    image[px[:, 1], px[:, 0]] = cv2.applyColorMap(scale[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1]


def draw_cuboid(
    image: np.ndarray,
    corners_cam: np.ndarray,
    model: CameraModel,
    color: Color,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
    offset: tuple[float, float] = (0.0, 0.0),
) -> None:
    """A cuboid's 12 edges (corners (8, 3) in the camera's optical frame) projected through the lens
    (distortion included, cut at the near plane), scaled by ``scale`` and shifted by ``-offset``."""
    points, keep = clipped_edge_points(np.asarray(corners_cam, float), NEAR_M)
    uv, _, _ = model.project(np.where(keep[:, None], points, 1.0))
    uv = (uv - np.asarray(offset)) * np.asarray(scale)
    ok = keep & np.isfinite(uv).all(axis=1)
    samples = uv.reshape(12, -1, 2)
    for edge, good in zip(samples, ok.reshape(12, -1), strict=True):
        if good.sum() >= 2:
            pixels = np.round(np.clip(edge[good], -1e5, 1e5)).astype(np.int32)  # near the lens: far out
            cv2.polylines(image, [pixels], False, color, 2, cv2.LINE_AA)


def cuboid_in_camera(center, size, yaw, T_cam_base: np.ndarray) -> np.ndarray:
    """Corners (8, 3) of a base-frame cuboid in a camera's optical frame."""
    corners = cuboid_corners(center, size, yaw)
    return corners @ T_cam_base[:3, :3].T + T_cam_base[:3, 3]


def camera_tile(
    image: np.ndarray | None,
    source_size: tuple[int, int],
    tile_size: tuple[int, int],
    *,
    title: str = "",
    points: tuple[np.ndarray, np.ndarray] | None = None,
    tags: Sequence[Tag] = (),
) -> np.ndarray:
    """``image`` (or black) resized to ``tile_size`` (w, h), with the LiDAR ``points`` (uv, depth in the
    source's pixels), the tags (boxes in the source's pixels) and a title, in that order of layers."""
    tile_w, tile_h = tile_size
    tile: np.ndarray
    if image is None:
        tile = np.zeros((tile_h, tile_w, 3), np.uint8)
    else:
        tile = cv2.resize(np.ascontiguousarray(image[..., :3]), tile_size, interpolation=cv2.INTER_AREA)
    sx, sy = tile_w / source_size[0], tile_h / source_size[1]
    if points is not None:
        draw_depth_points(tile, points[0] * (sx, sy), points[1])
    scaled = [Tag(tuple(np.multiply(t.box, (sx, sy, sx, sy))), t.text, t.color, t.thickness) for t in tags]
    draw_tags(tile, scaled)
    if title:
        w, h, base = text_size(title, 0.55)
        put_label(tile, (0, 0, w + 8, h + base + 6), title, WHITE, 0.55)
    return tile


def top_view(
    points_xyz: np.ndarray | None,
    boxes: Sequence[TopBox],
    *,
    size_px: int = 450,
    range_m: float = TOP_VIEW_RANGE_M,
    center_xy: tuple[float, float] = (0.0, 0.0),
    point_colors: np.ndarray | None = None,
    title: str = "",
    ego: bool = True,
) -> np.ndarray:
    """A bird's-eye view, x forward up and y left, ``range_m`` each side of ``center_xy``: points (grey by
    height, or ``point_colors``), range rings every 10 m around the ego, boxes with their labels (a
    highlighted box drawn thicker in ``HIGHLIGHT``), the ego's outline, a scale in the title."""
    image = np.zeros((size_px, size_px, 3), np.uint8)
    scale = size_px / (2 * range_m)
    cx, cy = center_xy

    def pixels(xy: np.ndarray) -> np.ndarray:
        return np.stack(
            [size_px / 2 - (xy[:, 1] - cy) * scale, size_px / 2 - (xy[:, 0] - cx) * scale], axis=1
        )

    origin = pixels(np.zeros((1, 2)))[0].astype(int)
    for r in range(10, int(abs(cx) + abs(cy) + 2 * range_m), 10):
        cv2.circle(image, tuple(int(v) for v in origin), int(r * scale), (55, 55, 55), 1, cv2.LINE_AA)
    if points_xyz is not None and len(points_xyz):
        xyz = np.asarray(points_xyz)
        uv = pixels(xyz[:, :2]).astype(int)
        ok = (uv >= 0).all(axis=1) & (uv < size_px).all(axis=1)
        if point_colors is None:
            shade = np.clip(90 + 60 * xyz[:, 2], 60, 255).astype(np.uint8)
            colors = np.repeat(shade[:, None], 3, axis=1)
        else:
            colors = np.asarray(point_colors, np.uint8)
        image[uv[ok, 1], uv[ok, 0]] = colors[ok]
    anchors, sizes, texts = [], [], []
    for box in boxes:
        corners = cuboid_corners(box.center, box.size, box.yaw)[:4, :2]
        px = pixels(corners)
        color = HIGHLIGHT if box.highlight else box.color
        cv2.polylines(
            image, [np.round(px).astype(np.int32)], True, color, 3 if box.highlight else 2, cv2.LINE_AA
        )
        if box.text and (px >= 0).all() and (px < size_px).all():
            w, h, base = text_size(box.text)
            lo, hi = px.min(axis=0).astype(int), px.max(axis=0).astype(int)
            anchors.append((lo[0], lo[1], hi[0], hi[1]))
            sizes.append((w + 6 + STRIPE_PX, h + base + 4))
            texts.append((box.text, color))
    if ego:
        cv2.polylines(image, [np.round(pixels(EGO_OUTLINE)).astype(np.int32)], True, WHITE, 1, cv2.LINE_AA)
    for (text, color), rect in zip(texts, place_labels(anchors, sizes, (size_px, size_px)), strict=True):
        put_label(image, rect, text, color)
    heading = f"{title}  " if title else ""
    label = f"{heading}+-{range_m:.0f} m, rings 10 m"
    w, h, base = text_size(label, 0.5)
    put_label(image, (0, 0, w + 8, h + base + 6), label, WHITE, 0.5)
    return image


def legend(entries: Sequence[tuple[str, Color]], width: int) -> np.ndarray:
    """One strip, ``width`` wide: a filled swatch and the name of each entry, wrapping onto more lines."""
    line_h, x = 26, 8
    lines: list[list[tuple[int, str, Color]]] = [[]]
    for name, color in entries:
        w = 24 + text_size(name, 0.5)[0] + 16
        if x + w > width and lines[-1]:
            lines.append([])
            x = 8
        lines[-1].append((x, name, color))
        x += w
    strip = np.full((line_h * len(lines) + 6, width, 3), 32, np.uint8)
    for row, line in enumerate(lines):
        y = 6 + row * line_h
        for x0, name, color in line:
            cv2.rectangle(strip, (x0, y + 3), (x0 + 16, y + 19), color, -1)
            cv2.putText(strip, name, (x0 + 22, y + 17), FONT, 0.5, WHITE, 1, cv2.LINE_AA)
    return strip


def pad_to(image: np.ndarray, height: int | None = None, width: int | None = None) -> np.ndarray:
    """``image`` padded with black at the bottom / right to ``height`` x ``width``."""
    h, w = image.shape[:2]
    return np.pad(image, ((0, max((height or h) - h, 0)), (0, max((width or w) - w, 0)), (0, 0)))


def grid(tiles: Sequence[np.ndarray], per_row: int) -> np.ndarray:
    """Tiles of equal size ``per_row`` to a row, the last row filled with black tiles."""
    tiles = list(tiles)
    blank = np.zeros_like(tiles[0])
    while len(tiles) % per_row:
        tiles.append(blank)
    return np.concatenate(
        [np.concatenate(tiles[i : i + per_row], axis=1) for i in range(0, len(tiles), per_row)]
    )


def side_by_side(*images: np.ndarray) -> np.ndarray:
    """Images left to right, top-aligned."""
    height = max(i.shape[0] for i in images)
    return np.concatenate([pad_to(i, height=height) for i in images], axis=1)


def stack(*images: np.ndarray) -> np.ndarray:
    """Images top to bottom, left-aligned."""
    width = max(i.shape[1] for i in images)
    return np.concatenate([pad_to(i, width=width) for i in images], axis=0)


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with a line of text on a dark band above it."""
    band = np.full((28, image.shape[1], 3), 32, np.uint8)
    cv2.putText(band, text, (8, 20), FONT, 0.6, WHITE, 1, cv2.LINE_AA)
    return np.concatenate([band, image], axis=0)


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB picture; OSError naming the file when it cannot be written."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: cannot write the picture")


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB picture as PNG bytes (for a page's data URIs)."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode a {rgb.shape} picture as PNG")
    return encoded.tobytes()


def sheet_row(tiles: Sequence[np.ndarray], top: np.ndarray, title: str) -> np.ndarray:
    """One moment of a contact sheet: the camera tiles (``TILES_PER_ROW`` a row), the bird's-eye view
    beside them, a title above."""
    cams = grid(tiles, TILES_PER_ROW) if tiles else np.zeros((top.shape[0], 0, 3), np.uint8)
    return caption(side_by_side(cams, top), title)


def contact_sheet(rows: Sequence[np.ndarray], legend_entries: Sequence[tuple[str, Color]]) -> np.ndarray:
    """Rows top to bottom with the legend under them."""
    if not rows:
        raise ValueError("no rows to draw")
    body = stack(*rows)
    return stack(body, legend(legend_entries, body.shape[1])) if legend_entries else body
