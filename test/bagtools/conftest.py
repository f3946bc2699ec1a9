"""Fixtures of the bag-tool tests; the bag writers live in bag_samples.py."""

import pytest
from bag_samples import SampleBag, write_sample_bag


@pytest.fixture
def sample_bag(tmp_path) -> SampleBag:
    return write_sample_bag(tmp_path / "drive")
