"""The package type-checks: mypy with the configuration in pyproject.toml ([tool.mypy]) finds no error.

Runs mypy in a child process over ``mmfusion_annotate`` (its cache in ``.mypy_cache`` makes later runs
quick), so a call with the wrong type across a package boundary, a ``None`` used as a value, or a
``type: ignore`` that no longer suppresses anything fails the tests and names the line.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_package_type_checks() -> None:
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.fail("mypy is not installed: pip install -e '.[test]'")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "mmfusion_annotate"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout, out.stdout
