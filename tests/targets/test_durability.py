"""Crash ordering: what an index lists is durable before the index, and stays until it is gone."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from eras import DIGEST_TAG, NO_SUMS_TAG, SUMS_TAG, three_eras
from mirror_harness import Mirror

from mirrorsync.targets import files
from mirrorsync.targets import local as tree

Event = tuple[str, Path]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Directory fsyncs, atomic writes and deletions of the tree, in the order they happen."""
    seen: list[Event] = []
    real_fsync_dir, real_write = tree.fsync_dir, tree.write_atomic
    real_unlink = Path.unlink

    def fsync_dir(path: Path) -> None:
        seen.append(("fsync", path))
        real_fsync_dir(path)

    def write_atomic(path: Path, data: bytes) -> None:
        seen.append(("write", path))
        real_write(path, data)

    def unlink(self: Path, missing_ok: bool = False) -> None:  # noqa: FBT001, FBT002 - Path's own
        if self.suffix == ".gz":
            seen.append(("delete", self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(tree, "fsync_dir", fsync_dir)
    monkeypatch.setattr(tree, "write_atomic", write_atomic)
    monkeypatch.setattr(Path, "unlink", unlink)
    return seen


def first(events: list[Event], kind: str, path: Path) -> int:
    return next(i for i, e in enumerate(events) if e == (kind, path))


async def test_release_directories_are_fsynced_before_the_index(
    mirror: Mirror, events: list[Event]
) -> None:
    """Each release directory an archive was renamed into is fsynced before any index names it."""
    three_eras(mirror.fake)
    assert (await mirror.sync()).exit_code == 0
    index_write = first(events, "write", mirror.root / "index.json")
    for tag in (DIGEST_TAG, SUMS_TAG, NO_SUMS_TAG):
        assert first(events, "fsync", mirror.root / tag) < index_write
        assert first(events, "fsync", mirror.root / tag) < first(
            events, "write", mirror.root / tag / "SHA256SUMS"
        )
    # The new release directories themselves are entries of the root.
    assert first(events, "fsync", mirror.root) < index_write


async def test_a_pruned_file_is_deleted_only_after_the_new_index_is_durable(
    mirror: Mirror, events: list[Event]
) -> None:
    """The root is fsynced after index.json is renamed and before the first pruned file goes."""
    three_eras(mirror.fake)
    await mirror.sync()
    events.clear()
    mirror.configure(select={"flavors": ["install_only_stripped"]}, prune=True, prune_max="100%")
    outcome = await mirror.sync()
    assert outcome.report.pruned > 0
    index_write = first(events, "write", mirror.root / "index.json")
    first_delete = next(i for i, (kind, _) in enumerate(events) if kind == "delete")
    assert index_write < first_delete
    root_fsyncs = [i for i, e in enumerate(events) if e == ("fsync", mirror.root)]
    assert any(index_write < i < first_delete for i in root_fsyncs)
    # Deletions themselves need no fsync each: pruning thousands of files stays cheap.
    assert not [e for e in events[first_delete:] if e[0] == "fsync"]


def test_directory_fsync_of_a_vanished_directory_is_no_error(tmp_path: Path) -> None:
    """A directory that is gone has nothing left to make durable: no error."""
    files.fsync_dir(tmp_path / "gone")


@pytest.mark.parametrize(("code", "raised"), [(errno.EINVAL, False), (errno.EIO, True)])
def test_directory_fsync_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    raised: bool,  # noqa: FBT001
) -> None:
    """A file system that cannot fsync directories (EINVAL) is let be; an I/O error is raised."""

    def failing_fsync(fd: int) -> None:
        del fd
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    if raised:
        with pytest.raises(OSError, match="Input/output error"):
            files.fsync_dir(tmp_path)
    else:
        files.fsync_dir(tmp_path)


def test_a_staging_area_that_is_a_symlink_is_not_swept(tmp_path: Path) -> None:
    """Sweeping never empties what a symlinked staging directory points to."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep me", encoding="utf-8")
    state = tmp_path / "mirror" / ".mirrorsync"
    state.mkdir(parents=True)
    (state / "staging").symlink_to(elsewhere)
    assert files.sweep_staging_dir(state / "staging", keep=set()) == 0
    assert (elsewhere / "precious.txt").read_text(encoding="utf-8") == "keep me"


def test_a_directory_that_cannot_be_opened_for_fsync_is_let_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory one may write to but not read (EACCES on open) does not fail the write."""
    real_open = os.open

    def no_read(path: str | Path, flags: int, *args: int) -> int:
        if flags & os.O_DIRECTORY:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_read)
    files.fsync_dir(tmp_path)
