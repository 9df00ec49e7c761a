"""How much of a file the kernel holds in its page cache (Linux ``mincore``), for the tests of
dropping a download's pages once it is on disk."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
from pathlib import Path

import pytest

_FAILED = ctypes.c_void_p(-1).value


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    return libc


def cached_pages(path: Path) -> int:
    """How many of ``path``'s pages are in the page cache now (mapping it reads none in)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    libc = _libc()
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, _FAILED):
            raise OSError(ctypes.get_errno(), f"mmap {path}")
        try:
            vector = ctypes.create_string_buffer(-(-size // mmap.PAGESIZE))
            if libc.mincore(addr, size, vector) != 0:
                raise OSError(ctypes.get_errno(), f"mincore {path}")
            return sum(byte & 1 for byte in vector.raw)
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)


def require_droppable(directory: Path) -> None:
    """Skip the test unless files written in ``directory`` can leave the page cache: Linux
    only, and not a memory file system (tmpfs), where the cache holds the only copy."""
    if not sys.platform.startswith("linux"):
        pytest.skip("mincore and posix_fadvise as tested here are Linux's")
    probe = directory / ".pagecache-probe"
    with probe.open("wb") as f:
        f.write(b"x" * (4 * mmap.PAGESIZE))
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        if cached_pages(probe):
            pytest.skip(f"the file system of {directory} keeps files in memory (tmpfs)")
    finally:
        probe.unlink()
