"""Suite-wide: keeps ``test/`` importable so the shared helpers in ``test/rigs.py`` work from every folder,
and owns the way tests reach ``../shared`` (real data and models that only sit beside this project's clone).

``MMFUSION_SHARED_DIR`` points the tests at another folder. A test whose files are missing is skipped with
the path named, so the README's test command passes with only the repository; under ``CI=true`` it fails
instead, so CI never silently drops a real-data test.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("MMFUSION_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")


def _shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"needs {path}: real data/models beside the clone (../shared, or set MMFUSION_SHARED_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_path() -> Callable[..., Path]:
    """``shared_path("data", "kitti")``: that path under ``../shared``; skips if absent (fails if CI=true)."""
    return _shared_path
