"""The stat signature of a local tree: what ``core.idle`` compares between runs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
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


async def tree_signature(root: Path) -> str | None:
    """``tree_digest`` of the tree at ``root``; None when it cannot be read."""
    try:
        return await asyncio.to_thread(lambda: tree_digest(_rows(root)))
    except OSError:
        return None
