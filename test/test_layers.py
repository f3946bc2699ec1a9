"""The folders import one way only: the layers contract in pyproject.toml ([tool.importlinter]) holds.

Runs import-linter over the package, so a backwards import (say ``msgs`` importing ``prelabel``, or a
module-level or in-function import from a lower stage into a higher one) fails the tests and names the
import chain.
"""

from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_imports_follow_the_pipeline_order(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        from importlinter.cli import lint_imports
    except ImportError:
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    exit_code = lint_imports(config_filename=str(PYPROJECT), no_cache=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "0 broken" in report, report
