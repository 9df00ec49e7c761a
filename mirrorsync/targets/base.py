"""The ``Target`` seam: what every place a mirror is published to must do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Protocol

from mirrorsync.core.model import IndexEntry


class Target(Protocol):
    """Where the mirror's files are published: a local directory today, a bucket later.

    Files are downloaded and verified in a local staging area first (``staging_path``), then
    published. ``state_dir`` is always local (staging, caches, status). Paths are ``/``-separated
    and relative to the mirror root; each implementation checks them with ``check_relpath``.
    """

    description: str
    state_dir: Path
    local_root: Path | None
    """The root as a local directory, for links and file modes; None where there is none."""

    def staging_path(self, path: str) -> Path:
        """The local staging file for ``path`` (``<tag>/<name>``)."""
        ...

    def connect(self) -> AbstractAsyncContextManager[None]:
        """Hold the target's connections for one run or plan (nothing to hold for a directory)."""
        ...

    def lock(self, *, now: datetime) -> AbstractAsyncContextManager[None]:
        """Hold the mirror for one run; ``LockHeld`` at once when another run has it."""
        ...

    async def prepare(self) -> None:
        """Make the target and the local state directory usable; ``TargetError`` else."""
        ...

    async def read(self, path: str) -> bytes | None:
        """The bytes of a small published file, or None when it is absent."""
        ...

    async def write(self, path: str, data: bytes) -> None:
        """Publish a small file (an index, a page) atomically."""
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
