"""Where the shipped example rigs live, in a colcon install, a pip install or a source checkout."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "mmfusion_annotate"
DEFAULT_RIG = "rig_nuscenes_like.yaml"


def config_dir() -> Path:
    """The ``config/`` folder holding the example rigs.

    Tries the ament index (colcon / ROS install), then the source checkout (editable install), then
    ``<prefix>/share/mmfusion_annotate/config`` where setup.py's data_files put it in a plain pip install.
    """
    candidates: list[Path] = []
    try:
        from ament_index_python.packages import get_package_share_directory  # noqa: PLC0415 - optional

        candidates.append(Path(get_package_share_directory(PACKAGE)) / "config")
    except (ImportError, LookupError, OSError, ValueError):  # no ament index, or package not in it
        pass
    candidates.append(Path(__file__).resolve().parents[2] / "config")
    candidates.append(Path(sys.prefix) / "share" / PACKAGE / "config")
    for candidate in candidates:
        if (candidate / DEFAULT_RIG).is_file():
            return candidate
    raise FileNotFoundError(f"{DEFAULT_RIG} not found in any of: {', '.join(map(str, candidates))}")


def default_rig_path() -> Path:
    """Path of the default rig (the nuScenes-like vehicle)."""
    return config_dir() / DEFAULT_RIG
