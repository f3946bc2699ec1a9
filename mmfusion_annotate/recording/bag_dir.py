"""Where a new bag goes: never into a folder that already holds one.

Why: a drive is recorded once. Opening an existing bag's split file for writing truncates it, so every
writer checks its folder first (``refuse_existing_bag``: missing or empty, else a one-line refusal) and
opens its files with exclusive creation. A recorder that restarts after a crash must record at once without a
person choosing a new name, so it asks ``new_bag_dir`` for the next free name in its parent folder
(``<name>``, ``<name>_2``, ``<name>_3``...), created atomically so that two recorders never share one.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from mmfusion_annotate.errors import BagError

RIG_FILE = "rig.yaml"
"""A bag folder may carry the rig it was recorded with beside ``metadata.yaml`` (rosbag2 ignores it)."""
MAX_NUMBERED = 10_000
"""How many numbered siblings ``new_bag_dir`` tries before it gives up (a folder full of failed starts)."""


class BagExistsError(BagError):
    """A command was asked to write a bag where something already is; nothing was touched."""


def refuse_existing_bag(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` if a new bag may be written there: it is missing or an empty folder.

    Raises ``BagExistsError`` when ``path`` is a file or a folder with anything in it. The folder itself is
    created with the first file, so a recorder whose disk is not there yet retries instead of failing.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise BagExistsError(f"{path}: exists and is not a folder; choose another output path")
        if any(path.iterdir()):
            raise BagExistsError(
                f"{path}: exists and is not empty (a bag is never overwritten); choose another output "
                "path or remove it"
            )
    return path


def new_bag_dir(parent: str | os.PathLike, name: str) -> Path:
    """Create and return a bag folder that did not exist: ``parent/name``, else ``parent/name_2``, ...

    ``mkdir`` without ``exist_ok`` is the atomic claim: of two processes asking at once, each gets its own.
    """
    if not name or "/" in name or name in (".", ".."):
        raise BagError(f"'{name}': a bag name must be a single folder name")
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BagError(f"{parent}: cannot create the recordings folder ({exc.strerror or exc})") from exc
    for number in range(1, MAX_NUMBERED + 1):
        candidate = parent / (name if number == 1 else f"{name}_{number}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise BagError(f"{candidate}: cannot create the bag folder ({exc.strerror or exc})") from exc
        return candidate
    raise BagError(f"{parent}: {MAX_NUMBERED} bags named '{name}' exist already; choose another name")


def timestamped_name(prefix: str, unix_s: float | None = None) -> str:
    """``<prefix>_<UTC YYYYmmdd_HHMMSS>``, the default name of a recording (sorts by start time)."""
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(time.time() if unix_s is None else unix_s))
    return f"{prefix}_{stamp}"


def bag_rig_file(bag: str | os.PathLike) -> Path | None:
    """``BAG/rig.yaml`` when the bag folder carries its rig (imported datasets do), else None."""
    path = Path(bag) / RIG_FILE
    return path if path.is_file() else None


def carry_rig(rig_file: str | os.PathLike, bag: str | os.PathLike) -> Path:
    """Copy the rig a bag was made with into it as ``BAG/rig.yaml`` (never over one already there)."""
    target = Path(bag) / RIG_FILE
    if not target.exists():
        shutil.copyfile(rig_file, target)
    return target
