"""File helpers for a target's local side: atomic writes, directory fsyncs, the staging area."""

from __future__ import annotations

import errno
import hashlib
import itertools
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from mirrorsync.core.layout import PART_SUFFIX, check_relpath

log = logging.getLogger(__name__)
_TMP_COUNTER = itertools.count()


def temp_path_for(path: Path) -> Path:
    """A new temporary name beside ``path`` (``.<name>.<pid>.<n>.tmp``) at every call.

    Unique per call: a write still finishing in a worker thread after a cancellation must never
    share its temporary file with the cleanup's synchronous write of the same path.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.{next(_TMP_COUNTER)}.tmp")


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (bytes, or bytes in pieces) to ``path`` through a temporary file and a
    rename: never half-written, also when taking a piece raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        with tmp.open("wb") as f:
            for piece in (data,) if isinstance(data, bytes) else data:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_NO_DIR_FSYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES, errno.EPERM})


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (renames, new and deleted files) durable.

    File systems that cannot fsync a directory (some network and FUSE ones) are let be: there
    the rename's own ordering is all there is.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno not in _NO_DIR_FSYNC:  # a directory one may write to but not read, say
            raise
        log.debug("%s: cannot open the directory to fsync it (%s)", path, e)
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in _NO_DIR_FSYNC:
            raise
    finally:
        os.close(fd)


def staging_file(staging_dir: Path, path: str) -> Path:
    """The staging file for ``path`` (``<tag>/<name>``) below ``staging_dir``."""
    check_relpath(path)
    return staging_dir / f"{path}{PART_SUFFIX}"  # one Path made: this runs once per file


def staged_files(staging_dir: Path) -> Iterator[Path]:
    """Every file below ``staging_dir`` (partial downloads, temporary files)."""
    if staging_dir.is_dir():
        yield from (p for p in staging_dir.rglob("*") if p.is_file())


def sweep_staging_dir(staging_dir: Path, *, keep: set[Path]) -> int:
    """Delete files below ``staging_dir`` not in ``keep``, then empty directories; the count.

    A staging (or state) directory that is a symbolic link is left alone: what it points to is
    not ours to empty.
    """
    if staging_dir.is_symlink() or staging_dir.parent.is_symlink():
        log.warning("%s is a symbolic link: its files are not swept", staging_dir)
        return 0
    removed = 0
    for p in list(staged_files(staging_dir)):
        if p not in keep:
            p.unlink(missing_ok=True)
            removed += 1
    for d in sorted((d for d in staging_dir.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
        if not any(d.iterdir()):
            shutil.rmtree(d, ignore_errors=True)
    return removed


HASH_BLOCK = 1 << 20
"""Bytes per read when hashing a published file: one buffer per thread, reused for every file."""


class Stopped(Exception):
    """Hashing was called off (Ctrl-C, SIGTERM) between two reads."""


def hash_file(
    path: str, buf: bytearray, *, stop: threading.Event, on_bytes: Callable[[int], None]
) -> tuple[int, str]:
    """(size, sha256) of the file at ``path``, read into ``buf`` block by block (hashlib drops
    the GIL for each block, so threads hash in parallel); ``OSError`` as the file system raises
    it, ``Stopped`` once ``stop`` is set."""
    digest = hashlib.sha256()
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as f:  # noqa: PTH123 - a plain str path, unbuffered
        while n := f.readinto(buf):
            digest.update(view[:n])
            size += n
            on_bytes(n)
            if stop.is_set():
                raise Stopped
    return size, digest.hexdigest()
