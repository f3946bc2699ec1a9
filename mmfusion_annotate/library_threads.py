"""Thread limits for the numeric libraries' own pools (OpenBLAS, OpenCV), process-wide.

The pipeline already spreads its stages over threads of its own (the node's pipeline and publishing
workers, the edge-check and camera-detector helpers). A library that also spreads each call over every
core oversubscribes a small machine, and OpenBLAS's idle workers spin-wait for the next call: in a soak on
the 2-core development machine numpy's OpenBLAS worker alone used 0.14 of a core, and OpenCV's HOG ran on
both cores at once, beside the pipeline thread. numba's team is set apart: ``fusion.kernel_threads``
sizes it, and ``fusion.fast_cpu`` makes it sleep between frames instead of spinning.
"""

from __future__ import annotations

import cv2
import scipy.linalg  # noqa: F401 - loads scipy's own OpenBLAS now, so that threadpoolctl limits it too
from threadpoolctl import threadpool_limits


def limit_library_threads(count: int) -> None:
    """Let OpenBLAS (numpy's, scipy's, OpenCV's) and OpenCV's parallel loops use at most ``count`` threads.

    threadpoolctl reaches only the libraries loaded when it runs, hence the scipy import above.
    """
    if count < 1:
        raise ValueError(f"thread count must be >= 1 (got {count})")
    threadpool_limits(limits=count, user_api="blas")
    cv2.setNumThreads(count)
