"""``mirrorsync verify`` and ``--repair``'s first step: check a mirror against its own
``index.json``, read-only, over the ``Target`` read side, the same for a directory and a bucket.

It needs nothing but the root (a copied tree on a USB stick has no config), never writes, and
never raises for what it finds: every finding is a ``Problem``. The fast mode looks at each listed
file's size (a directory stats it, a bucket answers from one listing), compares the sha256 each
file carries where the target keeps one (a bucket's metadata, one HEAD each) and each release's
``SHA256SUMS`` with what ``index.json`` implies, and accounts for every other file; ``full`` also
re-hashes every listed file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mirrorsync.core.checksums import parse_sha256sums
from mirrorsync.core.layout import (
    CLIENT_ROOT_FILES,
    INDEX_PATH,
    PAGE_NAME,
    SUMS_NAME,
    check_relpath,
    release_dir,
)
from mirrorsync.core.manifest import parse_index, render_tag_sums, shape_ok
from mirrorsync.core.model import IndexEntry
from mirrorsync.errors import LockHeld, MirrorsyncError, StateError, UnsafeName
from mirrorsync.targets.base import (
    BLOCK,
    Hashed,
    HashesInBulk,
    Inventory,
    Leftovers,
    Target,
    Unreadable,
)

__all__ = ["BLOCK", "Problem", "VerifyReport", "verify", "verify_document"]

ProblemKind = Literal["missing", "size", "sha256", "unlisted", "sums", "leftover", "index"]

ROOT_FILES = frozenset({INDEX_PATH, *CLIENT_ROOT_FILES})
"""Files the root may hold besides releases: the manifest and generated client files."""
TAG_FILES = frozenset({SUMS_NAME, PAGE_NAME})
"""Files a release directory may hold besides its assets."""
_MAX_NAMES = 3
"""Names quoted per category in a ``sums`` detail before it says "and N more"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One way the tree differs from its manifest."""

    path: str
    """Below the root, ``/``-separated (``index.json`` for problems of the manifest itself)."""
    kind: ProblemKind
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """The outcome of one verification."""

    problems: tuple[Problem, ...]
    """Sorted by (path, kind)."""
    files_checked: int
    """Listed files looked at (stat, and in full mode hashed)."""
    bytes_hashed: int
    resumable: tuple[str, ...] = ()
    """Partial downloads in the staging area: state for the next sync to resume, not a problem."""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_document(report: VerifyReport) -> dict[str, Any]:
    """The ``verify --json`` document."""
    return {
        "status": "ok" if report.ok else "problems",
        "files_checked": report.files_checked,
        "bytes_hashed": report.bytes_hashed,
        "problems": [{"path": p.path, "kind": p.kind, "detail": p.detail} for p in report.problems],
        "resumable": list(report.resumable),
    }


async def verify(
    target: Target,
    *,
    full: bool = False,
    concurrency: int | None = None,
    on_bytes: Callable[[int], None] = lambda _: None,
    on_total: Callable[[int], None] = lambda _: None,
) -> VerifyReport:
    """Check ``target`` against its ``index.json``; with ``full``, re-hash every listed file.

    The index and each release's ``SHA256SUMS`` are read fresh; every listed file must have its
    recorded size (and, where the target keeps one, its recorded sha256); every other file must
    be one the mirror writes. ``on_bytes`` is called on the event loop with each block's length
    while hashing, after ``on_total`` with the bytes there are to hash; at most ``concurrency``
    (default: the target's ``parallel_reads``) files are read at once. What the target cannot
    answer at all (a bucket refusing access) is raised; everything else is a ``Problem``.
    """
    limit = target.parallel_reads if concurrency is None else concurrency
    if limit < 1:
        raise ValueError(f"concurrency must be at least 1, got {limit}")
    scan = _Scan()
    async with target.connect():
        if (holder := await target.running(now=datetime.now(UTC))) is not None:
            # Mid-run, files published so far look unlisted and the index stale: a false alarm.
            raise LockHeld(
                f"a sync is changing this mirror right now ({holder}); nothing was checked",
                hint="verify again when it has finished",
            )
        data = await _read(target, INDEX_PATH)
        if full and not target.keeps_sha256 and isinstance(target, HashesInBulk):
            inventory = await target.inventory()
            entries = await _hash_in_bulk(
                target,
                target,
                data,
                scan,
                found=inventory.files,
                workers=limit,
                on_bytes=on_bytes,
                on_total=on_total,
            )
        else:
            entries = _parse_entries(data, scan)
            listed = entries or {}
            inventory = await target.inventory()
            sizes = await target.sizes(listed)
            present = [e for e in listed.values() if _size_ok(e, sizes[e.path], scan)]
            if full:
                on_total(sum(e.size for e in present))
            if target.keeps_sha256 or full:
                await _check_files(target, present, scan, full=full, limit=limit, on_bytes=on_bytes)
            if entries is not None:
                await _check_sums(target, entries, inventory.files, scan)
        listed = entries or {}
        leftovers = await target.leftovers()
    _account(inventory, leftovers, listed=listed, scan=scan)
    scan.problems.sort(key=lambda p: (p.path, p.kind, p.detail))
    return VerifyReport(
        problems=tuple(scan.problems),
        files_checked=scan.files_checked,
        bytes_hashed=scan.bytes_hashed,
        resumable=leftovers.resumable,
    )


@dataclass(slots=True, kw_only=True)
class _Scan:
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    bytes_hashed: int = 0

    def add(self, path: str, kind: ProblemKind, detail: str) -> None:
        self.problems.append(Problem(path=path, kind=kind, detail=detail))


_DETAILS: Mapping[ProblemKind, str] = {
    "unlisted": "not listed in index.json",
    "leftover": "temporary file left by an interrupted write",
}


def _account(
    inventory: Inventory, leftovers: Leftovers, *, listed: Mapping[str, IndexEntry], scan: _Scan
) -> None:
    """Every file the index does not list must be one the mirror writes; leftovers are named."""
    for rel in sorted(inventory.files):
        if (kind := _classify(rel, listed=listed)) is not None:
            scan.add(rel, kind, _DETAILS[kind])
    for rel, why in inventory.unreadable.items():
        if rel not in listed:  # a listed file is reported by its own check
            scan.add(rel, "unlisted", why)
    for rel, why in leftovers.unreadable.items():
        scan.add(rel, "unlisted", why)
    for rel, what in leftovers.unfinished.items():
        scan.add(rel, "leftover", what)


async def _read(target: Target, path: str) -> bytes | Unreadable | None:
    """The file's bytes read fresh, None when absent, or why it could not be read."""
    try:
        return await target.read(path, fresh=True)
    except Unreadable as e:
        return e


def _parse_entries(data: bytes | Unreadable | None, scan: _Scan) -> dict[str, IndexEntry] | None:
    """The index's entries with safe ``<tag>/<name>`` paths; None when there is no usable index."""
    if data is None:
        scan.add(INDEX_PATH, "index", "index.json is missing")
        return None
    if isinstance(data, Unreadable):
        scan.add(INDEX_PATH, "index", f"cannot read index.json ({data.reason})")
        return None
    try:
        entries = parse_index(data)
    except StateError as e:
        scan.add(INDEX_PATH, "index", str(e))
        return None
    return _safe_entries(entries, scan)


def _safe_entries(entries: Mapping[str, IndexEntry], scan: _Scan) -> dict[str, IndexEntry]:
    """The entries whose paths are safe ``<tag>/<name>`` paths; the others become problems."""
    safe: dict[str, IndexEntry] = {}
    for path, entry in entries.items():
        # A copied tree is untrusted input too: nothing it names may lead outside the root.
        try:
            check_relpath(path)
        except UnsafeName as e:
            scan.add(INDEX_PATH, "index", f"unsafe path in files: {e}")
            continue
        if not shape_ok(path, entry.kind):
            scan.add(INDEX_PATH, "index", f"path in files is not <tag>/<name>: {path!r}")
            continue
        safe[path] = entry
    return safe


def _size_ok(entry: IndexEntry, size: int | str, scan: _Scan) -> bool:
    """Whether a listed file is there with its recorded size; a problem else."""
    scan.files_checked += 1
    if isinstance(size, str):
        scan.add(entry.path, "missing", f"listed in index.json but {size}")
        return False
    if size != entry.size:
        scan.add(entry.path, "size", f"{size} bytes, index.json records {entry.size} bytes")
        return False
    return True


async def _check_files(
    target: Target,
    entries: Iterable[IndexEntry],
    scan: _Scan,
    *,
    full: bool,
    limit: int,
    on_bytes: Callable[[int], None],
) -> None:
    """Each file's recorded sha256 (where the target keeps one), then with ``full`` its bytes."""
    slots = asyncio.Semaphore(limit)

    def count(n: int) -> None:
        scan.bytes_hashed += n
        on_bytes(n)

    async def check(entry: IndexEntry) -> None:
        async with slots:
            problem = await _check_recorded(target, entry) if target.keeps_sha256 else None
            if problem is None and full:
                problem = await _check_bytes(target, entry, on_bytes=count)
        if problem is not None:
            scan.problems.append(problem)

    try:
        async with asyncio.TaskGroup() as tg:
            for entry in entries:
                tg.create_task(check(entry), name=entry.path)
    except* MirrorsyncError as group:  # the target failed us (access, network): one error
        raise group.exceptions[0] from None


async def _hash_in_bulk(
    target: Target,
    bulk: HashesInBulk,
    data: bytes | Unreadable | None,
    scan: _Scan,
    *,
    found: Iterable[str],
    workers: int,
    on_bytes: Callable[[int], None],
    on_total: Callable[[int], None],
) -> dict[str, IndexEntry] | None:
    """``full`` on a target that hashes in threads or processes of its own, right after its
    ``inventory`` (which ``found`` the files): the regular files up to ``AHEAD_MAX`` the walk
    found in release directories are hashed while the index is parsed and each release's
    ``SHA256SUMS`` checked (both cores busy), and each listed file that is there with its size
    is then judged by its outcome; a listed file the walk did not hash (a link, a large file) is
    hashed afterwards. The entries of the index, as ``_parse_entries`` returns them."""
    walked = bulk.walked()
    ahead = _Ahead(on_bytes)
    files = [(p, n) for p, n in sorted(walked.items()) if n <= AHEAD_MAX and _may_be_listed(p)]
    hashing = asyncio.ensure_future(
        bulk.hash_files(files, workers=workers, found=ahead.found, on_bytes=ahead.count)
    )
    try:
        entries = await asyncio.to_thread(_parse_entries, data, scan)
        listed = entries or {}
        sizes = await target.sizes(listed)
        present = [e for e in listed.values() if _size_ok(e, sizes[e.path], scan)]
        on_total(sum(e.size for e in present))
        ahead.tell()
        if entries is not None:
            await _check_sums(target, entries, found, scan)
        await hashing
        rest = [(e.path, e.size) for e in present if e.path not in ahead.outcomes]
        if rest:
            await bulk.hash_files(rest, workers=workers, found=ahead.found, on_bytes=on_bytes)
    finally:
        await _stopped(hashing)
    for entry in present:
        hashed = ahead.outcomes[entry.path]
        if isinstance(hashed, tuple):
            scan.bytes_hashed += hashed[0]
        if (problem := _bytes_problem(entry, hashed)) is not None:
            scan.problems.append(problem)
    return entries


class _Ahead:
    """The outcomes of hashing ahead of the index; the threads' byte counts held back until the
    total has been told, then told in the same steps, and from then on as they come."""

    def __init__(self, on_bytes: Callable[[int], None]) -> None:
        self.outcomes: dict[str, Hashed] = {}
        self._on_bytes = on_bytes
        self._held: list[int] | None = []

    def found(self, path: str, hashed: Hashed) -> None:
        self.outcomes[path] = hashed

    def count(self, n: int) -> None:
        if self._held is None:
            self._on_bytes(n)
        else:
            self._held.append(n)

    def tell(self) -> None:
        """Tell the bytes read so far, step by step; from now on, tell them as they are read."""
        held, self._held = self._held or [], None
        for n in held:
            self._on_bytes(n)


AHEAD_MAX = 8 << 20
"""The largest file hashed ahead of the index: the overlap matters for many small files, and a
large file that turns out to be unlisted (an operator's) is then never read for nothing; a
larger listed file is hashed once the index is known, at a cost of its share of ~0.3 s."""


def _may_be_listed(path: str) -> bool:
    """Whether the index may list ``path``: a file in a release directory, not one the mirror
    writes there itself, with a name the index could hold (an operator's file named with a
    control character is unlisted, never hashed: it would fail the whole verify)."""
    if release_dir(path) is None or path.rpartition("/")[2] in TAG_FILES:
        return False
    try:
        check_relpath(path)
    except UnsafeName:
        return False
    return True


async def _stopped(job: asyncio.Future[None]) -> None:
    """``job`` cancelled if it is still running, and waited for (its threads have stopped)."""
    if not job.done():
        job.cancel()
    while not job.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([job])
    if not job.cancelled():
        job.exception()  # retrieved: a failure was raised where it was awaited


async def _check_recorded(target: Target, entry: IndexEntry) -> Problem | None:
    recorded = await target.recorded(entry.path)
    if recorded is None:
        return Problem(path=entry.path, kind="missing", detail="vanished while verifying")
    sha256 = recorded[1]
    if sha256 is None:
        detail = "the object carries no sha256 metadata"
    elif sha256 != entry.sha256:
        detail = f"sha256 metadata is {sha256}, index.json records {entry.sha256}"
    else:
        return None
    return Problem(path=entry.path, kind="sha256", detail=detail)


async def _check_bytes(
    target: Target, entry: IndexEntry, *, on_bytes: Callable[[int], None]
) -> Problem | None:
    try:
        hashed: Hashed = await target.hash(entry.path, on_bytes=on_bytes)
    except Unreadable as e:
        hashed = e
    return _bytes_problem(entry, hashed)


def _bytes_problem(entry: IndexEntry, hashed: Hashed) -> Problem | None:
    """What re-reading a listed file found wrong with it, if anything."""
    if isinstance(hashed, Unreadable):
        return Problem(path=entry.path, kind="sha256", detail=f"cannot read ({hashed.reason})")
    if hashed is None:
        return Problem(path=entry.path, kind="missing", detail="vanished while verifying")
    size, actual = hashed
    if size != entry.size:
        detail = f"{size} bytes read, index.json records {entry.size} bytes"
        return Problem(path=entry.path, kind="size", detail=detail)
    if actual != entry.sha256:
        detail = f"sha256 is {actual}, index.json records {entry.sha256}"
        return Problem(path=entry.path, kind="sha256", detail=detail)
    return None


def _classify(rel: str, *, listed: Mapping[str, IndexEntry]) -> ProblemKind | None:
    """What a file found outside the state directory is: fine (None), unlisted or leftover."""
    if rel in listed:
        return None
    *dirs, name = rel.split("/")
    if name.startswith(".") and name.endswith(".tmp"):
        return "leftover"  # write_atomic's ".<name>.<pid>.tmp" of a killed run
    if not dirs and name in ROOT_FILES:
        return None
    if name in TAG_FILES and release_dir(rel) is not None:
        return None
    return "unlisted"


def _expected_sums(
    entries: Mapping[str, IndexEntry], present: Iterable[str], scan: _Scan
) -> Iterator[tuple[str, bytes]]:
    """(``<tag>/SHA256SUMS``, the bytes ``index.json`` implies) for each listed release.

    Records a problem for a ``SHA256SUMS`` among ``present`` whose release lists no file.
    """
    by_tag: dict[str, list[IndexEntry]] = defaultdict(list)
    for entry in entries.values():
        by_tag[entry.tag].append(entry)
    for rel in sorted(present):
        tag, _, name = rel.rpartition("/")
        if name == SUMS_NAME and release_dir(rel) is not None and tag not in by_tag:
            scan.add(rel, "sums", "index.json lists no file of this release")
    for tag, tag_entries in sorted(by_tag.items()):
        try:
            yield f"{tag}/{SUMS_NAME}", render_tag_sums(tag_entries)[tag]
        except ValueError as e:
            scan.add(INDEX_PATH, "index", f"release {tag}: {e}")


def _compare_sums(rel: str, expected: bytes, actual: bytes | None, scan: _Scan) -> None:
    if actual is None:
        scan.add(rel, "sums", f"{SUMS_NAME} is missing")
    elif actual != expected:
        scan.add(rel, "sums", _sums_difference(expected, actual))


async def _check_sums(
    target: Target, entries: Mapping[str, IndexEntry], found: Iterable[str], scan: _Scan
) -> None:
    """Each release's ``SHA256SUMS`` must be exactly what ``index.json`` implies."""
    for rel, expected in _expected_sums(entries, found, scan):
        actual = await _read(target, rel)
        if isinstance(actual, Unreadable):
            scan.add(rel, "sums", f"cannot read {SUMS_NAME} ({actual.reason})")
        else:
            _compare_sums(rel, expected, actual, scan)


def _sums_difference(expected: bytes, actual: bytes) -> str:
    try:
        found = parse_sha256sums(actual.decode("utf-8", errors="replace"))
    except ValueError as e:
        return str(e)
    wanted = parse_sha256sums(expected.decode("utf-8"))
    parts = []
    if missing := sorted(wanted.keys() - found.keys()):
        parts.append(f"no line for {_names(missing)}")
    if extra := sorted(found.keys() - wanted.keys()):
        parts.append(f"lines for files index.json does not list: {_names(extra)}")
    if wrong := sorted(n for n in wanted.keys() & found.keys() if wanted[n] != found[n]):
        parts.append(f"sha256 differs from index.json for {_names(wrong)}")
    return "; ".join(parts) or "same sums, but not in canonical form (order, spacing, line ends)"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    more = len(names) - _MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown
