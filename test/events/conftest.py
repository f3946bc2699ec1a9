"""Shared fixtures of the event tests: the default rig and the shipped rule file."""

import pytest

from mmfusion_annotate.events import load_rules
from mmfusion_annotate.rig import default_rig_path, load_rig


@pytest.fixture(scope="session")
def rig():
    return load_rig(default_rig_path())


@pytest.fixture(scope="session")
def rules():
    return load_rules()
