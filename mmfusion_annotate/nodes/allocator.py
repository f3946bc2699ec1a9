"""Keep large message buffers in the heap, so the pages of a freed one serve the next.

Every sensor message is a fresh multi-megabyte buffer (a 4 MB PointCloud2, a 4.3 MB raw image, each
decoded camera image), and glibc serves blocks that large with ``mmap`` and returns them with ``munmap``:
every message then faults in its ~1,000 pages again, which costs more than copying it (measured in
``bench/bench_recorder.py``: a 4.3 MB allocate + copy runs at ~1.5 GB/s with the default settings and
~7 GB/s with these). Raising the mmap threshold above the largest message and the trim threshold above
what a few frames free keeps those pages in the process for reuse. The process's resident memory then
stays near its peak instead of returning to the OS between messages, bounded by ``TRIM_THRESHOLD``.
No effect (and no error) where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

_log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 * 2**20
"""Blocks below this come from the heap (glibc's own dynamic threshold stops at 32 MiB as well)."""
TRIM_THRESHOLD = 256 * 2**20
"""Free memory at the top of the heap kept for reuse before it is given back to the OS."""

_done = False


def keep_large_buffers() -> bool:
    """Apply the thresholds once per process; True when glibc took them."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        _log.debug("allocator: no glibc mallopt here (%s); defaults kept", name)
        return False
    mmap_ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    _done = mmap_ok and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
