"""A mirror in a local directory (a web root, a USB stick): the ``Target`` of a path.

Every path that reaches it is checked first: names come from upstream and are untrusted until
``check_relpath`` has accepted them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from mirrorsync.core.layout import STATE_DIR, check_relpath
from mirrorsync.core.model import IndexEntry
from mirrorsync.errors import TargetError, describe_os_error
from mirrorsync.targets.base import Target
from mirrorsync.targets.files import (
    fsync_dir,
    staged_files,
    staging_file,
    sweep_staging_dir,
    temp_path_for,
    write_atomic,
)
from mirrorsync.targets.lock import hold_lock

__all__ = ["LocalTree", "Target", "fsync_dir", "temp_path_for", "write_atomic"]

log = logging.getLogger(__name__)


class LocalTree:
    """A mirror in a local directory (a web root, a USB stick)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.local_root: Path | None = root
        self.description = str(root)
        self.state_dir = root / STATE_DIR
        self.staging_dir = self.state_dir / "staging"
        self._made_dirs: set[Path] = set()
        self._unsynced: set[Path] = set()
        """Directories archives were renamed into since they were last fsynced."""
        self._written: set[Path] = set()
        """Directories of index and client files written since they were last fsynced."""
        self._unsynced_lock = threading.Lock()
        self._syncing = threading.Lock()

    def final_path(self, path: str) -> Path:
        check_relpath(path)
        return self.root.joinpath(*path.split("/"))

    def staging_path(self, path: str) -> Path:
        return staging_file(self.staging_dir, path)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        yield  # a directory holds no connections

    @contextlib.asynccontextmanager
    async def lock(self, *, now: datetime) -> AsyncIterator[None]:
        with hold_lock(self.state_dir / "lock", now=now):
            yield

    async def prepare(self) -> None:
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
            raise TargetError.from_os_error(f"{path}: cannot read", e) from e

    def _size(self, path: str) -> int | None:
        try:
            st = self.final_path(path).stat()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise TargetError.from_os_error(f"{path}: cannot stat", e) from e
        return st.st_size

    def _publish(self, staged: Path, path: str) -> None:
        final = self.final_path(path)
        try:
            if final.parent not in self._made_dirs:  # one mkdir per release, not per file
                if not final.parent.is_dir():
                    self._changed(final.parent.parent)  # a new release directory
                final.parent.mkdir(parents=True, exist_ok=True)
                self._made_dirs.add(final.parent)
            staged.replace(final)
            self._changed(final.parent)
        except OSError as e:
            raise TargetError.from_os_error(f"{path}: cannot publish", e) from e

    def _changed(self, directory: Path, *, written: bool = False) -> None:
        with self._unsynced_lock:
            (self._written if written else self._unsynced).add(directory)

    def _sync_dirs(self, *, written: bool = False) -> None:
        """Make earlier renames durable before a step that relies on them.

        An index, checksum list or client file is written only once the archives it lists are
        durably in place; with ``written``, a file is deleted only once the index that no longer
        lists it is, too. After a power cut the tree on disk never lists a file it lost. One
        fsync per changed directory (per release), not per file; deletions themselves need none.
        """
        with self._syncing:  # a second caller waits until the first one's fsyncs are done
            with self._unsynced_lock:
                pending = self._unsynced | (self._written if written else set())
                self._unsynced = set()
                if written:
                    self._written = set()
            done: set[Path] = set()
            try:
                for directory in sorted(pending):
                    fsync_dir(directory)
                    done.add(directory)
            finally:
                if left := pending - done:
                    with self._unsynced_lock:
                        self._unsynced |= left  # still owed: the next step tries again

    # The file-system calls run in a worker thread: a slow disk or NFS never stalls downloads.
    async def read(self, path: str) -> bytes | None:
        return await asyncio.to_thread(self._read, path)

    async def publish(self, staged: Path, path: str, *, sha256: str) -> None:  # noqa: ARG002
        # Inline, not in a worker thread: a rename is one metadata operation, and a thread goes on
        # renaming after Ctrl-C/SIGTERM has cancelled the task that awaits it, so the file would
        # be published but missing from the index the interrupted run writes on its way out.
        self._publish(staged, path)

    async def delete(self, path: str) -> None:
        await asyncio.to_thread(self._delete, path)

    async def delete_many(self, paths: Sequence[str]) -> None:
        for path in paths:
            await asyncio.to_thread(self._delete, path)

    async def write(self, path: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, path, data)

    def _write(self, path: str, data: bytes) -> None:
        final = self.final_path(path)
        try:
            self._sync_dirs()
            write_atomic(final, data)
        except OSError as e:
            raise TargetError.from_os_error(f"{path}: cannot write", e) from e
        self._changed(final.parent, written=True)

    def _delete(self, path: str) -> None:
        final = self.final_path(path)
        try:
            self._sync_dirs(written=True)
            final.unlink(missing_ok=True)
            parent = final.parent
            if parent != self.root and not any(parent.iterdir()):
                parent.rmdir()
                self._made_dirs.discard(parent)
        except OSError as e:
            raise TargetError.from_os_error(f"{path}: cannot delete", e) from e

    async def present(self, entries: Mapping[str, IndexEntry]) -> dict[str, IndexEntry]:
        """One stat per file, all in one worker thread: cheap even for tens of thousands."""

        def check() -> dict[str, IndexEntry]:
            found: dict[str, IndexEntry] = {}
            for path, entry in entries.items():
                size = self._size(path)
                if size == entry.size:
                    found[path] = entry
                else:
                    seen = "missing" if size is None else f"{size} bytes on disk"
                    log.warning("%s: listed in the index but %s; fetching it again", path, seen)
            return found

        return await asyncio.to_thread(check)

    async def missing(self, paths: Iterable[str]) -> set[str]:
        wanted = list(paths)
        return await asyncio.to_thread(lambda: {p for p in wanted if self._size(p) is None})

    async def existing_sha256(self, path: str, *, size: int) -> str | None:
        def digest() -> str | None:
            if self._size(path) != size:
                return None
            final = self.final_path(path)
            h = hashlib.sha256()
            with final.open("rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
            # A killed run renamed it but may never have made that durable: owed before the index.
            self._changed(final.parent)
            return h.hexdigest()

        return await asyncio.to_thread(digest)

    def staged_files(self) -> Iterator[Path]:
        """Every file in the staging area (partial downloads, temporary files)."""
        return staged_files(self.staging_dir)

    def sweep_staging(self, *, keep: set[Path]) -> int:
        """Delete staging files not in ``keep`` (leftovers of killed runs); returns the count."""
        return sweep_staging_dir(self.staging_dir, keep=keep)
