"""Fixtures of the fusion tests; the scene helpers live in fusion_scene.py."""

import pytest
from fusion_scene import small_rig as _small_rig


@pytest.fixture(scope="session")
def small_rig():
    """The three-camera test rig of fusion_scene."""
    return _small_rig()
