"""The allocator setting that gives large transient buffers back to the system."""

from __future__ import annotations

import ctypes
import sys

import pytest

from mirrorsync.commands.memory import give_back_large_blocks


def _glibc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018 - probing for the symbol
    except AttributeError:
        return False
    return True


@pytest.mark.skipif(not _glibc(), reason="the setting exists in glibc only")
def test_the_threshold_is_set_on_glibc() -> None:
    """On glibc the mmap threshold is accepted by mallopt (and again: the call is repeatable)."""
    assert give_back_large_blocks() is True
    assert give_back_large_blocks() is True


@pytest.mark.skipif(_glibc(), reason="only other C libraries are left alone")
def test_other_c_libraries_are_left_alone() -> None:
    """Without glibc nothing is set and the call says so."""
    assert give_back_large_blocks() is False
