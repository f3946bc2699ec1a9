"""Shared fixtures of the pre-label tests: the camera detector models installed from ``../shared/models``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmfusion_annotate.prelabel.model_store import KNOWN_MODELS, install


@pytest.fixture(scope="session")
def shared_models(shared_path) -> Path:
    """``../shared/models``: the detector models, never inside the repository."""
    return shared_path("models")


@pytest.fixture(scope="session")
def kitti_image(shared_path) -> Path:
    """KITTI frame 000000's camera image, where both detector models must find the pedestrian."""
    return shared_path("data", "kitti", "training", "image_2", "000000.png")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, shared_path) -> Path:
    """A model directory holding every known model, installed (checksums verified) from ../shared/models."""
    directory = tmp_path_factory.mktemp("models")
    for model in KNOWN_MODELS:
        source = shared_path("models", model.file)
        install(model.name, source, directory)
    return directory
