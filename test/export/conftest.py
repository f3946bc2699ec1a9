"""Fixtures of the export tests: the labelled bag of labelled_bag.py, written once per module."""

import pytest
from labelled_bag import LabelledBag, write_labelled_bag


@pytest.fixture(scope="module")
def labelled_bag(tmp_path_factory) -> LabelledBag:
    return write_labelled_bag(tmp_path_factory.mktemp("export") / "bag")
