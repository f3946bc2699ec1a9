"""The ``mmfusion`` command: help, exit codes, one-line errors, and the bag commands chained on a sim bag."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rigs import write_small_rig

from mmfusion_annotate.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    "demo", "run", "replay", "play", "info", "events", "clip", "evaluate", "models", "sim", "import", "rig",
    "export", "import-labels", "index", "search",
]  # fmt: skip


def run_cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mmfusion_annotate.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_every_command_has_help_with_an_example(capsys):
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert "mmfusion" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["bag", "recover", "--help"])
    assert "Example" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["replay", "/no/such/bag", "-o", "out"], "does not exist"),
        (["clip", ".", "-o", "clips"], "one of the arguments --event --type"),
        (["play", ".", "--rate", "0"], "must be between"),
        (["play", ".", "--rate", "1e-300"], "must be between"),
        (["play", ".", "--delay", "-1"], "must be >= 0"),
        (["clip", ".", "--type", "cut_in", "--before", "inf", "-o", "clips"], "must be a finite number"),
        (["clip", ".", "--type", "cut_in", "--after", "nan", "-o", "clips"], "must be a finite number"),
        (["sim", "calm", "--duration", "1e12", "-o", "bag"], "must be > 0 and <= 1e+06"),
        (["demo", "--duration", "inf"], "must be a finite number"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_command_lines_exit_2(capsys, args, expected):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_bad_rig_is_one_line_naming_the_file_and_key(tmp_path):
    rig = tmp_path / "bad_rig.yaml"
    rig.write_text("name: car\nsensors:\n  - name: cam\n    kind: sonar\n    topic: /x\n    frame_id: x\n")
    result = run_cli("rig", str(rig))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad_rig.yaml" in lines[0] and "kind" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def sim_bag(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    rig = write_small_rig(tmp)
    assert main(["sim", "hard_braking", "--duration", "1.5", "--rig", str(rig), "-o", str(tmp / "bag")]) == 0
    return tmp, rig


def test_info_json_lists_the_sim_topics(sim_bag, capsys):
    tmp, _ = sim_bag
    capsys.readouterr()
    assert main(["info", str(tmp / "bag"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    topics = {t["name"] for t in info["topics"]}
    assert {"/lidar_top/points", "/cam_front/image_raw/compressed", "/tf_static"} <= topics


@pytest.mark.slow
def test_replay_then_events_then_clip(sim_bag, capsys):
    tmp, rig = sim_bag
    out = tmp / "annotated"
    assert main(["replay", str(tmp / "bag"), "-o", str(out), "--rig", str(rig)]) == 0
    assert "fused frames" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    topics = {t["name"] for t in json.loads(capsys.readouterr().out)["topics"]}
    assert {"/prelabels/scene", "/prelabels/markers", "/cam_front/annotations"} <= topics
    assert main(["events", str(out), "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert isinstance(events, list)
    if events:  # a clip around the first event plays alone: statics copied in
        assert main(["clip", str(out), "--event", events[0]["id"], "--before", "0.2", "--after", "0.2",
                     "-o", str(tmp / "clips")]) == 0  # fmt: skip
        assert any((tmp / "clips").iterdir())
    assert main(["clip", str(out), "--event", "nope", "-o", str(tmp / "clip2")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--rig", str(rig), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["frames"] >= 10 and scores["bev_iou"]["detection"]["car@50m"]["recall"] >= 0.8
    # the sim's truth is exact: a projection or timing error in either side would show here
    assert scores["boxes2d"]["all"]["iou_mean"] >= 0.75 and scores["boxes2d"]["all"]["pairs"] >= 10


def test_replay_refuses_a_non_empty_output(sim_bag, capsys):
    tmp, rig = sim_bag
    assert main(["replay", str(tmp / "bag"), "-o", str(tmp / "bag"), "--rig", str(rig)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_sim_refuses_to_write_over_an_existing_bag(sim_bag, capsys):
    tmp, rig = sim_bag
    before = {p.name: p.read_bytes() for p in (tmp / "bag").iterdir()}
    capsys.readouterr()
    assert main(["sim", "calm", "--duration", "0.5", "--rig", str(rig), "-o", str(tmp / "bag")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "never overwritten" in err[0] and str(tmp / "bag") in err[0]
    assert {p.name: p.read_bytes() for p in (tmp / "bag").iterdir()} == before


def test_recover_a_truncated_bag(sim_bag, tmp_path, capsys):
    tmp, _ = sim_bag
    bag = tmp_path / "cut"
    shutil.copytree(tmp / "bag", bag)
    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size * 2 // 3])
    assert main(["info", str(bag), "--json"]) == 1  # its messages could not be counted: exit 1, as losses
    assert json.loads(capsys.readouterr().out)["incomplete_files"] == [mcap.name]
    assert main(["bag", "recover", str(bag)]) == 1  # done, with the cut-off tail lost
    assert "recovered" in capsys.readouterr().out
    assert main(["info", str(bag), "--json"]) == 0
    assert not json.loads(capsys.readouterr().out)["incomplete_files"]


def test_evaluate_kitti_json(capsys, shared_path):
    assert main(["evaluate", str(shared_path("data", "kitti", "training")), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 3
    assert report["detection"]["pedestrian@20m"]["recall"] == 1.0


def test_models_lists_installs_and_refuses_a_file_that_is_not_the_model(tmp_path, capsys, shared_path):
    models, target = shared_path("models"), ["--model-dir", str(tmp_path)]
    assert main(["models", *target]) == 0
    out = capsys.readouterr().out
    assert f"model directory: {tmp_path}" in out and "deimv2-femto   not installed" in out
    assert "https://raw.githubusercontent.com/Kazuhito00/DEIMv2-ONNX-Sample/" in out and "Apache-2.0" in out
    assert main(["models", "install", "yolox-nano", str(models / "yolox_nano.onnx"), *target]) == 0
    assert main(["models", *target]) == 0
    assert "yolox-nano     installed" in capsys.readouterr().out
    assert main(["models", "install", "deimv2-femto", str(models / "yolox_nano.onnx"), *target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not deimv2-femto" in err[0]
    assert main(["models", "fetch", "deimv2-femto", "--url", "http://127.0.0.1:9/m.onnx", *target]) == 2
    assert "cannot download" in capsys.readouterr().err


def test_evaluate_with_a_detector_that_is_not_installed_is_one_line_naming_the_key(
    tmp_path, monkeypatch, shared_path
):
    monkeypatch.setenv("MMFUSION_MODEL_DIR", str(tmp_path))
    result = run_cli("evaluate", str(shared_path("data", "kitti", "training")), "--detector", "deimv2-femto")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "key 'prelabel.camera.detector.model'" in line and "not installed" in line
