"""The ``Target`` seam: what every place a mirror is published to must do.

Three sides: the **write side** a sync uses (stage, publish, write, delete), the **read side**
``verify`` and ``--repair`` use (inventory, sizes, hashes, quarantine, leftovers), and the
**capabilities** some places lack (links, file modes): each of those answers False where the
target has none, having done nothing, so that no caller ever asks which kind of target it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from mirrorsync.core.model import Filesystem, IndexEntry
from mirrorsync.errors import TargetError

BLOCK = 1 << 20
"""Bytes a target reads and hashes at a time in ``hash`` (one progress step)."""


class Unreadable(TargetError):
    """One published file cannot be read (permissions, an I/O error) while the target itself
    works: ``verify`` reports it as a finding; anywhere else it is a ``TargetError``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: cannot read ({reason})")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Inventory:
    """What a target holds below its root, outside its state directory and client layouts."""

    files: Mapping[str, int]
    """Every published file (for a directory: anything that is not a directory, links too,
    never followed) by ``/``-path, with its size."""
    unreadable: Mapping[str, str] = field(default_factory=dict)
    """Paths that could not be looked into, each with a sentence saying so (a directory that
    could not be listed: the files in it are not in ``files``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Leftovers:
    """What interrupted runs left behind, by path below the root."""

    resumable: tuple[str, ...] = ()
    """Partial downloads the next sync resumes (or sweeps, if no longer selected)."""
    unfinished: Mapping[str, str] = field(default_factory=dict)
    """Leftovers no sync resumes (temporary files, unfinished multipart uploads), each with what
    it is."""
    unreadable: Mapping[str, str] = field(default_factory=dict)
    """Places that could not be looked into, each with a sentence saying so."""


Hashed = tuple[int, str] | Unreadable | None
"""What reading one published file gave: (size, sha256); why it could not be read; None when it
is absent."""


@runtime_checkable
class HashesInBulk(Protocol):
    """A target that hashes many published files in threads or processes of its own, with no
    event-loop round trip per file (a directory: tens of thousands of small files cost their
    reads, not their scheduling); ``verify --full`` uses it where a target offers it."""

    async def hash_files(
        self,
        files: Sequence[tuple[str, int]],
        *,
        workers: int,
        found: Callable[[str, Hashed], None],
        on_bytes: Callable[[int], None] = lambda _: None,
    ) -> None:
        """Hash each of ``files`` (path, expected size: only to share the work out evenly) with
        at most ``workers`` threads or processes; ``found`` is called on the event loop with
        each file's outcome, in the order of ``files``; ``on_bytes`` with the bytes read as they
        are read."""
        ...

    def walked(self) -> Mapping[str, int]:
        """Right after ``inventory``: the regular files its walk found (never a link, a pipe or
        a device), by path, with their sizes; what ``verify --full`` may start hashing before it
        has read the index."""
        ...


class Target(Protocol):
    """Where the mirror's files are published: a local directory or a bucket.

    Files are downloaded and verified in a local staging area first (``staging_path``), then
    published. ``state_dir`` is always local (staging, caches, status). Paths are ``/``-separated
    and relative to the mirror root; each implementation checks them with ``check_relpath``
    before any I/O.
    """

    description: str
    state_dir: Path
    keeps_sha256: bool
    """Whether each published file carries the sha256 it was published with (a bucket's object
    metadata), which ``recorded`` returns and ``verify`` compares; a directory keeps none."""
    parallel_reads: int
    """How many files ``verify --full`` reads at once: a disk seeks, a bucket waits."""
    reads_staged: bool
    """Whether ``publish`` reads a staged file's bytes (a bucket uploads them); where it does
    not (a directory renames the file into place), a download's pages leave the page cache once
    the file is on disk: nothing reads them back soon."""

    # -- the write side ------------------------------------------------------------------------

    def staging_path(self, path: str) -> Path:
        """The local staging file for ``path`` (``<tag>/<name>``)."""
        ...

    def connect(self) -> AbstractAsyncContextManager[None]:
        """Hold the target's connections for one run or plan (nothing to hold for a directory)."""
        ...

    def lock(self, *, now: datetime) -> AbstractAsyncContextManager[None]:
        """Hold the mirror for one run; ``LockHeld`` at once when another run has it."""
        ...

    async def running(self, *, now: datetime) -> str | None:
        """Who holds the lock (a run is changing the mirror), or None; reads only."""
        ...

    async def prepare(self) -> None:
        """Make the target and the local state directory usable; ``TargetError`` else."""
        ...

    async def filesystem(self, *, largest: int = 0, probe_links: bool = True) -> Filesystem:
        """What the target's file system can do: its free space (None where it cannot tell), and
        with ``probe_links`` (a run, after ``prepare``) whether it makes links and holds a file of
        ``largest`` bytes, found out by trying in the state directory. A bucket has no limits."""
        ...

    async def read(self, path: str, *, fresh: bool = False) -> bytes | None:
        """The bytes of a small published file, or None when it is absent.

        A target may answer from what it remembers having written; with ``fresh`` it reads what
        is there now (``verify``).
        """
        ...

    async def write(self, path: str, data: bytes) -> None:
        """Publish a small file (an index, a page) atomically."""
        ...

    async def write_pieces(self, path: str, pieces: Iterable[bytes]) -> None:
        """Publish a file given as its bytes in order (``index.json`` rendered as it is
        written) atomically, like ``write``; a target that can write them as they come holds
        no more of the file than a piece. An error raised by ``pieces`` leaves ``path`` as it
        was and is raised."""
        ...

    async def publish(self, staged: Path, path: str, *, sha256: str) -> None:
        """Publish a verified staging file under ``path`` atomically, consuming the staged file."""
        ...

    async def delete(self, path: str) -> None:
        """Delete a published file (absent is fine) and directories it leaves empty."""
        ...

    async def delete_many(self, paths: Sequence[str]) -> None:
        """Delete published files (absent is fine), in batches where the target has them."""
        ...

    async def present(self, entries: Mapping[str, IndexEntry]) -> dict[str, IndexEntry]:
        """The entries whose files are really there with their size (a target may trust them)."""
        ...

    async def missing(self, paths: Iterable[str]) -> set[str]:
        """Which of ``paths`` are absent (a target may answer from trust: the empty set)."""
        ...

    async def existing_sha256(self, path: str, *, size: int) -> str | None:
        """The sha256 of a file already at ``path`` with ``size`` bytes, else None (adoption)."""
        ...

    def sweep_staging(self, *, keep: set[Path]) -> int:
        """Delete staging files not in ``keep`` (leftovers of killed runs); returns the count."""
        ...

    # -- the read side (verify, repair) ----------------------------------------------------------

    async def inventory(self) -> Inventory:
        """Every file below the root, outside the state directory and the client layouts."""
        ...

    async def sizes(self, paths: Iterable[str]) -> dict[str, int | str]:
        """The size of the published file at each of ``paths``, or why there is none, in words
        for a report ("absent", "not a regular file", "unreadable: permission denied")."""
        ...

    async def recorded(self, path: str) -> tuple[int, str | None] | None:
        """(size, the sha256 recorded with the file, if it is ``keeps_sha256``), or None when the
        file is absent."""
        ...

    async def hash(
        self, path: str, *, on_bytes: Callable[[int], None] = lambda _: None
    ) -> tuple[int, str] | None:
        """(size, sha256) of a published file's bytes, streamed, ``on_bytes`` called with each
        block's length; None when it is absent; ``Unreadable`` when it cannot be read."""
        ...

    async def leftovers(self) -> Leftovers:
        """What interrupted runs left: partial downloads, temporary files, unfinished uploads."""
        ...

    async def remove_leftover(self, path: str) -> bool:
        """Remove one of the ``unfinished`` leftovers; False when there was nothing this target
        removes (a bucket's unfinished uploads are aborted when a run takes its lock)."""
        ...

    async def quarantine(self, path: str, *, stamp: str) -> str | None:
        """Move a damaged file below ``<state>/quarantine/<stamp>/``, never deleting it; where it
        went, or None when there was no file to move."""
        ...

    # -- the idle-run proof (``core.idle``) -------------------------------------------------------

    async def idle_signature(self) -> str | None:
        """A digest of everything a plan reads of this target, taken without reading it: equal
        to the one the last successful run left, the plan would find the target as that run
        left it. Taken again after a run, it describes the target as the run left it; a target
        may answer then from what it saw during the run. None where it cannot tell cheaply (no
        shortcut: every run plans)."""
        ...

    # -- capabilities: False where the target has none, having done nothing -----------------------

    def symlink(self, path: str, to: str, *, wanted: bool = True) -> bool:
        """Make ``path`` a symbolic link to ``to``; without ``wanted``, remove it if it is that
        link, then the directories it leaves empty. ``TargetError`` when it cannot (a file is in
        the way, a file system without links); False where the target has no links (a bucket)."""
        ...

    def hard_links(
        self, directory: str, sources: Mapping[str, str], *, copies: bool = False
    ) -> bool:
        """Make ``directory`` hold exactly ``name -> published file`` hard links, or real copies
        with ``copies`` (other files in it go; empty: the directory goes). ``TargetError`` when
        it cannot; False where the target has no links (a bucket)."""
        ...

    def make_executable(self, path: str) -> bool:
        """Give a published file its execute bits (where the file system has modes); False where
        the target has no file modes (a bucket)."""
        ...
