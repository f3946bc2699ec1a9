"""The bag of the launch path: the ``vehicle`` entry point run with the ROS arguments ``vehicle.launch.py``
gives it, beside ``mmfusion run`` on the same synthetic drive, each in a namespace of its own.

Both must record the same topics (each under its namespace, none of the other's), pre-labels and events
included; a missing rig or parameter file stops the entry point with one line before any node exists.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from launch_files import LAUNCH_FILES, install_share, load_launch, ros_arguments
from rigs import write_small_rig

from mmfusion_annotate.bagtools.events import list_events
from mmfusion_annotate.bagtools.info import bag_info

VEHICLE = [sys.executable, "-m", "mmfusion_annotate.nodes.vehicle"]
SCENARIO = """\
name: early_braking
description: the lead car and the ego brake hard within the first seconds
duration_s: 3.0
seed: 5
road: {lanes: 2, lane_width_m: 3.5, ego_lane: 0}
ego:
  speed_mps: 12.0
  maneuvers:
    - {type: speed_change, t_s: 0.8, accel_mps2: -6.5, target_speed_mps: 0.0}
actors:
  - {id: 1, class: car, size_m: [4.6, 1.9, 1.5], start: {x_m: 18.0, y_m: 0.0}, speed_mps: 12.0,
     maneuvers: [{type: speed_change, t_s: 0.5, accel_mps2: -6.0, target_speed_mps: 0.0}]}
statics:
  - {id: 100, class: car, size_m: [4.5, 1.9, 1.5], pose: {x_m: 12.0, y_m: -3.3}, repeat: 2, spacing_m: 12.0}
"""


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("bad", ["params", "rig"])
def test_a_missing_file_stops_the_entry_point_with_one_line(bad, tmp_path):
    missing = tmp_path / f"no_such_{bad}.yaml"
    args = ["--params-file", str(missing)] if bad == "params" else ["-p", f"rig_file:={missing}"]
    args += ["-p", f"bag_dir:={tmp_path / 'bags'}"]
    result = subprocess.run([*VEHICLE, "--ros-args", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert str(missing) in _one_line(result)
    assert not (tmp_path / "bags").exists()  # no node got as far as creating the bag


def _launched_vehicle_args(tmp_path: Path, monkeypatch, **launch_arguments: str) -> list[str]:
    """The ROS arguments ``vehicle.launch.py`` gives its process, with ``launch_arguments`` given."""
    install_share(tmp_path, monkeypatch)
    description = load_launch(next(p for p in LAUNCH_FILES if p.name == "vehicle.launch.py"), monkeypatch)
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import Node

    arguments = {a.name: a.default_value for a in description.entities
                 if isinstance(a, DeclareLaunchArgument)}  # fmt: skip
    arguments.update(launch_arguments)
    (action,) = [a for a in description.entities if isinstance(a, Node)]
    assert action.executable == "vehicle"
    args, _sections, _values = ros_arguments(action, arguments, tmp_path)
    return args


def _bag(parent: Path) -> Path:
    (bag,) = [p for p in parent.iterdir() if p.is_dir()]
    return bag


@pytest.mark.dds
@pytest.mark.slow
def test_launch_and_mmfusion_run_record_the_same_bag_each_in_its_namespace(tmp_path, monkeypatch, domain_id):
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}  # before the stand-in install prefix is set
    rig_file = write_small_rig(tmp_path)
    scenario = tmp_path / "early_braking.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    launched_bags, run_bags = tmp_path / "launched", tmp_path / "run"
    launched = _launched_vehicle_args(
        tmp_path, monkeypatch, rig=str(rig_file), bag_dir=str(launched_bags), use_sim_time="true",
        sensor_qos="reliable", namespace="/car1",
    )  # fmt: skip
    slow_start = ["-p", "queue_depth:=64"]  # kernels compile on the first frames of a loaded machine: wait
    run = ["mmfusion", "run", "--rig", str(rig_file), "--bag-dir", str(run_bags), "--", "--ros-args",
           "-r", "__ns:=/car2", "-p", "use_sim_time:=true", "-p", "qos:=reliable",
           "-p", "recorder.sensor_qos:=reliable", *slow_start]  # fmt: skip
    sim = [sys.executable, "-m", "mmfusion_annotate.nodes.sim_node", "--ros-args",
           "-p", f"rig_file:={rig_file}", "-p", f"scenario:={scenario}", "-p", "rate:=0.5",
           "-p", "qos:=reliable",
           "-p", "wait_for_subscribers_s:=60.0"]  # fmt: skip
    suites = [
        subprocess.Popen([*VEHICLE, *launched, *slow_start], env=env, stderr=subprocess.PIPE, text=True),
        subprocess.Popen([sys.executable, "-m", "mmfusion_annotate.cli", *run[1:]], env=env,
                         stderr=subprocess.PIPE, text=True),
    ]  # fmt: skip
    try:
        # sim_node waits until both suites subscribe to every sensor topic (a subscriber per suite is not
        # checked: the bags below show both got the drive)
        time.sleep(5.0)
        assert subprocess.run(sim, env=env, capture_output=True, timeout=240).returncode == 0
        time.sleep(3.0)  # the last sets reach both pipelines
    finally:
        for suite in suites:
            suite.send_signal(signal.SIGINT)
        codes = [suite.wait(timeout=120) for suite in suites]
        errors = [suite.stderr.read() for suite in suites]
    assert codes == [0, 130], errors  # launch expects 0 after a signal; mmfusion run gives 130 after Ctrl-C

    topics = {}
    for name, parent, namespace in (("launch", launched_bags, "/car1"), ("run", run_bags, "/car2")):
        counts = {t.name: t.message_count for t in bag_info(_bag(parent)).topics}
        other = "/car2" if namespace == "/car1" else "/car1"
        assert not [t for t in counts if t.startswith(other + "/")], f"{name} recorded the other's topics"
        for topic in ("prelabels/scene", "prelabels/review", "prelabels/markers", "events"):
            assert counts.get(f"{namespace}/{topic}", 0) > 0, f"{name}: {namespace}/{topic} not recorded"
        assert counts.get("/tf_static", 0) > 0 and counts.get("/lidar_top/points", 0) > 0, counts
        topics[name] = {t.removeprefix(namespace) for t in counts}
        assert {e["type"] for e in list_events(_bag(parent), source="metadata")} >= {"hard_braking"}, name
    assert topics["launch"] == topics["run"]
