"""The launch files against a stand-in launch API (``launch_stub/``): launch_ros cannot be installed here.

What is checked is what would break ``ros2 launch`` on a real install: every executable is a console
script of the package whose target exists, every parameter file is installed from ``config/``, and
every parameter passed (files and dicts, launch arguments at their defaults) reaches a node of that
process that declares it. The process's nodes are built from the ROS arguments launch_ros would give
the executable (``--params-file`` per file, dicts as a ``/**`` file, ``-r __ns:=``), as the entry point
builds them, and must accept them.
"""

import importlib
import inspect
from pathlib import Path

import pytest
import rclpy
from launch_files import LAUNCH_FILES, PACKAGE, console_scripts, install_share, load_launch, ros_arguments
from rclpy.node import Node as RosNode


@pytest.fixture
def share(tmp_path, monkeypatch):
    return install_share(tmp_path, monkeypatch)


def build_nodes(target: str, context) -> list[RosNode]:
    """The nodes the entry point ``target`` builds in one process: ``vehicle`` composes fusion_node and
    recorder_node (``vehicle_nodes``); every other node module defines one rclpy Node class."""
    module_name, _, function = target.partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function, None)), f"{target}: no such function"
    if module_name == "mmfusion_annotate.nodes.vehicle":
        return module.vehicle_nodes(context, rig_file=None, bag_dir=None)
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, RosNode) and c.__module__ == module.__name__]  # fmt: skip
    assert len(classes) == 1, f"{module_name} should define one rclpy Node class, found {classes}"
    return [classes[0](context=context)]


def test_there_are_launch_files():
    assert {p.name for p in LAUNCH_FILES} >= {"vehicle.launch.py", "demo.launch.py"}


@pytest.mark.slow
@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_matches_the_package(launch_file, share, monkeypatch, tmp_path, domain_id):
    monkeypatch.chdir(tmp_path)  # nodes may create output folders (bags) relative to the working directory
    description = load_launch(launch_file, monkeypatch)
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import Node

    arguments = {a.name: a.default_value for a in description.entities
                 if isinstance(a, DeclareLaunchArgument)}  # fmt: skip
    actions = [a for a in description.entities if isinstance(a, Node)]
    assert actions, "no nodes launched"
    problems = []
    for action in actions:
        try:
            check_node_action(action, arguments, domain_id, tmp_path)
        except AssertionError as exc:  # report every node's problems at once
            problems.append(f"{action.executable}: {str(exc).splitlines()[0]}")
    assert not problems, "; ".join(problems)


def test_both_launch_files_start_the_one_process_composition(share, monkeypatch):
    """The bag of ``ros2 launch`` is the bag of ``mmfusion run``: fusion and recorder in one process."""
    for path in LAUNCH_FILES:
        description = load_launch(path, monkeypatch)
        from launch_ros.actions import Node

        executables = [a.executable for a in description.entities if isinstance(a, Node)]
        assert "vehicle" in executables and not {"fusion_node", "recorder_node"} & set(executables), path.name
    assert console_scripts()["vehicle"] == "mmfusion_annotate.nodes.vehicle:main"


def check_node_action(action, arguments: dict[str, str], domain_id: int, tmp_path: Path) -> None:
    assert action.package == PACKAGE
    scripts = console_scripts()
    assert action.executable in scripts, "not a console_scripts entry point in setup.py"
    args, sections, values = ros_arguments(action, arguments, tmp_path)
    context = rclpy.Context()
    rclpy.init(args=["launched", *args], context=context, domain_id=domain_id)
    try:
        nodes = build_nodes(scripts[action.executable], context)
        try:
            names = {node.get_name(): node for node in nodes}
            unknown = sorted(set(sections) - set(names) - {"/**"})
            assert not unknown, f"parameter file sections {unknown} name no node of this process"
            undeclared = sorted(f"{name}:{key}" for name, keys in sections.items() if name in names
                                for key in keys if not names[name].has_parameter(key))  # fmt: skip
            undeclared += sorted(k for k in values if not any(n.has_parameter(k) for n in nodes))
            assert not undeclared, f"parameters {undeclared} are passed but not declared"
            not_applied = sorted(k for k in values for n in nodes
                                 if n.has_parameter(k) and n.get_parameter(k).value != values[k])  # fmt: skip
            assert not not_applied, f"launch values {not_applied} did not reach the node"
        finally:
            for node in nodes:
                close = getattr(node, "close", None)
                if callable(close):
                    close()
                node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
