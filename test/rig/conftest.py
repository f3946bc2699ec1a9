"""Shared fixtures of the rig tests: the real-data folder and a writable copy of the default rig document."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mmfusion_annotate.rig import default_rig_path

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` next to the repository (KITTI and nuScenes samples)."""
    if not (SHARED_DATA / "kitti").is_dir() or not (SHARED_DATA / "nuscenes_keyframe").is_dir():
        pytest.fail(
            f"real sensor samples missing: expected kitti/ and nuscenes_keyframe/ in {SHARED_DATA.resolve()}"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def _default_doc() -> dict[str, Any]:
    return yaml.safe_load(default_rig_path().read_text(encoding="utf-8"))


@pytest.fixture
def rig_doc(_default_doc: dict[str, Any]) -> dict[str, Any]:
    """A fresh deep copy of the default rig document, free to mutate."""
    return copy.deepcopy(_default_doc)
