"""Render and parse the mirror's indexes: ``index.json``, per-release ``SHA256SUMS``, status."""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from mirrorsync.config.records import PublishConfig
from mirrorsync.core.checksums import SHA256_HEX, render_sha256sums
from mirrorsync.core.jsontext import iter_rows
from mirrorsync.core.layout import INDEX_PATH, SUMS_NAME, UV_DIR, check_relpath, release_dir
from mirrorsync.core.model import Asset, IndexEntry, Kind, UvArchive
from mirrorsync.core.units import timestamp
from mirrorsync.errors import StateError, UnsafeName

FORMAT = 1
UV_LIST = "uv"
"""The key of ``index.json``'s list of uv archives (``bundle.uv``), beside ``files``."""
T = TypeVar("T")


def entry_for(asset: Asset, *, sha256: str, size: int) -> IndexEntry:
    """The index entry of an asset just mirrored (or adopted) with this sha256 and size."""
    if sha256 == asset.sha256:
        sha256 = asset.sha256  # the expected digest's string, not a second copy of it
    p = asset.parsed
    if isinstance(p, UvArchive):
        return IndexEntry(
            path=asset.path,
            size=size,
            sha256=sha256,
            verified=asset.sha256 is not None and asset.upstream.verified,
            python="",
            platform=p.platform,
            flavor="",
            build="",
            variant="",
            upstream_id=asset.upstream.id,
            upstream_updated_at=asset.upstream.updated_at,
            kind="uv",
        )
    return IndexEntry(
        path=asset.path,
        size=size,
        sha256=sha256,
        verified=asset.sha256 is not None and asset.upstream.verified,
        python=p.python,
        platform=p.platform,
        flavor=p.flavor,
        build=p.build,
        variant=p.variant,
        linkage=p.linkage,
        upstream_id=asset.upstream.id,
        upstream_updated_at=asset.upstream.updated_at,
    )


def is_current(entry: IndexEntry, asset: Asset) -> bool:
    """Whether a mirrored file is still what upstream publishes under that name.

    With an upstream checksum, size and sha256 decide; without one, size and the upstream
    asset's identity (id, updated_at) do. A size upstream does not list (Astral's index) is
    not compared: the sha256 decides alone.
    """
    if asset.size is not None and entry.size != asset.size:
        return False
    if asset.sha256 is not None:
        return entry.sha256 == asset.sha256
    return (
        asset.upstream.id is not None
        and entry.upstream_id == asset.upstream.id
        and entry.upstream_updated_at == asset.upstream.updated_at
    )


def _entry_json(e: IndexEntry) -> dict[str, Any]:
    if e.kind == "uv":
        return {
            "kind": e.kind,
            "path": e.path,
            "size": e.size,
            "sha256": e.sha256,
            "verified": e.verified,
            "version": e.tag.rsplit("/", 1)[-1],
            "platform": e.platform,
            "tag": e.tag,
            "upstream_id": e.upstream_id,
            "upstream_updated_at": e.upstream_updated_at,
        }
    return {
        "path": e.path,
        "size": e.size,
        "sha256": e.sha256,
        "verified": e.verified,
        "python": e.python,
        "platform": e.platform,
        "flavor": e.flavor,
        "build": e.build,
        "variant": e.variant,
        "linkage": e.linkage,
        "tag": e.tag,
        "upstream_id": e.upstream_id,
        "upstream_updated_at": e.upstream_updated_at,
    }


def render_index(
    entries: Iterable[IndexEntry],
    *,
    generator: str,
    now: datetime,
    upstream: Mapping[str, str],
) -> bytes:
    """``index.json``: every managed file that is present, sorted by path: the Pythons in
    ``files``, the uv archives of ``bundle.uv`` (when there are any) in ``uv`` (a reader that
    only knows ``files`` sees a mirror of Pythons, as before).

    The text is what ``json.dumps(doc, indent=1, ensure_ascii=False)`` gives for the whole
    document, the Pythons written one entry at a time: they are never all held as JSON objects
    and text at once besides the result (a whole history's index is ~500 bytes per file).
    """
    return b"".join(render_index_chunks(entries, generator=generator, now=now, upstream=upstream))


INDEX_CHUNK = 256 << 10
"""Bytes of ``index.json`` text rendered ahead of their write (``render_index_chunks``)."""


def render_index_chunks(
    entries: Iterable[IndexEntry],
    *,
    generator: str,
    now: datetime,
    upstream: Mapping[str, str],
) -> Iterator[bytes]:
    """``render_index``'s bytes in pieces of about ``INDEX_CHUNK``, each rendered when it is
    asked for: a target that writes them as they come never holds the index whole (~500 bytes
    per file of a whole history)."""
    ordered = sorted(entries, key=lambda e: e.path)
    head: dict[str, Any] = {
        "format": FORMAT,
        "generator": generator,
        "updated_at": timestamp(now),
        "upstream": dict(upstream),
        "files": [],
    }
    if uv := [_entry_json(e) for e in ordered if e.kind == "uv"]:
        head[UV_LIST] = uv
    pythons = (_entry_json(e) for e in ordered if e.kind == "python")
    pending: list[bytes] = []
    held = 0
    for piece in iter_rows(head, {"files": pythons}, ensure_ascii=False):
        data = piece.encode("utf-8")
        pending.append(data)
        held += len(data)
        if held >= INDEX_CHUNK:
            yield b"".join(pending)
            pending, held = [], 0
    pending.append(b"\n")
    yield b"".join(pending)


def _require(d: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    value = d.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StateError(f"{where}: {key!r} is missing or not of type {kind.__name__}")
    return value


class _Bad:
    """An object of the index that looked like an entry and is not a valid one: parsed again
    where its place is known, so that the error names it."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw


def _entry_hook(obj: dict[str, Any]) -> object:
    """``json`` object hook: an object with a ``path`` or a ``sha256`` and no ``kind`` (a
    Python's entry; nothing else in the index has either) becomes its ``IndexEntry`` as soon as
    it is parsed, so a whole history's entries are never all held as JSON objects."""
    if "files" in obj or "kind" in obj or ("path" not in obj and "sha256" not in obj):
        return obj
    try:
        return _parse_entry(obj, "")
    except StateError:
        return _Bad(obj)


def _settle(item: object, where: str, kind: Kind) -> IndexEntry:
    """The entry ``item`` stands for at ``where`` in the list of ``kind``; ``StateError`` else."""
    if isinstance(item, IndexEntry):
        if kind == "python":
            return item
        # An entry of the uv list written without its "kind": what _parse_entry makes of it.
        return replace(item, python="", flavor="", build="", variant="", linkage=None, kind=kind)
    return _parse_entry(item.raw if isinstance(item, _Bad) else item, where, kind=kind)


def parse_index(data: bytes, *, origin: str = INDEX_PATH) -> dict[str, IndexEntry]:
    """The entries of an ``index.json`` by path; ``StateError`` when it is malformed."""
    try:
        doc = json.loads(data, object_hook=_entry_hook)
    except ValueError as e:
        raise StateError(f"{origin}: not valid JSON ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StateError(f"{origin}: not a mirrorsync index of format {FORMAT}")
    files = doc.get("files")
    if not isinstance(files, list):
        raise StateError(f"{origin}: 'files' is not a list")
    uv = doc.get(UV_LIST, [])
    if not isinstance(uv, list):
        raise StateError(f"{origin}: {UV_LIST!r} is not a list")
    entries: dict[str, IndexEntry] = {}
    for i, item in enumerate(files):
        entry = _settle(item, f"{origin}: files[{i}]", "python")
        entries[entry.path] = entry
    for i, item in enumerate(uv):
        where = f"{origin}: {UV_LIST}[{i}]"
        entry = _settle(item, where, "uv")
        if not shape_ok(entry.path, "uv"):
            raise StateError(f"{where}: a uv path is not {UV_DIR}/<version>/<name>: {entry.path!r}")
        entries[entry.path] = entry
    return entries


def _parse_entry(raw: object, where: str, *, kind: Kind = "python") -> IndexEntry:
    if kind == "python" and type(raw) is dict and (entry := _plain_entry(raw)) is not None:
        return entry
    return _checked_entry(raw, where, kind=kind)


def _checked_entry(raw: object, where: str, *, kind: Kind) -> IndexEntry:
    """The entry of ``raw``, field by field, or ``StateError`` naming what is wrong."""
    if not isinstance(raw, dict):
        raise StateError(f"{where}: not an object")
    sha = _require(raw, "sha256", str, where)
    if SHA256_HEX.fullmatch(sha) is None:
        raise StateError(f"{where}: malformed sha256 {sha!r}")
    upstream_id = raw.get("upstream_id")
    updated = raw.get("upstream_updated_at")
    linkage = raw.get("linkage")
    python_fields = ("python", "flavor", "build", "variant")
    # The descriptive fields repeat across the files (a few dozen versions, platforms, builds):
    # interned, each distinct value is held once, not once per file.
    return IndexEntry(
        path=_require(raw, "path", str, where),
        size=_require(raw, "size", int, where),
        sha256=sha,
        verified=_require(raw, "verified", bool, where),
        platform=_shared(_require(raw, "platform", str, where)),
        **{k: "" if kind == "uv" else _shared(_require(raw, k, str, where)) for k in python_fields},
        linkage=_shared(linkage) if isinstance(linkage, str) and kind == "python" else None,
        upstream_id=upstream_id if isinstance(upstream_id, int) else None,
        upstream_updated_at=_shared(updated) if isinstance(updated, str) else None,
        kind=kind,
    )


_shared = sys.intern


def _plain_entry(raw: dict[str, Any]) -> IndexEntry | None:
    """A Python file's entry as ``_checked_entry`` makes it, when every field has its type at
    a glance (an index mirrorsync wrote); None for anything else, which ``_checked_entry`` then
    checks field by field to say what is wrong. A whole history's index is 28,561 of these: the
    main process of ``verify --full`` parses it while the hashing processes wait for it."""
    get = raw.get
    path, size, sha, verified = get("path"), get("size"), get("sha256"), get("verified")
    python, platform, flavor = get("python"), get("platform"), get("flavor")
    build, variant, linkage = get("build"), get("variant"), get("linkage")
    upstream_id, updated = get("upstream_id"), get("upstream_updated_at")
    if (
        type(path) is not str
        or type(size) is not int
        or type(sha) is not str
        or type(verified) is not bool
        or type(python) is not str
        or type(platform) is not str
        or type(flavor) is not str
        or type(build) is not str
        or type(variant) is not str
        or (linkage is not None and type(linkage) is not str)
        or (upstream_id is not None and type(upstream_id) is not int)
        or (updated is not None and type(updated) is not str)
        or SHA256_HEX.fullmatch(sha) is None
    ):
        return None
    return IndexEntry(
        path=path,
        size=size,
        sha256=sha,
        verified=verified,
        python=_shared(python),
        platform=_shared(platform),
        flavor=_shared(flavor),
        build=_shared(build),
        variant=_shared(variant),
        linkage=None if linkage is None else _shared(linkage),
        upstream_id=upstream_id,
        upstream_updated_at=None if updated is None else _shared(updated),
    )


def safe_entries(entries: dict[str, IndexEntry]) -> dict[str, IndexEntry]:
    """``entries`` if every path is a safe ``<tag>/<name>``; ``StateError`` (a damaged index) else.

    The index is read back from disk, so its paths are as untrusted as upstream's names: one that
    escapes the root would otherwise fail every later run when it is stat'ed or pruned.
    """
    for path, entry in entries.items():
        try:
            check_relpath(path)
        except UnsafeName as e:
            raise StateError(f"{INDEX_PATH}: unsafe path in files: {e}") from e
        if not shape_ok(path, entry.kind):
            raise StateError(f"{INDEX_PATH}: a path in files is not <tag>/<name>: {path!r}")
    return entries


def shape_ok(path: str, kind: Kind) -> bool:
    """Whether an entry's path has its kind's shape: ``<tag>/<name>`` for a Python,
    ``uv/<version>/<name>`` for a uv archive."""
    where = release_dir(path)
    return where is not None and where.startswith(f"{UV_DIR}/") == (kind == "uv")


def tag_of(path: str) -> str:
    """The release directory of a ``<tag>/<name>`` (or ``uv/<version>/<name>``) path."""
    return release_dir(path) or path.split("/", 1)[0]


def touched_tags(
    changed: Iterable[str],
    *,
    previous: Mapping[str, IndexEntry],
    entries: Mapping[str, IndexEntry],
) -> set[str]:
    """Releases whose files changed: ``changed`` paths (fetched, adopted, pruned), and entries of
    the index as found (``previous``) that the mirror no longer holds (``entries``)."""
    touched = {tag_of(path) for path in changed}
    return touched | {e.tag for path, e in previous.items() if path not in entries}


def index_files(
    entries: Mapping[str, IndexEntry],
    *,
    touched: Iterable[str],
    previous: Mapping[str, IndexEntry],
    index_existed: bool,
    generator: str,
    now: datetime,
    upstream: Mapping[str, str],
) -> Iterator[tuple[str, Iterable[bytes] | None]]:
    """What to rewrite so that the indexes describe ``entries``: ``(path, pieces)`` to write
    (the file's bytes, in order), or ``(path, None)`` to delete, each rendered only when it is
    asked for (a whole-history mirror never holds its 123 ``SHA256SUMS`` rendered at once, nor
    its ``index.json`` whole: those pieces are rendered as they are written).

    Each touched release's ``SHA256SUMS`` (deleted when the release has no file left), then
    ``index.json`` when there was none or its entries (``previous``) differ. ``entries`` must not
    change while the files are taken.
    """
    tags = set(touched)
    # The entries themselves, by release: a row's name (a new string) is made only as that
    # release's list is rendered, not for every file of a cold run at once.
    by_tag: dict[str, list[IndexEntry]] = defaultdict(list)
    for e in entries.values():
        if (tag := e.tag) in tags:
            by_tag[tag].append(e)
    for tag in sorted(tags):
        held = by_tag.pop(tag, None)
        rows = None if held is None else [(e.name, e.sha256) for e in held]
        yield f"{tag}/{SUMS_NAME}", None if rows is None else (render_sha256sums(rows),)
    if not index_existed or entries != previous:
        yield (
            INDEX_PATH,
            render_index_chunks(entries.values(), generator=generator, now=now, upstream=upstream),
        )


def client_files_fingerprint(publish: PublishConfig, *, generator: str, upstream: str = "") -> str:
    """What the client files were written for: the ``publish`` settings, the generator and the
    upstream the root page names."""
    made_from = f" {upstream}" if upstream else ""
    return hashlib.sha256(f"{publish!r} {generator}{made_from}".encode()).hexdigest()


def client_files_due(
    *, files_changed: bool, status: str, fingerprint: str, last: Mapping[str, Any]
) -> bool:
    """Whether the client files must be rewritten.

    They depend on the files (``files_changed``), the outcome the pages show (``status``) and the
    settings (``fingerprint``); ``last`` is the previous ``status.json`` (empty when none).
    """
    return files_changed or status != last.get("status") or fingerprint != last.get("client_files")


def render_tag_sums(entries: Iterable[IndexEntry]) -> dict[str, bytes]:
    """Each release's ``SHA256SUMS`` (by tag) over the files the mirror holds for it."""
    by_tag: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in entries:
        by_tag[e.tag].append((e.name, e.sha256))
    return {tag: render_sha256sums(rows) for tag, rows in sorted(by_tag.items())}


def render_status(
    *,
    previous: Mapping[str, Any] | None,
    status: str,
    started: datetime,
    ended: datetime,
    upstream: str,
    size: int,
    files: int,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """``status.json`` as mirror dashboards read it; ``last_update`` moves only on success."""
    last_update = (previous or {}).get("last_update")
    last_update_ts = (previous or {}).get("last_update_ts")
    if status == "success":
        last_update, last_update_ts = timestamp(ended), int(ended.timestamp())
    doc: dict[str, Any] = {
        "name": "python-build-standalone",
        "status": status,
        "last_update": last_update,
        "last_update_ts": last_update_ts,
        "last_started": timestamp(started),
        "last_started_ts": int(started.timestamp()),
        "last_ended": timestamp(ended),
        "last_ended_ts": int(ended.timestamp()),
        "upstream": upstream,
        "size": size,
        "files": files,
    }
    doc.update(extra or {})
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")
