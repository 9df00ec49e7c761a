"""``mirrorsync verify``: check a mirror tree or bucket against its own ``index.json``, read-only.

It needs nothing but the root (a copied tree on a USB stick has no config), never writes, never
follows a symlink while walking, and never raises for what it finds: every finding is a
``Problem``. The fast mode stats each listed file and compares each release's ``SHA256SUMS``
with what ``index.json`` implies; ``full`` also re-hashes every listed file. In a bucket
(``verify_bucket``) one listing replaces the stats, and each object's sha256 metadata (one HEAD
each) is compared with the index; ``full`` downloads and hashes every object.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from mirrorsync.core.checksums import parse_sha256sums
from mirrorsync.core.layout import (
    CLIENT_LAYOUTS,
    CLIENT_ROOT_FILES,
    INDEX_PATH,
    PAGE_NAME,
    PART_SUFFIX,
    QUARANTINE_DIR,
    STATE_DIR,
    SUMS_NAME,
    check_relpath,
)
from mirrorsync.core.manifest import (
    parse_index,
    render_index,
    render_tag_sums,
)
from mirrorsync.core.model import IndexEntry
from mirrorsync.core.units import compact_timestamp
from mirrorsync.errors import MirrorsyncError, StateError, UnsafeName, describe_os_error
from mirrorsync.targets.local import LocalTree

if TYPE_CHECKING:
    from mirrorsync.targets.s3 import S3Target

ProblemKind = Literal["missing", "size", "sha256", "unlisted", "sums", "leftover", "index"]

BLOCK = 1 << 20
"""Bytes read and hashed per worker-thread hop in full mode."""

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


async def verify_tree(
    root: Path,
    *,
    full: bool = False,
    concurrency: int = 4,
    on_bytes: Callable[[int], None] = lambda _: None,
) -> VerifyReport:
    """Check the tree at ``root`` against its ``index.json``; with ``full``, re-hash every file.

    ``on_bytes`` is called on the event loop with each block's length while hashing.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    # Stats and directory listings are many small blocking calls: one worker thread does them all.
    scan = await asyncio.to_thread(_scan, LocalTree(root))
    problems = list(scan.problems)
    bytes_hashed = 0
    if full:
        limit = asyncio.Semaphore(concurrency)

        async def one(entry: IndexEntry, path: Path) -> None:
            def count(n: int) -> None:
                nonlocal bytes_hashed
                bytes_hashed += n
                on_bytes(n)

            async with limit:
                if (problem := await _check_hash(entry, path, on_bytes=count)) is not None:
                    problems.append(problem)

        async with asyncio.TaskGroup() as tg:
            for entry, path in scan.to_hash:
                tg.create_task(one(entry, path), name=entry.path)
    problems.sort(key=lambda p: (p.path, p.kind, p.detail))
    return VerifyReport(
        problems=tuple(problems),
        files_checked=scan.files_checked,
        bytes_hashed=bytes_hashed,
        resumable=tuple(scan.resumable),
    )


# -- the fast checks (synchronous, in one worker thread) -------------------------------------


@dataclass(slots=True, kw_only=True)
class _Scan:
    problems: list[Problem] = field(default_factory=list)
    resumable: list[str] = field(default_factory=list)
    files_checked: int = 0
    to_hash: list[tuple[IndexEntry, Path]] = field(default_factory=list)
    """Listed files present with their recorded size: what full mode hashes."""

    def add(self, path: str, kind: ProblemKind, detail: str) -> None:
        self.problems.append(Problem(path=path, kind=kind, detail=detail))


def _scan(tree: LocalTree) -> _Scan:
    scan = _Scan()
    entries = _load_entries(tree, scan)
    for entry in (entries or {}).values():
        _check_listed(tree, entry, scan)
    on_disk = sorted(_walk(tree.root, scan))
    if entries is not None:
        _check_sums(tree, entries, on_disk, scan)
    for rel in on_disk:
        if (kind := _classify(rel, listed=entries or {})) is not None:
            scan.add(rel, kind, _DETAILS[kind])
    if not (tree.state_dir.is_symlink() or tree.staging_dir.is_symlink()):
        for rel in sorted(_walk(tree.staging_dir, scan, prefix=f"{STATE_DIR}/staging/")):
            if _is_partial_download(tree, rel):
                scan.resumable.append(rel)  # the next sync resumes it, or sweeps it if unselected
            else:
                scan.add(rel, "leftover", "left in the staging area by an interrupted run")
    return scan


def _is_partial_download(tree: LocalTree, rel: str) -> bool:
    """A regular file (not a link) at ``<tag>/<name>.part`` below the staging area."""
    below = rel.removeprefix(f"{STATE_DIR}/staging/")
    if not below.endswith(PART_SUFFIX) or below.count("/") != 1:
        return False
    try:
        mode = tree.staging_dir.joinpath(*below.split("/")).lstat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode)


_DETAILS: Mapping[ProblemKind, str] = {
    "unlisted": "not listed in index.json",
    "leftover": "temporary file left by an interrupted write",
}


def _load_entries(tree: LocalTree, scan: _Scan) -> dict[str, IndexEntry] | None:
    """The index's entries with safe ``<tag>/<name>`` paths; None when there is no usable index."""
    try:
        data = tree.final_path(INDEX_PATH).read_bytes()
    except FileNotFoundError:
        scan.add(INDEX_PATH, "index", "index.json is missing")
        return None
    except OSError as e:
        scan.add(INDEX_PATH, "index", f"cannot read index.json ({describe_os_error(e)})")
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
        if path.count("/") != 1:
            scan.add(INDEX_PATH, "index", f"path in files is not <tag>/<name>: {path!r}")
            continue
        safe[path] = entry
    return safe


def _check_listed(tree: LocalTree, entry: IndexEntry, scan: _Scan) -> None:
    scan.files_checked += 1
    path = tree.final_path(entry.path)
    try:
        st = path.stat()
    except FileNotFoundError:
        scan.add(entry.path, "missing", "listed in index.json but absent")
        return
    except OSError as e:
        scan.add(
            entry.path, "missing", f"listed in index.json but unreadable: {describe_os_error(e)}"
        )
        return
    if not stat.S_ISREG(st.st_mode):
        scan.add(entry.path, "missing", "listed in index.json but not a regular file")
    elif st.st_size != entry.size:
        scan.add(entry.path, "size", f"{st.st_size} bytes, index.json records {entry.size} bytes")
    else:
        scan.to_hash.append((entry, path))


def _walk(top: Path, scan: _Scan, *, prefix: str = "") -> Iterator[str]:
    """``prefix`` + the ``/``-path of every non-directory below ``top``; symlinks are not followed.

    The root's state directory and client layouts are not entered.
    """
    stack = [(top, prefix)]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as it:
                found = list(it)
        except FileNotFoundError:
            continue
        except OSError as e:
            scan.add(
                rel.rstrip("/") or ".",
                "unlisted",
                f"cannot list this directory ({describe_os_error(e)}); its files were not checked",
            )
            continue
        for entry in found:
            if directory == top and not prefix and entry.name in {STATE_DIR, *CLIENT_LAYOUTS}:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((Path(entry.path), f"{rel}{entry.name}/"))
            else:
                yield f"{rel}{entry.name}"


def _classify(rel: str, *, listed: Mapping[str, IndexEntry]) -> ProblemKind | None:
    """What a file found outside the state directory is: fine (None), unlisted or leftover."""
    if rel in listed:
        return None
    *dirs, name = rel.split("/")
    if name.startswith(".") and name.endswith(".tmp"):
        return "leftover"  # write_atomic's ".<name>.<pid>.tmp" of a killed run
    if not dirs and name in ROOT_FILES:
        return None
    if len(dirs) == 1 and name in TAG_FILES:
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
        tag, _, name = rel.partition("/")
        if name == SUMS_NAME and tag not in by_tag:
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


def _check_sums(
    tree: LocalTree, entries: Mapping[str, IndexEntry], on_disk: Iterable[str], scan: _Scan
) -> None:
    """Each release's ``SHA256SUMS`` must be exactly what ``index.json`` implies."""
    for rel, expected in _expected_sums(entries, on_disk, scan):
        try:
            actual: bytes | None = tree.final_path(rel).read_bytes()
        except FileNotFoundError:
            actual = None
        except OSError as e:
            scan.add(rel, "sums", f"cannot read {SUMS_NAME} ({describe_os_error(e)})")
            continue
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


# -- full mode ----------------------------------------------------------------------------


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


async def _check_hash(
    entry: IndexEntry, path: Path, *, on_bytes: Callable[[int], None]
) -> Problem | None:
    try:
        hasher = _Hasher(await asyncio.to_thread(path.open, "rb"))
    except FileNotFoundError:
        return Problem(path=entry.path, kind="missing", detail="vanished while verifying")
    except OSError as e:
        return Problem(
            path=entry.path, kind="sha256", detail=f"cannot read ({describe_os_error(e)})"
        )
    try:
        while n := await asyncio.to_thread(hasher.step):
            on_bytes(n)
    except OSError as e:
        return Problem(
            path=entry.path, kind="sha256", detail=f"cannot read ({describe_os_error(e)})"
        )
    finally:
        hasher.f.close()
    size = hasher.size
    if size != entry.size:
        return Problem(
            path=entry.path,
            kind="size",
            detail=f"{size} bytes read, index.json records {entry.size} bytes",
        )
    if (actual := hasher.digest.hexdigest()) != entry.sha256:
        return Problem(
            path=entry.path,
            kind="sha256",
            detail=f"sha256 is {actual}, index.json records {entry.sha256}",
        )
    return None


# -- a bucket ----------------------------------------------------------------------------------


async def verify_bucket(
    target: S3Target,
    *,
    full: bool = False,
    concurrency: int = 8,
    on_bytes: Callable[[int], None] = lambda _: None,
) -> VerifyReport:
    """Check the bucket mirror against its ``index.json``: a listing, one HEAD per listed object
    (its sha256 metadata), each release's ``SHA256SUMS``; with ``full``, every object's bytes.

    Multipart uploads that killed runs left below the prefix are reported as leftovers (the
    next sync aborts them).
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    scan = _Scan()
    hashed = [0]

    def count(n: int) -> None:
        hashed[0] += n
        on_bytes(n)

    async with target.connect():
        data, _ = await target.get_object(INDEX_PATH)
        entries = _parse_entries(data, scan)
        listing = await target.listing()
        present = [e for e in (entries or {}).values() if _listed_size_ok(e, listing, scan)]
        limit = asyncio.Semaphore(concurrency)

        async def check(entry: IndexEntry) -> None:
            async with limit:
                problem = await _check_metadata(target, entry)
                if problem is None and full:
                    problem = await _check_bytes(target, entry, on_bytes=count)
            if problem is not None:
                scan.problems.append(problem)

        try:
            async with asyncio.TaskGroup() as tg:
                for entry in present:
                    tg.create_task(check(entry), name=entry.path)
        except* MirrorsyncError as group:  # the bucket failed us (access, network): one error
            raise group.exceptions[0] from None
        await _check_bucket_rest(target, entries, listing, scan)
    scan.problems.sort(key=lambda p: (p.path, p.kind, p.detail))
    return VerifyReport(
        problems=tuple(scan.problems), files_checked=scan.files_checked, bytes_hashed=hashed[0]
    )


def _parse_entries(data: bytes | None, scan: _Scan) -> dict[str, IndexEntry] | None:
    if data is None:
        scan.add(INDEX_PATH, "index", "index.json is missing")
        return None
    try:
        entries = parse_index(data)
    except StateError as e:
        scan.add(INDEX_PATH, "index", str(e))
        return None
    return _safe_entries(entries, scan)


def _listed_size_ok(entry: IndexEntry, listing: Mapping[str, int], scan: _Scan) -> bool:
    scan.files_checked += 1
    size = listing.get(entry.path)
    if size is None:
        scan.add(entry.path, "missing", "listed in index.json but absent from the bucket")
        return False
    if size != entry.size:
        scan.add(entry.path, "size", f"{size} bytes, index.json records {entry.size} bytes")
        return False
    return True


async def _check_metadata(target: S3Target, entry: IndexEntry) -> Problem | None:
    head = await target.head(entry.path)
    if head is None:
        return Problem(path=entry.path, kind="missing", detail="vanished while verifying")
    recorded = head[1]
    if recorded is None:
        detail = "the object carries no sha256 metadata"
    elif recorded != entry.sha256:
        detail = f"sha256 metadata is {recorded}, index.json records {entry.sha256}"
    else:
        return None
    return Problem(path=entry.path, kind="sha256", detail=detail)


async def _check_bytes(
    target: S3Target, entry: IndexEntry, *, on_bytes: Callable[[int], None]
) -> Problem | None:
    hashed = await target.hash_object(entry.path, on_bytes=on_bytes)
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


async def _check_bucket_rest(
    target: S3Target,
    entries: Mapping[str, IndexEntry] | None,
    listing: Mapping[str, int],
    scan: _Scan,
) -> None:
    """Checksum lists, objects the index does not explain, and unfinished uploads."""
    if entries is not None:
        await _check_bucket_sums(target, entries, listing, scan)
    for rel in sorted(listing):
        if (kind := _classify(rel, listed=entries or {})) is not None:
            scan.add(rel, kind, _DETAILS[kind])
    for key, _ in await target.pending_uploads():
        rel = target.relpath(key) or key
        scan.add(rel, "leftover", "a multipart upload an interrupted run left unfinished")


async def _check_bucket_sums(
    target: S3Target, entries: Mapping[str, IndexEntry], listing: Mapping[str, int], scan: _Scan
) -> None:
    for rel, expected in _expected_sums(entries, listing, scan):
        actual, _ = await target.get_object(rel) if rel in listing else (None, None)
        _compare_sums(rel, expected, actual, scan)


# -- repair ------------------------------------------------------------------------------------


def prepare_repair(root: Path, report: VerifyReport, *, stamp: str) -> list[str]:
    """Set aside what a sync must rebuild; returns what was done, one line per action.

    Corrupt files (wrong size or sha256) move to ``.mirrorsync/quarantine/<stamp>/``, never
    deleted, so that a sync fetches them again; wrong ``SHA256SUMS`` files are removed (a sync
    regenerates them from the index); leftovers of killed runs are removed. Unlisted files stay:
    they may be the operator's.
    """
    tree = LocalTree(root)
    actions: list[str] = []
    quarantine = tree.state_dir / QUARANTINE_DIR / stamp
    for problem in report.problems:
        if problem.kind in ("size", "sha256"):
            source = tree.final_path(problem.path)
            if source.is_file():
                target = quarantine.joinpath(*problem.path.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                source.replace(target)
                actions.append(f"quarantined {problem.path} in {target.parent}")
        elif problem.kind == "sums":
            tree.final_path(problem.path).unlink(missing_ok=True)
            actions.append(f"removed {problem.path} (it is rewritten from the index)")
        elif problem.kind == "leftover":
            path = root.joinpath(*problem.path.split("/"))
            if path.is_file() and not path.is_symlink():
                path.unlink()
                actions.append(f"removed leftover {problem.path}")
    return actions


async def prepare_bucket_repair(
    target: S3Target, report: VerifyReport, *, now: datetime, generator: str
) -> list[str]:
    """Set aside what a sync must rebuild in a bucket; returns what was done, one per action.

    A sync trusts the bucket's ``index.json``, so the entries of missing or damaged objects leave
    the index (a sync then fetches and uploads them again); damaged objects move below
    ``.mirrorsync/quarantine/<stamp>/`` first, never deleted; wrong ``SHA256SUMS`` go (a sync
    rewrites them). Unlisted objects stay: they may be the operator's.
    """
    actions: list[str] = []
    stamp = compact_timestamp(now)
    bad = {p.path for p in report.problems if p.kind in ("missing", "size", "sha256")}
    async with target.connect():
        await target.prepare()
        async with target.lock(now=now):
            for problem in report.problems:
                if problem.kind in ("size", "sha256") and problem.path != INDEX_PATH:
                    moved = await target.quarantine(problem.path, stamp=stamp)
                    actions.append(f"quarantined {problem.path} as {moved}")
                elif problem.kind == "sums":
                    await target.delete(problem.path)
                    actions.append(f"removed {problem.path} (it is rewritten from the index)")
            data = await target.read(INDEX_PATH)
            if data is None or not bad:
                return actions
            doc = json.loads(data)
            kept = [e for e in parse_index(data).values() if e.path not in bad]
            upstream = doc.get("upstream") if isinstance(doc.get("upstream"), dict) else {}
            index = render_index(kept, generator=generator, now=now, upstream=upstream)
            await target.write(INDEX_PATH, index)
            actions.append(f"dropped {len(bad)} entr(ies) from index.json to fetch them again")
    return actions
