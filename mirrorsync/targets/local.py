"""A mirror in a local directory (a web root, a USB stick): the ``Target`` of a path.

Every path that reaches it is checked first: names come from upstream and are untrusted until
``check_relpath`` has accepted them.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import hashlib
import logging
import os
import shutil
import stat
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from mirrorsync.core.layout import (
    CLIENT_LAYOUTS,
    CLIENT_ROOT_FILES,
    LOCK_PATH,
    PAGE_NAME,
    PART_SUFFIX,
    QUARANTINE_DIR,
    STAGING_DIR,
    STATE_DIR,
    SUMS_NAME,
    check_relpath,
    release_dir,
)
from mirrorsync.core.model import Filesystem, IndexEntry
from mirrorsync.core.names import RELEASE_TAG
from mirrorsync.errors import ConfigError, TargetError, UnsafeName, describe_os_error
from mirrorsync.targets import probe
from mirrorsync.targets.base import BLOCK, Hashed, Inventory, Leftovers, Target, Unreadable
from mirrorsync.targets.files import (
    HASH_BLOCK,
    fsync_dir,
    hash_file,
    staging_file,
    sweep_staging_dir,
    temp_path_for,
    write_atomic,
)
from mirrorsync.targets.hashpool import HashPool
from mirrorsync.targets.lock import hold_lock, lock_holder
from mirrorsync.targets.signature import tree_signature

__all__ = ["LocalTree", "Target", "fsync_dir", "temp_path_for", "write_atomic"]

log = logging.getLogger(__name__)


STAGING = f"{STATE_DIR}/staging"
"""The staging area below the root, as leftovers are reported."""


class LocalTree:
    """A mirror in a local directory (a web root, a USB stick)."""

    keeps_sha256 = False
    parallel_reads = 4
    """Hashing is bound by the disk and the cores: more readers only seek more."""
    reads_staged = False
    """A staged file is renamed into place, never read back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)
        self.state_dir = root / STATE_DIR
        self.staging_dir = self.state_dir / STAGING_DIR
        self._made_dirs: set[Path] = set()
        self._unsynced: set[Path] = set()
        """Directories archives were renamed into since they were last fsynced."""
        self._written: set[Path] = set()
        """Directories of index and client files written since they were last fsynced."""
        self._unsynced_lock = threading.Lock()
        self._syncing = threading.Lock()
        self._walked: dict[str, int] = {}
        """The regular files the last ``inventory`` found, by path, for the ``sizes`` after it."""

    def final_path(self, path: str) -> Path:
        check_relpath(path)
        return self.root / path  # checked: relative, "/"-separated, no "." or ".." parts

    def _writable_path(self, path: str) -> Path:
        """``final_path``, refusing a release directory that is a symbolic link: what it points
        to may lie outside the root, and is not the mirror's to write or delete in."""
        final = self.final_path(path)
        parent = final.parent
        if parent != self.root and parent not in self._made_dirs and parent.is_symlink():
            raise UnsafeName(
                path, f"{parent.name}/ is a symbolic link; mirrorsync never writes through one"
            )
        return final

    def staging_path(self, path: str) -> Path:
        return staging_file(self.staging_dir, path)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        yield  # a directory holds no connections

    async def running(self, *, now: datetime) -> str | None:  # noqa: ARG002 - the protocol's
        return await asyncio.to_thread(lock_holder, self.state_dir / "lock")

    @contextlib.asynccontextmanager
    async def lock(self, *, now: datetime) -> AsyncIterator[None]:
        with hold_lock(self.root / LOCK_PATH, now=now):
            yield

    async def prepare(self) -> None:
        """Create the root and state directories; refuse a root that is not a directory, and a
        first run into a directory whose files mirrorsync would overwrite."""
        fresh = not self.state_dir.exists()
        if fresh and (clashes := await asyncio.to_thread(foreign_files, self.root)):
            shown = ", ".join(clashes[:8]) + (" …" if len(clashes) > 8 else "")  # noqa: PLR2004
            problem = (
                f"target.path: {self.root} is not a mirrorsync tree and holds files "
                f"mirrorsync would overwrite: {shown}"
            )
            raise ConfigError(
                [problem],
                hint="use an empty directory (or one of its own), or move those files away",
            )
        try:
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            reason = describe_os_error(e)
            raise TargetError(f"{self.root}: cannot create the mirror ({reason})") from e

    async def filesystem(self, *, largest: int = 0, probe_links: bool = True) -> Filesystem:
        """The free space of the root's file system; with ``probe_links`` (a run, after
        ``prepare``) also whether it makes links, tried in the state directory, and, when
        ``largest`` is not 0, whether it holds a file that large."""

        def ask() -> Filesystem:
            free = probe.free_bytes(self.root)
            if not probe_links:
                return Filesystem(place=self.description, free_bytes=free)
            symlinks, hard_links = probe.probe_links(self.state_dir)
            return Filesystem(
                place=self.description,
                free_bytes=free,
                symlinks=symlinks,
                hard_links=hard_links,
                max_file_size=probe.probe_max_file_size(self.state_dir, largest),
            )

        return await asyncio.to_thread(ask)

    def _read(self, path: str) -> bytes | None:
        try:
            return self.final_path(path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise Unreadable(path, describe_os_error(e)) from e

    def _size(self, path: str) -> int | None:
        try:
            st = self.final_path(path).stat()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise TargetError.from_os_error(f"{path}: cannot stat", e) from e
        return st.st_size

    def _publish(self, staged: Path, path: str) -> None:
        final = self._writable_path(path)
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
    async def read(self, path: str, *, fresh: bool = False) -> bytes | None:  # noqa: ARG002
        return await asyncio.to_thread(self._read, path)  # always fresh: nothing is remembered

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

    async def write_pieces(self, path: str, pieces: Iterable[bytes]) -> None:
        # Rendered in the worker thread, each piece as it is written: nothing else changes what
        # they are rendered from while the run awaits this write.
        await asyncio.to_thread(self._write, path, pieces)

    def _write(self, path: str, data: bytes | Iterable[bytes]) -> None:
        final = self._writable_path(path)
        try:
            self._sync_dirs()
            write_atomic(final, data)
        except OSError as e:
            raise TargetError.from_os_error(f"{path}: cannot write", e) from e
        self._changed(final.parent, written=True)

    def _delete(self, path: str) -> None:
        final = self._writable_path(path)
        try:
            self._sync_dirs(written=True)
            final.unlink(missing_ok=True)  # absent, its directory too: fine
            parent = final.parent
            if parent != self.root and parent.is_dir() and not any(parent.iterdir()):
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

    def sweep_staging(self, *, keep: set[Path]) -> int:
        """Delete staging files not in ``keep`` (leftovers of killed runs); returns the count."""
        return sweep_staging_dir(self.staging_dir, keep=keep)

    # -- the read side (verify, repair) ----------------------------------------------------------
    # Stats and directory listings are many small blocking calls: one worker thread does them all.

    async def inventory(self) -> Inventory:
        """A walk that never follows a link; the state directory and client layouts are skipped."""

        def walk() -> Inventory:
            files: dict[str, int] = {}
            unreadable: dict[str, str] = {}
            regular: dict[str, int] = {}
            self._walked = regular
            skip = {STATE_DIR, *CLIENT_LAYOUTS}
            for rel, size in _walk(self.root, skip=skip, out=unreadable, regular=regular):
                if isinstance(size, int):
                    files[rel] = size
                else:
                    unreadable[rel] = f"cannot look at this file ({size})"
            return Inventory(files=files, unreadable=unreadable)

        return await asyncio.to_thread(walk)

    def walked(self) -> Mapping[str, int]:
        """The regular files the last ``inventory`` found, with their sizes (links are not)."""
        return dict(self._walked)

    async def sizes(self, paths: Iterable[str]) -> dict[str, int | str]:
        """Right after ``inventory`` (as verify asks), the regular files it found are answered
        from its walk; any other path is stat'ed, following links."""
        wanted = list(paths)
        for path in wanted:
            check_relpath(path)
        root = os.fspath(self.root)
        walked, self._walked = self._walked, {}  # once: later calls look at the disk again

        def size(path: str) -> int | str:
            found = walked.get(path)
            return found if found is not None else _stat_size(f"{root}/{path}")

        return await asyncio.to_thread(lambda: {p: size(p) for p in wanted})

    async def recorded(self, path: str) -> tuple[int, str | None] | None:
        """A directory records no sha256 beside a file: only its size."""
        size = await asyncio.to_thread(self._size, path)
        return None if size is None else (size, None)

    async def hash(
        self, path: str, *, on_bytes: Callable[[int], None] = lambda _: None
    ) -> tuple[int, str] | None:
        """Block by block, each block in a worker thread (hashlib releases the GIL meanwhile)."""
        final = self.final_path(path)
        try:
            hasher = _Hasher(await asyncio.to_thread(final.open, "rb"))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise Unreadable(path, describe_os_error(e)) from e
        try:
            while n := await asyncio.to_thread(hasher.step):
                on_bytes(n)
        except OSError as e:
            raise Unreadable(path, describe_os_error(e)) from e
        finally:
            hasher.f.close()
        return hasher.size, hasher.digest.hexdigest()

    async def hash_files(
        self,
        files: Sequence[tuple[str, int]],
        *,
        workers: int,
        found: Callable[[str, Hashed], None],
        on_bytes: Callable[[int], None] = lambda _: None,
    ) -> None:
        """Share ``files`` out in runs of consecutive files; the event loop hears once per run,
        not per file. Many files go to hashing processes (``hashpool``), one per core: the
        per-file work then runs beside this interpreter, not under its lock; a few, or where
        no process starts, go to ``workers`` threads, each reading into one reused buffer."""
        for path, _ in files:
            check_relpath(path)
        hashing = _HashRuns(files, root=os.fspath(self.root), on_bytes=on_bytes)
        sizes = [size for _, size in files]
        processes = _processes(len(files), workers)
        loop = asyncio.get_running_loop()
        threads: list[asyncio.Future[tuple[list[Hashed], int]]] = []

        def in_thread(lo: int, hi: int) -> asyncio.Future[tuple[list[Hashed], int]]:
            threads.append(loop.run_in_executor(pool, hashing.run, lo, hi))
            return threads[-1]

        with concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="mirrorsync-hash"
        ) as pool:
            try:
                if processes:
                    runs = list(_runs(sizes, workers=processes))
                    processes = min(processes, len(runs))
                    procs = HashPool(
                        files, runs, root=hashing.root, on_bytes=on_bytes, in_thread=in_thread
                    )
                    finished = False
                    try:
                        if await procs.start(processes):
                            for (lo, _), outcome in zip(runs, procs.outcomes, strict=True):
                                await hashing.deliver(lo, outcome, found=found)
                            finished = True
                            return
                    finally:
                        await procs.stop(finished=finished)
                pending: collections.deque[tuple[int, asyncio.Future[tuple[list[Hashed], int]]]]
                pending = collections.deque()
                for lo, hi in _runs(sizes, workers=workers):
                    pending.append((lo, in_thread(lo, hi)))
                    if len(pending) < 2 * workers:
                        continue  # a few runs ahead, so that no thread waits for the loop
                    await hashing.deliver(*pending.popleft(), found=found)
                while pending:
                    await hashing.deliver(*pending.popleft(), found=found)
            finally:
                hashing.stop.set()  # cancelled or failed: the threads stop at their next read
                await _wait_all(threads)

    async def leftovers(self) -> Leftovers:
        """Files in the staging area: ``<tag>/<name>.part`` is resumable, anything else is not.

        A staging (or state) directory that is a link is not looked into: it is not ours.
        """

        def scan() -> Leftovers:
            if self.state_dir.is_symlink() or self.staging_dir.is_symlink():
                return Leftovers()
            resumable: list[str] = []
            unfinished: dict[str, str] = {}
            unreadable: dict[str, str] = {}
            found = _walk(self.staging_dir, prefix=f"{STAGING}/", out=unreadable)
            for rel, _ in sorted(found):
                if self._is_partial_download(rel):
                    resumable.append(rel)
                else:
                    unfinished[rel] = "left in the staging area by an interrupted run"
            return Leftovers(
                resumable=tuple(resumable), unfinished=unfinished, unreadable=unreadable
            )

        return await asyncio.to_thread(scan)

    def _is_partial_download(self, rel: str) -> bool:
        """A regular file (not a link) at ``<tag>/<name>.part`` below the staging area."""
        below = rel.removeprefix(f"{STAGING}/")
        if not below.endswith(PART_SUFFIX) or release_dir(below) is None:
            return False
        try:
            mode = self.staging_dir.joinpath(*below.split("/")).lstat().st_mode
        except OSError:
            return False
        return stat.S_ISREG(mode)

    def _leftover_path(self, path: str) -> Path:
        """A leftover's file: in the staging area, or (a temporary file) in the tree."""
        if path.startswith(f"{STAGING}/"):
            below = path.removeprefix(f"{STAGING}/")
            check_relpath(below)
            return self.staging_dir.joinpath(*below.split("/"))
        return self.final_path(path)

    async def remove_leftover(self, path: str) -> bool:
        """Unlink it if it is a regular file (never through a link)."""
        leftover = self._leftover_path(path)

        def remove() -> bool:
            try:
                if leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
                    return True
            except OSError as e:
                raise TargetError.from_os_error(f"{path}: cannot remove", e) from e
            return False

        return await asyncio.to_thread(remove)

    async def quarantine(self, path: str, *, stamp: str) -> str | None:
        """A rename into ``.mirrorsync/quarantine/<stamp>/<path>`` (the same file system)."""
        source = self.final_path(path)
        check_relpath(stamp)
        moved = self.state_dir.joinpath(QUARANTINE_DIR, stamp, *path.split("/"))

        def move() -> str | None:
            try:
                if not source.is_file():
                    return None
                moved.parent.mkdir(parents=True, exist_ok=True)
                source.replace(moved)
            except OSError as e:
                raise TargetError.from_os_error(f"{path}: cannot quarantine", e) from e
            return str(moved)

        return await asyncio.to_thread(move)

    # -- the idle-run proof -----------------------------------------------------------------------

    async def idle_signature(self) -> str | None:
        """The stat digest of the whole tree (``signature.tree_signature``): what a plan reads of
        a directory is its index and the size of each file, and a file changed by hand changes
        its size, mtime or inode, or its directory's listing."""
        return await tree_signature(self.root)

    # -- capabilities ----------------------------------------------------------------------------
    # On the event loop, like the small writes they follow: a few metadata operations each.

    def symlink(self, path: str, to: str, *, wanted: bool = True) -> bool:
        link = self.final_path(path)
        try:
            if wanted:
                if link.is_symlink():
                    if str(link.readlink()) == to:
                        return True
                    link.unlink()
                elif link.exists():
                    raise TargetError(f"{link} (it exists and is not a link)")
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(to, target_is_directory=True)
            elif link.is_symlink() and str(link.readlink()) == to:
                link.unlink()
                for parent in link.relative_to(self.root).parents[:-1]:
                    directory = self.root / parent
                    if directory.is_dir() and not any(directory.iterdir()):
                        directory.rmdir()
        except OSError as e:  # FAT (a USB stick) has no symlinks
            raise TargetError.from_os_error(str(link), e) from e
        return True

    def hard_links(
        self, directory: str, sources: Mapping[str, str], *, copies: bool = False
    ) -> bool:
        view = self.final_path(directory)
        for name in sources:
            check_relpath(f"{directory}/{name}")
        wanted = {name: self.final_path(path) for name, path in sources.items()}
        try:
            if view.is_dir():
                for entry in view.iterdir():
                    if entry.name not in wanted and entry.is_file():
                        entry.unlink()
            if not wanted:
                if view.is_dir() and not any(view.iterdir()):
                    view.rmdir()
                return True
            view.mkdir(exist_ok=True)
            for name, source in sorted(wanted.items()):
                link = view / name
                if _same(link, source, copies=copies):
                    continue
                _link_or_copy(source, link, copies=copies)
        except OSError as e:
            raise TargetError.from_os_error(str(view), e) from e
        return True

    def make_executable(self, path: str) -> bool:
        final = self.final_path(path)
        try:
            mode = final.stat().st_mode
            if mode & 0o111 != 0o111:  # noqa: PLR2004 - execute bits
                final.chmod(mode | 0o111)
        except OSError as e:  # FAT and some network shares have no modes: sh script.sh still works
            log.debug("%s: cannot make it executable (%s)", final, e)
        return True


def _link_or_copy(source: Path, link: Path, *, copies: bool) -> None:
    """Put a hard link to ``source`` (or a copy of it) at ``link`` atomically."""
    tmp = temp_path_for(link)
    tmp.unlink(missing_ok=True)
    try:
        if copies:
            shutil.copyfile(source, tmp)
            # Only the times (``_same`` compares them): FAT has no modes, and a FUSE FAT refuses
            # chmod with ENOSYS, which ``shutil.copystat`` would raise.
            st = source.stat()
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            os.link(source, tmp)
        tmp.replace(link)
    except OSError:
        tmp.unlink(missing_ok=True)  # never a half-made copy left behind in flat/
        raise


def _same(link: Path, source: Path, *, copies: bool) -> bool:
    """Whether ``link`` already is ``source``: the same file, or (``copies``) a copy of it with its
    size and modification time."""
    try:
        if not link.exists():
            return False
        if link.samefile(source):
            return True
        if not copies:
            return False
        a, b = link.stat(), source.stat()
    except OSError:
        return False
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


class _Hasher:
    """One open file being hashed; each ``step`` runs in a worker thread."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.digest = hashlib.sha256()
        self.size = 0

    def step(self) -> int:
        data = self.f.read(BLOCK)
        self.digest.update(data)  # hashlib drops the GIL on large buffers: threads run in parallel
        self.size += len(data)
        return len(data)


_PROCESS_MIN_FILES = 2000
"""Fewer files than this are hashed in threads: starting a hashing process costs ~20 ms of
CPU, what the per-file work of about that many small files costs in threads."""


def _processes(files: int, workers: int) -> int:
    """How many hashing processes to hash ``files`` files with: one per core, at most
    ``workers``; none for a few files."""
    if files < _PROCESS_MIN_FILES:
        return 0
    return max(1, min(workers, os.cpu_count() or 1))


_PROGRESS_STEP = 8 << 20
"""Bytes a hashing thread reads before it tells the event loop (the progress bar)."""
_RUN_FILES = 256
_RUN_SHARE = 16
"""A run of files for one hashing job: at most ``_RUN_FILES`` files, and about a
``_RUN_SHARE``-th of each worker's share of the bytes: no thread is left with a long tail."""
_FILE_COST = 64 << 10
"""What opening a file costs, in bytes read: empty files still make runs end."""


class _HashRuns:
    """The threads' side of ``LocalTree.hash_files``: one run of files per job."""

    def __init__(
        self, files: Sequence[tuple[str, int]], *, root: str, on_bytes: Callable[[int], None]
    ) -> None:
        self.files = files
        self.root = root
        self.on_bytes = on_bytes
        self.loop = asyncio.get_running_loop()
        self.stop = threading.Event()
        self._buffers = threading.local()

    def run(self, lo: int, hi: int) -> tuple[list[Hashed], int]:
        """In a worker thread: the outcomes of ``files[lo:hi]`` and the bytes not yet told."""
        buf: bytearray | None = getattr(self._buffers, "buf", None)
        if buf is None:
            buf = self._buffers.buf = bytearray(HASH_BLOCK)
        unreported = 0

        def count(n: int) -> None:
            nonlocal unreported
            unreported += n
            if unreported >= _PROGRESS_STEP:
                self.loop.call_soon_threadsafe(self.on_bytes, unreported)
                unreported = 0

        results = [
            _hashed(path, f"{self.root}/{path}", buf, stop=self.stop, on_bytes=count)
            for path, _ in self.files[lo:hi]
        ]
        return results, unreported

    async def deliver(
        self,
        lo: int,
        job: asyncio.Future[tuple[list[Hashed], int]],
        *,
        found: Callable[[str, Hashed], None],
    ) -> None:
        results, unreported = await job
        self.on_bytes(unreported)
        for (path, _), hashed in zip(self.files[lo:], results, strict=False):
            found(path, hashed)


def _runs(sizes: Sequence[int], *, workers: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` index ranges of consecutive files, in order, covering ``sizes``."""
    share = max(sum(sizes) // (max(workers, 1) * _RUN_SHARE), HASH_BLOCK)
    lo, weight = 0, 0
    for i, size in enumerate(sizes):
        weight += size + _FILE_COST
        if weight >= share or i + 1 - lo >= _RUN_FILES:
            yield lo, i + 1
            lo, weight = i + 1, 0
    if lo < len(sizes):
        yield lo, len(sizes)


def _hashed(
    path: str, full: str, buf: bytearray, *, stop: threading.Event, on_bytes: Callable[[int], None]
) -> Hashed:
    try:
        return hash_file(full, buf, stop=stop, on_bytes=on_bytes)
    except FileNotFoundError:
        return None
    except OSError as e:
        return Unreadable(path, describe_os_error(e))


async def _wait_all(jobs: Sequence[asyncio.Future[Any]]) -> None:
    """Wait until every job's thread has returned, also through a second Ctrl-C."""
    while not all(job.done() for job in jobs):
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait(jobs)
    for job in jobs:
        if not job.cancelled():
            job.exception()  # retrieved: what is reported is what stopped the verify


def _stat_size(path: str) -> int | str:
    """The size of the regular file at ``path``, or why there is none."""
    try:
        st = os.stat(path)  # noqa: PTH116 - a plain str: no Path made per file
    except FileNotFoundError:
        return "absent"
    except OSError as e:
        return f"unreadable: {describe_os_error(e)}"
    return st.st_size if stat.S_ISREG(st.st_mode) else "not a regular file"


def _listing(directory: Path, rel: str, *, out: dict[str, str]) -> list[os.DirEntry[str]]:
    """The entries of ``directory``; none when it is gone, or cannot be listed (said in ``out``)."""
    try:
        with os.scandir(directory) as it:
            return list(it)
    except FileNotFoundError:
        return []
    except OSError as e:
        out[rel.rstrip("/") or "."] = (
            f"cannot list this directory ({describe_os_error(e)}); its files were not checked"
        )
        return []


def _walk(
    top: Path,
    *,
    out: dict[str, str],
    prefix: str = "",
    skip: frozenset[str] | set[str] = frozenset(),
    regular: dict[str, int] | None = None,
) -> Iterator[tuple[str, int | str]]:
    """(``prefix`` + ``/``-path, size or why there is none) of every non-directory below ``top``;
    the sizes of the regular files among them also go into ``regular``.

    Links are never followed; names in ``skip`` are not entered at the top; a directory that
    cannot be listed goes into ``out`` with a sentence saying so.
    """
    stack = [(top, prefix)]
    while stack:
        directory, rel = stack.pop()
        found = _listing(directory, rel, out=out)
        skipped = skip if directory is top else ()
        for entry in found:
            if entry.name in skipped:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((Path(entry.path), f"{rel}{entry.name}/"))
                continue
            path = f"{rel}{entry.name}"
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone since the listing
            except OSError as e:
                yield path, describe_os_error(e)
                continue
            if regular is not None and stat.S_ISREG(st.st_mode):
                regular[path] = st.st_size
            yield path, st.st_size


def foreign_files(root: Path) -> list[str]:
    """The files at ``root`` that a first sync would overwrite: client files at the root, and
    a page or checksum list in a directory named like a release. Sorted; none for a new root."""
    try:
        names = {p.name: p for p in root.iterdir()}
    except (FileNotFoundError, NotADirectoryError):
        return []
    clashes = sorted(n for n in names if n in CLIENT_ROOT_FILES)
    for name, sub in sorted(names.items()):
        if RELEASE_TAG.fullmatch(name) and sub.is_dir():
            clashes += [f"{name}/{f}" for f in (SUMS_NAME, PAGE_NAME) if (sub / f).exists()]
    return clashes
