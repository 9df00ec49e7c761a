"""The C allocator told to give large blocks back: a whole-history run's peak memory.

glibc's ``malloc`` serves a block of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at start) with
its own ``mmap``, returned to the system when freed; but each time such a block is freed it raises
the threshold to that block's size (up to 32 MiB). A sync parses listing pages of ~10 MB each and
renders an ``index.json`` of ~14 MB: after the first page is freed, every later buffer of that
size is carved from the heap between long-lived small objects, and the heap cannot shrink past
them. Measured on the whole history (28,561 assets): peak RSS of ``plan`` 100 -> 86 MB, of a cold
sync 130 -> 113 MB. Setting the threshold once fixes it (and stops the raising): large buffers are
mapped and unmapped, small objects stay on the heap. Other C libraries are left as they are.

The threshold is 4 MiB, not lower: a download's read buffers (up to 1 MiB) must stay on the heap,
where they are reused. At 256 KiB every buffer was a fresh mapping, zero-filled page by page:
S1 (64 x 16 MiB) took 2.75 CPU s instead of 1.69, for the same peak memory on the whole history
(plan 84.7 MB, cold sync 116.8 MB either way).
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3
"""``mallopt``'s parameter number for the threshold (glibc's ``malloc.h``)."""
LARGE_BLOCK = 4 * 1024 * 1024
"""Blocks from this size up get their own mapping (glibc's default start is 128 KiB)."""


def give_back_large_blocks() -> bool:
    """Fix glibc's mmap threshold at ``LARGE_BLOCK``; whether it was set (False elsewhere)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    # glibc only (musl's mallopt does nothing): it alone has gnu_get_libc_version.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK) == 1)
