"""Shared fixtures of the dataset tests: the PandaSet sequence, one import of it and its replay.

PandaSet (by Hesai and Scale AI, CC BY 4.0) is read from ``../shared/data``, never copied into the
repository. Frames 50-52: the car drives at about 4.5 m/s there, so a sweep's 100 ms of motion shows.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from pandaset_frames import FRAMES

from mmfusion_annotate.cli import main
from mmfusion_annotate.datasets.pandaset import PandaSetSequence


@pytest.fixture(scope="session")
def pandaset_dir(shared_path) -> Path:
    """``../shared/data/pandaset_seq002`` next to the repository."""
    shared_path("data", "pandaset_seq002", "002", "lidar", "poses.json")
    return shared_path("data", "pandaset_seq002")


@pytest.fixture(scope="session")
def sequence(pandaset_dir: Path) -> PandaSetSequence:
    return PandaSetSequence(pandaset_dir)


@pytest.fixture(scope="session")
def imported(pandaset_dir: Path, tmp_path_factory) -> Path:
    """Frames 50-52 imported through the command line (``mmfusion import pandaset``)."""
    bag = tmp_path_factory.mktemp("import") / "pandaset_bag"
    frames = f"{FRAMES[0]}-{FRAMES[1]}"
    assert main(["import", "pandaset", str(pandaset_dir), "-o", str(bag), "--frames", frames]) == 0
    return bag


@pytest.fixture(scope="session")
def replayed(imported: Path, tmp_path_factory) -> tuple[Path, str]:
    """The imported bag through ``mmfusion replay`` without ``--rig`` (its rig.yaml), and what it printed."""
    out = tmp_path_factory.mktemp("replay") / "annotated"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["replay", str(imported), "-o", str(out)]) == 0
    return out, printed.getvalue()
