"""The allocator setting that keeps large message buffers in the heap (nodes/allocator.py)."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import pytest

from mmfusion_annotate.nodes.allocator import MMAP_THRESHOLD, keep_large_buffers

glibc = platform.libc_ver()[0] == "glibc"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost",
    )]  # fmt: skip


def _mmapped_blocks() -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = _MallInfo2
    return int(libc.mallinfo2().hblks)


@pytest.mark.skipif(not glibc, reason="mallopt is glibc's; elsewhere the defaults stay (by design)")
def test_message_sized_buffers_come_from_the_heap_not_mmap():
    assert keep_large_buffers()
    assert keep_large_buffers()  # once per process; a second call is harmless
    before = _mmapped_blocks()
    buffers = [bytearray(4 * 2**20) for _ in range(8)]  # a raw image / a LiDAR sweep each
    assert _mmapped_blocks() == before, "4 MiB buffers were still mmapped"
    assert len(buffers) == 8 and 4 * 2**20 < MMAP_THRESHOLD
