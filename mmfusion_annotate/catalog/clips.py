"""``mmfusion clip --catalog``: a self-contained clip around every event a catalog query selects.

Each clip is cut by ``bagtools.clip.clip_window`` exactly as ``mmfusion clip BAG`` cuts it, into
``OUT/<bag name>/<event id>`` (the bag name gets a short hash of its path when two selected bags share a
name). A clip that cannot be cut (the bag changed or is damaged since it was indexed, the folder is taken)
is listed and the others go on.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from mmfusion_annotate.bagtools.clip import ClipResult, clip_window, event_window, format_clips
from mmfusion_annotate.catalog.search import search_events
from mmfusion_annotate.errors import CatalogError, MmfusionError


@dataclass
class CatalogClips:
    """Clips cut (with what each lost) and clips that failed (one line each)."""

    clips: list[ClipResult] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def clip_catalog(
    directory: Path,
    out_dir: Path,
    *,
    where: str | None = None,
    before_s: float = 5.0,
    after_s: float = 5.0,
    progress: bool = False,
) -> CatalogClips:
    """Cut a clip ``[start - before_s, end + after_s]`` around each event matching ``where``."""
    events = search_events(directory, where=where, columns=("bag_path", "id", "start_ns", "end_ns"))
    if not events:
        raise CatalogError(f"{directory}: no event matches{f' --where {where!r}' if where else ''}")
    names = Counter(Path(p).name for p in {e["bag_path"] for e in events})
    result = CatalogClips()
    for event in tqdm(events, unit="clip", desc="clip", disable=not progress):
        bag = Path(event["bag_path"])
        folder = (
            bag.name if names[bag.name] == 1 else f"{bag.name}-{hashlib.sha1(bytes(bag)).hexdigest()[:6]}"
        )
        target = Path(out_dir) / folder / str(event["id"])
        try:
            result.clips.append(clip_window(bag, target, *event_window(event, before_s, after_s)))
        except (MmfusionError, OSError) as error:
            result.failed.append(f"{bag} event {event['id']}: {str(error).splitlines()[0]}")
    return result


def format_catalog_clips(result: CatalogClips) -> str:
    """One line per clip, the failures, then what was cut and what failed in one line."""
    lines = [format_clips(result.clips)] if result.clips else []
    lines += [f"FAILED: {line}" for line in result.failed]
    messages = sum(c.message_count for c in result.clips)
    bags = len({c.bag_dir.parent for c in result.clips})
    lossy = sum(c.losses.lossy for c in result.clips)
    lines.append(
        f"cut {len(result.clips)} clips ({messages} messages) from {bags} bags"
        + (f", {lossy} with losses" if lossy else "")
        + f", {len(result.failed)} failed"
    )
    return "\n".join(lines)
