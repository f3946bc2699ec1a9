"""The suite's middleware defaults: asynchronous Fast DDS publication unless the environment says so."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mmfusion_annotate.nodes.middleware import (
    DEFAULT_PUBLICATION_MODE,
    PUBLICATION_MODE,
    apply_middleware_defaults,
)


def test_default_publication_mode_is_set_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PUBLICATION_MODE, raising=False)
    apply_middleware_defaults()
    assert os.environ[PUBLICATION_MODE] == DEFAULT_PUBLICATION_MODE == "ASYNCHRONOUS"


def test_explicit_publication_mode_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PUBLICATION_MODE, "SYNCHRONOUS")
    apply_middleware_defaults()
    assert os.environ[PUBLICATION_MODE] == "SYNCHRONOUS"


def test_init_context_applies_the_defaults_before_rclpy_reads_them() -> None:
    """In a fresh process (the variable is read once, at rclpy init): ``init_context`` sets it, and the
    context it returns is usable."""
    code = (
        "import os\n"
        "from mmfusion_annotate.nodes.composition import init_context\n"
        "ctx = init_context([], domain_id=231)\n"
        "print(os.environ.get('RMW_FASTRTPS_PUBLICATION_MODE'), ctx.ok())\n"
        "ctx.try_shutdown()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != PUBLICATION_MODE}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ASYNCHRONOUS", "True"]
