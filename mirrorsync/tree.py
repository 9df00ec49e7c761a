"""Where files go: the ``Target`` seam, and the local directory tree that implements it.

Every path that reaches a target is checked here first: names come from upstream and are
untrusted until ``check_relpath`` has accepted them.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from mirrorsync.errors import TargetError, UnsafeName

STATE_DIR = ".mirrorsync"
MAX_COMPONENT = 255


def check_relpath(path: str) -> None:
    """Accept only ``part/part`` paths that stay inside the root; raise ``UnsafeName`` else."""
    if not path:
        raise UnsafeName(path, "empty path")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):  # noqa: PLR2004 - ASCII controls
        raise UnsafeName(path, f"control character in {path!r}")
    if "\\" in path:
        raise UnsafeName(path, f"backslash in {path!r}")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UnsafeName(path, f"absolute path {path!r}")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise UnsafeName(path, f"path part {part!r} in {path!r}")
        if len(part.encode("utf-8")) > MAX_COMPONENT:
            raise UnsafeName(path, f"a part of {path!r} is longer than {MAX_COMPONENT} bytes")
    if path.split("/", 1)[0] == STATE_DIR:
        raise UnsafeName(path, f"{path!r} is inside the state directory")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def describe_os_error(e: OSError) -> str:
    """A short operator-facing reason for a file-system error."""
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    if e.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "read-only file system"
    return e.strerror or str(e)


class Target(Protocol):
    """Where the mirror's files are published. Files are staged and verified locally first."""

    description: str
    state_dir: Path
    """A local directory for the lock, staging area, caches and status."""

    def staging_path(self, path: str) -> Path:
        """The local staging file for ``path`` (``<tag>/<name>``)."""
        ...

    def _read(self, path: str) -> bytes | None:
        """The bytes of a published file, or None when it is absent."""
        ...

    def _size(self, path: str) -> int | None:
        """The size of a published file, or None when it is absent."""
        ...

    def _publish(self, staged: Path, path: str) -> None:
        """Move a verified staging file to ``path`` atomically."""
        ...

    async def write(self, path: str, data: bytes) -> None:
        """Write a small file (an index) atomically."""
        ...

    def _delete(self, path: str) -> None:
        """Delete a published file; absent files are fine."""
        ...


class LocalTree:
    """A mirror in a local directory (a web root, a USB stick)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)
        self.state_dir = root / STATE_DIR
        self.staging_dir = self.state_dir / "staging"

    def final_path(self, path: str) -> Path:
        check_relpath(path)
        return self.root.joinpath(*path.split("/"))

    def staging_path(self, path: str) -> Path:
        check_relpath(path)
        return self.staging_dir.joinpath(*path.split("/")).with_suffix(Path(path).suffix + ".part")

    def prepare(self) -> None:
        """Create the root and state directories; refuse a root that is not a directory."""
        try:
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            reason = describe_os_error(e)
            raise TargetError(f"{self.root}: cannot create the mirror ({reason})") from e

    def _read(self, path: str) -> bytes | None:
        try:
            return self.final_path(path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise TargetError(f"{path}: cannot read ({describe_os_error(e)})") from e

    def _size(self, path: str) -> int | None:
        try:
            st = self.final_path(path).stat()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise TargetError(f"{path}: cannot stat ({describe_os_error(e)})") from e
        return st.st_size

    def _publish(self, staged: Path, path: str) -> None:
        final = self.final_path(path)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(final)
        except OSError as e:
            raise TargetError(f"{path}: cannot publish ({describe_os_error(e)})") from e

    # The file-system calls run in a worker thread: a slow disk or NFS never stalls downloads.
    async def read(self, path: str) -> bytes | None:
        return await asyncio.to_thread(self._read, path)

    async def size(self, path: str) -> int | None:
        return await asyncio.to_thread(self._size, path)

    async def publish(self, staged: Path, path: str) -> None:
        await asyncio.to_thread(self._publish, staged, path)

    async def delete(self, path: str) -> None:
        await asyncio.to_thread(self._delete, path)

    async def write(self, path: str, data: bytes) -> None:
        await asyncio.to_thread(self.write_now, path, data)

    def write_now(self, path: str, data: bytes) -> None:
        """Synchronous atomic write, for cleanup paths that must not await."""
        try:
            write_atomic(self.final_path(path), data)
        except OSError as e:
            raise TargetError(f"{path}: cannot write ({describe_os_error(e)})") from e

    def _delete(self, path: str) -> None:
        final = self.final_path(path)
        try:
            final.unlink(missing_ok=True)
            parent = final.parent
            if parent != self.root and not any(parent.iterdir()):
                parent.rmdir()
        except OSError as e:
            raise TargetError(f"{path}: cannot delete ({describe_os_error(e)})") from e

    def staged_files(self) -> Iterator[Path]:
        """Every file in the staging area (partial downloads, temporary files)."""
        if self.staging_dir.is_dir():
            yield from (p for p in self.staging_dir.rglob("*") if p.is_file())

    def sweep_staging(self, *, keep: set[Path]) -> int:
        """Delete staging files not in ``keep`` (leftovers of killed runs); returns the count."""
        removed = 0
        for p in list(self.staged_files()):
            if p not in keep:
                p.unlink(missing_ok=True)
                removed += 1
        for d in sorted(
            (d for d in self.staging_dir.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)
        ):
            if not any(d.iterdir()):
                shutil.rmtree(d, ignore_errors=True)
        return removed
