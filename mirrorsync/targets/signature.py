"""Stat signatures of local files: what ``core.idle`` compares between runs.

``tree_signature``: a local mirror's whole tree; ``state_signature``: named entries of a state
directory (what a bucket's target keeps of the bucket locally, its staging area).
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from mirrorsync.core.idle import tree_digest
from mirrorsync.core.layout import STAGING_DIR, STATE_DIR


def _rows(root: Path) -> Iterator[tuple[str, int, int, int]]:
    """(path, size, mtime in ns, inode) of every file and link below ``root``, not following
    links, ``.mirrorsync/`` excepted but for its staging area (partial downloads are swept or
    resumed by a planned run); an entry that vanishes while it is read is left out.

    In a fixed order (each directory's entries sorted by name, depth first), one directory at
    a time: a whole history's tree is never held as rows.
    """
    yield from _directory(root, "", top=True)
    staging = root / STATE_DIR / STAGING_DIR
    if staging.is_dir() and not staging.is_symlink():
        yield from _directory(staging, f"{STATE_DIR}/{STAGING_DIR}/", top=False)


def _directory(path: Path, prefix: str, *, top: bool) -> Iterator[tuple[str, int, int, int]]:
    with os.scandir(path) as found:
        entries = sorted(found, key=lambda e: e.name)
    below: list[tuple[Path, str]] = []
    for entry in entries:
        rel = prefix + entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if not (top and entry.name == STATE_DIR):
                    below.append((Path(entry.path), rel + "/"))
                continue
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        yield rel, st.st_size, st.st_mtime_ns, st.st_ino
    del entries
    for directory, rel in below:
        yield from _directory(directory, rel, top=False)


def _named(base: Path, names: Iterable[str]) -> Iterator[tuple[str, int, int, int]]:
    """The rows of each of ``names`` below ``base`` (by name): a file or link itself, a directory
    everything below it; an absent name gives no row."""
    for name in sorted(names):
        path = base / name
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _directory(path, f"{name}/", top=False)
        else:
            yield name, st.st_size, st.st_mtime_ns, st.st_ino


async def _signature(rows: Callable[[], Iterator[tuple[str, int, int, int]]]) -> str | None:
    try:
        return await asyncio.to_thread(lambda: tree_digest(rows()))
    except OSError:
        return None


async def tree_signature(root: Path) -> str | None:
    """``tree_digest`` of the tree at ``root``; None when it cannot be read."""
    return await _signature(lambda: _rows(root))


async def state_signature(base: Path, names: Iterable[str]) -> str | None:
    """``tree_digest`` of the entries ``names`` of the directory ``base`` (files, or directories
    walked as ``tree_signature`` walks a tree); None when one cannot be read."""
    wanted = tuple(names)
    return await _signature(lambda: _named(base, wanted))
