"""The file-system probe: links, the largest file, the free space, tried for real."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mirrorsync.targets import probe

GIB = 1 << 30


def test_a_directory_with_links_says_so_and_keeps_nothing(tmp_path: Path) -> None:
    """On a file system with links both are found, and the probe leaves no file behind."""
    assert probe.probe_links(tmp_path) == (True, True)
    assert list(tmp_path.iterdir()) == []


def test_a_sparse_file_of_5_gib_fits_here_and_is_removed(tmp_path: Path) -> None:
    """A file system with large files holds a sparse 5 GiB file; nothing is limited or left."""
    assert probe.holds(tmp_path, 5 * GIB) is True
    assert probe.probe_max_file_size(tmp_path, 5 * GIB) is None
    assert probe.probe_max_file_size(tmp_path, 0) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("limit", "largest", "found"),
    [
        ((1 << 32) - 1, 5 * GIB, (1 << 32) - 1),  # FAT32
        ((1 << 31) - 1, 5 * GIB, (1 << 31) - 1),  # FAT16
        ((1 << 31) - 1, 3 * GIB, (1 << 31) - 1),
        (None, 5 * GIB, None),
    ],
)
def test_the_largest_file_size_is_found_by_asking(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limit: int | None,
    largest: int,
    found: int | None,
) -> None:
    """A file system refusing a large file is asked about the usual limits, largest first."""
    monkeypatch.setattr(probe, "holds", lambda _d, size: limit is None or size <= limit)
    assert probe.probe_max_file_size(tmp_path, largest) == found


def test_a_file_system_that_is_only_full_sets_no_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too full to tell (ENOSPC) is not a limit: the space check speaks for that."""
    monkeypatch.setattr(probe, "holds", lambda _d, _size: None)
    assert probe.probe_max_file_size(tmp_path, 5 * GIB) is None


def test_free_space_of_a_mirror_that_does_not_exist_yet(tmp_path: Path) -> None:
    """The free space of a root not made yet is its nearest existing parent's."""
    st = os.statvfs(tmp_path)
    free = probe.free_bytes(tmp_path / "not" / "yet")
    assert abs(free - st.f_bavail * st.f_frsize) < 64 << 20  # other tests write meanwhile
