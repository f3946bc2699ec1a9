"""Launch files as launch_ros would run them, on the stand-in launch API (``launch_stub/``): loading a
launch file, and the ROS arguments launch_ros gives each executable."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import yaml

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


def install_share(tmp_path: Path, monkeypatch) -> Path:
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
    """The launch file's description, built with the stand-in modules (restored by ``monkeypatch``)."""
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


def ros_arguments(action, arguments: dict[str, str], tmp_path: Path) -> tuple[list[str], dict, dict]:
    """What launch_ros passes the executable: ``--ros-args`` with a ``--params-file`` per file, dict
    values as a ``/**`` file, the node name and namespace as remappings. Also returns the file
    sections by node name (flattened) and the dict values."""
    args, sections, values = ["--ros-args"], {}, {}
    for entry in action.parameters:
        if isinstance(entry, str):
            path = Path(entry)
            assert path.is_file(), f"parameter file {path.name} is not in config/"
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for node_name, section in doc.items():
                sections.setdefault(node_name, {}).update(flatten(section["ros__parameters"]))
        else:
            path = tmp_path / f"launch_params_{len(args)}.yaml"
            given = {k: resolve(v, arguments) for k, v in entry.items()}
            path.write_text(yaml.safe_dump({"/**": {"ros__parameters": given}}), encoding="utf-8")
            values.update(given)
        args += ["--params-file", str(path)]
    if action.name is not None:
        args += ["-r", f"__node:={action.name}"]
    namespace = resolve(action.namespace, arguments) if action.namespace is not None else None
    if namespace:
        args += ["-r", f"__ns:={namespace}"]
    return args, sections, values
