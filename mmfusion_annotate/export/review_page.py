"""``mmfusion review``: a bag's review queue as one self-contained HTML page (and JSON) for annotators.

Each entry (``bagtools.review_queue``: highest priority first) shows what disagrees, the track, the time
and two pictures of its highest-priority frame: the camera crop with the 2D box and the projected cuboid
drawn, and the bird's-eye view around the object with the frame's cuboids. Pictures are PNG data URIs, so
the page opens anywhere without a network or the bag. Only the first ``limit`` entries are pictured (a long
drive has thousands of entries: reading and drawing each one's frame would take minutes and make a page
no browser opens quickly); the rest are listed without pictures. Checkboxes on the page show or hide each
kind, and ``index.html#kinds=a,b`` opens it showing those kinds only (a link an annotator can share).
A small script on the page checks, once loaded, that the entries are in priority order and that every
picture decoded, and writes what it found into the page (a headless browser's test reads it back).
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mmfusion_annotate import drawing
from mmfusion_annotate.bagtools.review_queue import ReviewEntry, ReviewQueue, read_review_queue
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.export.bag_labels import LabelledFrame, read_bag_labels
from mmfusion_annotate.export.frame_pictures import rgb8, sensor_messages, sweep_in_base, top_boxes
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import ns_to_seconds

CROP_SIZE = (420, 300)
"""Largest camera crop drawn (w, h); small objects are enlarged up to ``MAX_ZOOM``."""
MAX_ZOOM = 3.0
MIN_CROP_PX = 160
TOP_VIEW_PX, TOP_VIEW_RANGE_M = 300, 15.0
FRAME_TOLERANCE_NS = 150_000_000
"""An entry is pictured on the labelled frame this close to its item's stamp."""
LEGEND = [("2D box", drawing.HIGHLIGHT), ("projected cuboid", drawing.CUBOID)]


@dataclass
class Pictures:
    """The PNGs of one entry (None: not available, ``notes`` say why)."""

    crop: bytes | None = None
    top: bytes | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ReviewReport:
    """The queue with each entry's pictures, ready to write."""

    bag: Path
    queue: ReviewQueue
    pictures: dict[str, Pictures]
    losses: ReadLosses = field(default_factory=ReadLosses)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bag": str(self.bag),
            "missing": self.queue.missing or None,
            "entries": [e.to_dict(self.queue.origin_ns) for e in self.queue.entries],
        }


@dataclass
class _Plan:
    entry: ReviewEntry
    frame: LabelledFrame
    camera: str | None
    lidar: str | None


def _nearest_frame(frames: list[LabelledFrame], stamp: int) -> LabelledFrame | None:
    best = min(frames, key=lambda f: abs(f.stamp - stamp), default=None)
    return best if best is not None and abs(best.stamp - stamp) <= FRAME_TOLERANCE_NS else None


def _camera_for(entry: ReviewEntry, frame: LabelledFrame) -> str | None:
    """The item's camera, else the one showing the object's largest box."""
    if entry.camera in frame.cameras:
        return entry.camera
    areas = {
        name: max(
            ((b[2] - b[0]) * (b[3] - b[1]) for i, b in view.boxes.items() if i in entry.object_ids), default=0
        )
        for name, view in frame.cameras.items()
    }
    best = max(areas, key=lambda n: areas[n], default=None)
    return best if best is not None and areas[best] > 0 else None


def _region(points: list[np.ndarray], width: int, height: int) -> tuple[int, int, int, int]:
    """The part of the image around ``points`` (pixels) with a margin, no narrower than ``MIN_CROP_PX``
    nor than 3:4, shifted inside the image (an object at its edge keeps its context); the whole image
    without points."""
    if not points:
        return 0, 0, width, height
    uv = np.concatenate(points)
    lo, hi = np.clip(uv.min(axis=0), 0, (width, height)), np.clip(uv.max(axis=0), 0, (width, height))
    w, h = np.maximum((hi - lo) * 1.6, MIN_CROP_PX)
    w, h = min(max(w, 0.75 * h), width), min(max(h, 0.75 * w), height)
    mid = (lo + hi) / 2
    x0 = int(np.clip(mid[0] - w / 2, 0, width - w))
    y0 = int(np.clip(mid[1] - h / 2, 0, height - h))
    return x0, y0, max(x0 + int(w), x0 + 1), max(y0 + int(h), y0 + 1)


def camera_crop(image: np.ndarray, plan: _Plan, rig: Rig) -> np.ndarray:
    """The camera image around the entry's objects: their 2D boxes and projected cuboids drawn."""
    assert plan.camera is not None
    sensor = rig.sensor(plan.camera)
    model = sensor.camera
    view = plan.frame.cameras[plan.camera]
    ids = plan.entry.object_ids
    boxes = {i: b for i, b in view.boxes.items() if i in ids}
    T = rig.transform(sensor.frame_id, rig.base_frame)
    cuboids = [
        drawing.cuboid_in_camera(o.box.center, o.box.size, o.box.yaw, T)
        for o in plan.frame.objects
        if o.box.object_id in ids
    ]
    height, width = image.shape[:2]
    points = [np.reshape(b, (2, 2)) for b in boxes.values()]
    if model is not None:
        for corners in cuboids:
            uv, _, _ = model.project(corners[corners[:, 2] > drawing.NEAR_M])
            if len(uv) and np.isfinite(uv).all():
                points.append(uv)
    x0, y0, x1, y1 = _region(points, width, height)
    zoom = min(CROP_SIZE[0] / (x1 - x0), CROP_SIZE[1] / (y1 - y0), MAX_ZOOM)
    size = (max(int((x1 - x0) * zoom), 1), max(int((y1 - y0) * zoom), 1))
    crop = cv2.resize(
        image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
    )
    if model is not None:
        for corners in cuboids:
            drawing.draw_cuboid(crop, corners, model, drawing.CUBOID, scale=(zoom, zoom), offset=(x0, y0))
    labels = {o.box.object_id: o.box.label.value for o in plan.frame.objects}
    tags = [
        drawing.Tag(
            tuple((np.asarray(b) - (x0, y0, x0, y0)) * zoom),
            f"{labels.get(i, 'object')} #{i}",
            drawing.HIGHLIGHT,
        )
        for i, b in boxes.items()
    ]
    drawing.draw_tags(crop, tags)
    return drawing.caption(crop, plan.camera)


def _top(points: np.ndarray | None, plan: _Plan) -> np.ndarray:
    ids = plan.entry.object_ids
    located = [o for o in plan.frame.objects if o.box.object_id in ids]
    evidence = plan.entry.top.evidence
    if located:
        center = (located[0].box.center[0], located[0].box.center[1])
    else:  # a radar target or camera box without a cuboid: where the evidence puts it, if it does
        try:
            center = (float(evidence["x_m"]), float(evidence["y_m"]))
        except (KeyError, ValueError):
            center = (0.0, 0.0)
    return drawing.top_view(
        points,
        top_boxes(plan.frame.objects, ids),
        size_px=TOP_VIEW_PX,
        range_m=TOP_VIEW_RANGE_M,
        center_xy=center,
        title=plan.lidar or "no LiDAR",
    )


def build_review(
    bag: str | os.PathLike,
    rig: Rig,
    *,
    kinds: Sequence[str] = (),
    limit: int = 0,
    progress: bool = False,
) -> ReviewReport:
    """The bag's queue (only the entries of ``kinds`` when given) with pictures for its first ``limit``
    entries (0: all). An empty queue with ``missing`` set for a bag without review items or without an
    entry of ``kinds``. BagError when ``bag`` is not a bag."""
    bag = Path(bag)
    queue = read_review_queue(bag, progress=progress)
    if kinds and queue.entries:
        present = sorted({e.reason for e in queue.entries})
        queue.entries = [e for e in queue.entries if e.reason in kinds]
        if not queue.entries:
            queue.missing = (
                f"{bag}: no review entry of kind {', '.join(kinds)} (the bag has: {', '.join(present)})"
            )
    pictured = queue.entries[:limit] if limit > 0 else queue.entries
    report = ReviewReport(bag, queue, {e.id: Pictures() for e in queue.entries}, queue.losses)
    for entry in queue.entries[len(pictured) :]:
        report.pictures[entry.id].notes.append(f"not pictured: only the first {limit} entries are")
    if not pictured:
        return report
    try:
        frames = read_bag_labels(bag, rig).frames
    except BagError as error:
        for pictures in report.pictures.values():
            pictures.notes.append(str(error))
        return report
    plans: dict[tuple[str, int], list[_Plan]] = {}
    for entry in pictured:
        frame = _nearest_frame(frames, entry.top.stamp)
        if frame is None:
            report.pictures[entry.id].notes.append("no labelled frame at the item's time")
            continue
        lidar = next(iter(frame.lidars), None)
        plan = _Plan(entry, frame, _camera_for(entry, frame), lidar)
        if plan.camera is None:
            report.pictures[entry.id].notes.append("no camera shows the object")
        else:
            plans.setdefault((rig.sensor(plan.camera).topic, frame.cameras[plan.camera].stamp), []).append(
                plan
            )
        if lidar is None:
            report.pictures[entry.id].top = drawing.png_bytes(_top(None, plan))
        else:
            plans.setdefault((rig.sensor(lidar).topic, frame.lidars[lidar]), []).append(plan)
    for topic, stamp, msgtype, msg in sensor_messages(bag, list(plans), report.losses, progress=progress):
        for plan in plans[(topic, stamp)]:
            pictures = report.pictures[plan.entry.id]
            if plan.lidar is not None and topic == rig.sensor(plan.lidar).topic:
                pictures.top = drawing.png_bytes(_top(sweep_in_base(msg, rig, plan.lidar, topic), plan))
            else:
                pictures.crop = drawing.png_bytes(camera_crop(rgb8(msg, msgtype, topic), plan, rig))
    return report


# ----------------------------------------------------------------------------------------------- page
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
article { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; margin: 0 0 1em; }
article h2 { font-size: 1.05em; margin: 0 0 .4em; }
.priority { display: inline-block; min-width: 3.2em; padding: 0 .4em; border-radius: 4px; color: #fff;
            background: #c0392b; text-align: center; }
.pictures { display: flex; gap: 1em; flex-wrap: wrap; align-items: flex-start; margin-top: .5em; }
.pictures img { border: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 0 .8em 0 0; text-align: left; vertical-align: top; }
.note { color: #a04000; } .legend span { display: inline-block; margin-right: 1.2em; }
.swatch { display: inline-block; width: .9em; height: .9em; margin-right: .3em; vertical-align: middle; }
#kinds label { margin-right: 1.2em; white-space: nowrap; }
"""

_CHECK = """
function showKinds() {
  const boxes = Array.from(document.querySelectorAll('#kinds input'));
  const shown = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
  const entries = Array.from(document.querySelectorAll('article.entry'));
  entries.forEach((a) => { a.hidden = !shown.has(a.dataset.kind); });
  const check = document.getElementById('check');
  check.dataset.shown = String(entries.filter((a) => !a.hidden).length);
}
window.addEventListener('load', () => {
  const wanted = new URLSearchParams(location.hash.slice(1)).get('kinds');
  const boxes = document.querySelectorAll('#kinds input');
  boxes.forEach((b) => {
    if (wanted !== null) b.checked = wanted.split(',').includes(b.value);
    b.addEventListener('change', showKinds);
  });
  showKinds();
  const images = Array.from(document.images);
  const decoded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  const entries = document.querySelectorAll('article.entry');
  const priorities = Array.from(entries, (a) => Number(a.dataset.priority));
  const ordered = priorities.every((p, i) => i === 0 || priorities[i - 1] >= p);
  const check = document.getElementById('check');
  check.dataset.images = String(images.length);
  check.dataset.decoded = String(decoded);
  check.dataset.ordered = String(ordered);
  const order = ordered ? 'in priority order' : 'NOT in priority order';
  check.textContent = `${decoded} of ${images.length} pictures shown; entries ${order}`;
});
"""


def _img(data: bytes | None, alt: str) -> str:
    if data is None:
        return ""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _entry_html(rank: int, entry: ReviewEntry, pictures: Pictures, origin_ns: int) -> str:
    e = html.escape
    first, last = ns_to_seconds(entry.first_ns - origin_ns), ns_to_seconds(entry.last_ns - origin_ns)
    tracks = ", ".join(f"#{i}" for i in entry.object_ids) or "none"
    rows = [
        ("disagrees", " vs ".join(entry.top.modalities) or "?"),
        ("track", tracks),
        (
            "time",
            f"{first:.2f} s to {last:.2f} s ({entry.frames} frames; pictured at "
            f"{ns_to_seconds(entry.top.stamp - origin_ns):.2f} s)",
        ),  # fmt: skip
        ("camera", entry.camera or "any"),
        ("detail", entry.top.detail),
        ("severity", "" if entry.top.severity is None else f"{entry.top.severity:.2f}"),
        ("confidence", "" if entry.top.confidence is None else f"{entry.top.confidence:.2f}"),
        *((f"evidence: {key}", value) for key, value in sorted(entry.top.evidence.items())),
    ]
    rows = [(k, v) for k, v in rows if v]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in pictures.notes)
    images = _img(pictures.crop, f"camera crop of {tracks}") + _img(
        pictures.top, f"bird's-eye view of {tracks}"
    )
    return (
        f'<article class="entry" id="{e(entry.id)}" data-id="{e(entry.id)}" data-kind="{e(entry.reason)}" '
        f'data-rank="{rank}" '
        f'data-priority="{entry.priority:.6f}">'
        f'<h2>{rank}. <span class="priority">{entry.priority:.2f}</span> {e(entry.reason)} '
        f"<small>({e(entry.id)})</small></h2><table>{table}</table>{notes}"
        f'<div class="pictures">{images}</div></article>'
    )


def review_html(report: ReviewReport) -> str:
    """The page: header, legend, the entries by priority, the load check."""
    e = html.escape
    queue = report.queue
    swatches = "".join(
        f'<span><i class="swatch" style="background: rgb{c}"></i>{e(n)}</span>'
        for n, c in LEGEND + drawing.class_legend()
    )
    missing = f'<p class="note" id="missing">{e(queue.missing)}</p>' if queue.missing else ""
    first: dict[str, ReviewEntry] = {}
    for entry in queue.entries:
        first.setdefault(entry.reason, entry)
    kinds = "".join(
        f'<label><input type="checkbox" value="{e(reason)}" checked> <a href="#{e(top.id)}">{e(reason)}</a> '
        f"({sum(x.reason == reason for x in queue.entries)})</label>"
        for reason, top in first.items()
    )
    summary = f'<p id="kinds">Show kinds (first entry linked): {kinds}</p>' if kinds else ""
    entries = "".join(
        _entry_html(rank, entry, report.pictures[entry.id], queue.origin_ns)
        for rank, entry in enumerate(queue.entries, 1)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Review queue: {e(report.bag.name)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Review queue: {e(report.bag.name)}</h1>"
        f"<p>{len(queue.entries)} entries, highest priority first. "
        f'<span id="check">pictures not checked (scripts off)</span></p>'
        f'{summary}<p class="legend">{swatches}</p>{missing}{entries}'
        f"<script>{_CHECK}</script></body></html>"
    )


def write_review(report: ReviewReport, out_dir: str | os.PathLike) -> Path:
    """``out_dir/index.html`` and ``out_dir/review.json``; returns the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "review.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    page = out / "index.html"
    page.write_text(review_html(report), encoding="utf-8")
    return page


def format_review(report: ReviewReport, page: Path, top: int = 10) -> str:
    """A few lines: how many entries, the first ``top`` of them, where the page is."""
    queue = report.queue
    if queue.missing:
        return f"0 review entries: {queue.missing}\npage: {page}"
    lines = [f"{len(queue.entries)} review entries in {report.bag}, highest priority first:"]
    for rank, entry in enumerate(queue.entries[:top], 1):
        d = entry.to_dict(queue.origin_ns)
        ids = ",".join(f"#{i}" for i in entry.object_ids) or "-"
        lines.append(
            f"  {rank:>3}. {entry.priority:.2f}  {entry.reason:<38} {ids:<10} {entry.camera or '-':<16} "
            f"{d['first_s']:.2f}-{d['last_s']:.2f} s ({entry.frames} frames)  [{entry.id}]"
        )
    if len(queue.entries) > top:
        lines.append(f"  ... {len(queue.entries) - top} more on the page")
    lines.append(f"page: {page}")
    return "\n".join(lines)
