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
    ("limit", "largest", "found", "asked"),
    [
        ((1 << 32) - 1, 5 * GIB, (1 << 32) - 1, [5 * GIB, 1 << 32]),  # FAT32
        ((1 << 32) - 1, 1 << 32, (1 << 32) - 1, [1 << 32]),  # FAT32, a file of exactly 4 GiB
        ((1 << 31) - 1, 3 * GIB, 3 * GIB - 1, [3 * GIB]),  # FAT16: 2 GiB is never asked
        ((1 << 31) - 1, 5 * GIB, (1 << 32) - 1, [5 * GIB, 1 << 32]),
        (None, 5 * GIB, None, [5 * GIB]),
    ],
)
def test_the_largest_file_size_is_found_by_asking_only_sizes_that_may_be_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    limit: int | None,
    largest: int,
    found: int | None,
    asked: list[int],
) -> None:
    """A file system refusing a large file is asked about 4 GiB below it, never about a size it
    may hold (that costs a write of that size where files cannot be sparse)."""
    sizes: list[int] = []

    def holds(_directory: Path, size: int) -> bool:
        sizes.append(size)
        return limit is None or size <= limit

    monkeypatch.setattr(probe, "holds", holds)
    assert probe.probe_max_file_size(tmp_path, largest) == found
    assert sizes == asked


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
    assert free is not None
    assert abs(free - st.f_bavail * st.f_frsize) < 64 << 20  # other tests write meanwhile


def test_a_file_system_reporting_no_blocks_cannot_tell_its_free_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """statvfs answering 0 blocks (fusefat does) is "cannot tell", never "0 bytes free"."""
    fields = [4096, 4096, 0, 0, 0, 0, 0, 0, 0, 255]  # bsize, frsize, blocks, bfree, bavail, ...
    monkeypatch.setattr(os, "statvfs", lambda _path: os.statvfs_result(fields))
    assert probe.free_bytes(tmp_path) is None


def test_probe_files_left_by_a_killed_run_are_removed_by_the_next(tmp_path: Path) -> None:
    """The probe's files have fixed names in the (locked) state directory: a leftover goes."""
    for what in ("file", "symlink", "hardlink", "size"):
        (tmp_path / f"probe-{what}").write_bytes(b"left by a killed run")
    assert probe.probe_links(tmp_path) == (True, True)
    assert probe.probe_max_file_size(tmp_path, 5 * GIB) is None
    assert list(tmp_path.iterdir()) == []
