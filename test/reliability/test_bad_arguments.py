"""Bad arguments and bad files: each is one line on stderr naming the argument or file, exit 2, no
traceback, and nothing written (issue 26)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from small_bags import T0, write_imu_bag

from mmfusion_annotate.bagtools.play import MAX_GAP_S, Pacer, play_messages
from mmfusion_annotate.cli import main
from mmfusion_annotate.recording import BagReader
from mmfusion_annotate.types import NS_PER_S

BINARY = bytes(range(256)) * 8  # not UTF-8 (0x80 alone)
CONTROL = "name: rig\x00\nsensors: []\n"  # UTF-8, but a control character YAML refuses


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_files")
    (root / "binary.yaml").write_bytes(BINARY)
    (root / "control.yaml").write_text(CONTROL)
    (root / "a_file").write_text("not a folder\n")
    (root / "rules_binary.yaml").write_text(f"rules_file: {root / 'binary.yaml'}\n")
    write_imu_bag(root / "bag", 1.0)
    return {
        "BIN": root / "binary.yaml", "CTRL": root / "control.yaml", "FILE": root / "a_file",
        "RULES": root / "rules_binary.yaml", "BAG": root / "bag", "OUT": root / "out_never_written",
    }  # fmt: skip


def run_main(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exit_info:  # argparse
        return int(exit_info.code or 0)


CASES = [
    # a file that is not what it should be
    (["rig", "BIN"], "BIN", "not a text file"),
    (["rig", "CTRL"], "CTRL", "invalid YAML"),
    (["sim", "calm", "--rig", "BIN", "-o", "OUT"], "BIN", "not a text file"),
    (["sim", "BIN", "-o", "OUT"], "BIN", "not a text file"),
    (["sim", "CTRL", "-o", "OUT"], "CTRL", "invalid YAML"),
    (["replay", "BAG", "-o", "OUT", "--config", "BIN"], "BIN", "not a text file"),
    (["replay", "BAG", "-o", "OUT", "--rig", "BIN"], "BIN", "not a text file"),
    (["replay", "BAG", "-o", "OUT", "--config", "RULES"], "BIN", "rule file must be UTF-8"),
    (["evaluate", "BAG", "--rig", "CTRL"], "CTRL", "invalid YAML"),
    # outputs that cannot be written
    (["sim", "calm", "--duration", "0.3", "-o", "FILE"], "FILE", "exists and is not a folder"),
    (["replay", "BAG", "-o", "FILE"], "FILE", "exists and is not a folder"),
    (["index", "BAG", "--catalog", "FILE"], "FILE", "file exists"),
    (["search", "--catalog", "BAG"], "BAG", "no catalog here"),
    (["clip", "--catalog", "FILE", "-o", "OUT"], "FILE", "no catalog here"),
    (["replay", "BAG", "-o", "BAG"], "BAG", "not empty"),
    (["sim", "calm", "--duration", "0.3", "-o", "/proc/mmfusion_test/bag"], "/proc/mmfusion_test", ""),
    (["replay", "BAG", "-o", "/proc/mmfusion_test/out"], "/proc/mmfusion_test", ""),
    (["sim", "calm", "--duration", "0.3", "-o", "FILE/bag"], "FILE", "not a directory"),
    # numbers out of range
    (["clip", "BAG", "--type", "cut_in", "--before", "inf", "-o", "OUT"], "--before", "finite"),
    (["clip", "BAG", "--type", "cut_in", "--after", "1e12", "-o", "OUT"], "--after", "<= 1e+06"),
    (["sim", "calm", "--duration", "inf", "-o", "OUT"], "--duration", "finite"),
    (["sim", "calm", "--duration", "1e12", "-o", "OUT"], "--duration", "<= 1e+06"),
    (["demo", "--duration", "inf"], "--duration", "finite"),
    (["demo", "--rate", "1e-300"], "--rate", "between"),
    (["play", "BAG", "--rate", "1e-300"], "--rate", "between"),
    (["play", "BAG", "--rate", "nan"], "--rate", "finite"),
    (["play", "BAG", "--delay", "1e12"], "--delay", "<= 1e+06"),
    (["evaluate", "BAG", "--skip", "inf"], "--skip", "finite"),
]


@pytest.mark.parametrize(("args", "named", "reason"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_argument_or_file_is_one_line_and_exit_2(files, capsys, args, named, reason):
    resolved = [str(files.get(arg, arg)) if "/" not in arg else arg for arg in args]
    resolved = [str(files["FILE"]) + "/bag" if arg == "FILE/bag" else arg for arg in resolved]
    assert run_main(resolved) == 2
    err = capsys.readouterr().err
    # one error line, last; before it at most argparse's usage or an empty progress bar
    assert [line for line in err.splitlines() if "error" in line] == [err.splitlines()[-1]], err
    assert "Traceback" not in err
    assert str(files.get(named, named)) in err and reason in err, err
    assert not files["OUT"].exists()
    assert not Path("/proc/mmfusion_test").exists()


def test_a_far_future_log_time_does_not_make_play_wait(files):
    """One message stamped a year after the rest is played at once (the gap skipped and counted)."""
    year_later = T0 + 365 * 86400 * NS_PER_S
    bag = write_imu_bag(files["BAG"].parent / "far_future", 0.5, extra_stamps_ns=(year_later,))
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(1.0, now=lambda: now[0], sleep=sleep)
    published = []
    started = time.monotonic()
    stats = play_messages(lambda: iter(BagReader(bag)), published.append, pacer)
    assert len(published) == 6 and stats.gaps_skipped == 1
    assert sum(slept) < 1.0 < MAX_GAP_S  # the 0.4 s of the regular messages, not a year
    assert time.monotonic() - started < 5
