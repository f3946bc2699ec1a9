"""``mmfusion export``: one bag (or a window of it) to OpenLABEL or COCO files in a new folder."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.export.bag_labels import read_bag_labels
from mmfusion_annotate.export.coco import coco_file, to_coco
from mmfusion_annotate.export.openlabel import to_openlabel
from mmfusion_annotate.export.schema import validate
from mmfusion_annotate.export.sensor_data import write_sensor_data
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import Stamp

FORMATS = ("openlabel", "coco")


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the label files, how many frames, data files and seconds it took."""

    files: tuple[Path, ...]
    frames: int
    data_files: int
    seconds: float
    losses: ReadLosses = field(default_factory=ReadLosses)
    """What could not be read (damaged chunks, undecodable messages): the export is partial."""


def openlabel_file(out_dir: Path, bag: str | os.PathLike) -> Path:
    return out_dir / f"{Path(bag).name}.openlabel.json"


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BagError(f"{out_dir}: exists and is not an empty folder (an export never overwrites)")
    out_dir.mkdir(parents=True, exist_ok=True)


def export_bag(
    bag: str | os.PathLike,
    out_dir: str | os.PathLike,
    rig: Rig,
    *,
    fmt: str = "openlabel",
    window_ns: tuple[Stamp, Stamp] | None = None,
    with_data: bool = False,
    check_schema: bool = False,
) -> ExportSummary:
    """Export ``bag``'s pre-labels (frames in ``window_ns``) to ``out_dir`` (new or empty).

    ``openlabel``: ``<bag name>.openlabel.json`` (and with ``with_data`` the images and sweeps beside it);
    ``coco``: ``<camera>.json`` per camera with its images. ``check_schema`` validates the OpenLABEL
    document before writing it. Nothing is written when the bag has no pre-labels.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if fmt not in FORMATS:
        raise BagError(f"unknown export format '{fmt}' ({', '.join(FORMATS)})")
    labels = read_bag_labels(bag, rig, window_ns)
    _prepare(out_dir)
    if fmt == "coco":
        files = write_sensor_data(labels, out_dir, cameras_only=True)
        written = []
        for camera in sorted({name for name, _ in files}):
            path = coco_file(out_dir, camera)
            path.write_text(json.dumps(to_coco(labels, camera, files), indent=1))
            written.append(path)
        return ExportSummary(
            tuple(written), len(labels.frames), len(files), time.perf_counter() - started, labels.losses
        )
    files = write_sensor_data(labels, out_dir) if with_data else {}
    document = to_openlabel(labels, files)
    if check_schema:
        validate(document, f"export of {bag}")
    path = openlabel_file(out_dir, bag)
    path.write_text(json.dumps(document, indent=1))
    seconds = time.perf_counter() - started
    return ExportSummary((path,), len(labels.frames), len(files), seconds, labels.losses)


def format_export(summary: ExportSummary) -> str:
    names = ", ".join(str(p) for p in summary.files) or "no label file (no camera saw a frame)"
    data = f", {summary.data_files} data files" if summary.data_files else ""
    rate = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
    done = f"exported {summary.frames} frames{data} to {names} ({summary.seconds:.1f} s, {rate:.1f} frames/s)"
    if not summary.losses.lossy:
        return done
    return "\n".join([*summary.losses.lines(), f"{done} ({summary.losses.summary()})"])
