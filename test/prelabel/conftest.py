"""Shared fixtures of the pre-label tests: the camera detector models installed from ``../shared/models``."""

from __future__ import annotations

from pathlib import Path

import pytest
from detector_helpers import SHARED_MODELS

from mmfusion_annotate.prelabel.model_store import KNOWN_MODELS, install


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A model directory holding every known model, installed (checksums verified) from ../shared/models."""
    directory = tmp_path_factory.mktemp("models")
    for model in KNOWN_MODELS:
        source = SHARED_MODELS / model.file
        if not source.is_file():
            pytest.fail(f"detector model missing: {source.resolve()} (see shared/models/README.md)")
        install(model.name, source, directory)
    return directory
