"""Shared fixtures of the annotator tests."""

import pytest

from mmfusion_annotate.rig import default_rig_path, load_rig


@pytest.fixture(scope="module")
def rig():
    return load_rig(default_rig_path())
