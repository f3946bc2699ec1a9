"""Process-wide settings of the numeric libraries' thread pools, applied by the entry points only.

The pipeline already spreads its stages over threads of its own (the node's pipeline and publishing
workers, the edge-check and camera-detector helpers). A library that also spreads each call over every
core oversubscribes a small machine, and OpenBLAS's and libgomp's idle workers spin-wait for the next
call, taking CPU from the other stages. These settings belong to the process, not to a pipeline object:
``mmfusion`` (``cli.main``), the node entry points (``nodes.composition.main_nodes``) and the builders of
the live FusionNode call them, never a constructor or an import, so embedding an ``Annotator`` leaves
the host's settings alone. numba's team size is per call (``fusion.kernel_threads``).
"""

from __future__ import annotations

import os


def let_openmp_teams_sleep() -> None:
    """Make OpenMP teams (numba's parallel kernels run on libgomp's) sleep between launches, not spin.

    libgomp reads ``OMP_WAIT_POLICY`` once, when it loads at the first parallel launch, so this must run
    before any kernel; a policy the user set is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def limit_library_threads(count: int) -> None:
    """Let OpenBLAS (numpy's, scipy's, OpenCV's) and OpenCV's parallel loops use at most ``count`` threads.

    threadpoolctl reaches only the libraries loaded when it runs, hence the scipy import.
    """
    import cv2  # noqa: PLC0415 - imported here: a plain import of this module stays cheap
    import scipy.linalg  # noqa: F401, PLC0415 - loads scipy's own OpenBLAS, so that threadpoolctl limits it too
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    if count < 1:
        raise ValueError(f"thread count must be >= 1 (got {count})")
    threadpool_limits(limits=count, user_api="blas")
    cv2.setNumThreads(count)
