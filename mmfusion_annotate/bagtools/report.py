"""Contact sheet (PNG) of annotated frames, for a person: each camera with its LiDAR points coloured by depth
and the labelled 2D pre-label boxes, beside a bird's-eye view of the deskewed sweep with the labelled
cuboids, and a legend of the class colours (the drawing is ``drawing``'s)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from mmfusion_annotate import drawing
from mmfusion_annotate.annotator import AnnotatedFrame
from mmfusion_annotate.outputs.labels import class_color_rgb8


def _camera_tile(annotated: AnnotatedFrame, name: str) -> np.ndarray:
    view = annotated.frame.cameras[name]
    tags = [
        drawing.Tag(box.box, f"{box.label.value} #{box.object_id}", class_color_rgb8(box.label))
        for box in annotated.labels.boxes2d
        if box.camera == name
    ]
    return drawing.camera_tile(
        view.image,
        (view.width, view.height),
        drawing.TILE_SIZE,
        title=name,
        points=(view.uv[view.visible], view.depth[view.visible]),
        tags=tags,
    )


def _top_view(annotated: AnnotatedFrame) -> np.ndarray:
    boxes = [
        drawing.TopBox(c.center, c.size, c.yaw, class_color_rgb8(c.label), f"#{c.object_id}")
        for c in annotated.labels.cuboids
    ]
    xyz = np.asarray(annotated.frame.sweep.xyz_deskewed)
    return drawing.top_view(xyz, boxes, size_px=drawing.TOP_VIEW_PX, title="LiDAR, deskewed")


def _row(annotated: AnnotatedFrame, origin_ns: int) -> np.ndarray:
    tiles = [_camera_tile(annotated, name) for name in annotated.frame.cameras]
    labels = annotated.labels
    seconds = (annotated.frame.stamp - origin_ns) / 1e9
    title = f"t = {seconds:.2f} s   {len(labels.cuboids)} cuboids, {len(labels.review_items)} review items"
    return drawing.sheet_row(tiles, _top_view(annotated), title)


def render_frames_sheet(
    frames: Sequence[AnnotatedFrame], out_png: str | os.PathLike, *, origin_ns: int = 0
) -> np.ndarray:
    """Write one row per annotated frame to ``out_png``; returns the RGB sheet."""
    if not frames:
        raise ValueError("no frames to draw")
    sheet = drawing.contact_sheet([_row(f, origin_ns) for f in frames], drawing.class_legend())
    drawing.write_png(out_png, sheet)
    return sheet
