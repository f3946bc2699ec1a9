"""Array-module selection: the same array code runs on numpy (CPU) and CuPy (CUDA).

Hot paths take an ``xp`` argument (the module) instead of importing numpy directly, so the CPU tests
exercise the logic of the GPU path too. ``select_backend`` resolves ``auto|cuda|cpu`` at run time; a
missing GPU is not an error for ``auto``.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any, Literal

import numpy as np

from mmfusion_annotate.errors import BackendError

Backend = Literal["auto", "cpu", "cuda"]
_log = logging.getLogger(__name__)


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency

        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver libraries
        return False


def select_backend(backend: Backend) -> tuple[Literal["cpu", "cuda"], ModuleType]:
    """Resolve a backend name to (name, array module); ``auto`` falls back to the CPU silently."""
    if backend not in ("auto", "cpu", "cuda"):
        raise BackendError(f"backend must be auto, cpu or cuda, not '{backend}'")
    if backend == "cpu":
        return "cpu", np
    if cuda_available():
        import cupy  # noqa: PLC0415

        _log.info("array backend: cuda (CuPy %s)", cupy.__version__)
        return "cuda", cupy
    if backend == "cuda":
        raise BackendError(
            "backend 'cuda' requested but no CUDA device is usable (is cupy-cuda12x installed?)"
        )
    _log.info("array backend: cpu (no CUDA device found)")
    return "cpu", np


def array_module(array: Any) -> ModuleType:
    """The module (numpy or cupy) that owns ``array``; numpy for anything that is not a CuPy array."""
    if type(array).__module__.startswith("cupy"):
        import cupy  # noqa: PLC0415

        return cupy
    return np


def to_numpy(array: Any) -> np.ndarray:
    """Bring an array to host memory (no copy for numpy arrays)."""
    if type(array).__module__.startswith("cupy"):
        return array.get()
    return np.asarray(array)
