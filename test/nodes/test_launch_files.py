"""The launch files against a stand-in launch API (``launch_stub/``): launch_ros cannot be installed here.

What is checked is what would break ``ros2 launch`` on a real install: every executable is a console
script of the package whose target exists, every parameter file is installed from ``config/``, and
every parameter passed (files and dicts, launch arguments at their defaults) is declared by the node,
which is built with those parameters and must accept them.
"""

import ast
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.node import Node as RosNode
from rclpy.parameter import Parameter

REPO = Path(__file__).resolve().parents[2]
STUB = Path(__file__).resolve().parent / "launch_stub"
PACKAGE = "mmfusion_annotate"
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))


def console_scripts() -> dict[str, str]:
    """``name -> module:function`` from setup.py's ``entry_points`` (read, not executed)."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "setup":
            for keyword in call.keywords:
                if keyword.arg == "entry_points":
                    scripts = ast.literal_eval(keyword.value).get("console_scripts", [])
                    return {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in scripts)}
    return {}


@pytest.fixture
def share(tmp_path, monkeypatch):
    """An install prefix as colcon / pip lay it out (ament index marker, share/<pkg>/{config,launch})."""
    prefix = tmp_path / "prefix"
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    (index / PACKAGE).write_text("")
    share = prefix / "share" / PACKAGE
    share.mkdir()
    config = share / "config"
    config.mkdir()
    for path in (REPO / "config").glob("*.yaml"):  # setup.py: data_files config/*.yaml
        (config / path.name).symlink_to(path)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    return share


def load_launch(path: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(STUB))
    for name in [m for m in sys.modules if m.split(".")[0] in ("launch", "launch_ros")]:
        monkeypatch.delitem(sys.modules, name)
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def resolve(value, arguments: dict[str, str]):
    """A parameter value with launch arguments at their defaults, typed the way launch_ros types them."""
    from launch.substitutions import LaunchConfiguration

    if isinstance(value, LaunchConfiguration):
        assert value.variable_name in arguments, f"launch argument '{value.variable_name}' is not declared"
        return yaml.safe_load(arguments[value.variable_name])
    return value


def flatten(params: dict, prefix: str = "") -> dict[str, object]:
    """Nested YAML mappings become dotted parameter names, as rcl's parameter-file parser does."""
    flat: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def node_parameters(action, arguments: dict[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for entry in action.parameters:
        if isinstance(entry, str):
            path = Path(entry)
            assert path.is_file(), f"parameter file {path.name} is not in config/"
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            section = doc.get(action.name, doc.get("/**"))
            assert section is not None, f"{path.name}: no '{action.name}:' (or '/**:') section"
            values.update(flatten(section["ros__parameters"]))
        else:
            values.update({k: resolve(v, arguments) for k, v in entry.items()})
    return values


def node_class(target: str) -> type:
    module_name, _, function = target.partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function, None)), f"{target}: no such function"
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, RosNode) and c.__module__ == module.__name__]  # fmt: skip
    assert len(classes) == 1, f"{module_name} should define one rclpy Node class, found {classes}"
    return classes[0]


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
            check_node_action(action, arguments, domain_id)
        except AssertionError as exc:  # report every node's problems at once
            problems.append(f"{action.executable}: {str(exc).splitlines()[0]}")
    assert not problems, "; ".join(problems)


def check_node_action(action, arguments: dict[str, str], domain_id: int) -> None:
    assert action.package == PACKAGE
    scripts = console_scripts()
    assert action.executable in scripts, "not a console_scripts entry point in setup.py"
    params = node_parameters(action, arguments)
    cls = node_class(scripts[action.executable])
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        node = cls(context=context, cli_args=["--ros-args", "-r", f"__node:={action.name}"],
                   parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])  # fmt: skip
        undeclared = sorted(k for k in params if not node.has_parameter(k))
        close = getattr(node, "close", None)
        if callable(close):
            close()
        node.destroy_node()
        assert not undeclared, f"parameters {undeclared} are passed but not declared"
    finally:
        rclpy.try_shutdown(context=context)
