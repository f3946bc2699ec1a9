"""Shared fixtures of the rig tests: the real-data folder and a writable copy of the default rig document."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mmfusion_annotate.rig import default_rig_path


@pytest.fixture(scope="session")
def shared_data(shared_path) -> Path:
    """``../shared/data`` next to the repository (KITTI and nuScenes samples)."""
    shared_path("data", "kitti")
    shared_path("data", "nuscenes_keyframe")
    return shared_path("data")


@pytest.fixture(scope="session")
def _default_doc() -> dict[str, Any]:
    return yaml.safe_load(default_rig_path().read_text(encoding="utf-8"))


@pytest.fixture
def rig_doc(_default_doc: dict[str, Any]) -> dict[str, Any]:
    """A fresh deep copy of the default rig document, free to mutate."""
    return copy.deepcopy(_default_doc)
