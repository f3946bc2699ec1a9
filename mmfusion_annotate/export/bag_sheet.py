"""``mmfusion sheet``: a contact sheet (PNG) of any recorded bag or clip, drawn as the demo draws its own.

A few moments spread over the bag, each a row: every camera of the rig with the LiDAR sweep projected on
it (coloured by depth) and, when the bag carries pre-labels (``mmfusion replay``), their labelled 2D boxes;
beside them the bird's-eye view of the sweep with the labelled cuboids; a legend under all. A raw bag
(sensors only) gets the same sheet without labels, and the title of each row says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mmfusion_annotate import drawing
from mmfusion_annotate.bagtools.source import open_bag, read_messages
from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.export.bag_labels import LOG_DELAY_NS, LabelledFrame, read_bag_labels
from mmfusion_annotate.export.frame_pictures import object_tags, rgb8, sweep_in_base, top_boxes
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import Stamp, ns_to_seconds

LOOK_BACK_NS = 300_000_000
"""Images and sweeps are looked for this long before a moment (and ``LOG_DELAY_NS`` after it)."""


@dataclass(frozen=True)
class SheetSummary:
    """What the sheet shows: the PNG, its moments (s from the bag start) and whether labels were drawn."""

    png: Path
    seconds: tuple[float, ...]
    labelled: bool
    losses: ReadLosses


def _moments(frames: list[LabelledFrame], start: Stamp, end: Stamp, count: int) -> list[Stamp]:
    if frames:
        picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
        return [frames[i].stamp for i in dict.fromkeys(picks.tolist())]
    return [int(t) for t in np.linspace(start, end, count + 2)[1:-1]]


def _nearest(found: list[tuple[Stamp, str, Any]], stamp: Stamp) -> tuple[Stamp, str, Any] | None:
    return min(found, key=lambda f: abs(f[0] - stamp), default=None)


def _row(
    rig: Rig,
    files: list,
    moment: Stamp,
    frame: LabelledFrame | None,
    origin: Stamp,
    losses: ReadLosses,
) -> np.ndarray:
    sensors = {s.topic: s for s in (*rig.cameras(), *rig.lidars()[:1])}
    found: dict[str, list[tuple[Stamp, str, Any]]] = {}
    window = {"starting_at": moment - LOOK_BACK_NS, "ending_at": moment + LOG_DELAY_NS}
    for message in read_messages(files, topics=set(sensors), losses=losses, **window):
        try:
            msg = deserialize(message.msgtype, message.data)
        except CodecError as error:
            losses.skip(message.topic, message.log_time_ns, str(error))
            continue
        found.setdefault(message.topic, []).append((from_ros_time(msg.header.stamp), message.msgtype, msg))
    points = None
    lidar = rig.lidars()[0] if rig.lidars() else None
    if lidar is not None:
        want = frame.lidars.get(lidar.name, moment) if frame else moment
        if (sweep := _nearest(found.get(lidar.topic, []), want)) is not None:
            points = sweep_in_base(sweep[2], rig, lidar.name, lidar.topic)
    tiles = []
    for camera in rig.cameras():
        view = frame.cameras.get(camera.name) if frame else None
        image = _nearest(found.get(camera.topic, []), view.stamp if view else moment)
        model = camera.camera
        size = (model.width, model.height) if model is not None else drawing.TILE_SIZE
        pixels = rgb8(image[2], image[1], camera.topic) if image is not None else None
        overlay = None
        if points is not None and model is not None:
            T = rig.transform(camera.frame_id, rig.base_frame)
            uv, depth, valid = model.project(points @ T[:3, :3].T + T[:3, 3])
            overlay = (uv[valid], depth[valid])
        tags = object_tags(frame, camera.name) if frame else []
        tiles.append(
            drawing.camera_tile(pixels, size, drawing.TILE_SIZE, title=camera.name, points=overlay, tags=tags)
        )
    boxes = top_boxes(frame.objects) if frame else []
    top = drawing.top_view(
        points, boxes, size_px=drawing.TOP_VIEW_PX, title=lidar.name if lidar else "no LiDAR"
    )
    seconds = ns_to_seconds(moment - origin)
    if frame is None:
        title = f"t = {seconds:.2f} s   (no pre-labels in this bag: sensors only)"
    else:
        title = f"t = {seconds:.2f} s   {len(frame.objects)} cuboids, {len(frame.review)} review items"
    return drawing.sheet_row(tiles, top, title)


def render_bag_sheet(
    bag: str | os.PathLike, rig: Rig, out_png: str | os.PathLike, *, count: int = 4, progress: bool = False
) -> SheetSummary:
    """Write the sheet of ``count`` moments of ``bag`` to ``out_png``. BagError when it is not a bag or
    holds no message."""
    bag = Path(bag)
    files = open_bag(bag)
    spans = [(f.start_ns, f.end_ns) for f in files if f.start_ns is not None and f.end_ns is not None]
    if not spans:
        raise BagError(f"{bag}: no messages")
    origin, end = min(s for s, _ in spans), max(e for _, e in spans)
    try:
        frames = read_bag_labels(bag, rig).frames
    except BagError:
        frames = []  # a raw bag: sensors only
    by_stamp = {f.stamp: f for f in frames}
    losses = ReadLosses()
    rows = []
    moments = _moments(frames, origin, end, count)
    for moment in tqdm(moments, desc="sheet", unit=" rows", disable=not progress):
        rows.append(_row(rig, files, moment, by_stamp.get(moment), origin, losses))
    legend = drawing.class_legend() if frames else []
    drawing.write_png(
        out_png, drawing.contact_sheet(rows, legend + [("LiDAR: near", (255, 40, 0)), ("far", (40, 40, 255))])
    )
    return SheetSummary(
        Path(out_png), tuple(round(ns_to_seconds(m - origin), 2) for m in moments), bool(frames), losses
    )


def format_sheet(summary: SheetSummary) -> str:
    labelled = "pre-labels drawn" if summary.labelled else "no pre-labels in the bag: sensors only"
    times = ", ".join(f"{s:.2f}" for s in summary.seconds)
    return f"contact sheet: {summary.png} ({len(summary.seconds)} moments at {times} s; {labelled})"
