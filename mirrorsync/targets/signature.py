"""The stat signature of a local tree: what ``core.idle`` compares between runs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from mirrorsync.core.idle import tree_digest
from mirrorsync.core.layout import STAGING_DIR, STATE_DIR


def _rows(root: Path) -> list[tuple[str, int, int, int]]:
    """(path, size, mtime in ns, inode) of every file and link below ``root``, not following
    links, ``.mirrorsync/`` excepted but for its staging area (partial downloads are swept or
    resumed by a planned run); an entry that vanishes while it is read is left out."""
    rows: list[tuple[str, int, int, int]] = []
    pending = [("", str(root))]
    staging = root / STATE_DIR / STAGING_DIR
    if staging.is_dir() and not staging.is_symlink():
        pending.append((f"{STATE_DIR}/{STAGING_DIR}/", str(staging)))
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if rel != STATE_DIR:
                            pending.append((rel + "/", entry.path))
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                rows.append((rel, st.st_size, st.st_mtime_ns, st.st_ino))
    return rows


async def tree_signature(root: Path) -> str | None:
    """``tree_digest`` of the tree at ``root``; None when it cannot be read."""
    try:
        return tree_digest(await asyncio.to_thread(_rows, root))
    except OSError:
        return None
