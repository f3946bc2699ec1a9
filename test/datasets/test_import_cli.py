"""``mmfusion import``: gaps in a partial sequence, and one-line errors (exit 2) for what is not one."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mmfusion_annotate.cli import main
from mmfusion_annotate.recording import BagReader

FRAMES = (50, 51, 52)


def _partial_copy(sequence: Path, target: Path, frames: tuple[int, ...], skip: set[str]) -> Path:
    """Links to the per-sequence files and to ``frames``' files, leaving out the paths in ``skip``."""
    for source in sorted(sequence.rglob("*")):
        relative = source.relative_to(sequence)
        per_frame = source.name.split(".")[0].isdigit()
        if (
            not source.is_file()
            or str(relative) in skip
            or (per_frame and int(source.name[:2]) not in frames)
        ):
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).symlink_to(source)
    return target


def test_missing_files_are_gaps_named_and_counted(pandaset_dir, tmp_path, capsys, caplog):
    skip = {"lidar/51.pkl.gz", "camera/left_camera/52.jpg"}
    sequence = _partial_copy(pandaset_dir / "002", tmp_path / "002", FRAMES, skip)
    bag = tmp_path / "bag"
    with caplog.at_level(logging.WARNING):
        assert main(["import", "pandaset", str(sequence), "-o", str(bag)]) == 0  # default: frames present
    assert "imported 3 frames" in capsys.readouterr().out
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and all(any(s in w for w in warned) for s in skip)
    counts = Counter(m.topic for m in BagReader(bag))
    assert counts["/pandar64/points"] == counts["/pandargt/points"] == 2  # the missing sweep is a gap
    assert counts["/truth/pandar64/semantics"] == 2
    assert (
        counts["/left_camera/image_raw/compressed"] == 2 and counts["/right_camera/image_raw/compressed"] == 3
    )
    assert counts["/truth/objects"] == 3 and counts["/odom"] == 5
    assert (bag / "rig.yaml").is_file()


def _run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mmfusion_annotate.cli", "import", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_not_a_sequence_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "lidar").mkdir()
    result = _run("pandaset", str(tmp_path), "-o", str(tmp_path / "bag"))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(tmp_path) in line and "not a PandaSet sequence" in line and "lidar/poses.json" in line
    assert not (tmp_path / "bag").exists()


def test_frames_outside_the_sequence_exit_2(pandaset_dir, tmp_path):
    result = _run("pandaset", str(pandaset_dir), "-o", str(tmp_path / "bag"), "--frames", "70-90")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "frames 70-90 outside the sequence's 0-79" in line
    assert _run("pandaset", str(pandaset_dir), "-o", "x", "--frames", "5-2").returncode == 2  # argparse
