"""Render and parse the mirror's indexes: ``index.json``, per-release ``SHA256SUMS``, status."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from mirrorsync.core.checksums import SHA256_HEX, render_sha256sums
from mirrorsync.core.layout import INDEX_PATH, SUMS_NAME
from mirrorsync.core.model import Asset, IndexEntry
from mirrorsync.core.units import timestamp
from mirrorsync.errors import StateError

# INDEX_PATH, SUMS_NAME and timestamp are defined once, in core.layout and core.units. They are
# re-exported here only while branches written before the move (importing them from here) are
# merged; new code imports them from their home.
__all__ = [
    "FORMAT",
    "INDEX_PATH",
    "SUMS_NAME",
    "entry_for",
    "is_current",
    "parse_index",
    "render_index",
    "render_status",
    "render_tag_sums",
    "timestamp",
]

FORMAT = 1
T = TypeVar("T")


def entry_for(asset: Asset, *, sha256: str, size: int) -> IndexEntry:
    """The index entry of an asset just mirrored (or adopted) with this sha256 and size."""
    p = asset.parsed
    return IndexEntry(
        path=asset.path,
        size=size,
        sha256=sha256,
        verified=asset.sha256 is not None,
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
    asset's identity (id, updated_at) do.
    """
    if entry.size != asset.size:
        return False
    if asset.sha256 is not None:
        return entry.sha256 == asset.sha256
    return (
        asset.upstream.id is not None
        and entry.upstream_id == asset.upstream.id
        and entry.upstream_updated_at == asset.upstream.updated_at
    )


def _entry_json(e: IndexEntry) -> dict[str, Any]:
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
    """``index.json``: every managed file that is present, sorted by path."""
    doc = {
        "format": FORMAT,
        "generator": generator,
        "updated_at": timestamp(now),
        "upstream": dict(upstream),
        "files": [_entry_json(e) for e in sorted(entries, key=lambda e: e.path)],
    }
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _require(d: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    value = d.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StateError(f"{where}: {key!r} is missing or not of type {kind.__name__}")
    return value


def parse_index(data: bytes, *, origin: str = INDEX_PATH) -> dict[str, IndexEntry]:
    """The entries of an ``index.json`` by path; ``StateError`` when it is malformed."""
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise StateError(f"{origin}: not valid JSON ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StateError(f"{origin}: not a mirrorsync index of format {FORMAT}")
    files = doc.get("files")
    if not isinstance(files, list):
        raise StateError(f"{origin}: 'files' is not a list")
    entries: dict[str, IndexEntry] = {}
    for i, raw in enumerate(files):
        where = f"{origin}: files[{i}]"
        if not isinstance(raw, dict):
            raise StateError(f"{where}: not an object")
        sha = _require(raw, "sha256", str, where)
        if SHA256_HEX.fullmatch(sha) is None:
            raise StateError(f"{where}: malformed sha256 {sha!r}")
        path = _require(raw, "path", str, where)
        upstream_id = raw.get("upstream_id")
        updated = raw.get("upstream_updated_at")
        linkage = raw.get("linkage")
        entries[path] = IndexEntry(
            path=path,
            size=_require(raw, "size", int, where),
            sha256=sha,
            verified=_require(raw, "verified", bool, where),
            python=_require(raw, "python", str, where),
            platform=_require(raw, "platform", str, where),
            flavor=_require(raw, "flavor", str, where),
            build=_require(raw, "build", str, where),
            variant=_require(raw, "variant", str, where),
            linkage=linkage if isinstance(linkage, str) else None,
            upstream_id=upstream_id if isinstance(upstream_id, int) else None,
            upstream_updated_at=updated if isinstance(updated, str) else None,
        )
    return entries


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
