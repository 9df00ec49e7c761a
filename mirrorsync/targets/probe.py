"""What a directory's file system can do, found out by trying (once per run, in the state
directory): symbolic and hard links, the largest file it holds, the space free.

No list of file-system names: FAT, exFAT, network shares and FUSE implementations refuse links
with EPERM, ENOSYS or EOPNOTSUPP, and large files with EFBIG, EPERM, EINVAL or silently (the size
read back differs), so each capability is asked of the file system itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path

from mirrorsync.errors import TargetError

LIMIT_SIZES = (1 << 32,)
"""Sizes that file systems with a limit refuse (FAT32 holds files up to 4 GiB - 1), tried below a
refused ``largest`` to name the limit. Only sizes expected to be refused are tried: a size that is
held costs as much as writing it where files cannot be sparse (FAT in the kernel zero-fills an
extended file, exFAT through FUSE too), and a refusal costs nothing."""
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})


def free_bytes(path: Path) -> int | None:
    """Bytes free for this user on the file system of ``path`` (or its nearest existing parent:
    the mirror may not exist yet); None when the file system cannot tell (it reports a size of
    0 blocks, as some FUSE implementations of FAT do: never read as "full")."""
    for candidate in (path, *path.parents):
        try:
            st = os.statvfs(candidate)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            raise TargetError.from_os_error(f"{candidate}: cannot ask for its free space", e) from e
        return st.f_bavail * st.f_frsize if st.f_blocks else None
    raise TargetError(f"{path}: no existing directory to ask for its free space")


def _probe_name(directory: Path, what: str) -> Path:
    """A fixed name: the run holds the state directory's lock, and a probe file left by a run
    that was killed is removed by the next one (a name with the process id would stay)."""
    return directory / f"probe-{what}"


def probe_links(directory: Path) -> tuple[bool, bool]:
    """(symbolic links, hard links): whether the file system of ``directory`` makes them."""
    source = _probe_name(directory, "file")
    try:
        source.write_bytes(b"")
    except OSError as e:
        raise TargetError.from_os_error(f"{directory}: cannot write a probe file", e) from e
    try:
        symlinks = _try(lambda p: p.symlink_to(source.name), directory, "symlink")
        hard = _try(lambda p: os.link(source, p), directory, "hardlink")
    finally:
        source.unlink(missing_ok=True)
    return symlinks, hard


def _try(make: Callable[[Path], None], directory: Path, what: str) -> bool:
    link = _probe_name(directory, what)
    link.unlink(missing_ok=True)
    try:
        make(link)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        link.unlink()
    return True


def holds(directory: Path, size: int) -> bool | None:
    """Whether a file of ``size`` bytes can exist there (a file extended to it and its size read
    back: implementations refuse with EFBIG, EPERM or EINVAL, or silently keep another size);
    None when the file system is only too full to tell."""
    probe = _probe_name(directory, "size")
    try:
        with probe.open("wb") as f:
            f.truncate(size)
        return probe.stat().st_size == size
    except OSError as e:
        return None if e.errno in _NO_ROOM else False
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def probe_max_file_size(directory: Path, largest: int) -> int | None:
    """The largest file size the file system holds when it cannot hold ``largest`` bytes; None
    when it can (or cannot tell, or nothing was asked: ``largest`` 0).

    The answer is one byte below the smallest size found refused: ``largest``, or a smaller size
    of ``LIMIT_SIZES`` that is refused too (FAT32: 4 GiB - 1, whatever the file asked about).
    """
    if largest <= 0 or holds(directory, largest) is not False:
        return None
    refused = min(
        [largest, *(s for s in LIMIT_SIZES if s < largest and holds(directory, s) is False)]
    )
    return refused - 1
