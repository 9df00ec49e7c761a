"""What this machine knows of the bucket's small files: trust instead of stat.

The bucket's ``index.json`` is the truth about assets: a run that finds nothing new reads it and
uploads nothing, with no listing and no HEAD per object. The small files (indexes, pages, client
files) are remembered in the local state directory as they were last uploaded, valid while the
bucket's ``index.json`` keeps the ETag this machine last saw; on any other ETag (another machine,
a lost state directory) that memory is dropped and relearnt with one listing of the prefix.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from mirrorsync.core.layout import PAGE_NAME, SUMS_NAME, release_dir
from mirrorsync.targets.files import write_atomic

TAG_SMALL_FILES = frozenset({SUMS_NAME, PAGE_NAME})


def is_asset(path: str) -> bool:
    """Whether ``path`` is a release's archive (``<tag>/<name>``, ``uv/<version>/<name>``), not
    an index or a page."""
    return release_dir(path) is not None and path.rsplit("/", 1)[1] not in TAG_SMALL_FILES


class Unknown:
    """Marks a small file whose content this machine does not know."""


UNKNOWN: Final = Unknown()


@dataclass(slots=True, kw_only=True)
class Known:
    """What this machine knows of the bucket's small files, kept in the state directory.

    ``copies`` holds the exact bytes of each small file as last uploaded or read. The knowledge
    is valid while the bucket's ``index.json`` has ``index_etag``; once ``listed``, a small file
    that is neither copied nor in ``uncopied`` (present, bytes unknown) is absent.
    """

    copies: Path
    meta: Path
    index_etag: str | None = None
    listed: bool = False
    uncopied: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)
    persist: bool = False
    """Only the lock holder writes the state directory; a plan or verify keeps it in memory."""
    stale_copies: bool = False
    """The copies on disk no longer count (reset without ``persist``)."""
    memory: dict[str, bytes] = field(default_factory=dict)

    @property
    def files(self) -> tuple[str, str]:
        """The names of what this keeps in the state directory: the copies and their record."""
        return self.copies.name, self.meta.name

    @classmethod
    def load(cls, state_dir: Path) -> Known:
        known = cls(copies=state_dir / "published", meta=state_dir / "published.json")
        try:
            doc = json.loads(known.meta.read_bytes())
            known.index_etag = doc["index_etag"]
            known.listed = bool(doc["listed"])
            known.uncopied = set(doc["uncopied"])
            known.absent = set(doc["absent"])
        except (OSError, ValueError, KeyError, TypeError):
            known.index_etag = None  # nothing usable: the first read of index.json resets
        return known

    def save(self) -> None:
        if not self.persist:
            return
        doc = {
            "index_etag": self.index_etag,
            "listed": self.listed,
            "uncopied": sorted(self.uncopied),
            "absent": sorted(self.absent),
        }
        write_atomic(self.meta, json.dumps(doc, indent=1).encode("utf-8"))

    def reset(self, index_etag: str | None) -> None:
        """Forget every small file: the bucket changed behind this machine's back."""
        if self.persist:
            shutil.rmtree(self.copies, ignore_errors=True)
        else:
            self.stale_copies = True
        self.index_etag = index_etag
        self.listed = False
        self.uncopied.clear()
        self.absent.clear()
        self.memory.clear()
        self.save()

    def learn(self, listed: Iterable[str]) -> None:
        """One listing of the prefix tells which small files exist (their bytes come on read)."""
        for path in listed:
            if not is_asset(path) and (path in self.absent or isinstance(self.get(path), Unknown)):
                self.absent.discard(path)
                self.uncopied.add(path)
        self.listed = True
        self.save()

    def get(self, path: str) -> bytes | Unknown | None:
        """The bytes of a small file, None when it is absent, ``UNKNOWN`` when not known."""
        if path in self.absent:
            return None
        if path in self.memory:
            return self.memory[path]
        if path not in self.uncopied and not self.stale_copies:
            with contextlib.suppress(FileNotFoundError):
                return self.copies.joinpath(*path.split("/")).read_bytes()
        if self.listed and path not in self.uncopied:
            return None
        return UNKNOWN

    def present(self, path: str) -> bool | None:
        """Whether a small file is in the bucket; None when not known."""
        if path in self.uncopied:
            return True
        found = self.get(path)
        return None if isinstance(found, Unknown) else found is not None

    def forget(self, path: str) -> None:
        """Before an upload or a delete: unknown bytes until it is known to have landed."""
        self.absent.discard(path)
        self.memory.pop(path, None)
        self.uncopied.add(path)
        self.save()

    def store(self, path: str, data: bytes) -> None:
        self.absent.discard(path)
        self.uncopied.discard(path)
        if self.persist:
            write_atomic(self.copies.joinpath(*path.split("/")), data)
        else:
            self.memory[path] = data
        self.save()

    def drop(self, path: str) -> None:
        if self.persist:
            self.copies.joinpath(*path.split("/")).unlink(missing_ok=True)
        self.memory.pop(path, None)
        self.uncopied.discard(path)
        self.absent.add(path)
        self.save()
