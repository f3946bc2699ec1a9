"""``package.xml`` against rosdep and the ROS 2 Jazzy index (offline copies in ``../shared/ros``): every key
resolves on a real ROS install, and every third-party module the package imports has one (issue 22)."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OWN_KEYS = ROOT / "rosdep" / "mmfusion_annotate.yaml"
IMPORT_KEYS = {  # import name -> the rosdep key that brings it (ROS packages: their own name)
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "cv2": "python3-opencv",
    "yaml": "python3-yaml",
    "pydantic": "python3-pydantic",
    "annotated_types": "python3-pydantic",
    "tqdm": "python3-tqdm",
    "numba": "python3-numba",
    "threadpoolctl": "python3-threadpoolctl",
    "mcap": "mcap-ros2-support",
    "rosbags": "python3-rosbags-pip",
    "simplejpeg": "python3-simplejpeg-pip",
    "pandas": "python3-pandas",
    "onnxruntime": "python3-onnxruntime-pip",
    "jsonschema": "python3-jsonschema",
    "pyarrow": "python3-pyarrow-pip",
    "duckdb": "python-duckdb-pip",
}
OPTIONAL = {"cupy", "cupyx", "ray"}  # extras, imported only when asked for: `cuda` (GPU), `fleet` (--ray)


def _depends(kind: str) -> set[str]:
    root = ET.parse(ROOT / "package.xml").getroot()
    return {e.text.strip() for e in root.iter(kind)}


def _jazzy_packages(distribution: Path) -> set[str]:
    repos = yaml.safe_load(distribution.read_text())["repositories"]
    names = set()
    for repo, entry in repos.items():
        release = (entry or {}).get("release") or {}
        names.update(release.get("packages") or ([repo] if release else []))
    return names


def _imports() -> set[str]:
    found = set()
    for path in (ROOT / "mmfusion_annotate").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"mmfusion_annotate"}


def test_every_dependency_key_resolves(shared_path):
    ros = shared_path("ros")
    known = set(_jazzy_packages(ros / "jazzy" / "distribution.yaml"))
    for name in ("base.yaml", "python.yaml"):
        known.update(yaml.safe_load((ros / "rosdep" / name).read_text()))
    known.update(yaml.safe_load(OWN_KEYS.read_text()))
    keys = set().union(*(_depends(k) for k in ("depend", "exec_depend", "test_depend", "buildtool_depend")))
    assert not keys - known, f"keys rosdep cannot resolve: {sorted(keys - known)}"


def test_our_own_keys_are_only_those_rosdep_lacks(shared_path):
    ros = shared_path("ros")
    public = set()
    for name in ("base.yaml", "python.yaml"):
        public.update(yaml.safe_load((ros / "rosdep" / name).read_text()))
    assert not set(yaml.safe_load(OWN_KEYS.read_text())) & public


def test_every_imported_module_has_a_run_dependency():
    run = _depends("exec_depend") | _depends("depend")
    missing = {m for m in _imports() - OPTIONAL if IMPORT_KEYS.get(m, m) not in run}
    assert not missing, f"imported without an exec_depend in package.xml: {sorted(missing)}"
