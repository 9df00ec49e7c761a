"""Astral's release index as a ``ReleaseSource`` (``upstream.source: astral``).

The index (``upstream.index_url``) is NDJSON: one JSON object a line, one Python version of one
release (``"version": "3.13.11+20251217"``), its ``artifacts`` each with a ``url`` and the
``sha256`` (also ``platform``, ``variant`` and ``archive_format``, which are not trusted: some
macOS names are filed under the wrong platform). The tag and the file name come from each
artifact's ``url`` (percent-decoded); the name is parsed by mirrorsync's own grammar later
(``core.releases.build_catalog``), like any other source's. The sha256 is the asset's digest, so
every file is verified. The index lists no sizes: they are unknown (``UpstreamAsset.size`` is
None) until the download tells. Releases that predate published checksums are not in it.

The index is read as it arrives, line by line (never held whole), capped, and fetched
conditionally (``If-None-Match``, ``If-Modified-Since``): its body and validators are kept in the
state cache, so an idle run costs one request answered 304 and the cached copy is parsed from
disk. A malformed line is a listing failure naming its line number (counted from 1), never a
shorter listing. No token is ever sent (``commands.sync`` gives this source none).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO, NoReturn, Self
from urllib.parse import unquote, urlsplit

import aiohttp
from yarl import URL

from mirrorsync.core.model import Release, UpstreamAsset, release_link, split_link
from mirrorsync.errors import UpstreamError
from mirrorsync.net.bodies import READ_STEP, iter_capped
from mirrorsync.net.client import HttpClient
from mirrorsync.net.policy import shown
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.upstream.cache import StateCache
from mirrorsync.upstream.conditional import (
    conditional_headers,
    read_record,
    refuse,
    store_record,
)
from mirrorsync.upstream.github import fetch_small, with_retries
from mirrorsync.upstream.source import UnprovenListing

log = logging.getLogger(__name__)

MAX_INDEX_BYTES = 256 << 20
"""An index larger than this once inflated is refused (every release since checksums: ~4 MB,
growing ~250 KB a release)."""
MAX_LINE_BYTES = 16 << 20
"""One line (one Python version of one release) larger than this is refused (real: ~40 KB)."""
INDEX_KEY = "astral/index"
"""The state cache entry holding the index's validators and the checksum of its cached body."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TAG_AND_NAME = 3
"""A download URL's path holds at least ``/<tag>/<name>``."""


class BadLine(Exception):
    """What is wrong with one line of the index (the caller adds where it is)."""


def asset_from_artifact(artifact: object) -> tuple[str, UpstreamAsset]:
    """One artifact object as ``(tag, asset)``; ``BadLine`` saying what is wrong with it.

    The tag and name are the last two segments of its ``url``, percent-decoded; its ``platform``
    and ``variant`` fields are ignored (the name says them, and says them right).
    """
    if not isinstance(artifact, dict):
        raise BadLine(f"an artifact is not an object: {artifact!r:.80}")
    url, sha256 = artifact.get("url"), artifact.get("sha256")
    if not isinstance(url, str):
        raise BadLine("an artifact has no url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadLine(f"an artifact's url is not an http(s) URL: {url[:120]!r}")
    segments = parts.path.split("/")
    if len(segments) < _TAG_AND_NAME or not segments[-1] or not segments[-2]:
        raise BadLine(f"an artifact's url names no tag and file: {url[:120]!r}")
    tag, name = unquote(segments[-2]), unquote(segments[-1])
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256.lower()) is None:
        raise BadLine(f"{name}: sha256 is not 64 hex digits: {sha256!r:.80}")
    link, is_base = split_link(url, name)
    return tag, UpstreamAsset(
        name=name, size=None, link=link, link_is_base=is_base, digest=sha256.lower()
    )


def artifacts_of_line(text: bytes) -> list[tuple[str, UpstreamAsset]]:
    """The assets one index line lists; ``BadLine`` when the line is not a version object."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise BadLine(f"not JSON ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("version"), str):
        raise BadLine("not an object with a version")
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, list):
        raise BadLine(f"{data['version']}: artifacts is not a list")
    return [asset_from_artifact(a) for a in artifacts]


@dataclass
class IndexParser:
    """Turns the index's bytes, fed in any pieces, into releases, one line at a time."""

    origin: str
    """The index, for messages."""
    line: int = 0
    """Lines parsed so far (the number of the last one)."""
    _pending: bytearray = field(default_factory=bytearray)
    _by_tag: dict[str, dict[str, UpstreamAsset]] = field(default_factory=dict)

    def feed(self, chunk: bytes) -> None:
        """Parse every line ``chunk`` completes; ``UpstreamError`` naming a malformed one."""
        self._pending += chunk
        start = 0
        while (end := self._pending.find(b"\n", start)) >= 0:
            self._parse(bytes(self._pending[start:end]))
            start = end + 1
        del self._pending[:start]
        if len(self._pending) > MAX_LINE_BYTES:
            raise UpstreamError(
                f"{self.origin}: line {self.line + 1} is longer than {MAX_LINE_BYTES} bytes"
            )

    def finish(self) -> list[Release]:
        """The releases, once the last byte was fed (a last line without newline counts)."""
        if self._pending:
            self._parse(bytes(self._pending))
            self._pending.clear()
        return [
            Release(tag=tag, assets=tuple(assets.values())) for tag, assets in self._by_tag.items()
        ]

    def _parse(self, text: bytes) -> None:
        self.line += 1
        if not text.strip():
            return
        try:
            found = artifacts_of_line(text)
        except BadLine as e:
            raise UpstreamError(
                f"malformed index {self.origin}: line {self.line}: {e}",
                hint="the listing is refused whole rather than read as fewer releases",
            ) from e
        for tag, asset in found:
            self._by_tag.setdefault(tag, {}).setdefault(asset.name, asset)


def _moved(tag: str, asset: UpstreamAsset, *, base: str | None, fallback: bool) -> UpstreamAsset:
    """``asset`` fetched from ``<base>/<tag>/<name>`` (its own URL kept as the fallback)."""
    if base is None:
        return asset
    return UpstreamAsset(
        name=asset.name,
        size=asset.size,
        link=release_link(base, tag),
        link_is_base=True,
        digest=asset.digest,
        fallback_url=asset.url if fallback else None,
    )


class AstralReleases(UnprovenListing):
    """Lists the releases Astral's NDJSON index names, downloaded from ``download_url``."""

    def __init__(
        self,
        http: HttpClient,
        *,
        index_url: str,
        download_url: str | None,
        fallback: bool,
        retry: RetryPolicy,
        cache: StateCache | None,
        cache_name: str = "index",
    ) -> None:
        self._http = http
        self._index_url = index_url
        self._cache_name = cache_name
        """Names this index's entry in the state cache (``index``; ``uv`` for ``v1/uv.ndjson``)."""
        self._base = download_url.rstrip("/") if download_url is not None else None
        self._fallback = fallback
        self._retry = retry
        self._cache = cache
        self.description = f"astral:{shown(index_url)}"
        self.index_unchanged = False
        """Whether the last listing was answered 304 (the cached index was parsed)."""
        self.lines = 0
        """Lines of the index the last listing read."""

    async def list_releases(self) -> list[Release]:
        """Every release of the index; ``UpstreamError`` when it cannot be read or a line is bad."""
        releases = await with_retries(
            self._retry, self._read_index, what=f"listing {shown(self._index_url)}"
        )
        return [
            Release(
                tag=r.tag,
                assets=tuple(
                    _moved(r.tag, a, base=self._base, fallback=self._fallback) for a in r.assets
                ),
            )
            for r in releases
        ]

    async def _read_index(self) -> list[Release]:
        """One conditional GET of the index, parsed as it arrives (or from the cache on 304)."""
        cached = self._cached()
        headers = conditional_headers(
            {"Accept": "application/x-ndjson", "Accept-Encoding": "gzip"}, cached
        )
        async with self._http.get(self._index_url, headers=headers) as answer:
            r = answer.response
            unchanged = r.status == HTTPStatus.NOT_MODIFIED and cached is not None
            if not unchanged:
                if r.status != HTTPStatus.OK:
                    await self._refuse(r, answer.url)
                return await self._stream(r)
        assert cached is not None  # noqa: S101 - unchanged implies it
        releases = await asyncio.to_thread(self._parse_cached, cached["sha256"])
        if releases is None:  # a cached copy that is gone or damaged: read it whole again
            return await self._read_unconditionally()
        self.index_unchanged = True
        log.debug("%s: unchanged (304), %d cached lines", shown(self._index_url), self.lines)
        return releases

    async def _read_unconditionally(self) -> list[Release]:
        async with self._http.get(self._index_url, headers={"Accept-Encoding": "gzip"}) as answer:
            if answer.response.status != HTTPStatus.OK:
                await self._refuse(answer.response, answer.url)
            return await self._stream(answer.response)

    async def _stream(self, r: aiohttp.ClientResponse) -> list[Release]:
        """Parse the body as it arrives, writing it to the cache alongside (never held whole)."""
        parser = IndexParser(origin=shown(self._index_url))
        digest = hashlib.sha256()
        with self._cache_writer() as sink:
            body = iter_capped(r, limit=MAX_INDEX_BYTES, what=shown(self._index_url))
            async for chunk in body:
                parser.feed(chunk)
                digest.update(chunk)
                sink.write(chunk)
            releases = parser.finish()
            sink.commit()
        self.lines = parser.line
        if sink.saved:
            self._store(r, digest.hexdigest())
        return releases

    def _parse_cached(self, sha256: str) -> list[Release] | None:
        """The cached body parsed, or None when it is missing or damaged (then read afresh)."""
        path = self._body_path()
        if path is None:
            return None
        parser = IndexParser(origin=f"{shown(self._index_url)} (cached)")
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                while chunk := f.read(READ_STEP):
                    digest.update(chunk)
                    parser.feed(chunk)
            releases = parser.finish()
        except (OSError, UpstreamError) as e:
            log.warning("%s: ignoring the cached index (%s)", path, e)
            return None
        if digest.hexdigest() != sha256:
            log.warning("%s: ignoring a damaged cached index (checksum mismatch)", path)
            return None
        self.lines = parser.line
        return releases

    def _body_path(self) -> Path | None:
        if self._cache is None:
            return None
        return self._cache.directory / "astral" / f"{self._cache_name}.ndjson"

    def _cache_writer(self) -> _Sink:
        return _Sink(self._body_path())

    async def _refuse(self, r: aiohttp.ClientResponse, url: URL) -> NoReturn:
        await refuse(
            r,
            url,
            message=f"{shown(self._index_url)} answered {r.status}",
            hint="check upstream.index_url",
            clock=self._retry.clock,
        )

    def _cached(self) -> dict[str, str] | None:
        return read_record(self._cache, self._cache_key, identity=self._index_url, needs="sha256")

    @property
    def _cache_key(self) -> str:
        return INDEX_KEY if self._cache_name == "index" else f"astral/{self._cache_name}"

    def _store(self, r: aiohttp.ClientResponse, sha256: str) -> None:
        store_record(
            self._cache, self._cache_key, identity=self._index_url, headers=r.headers, sha256=sha256
        )

    async def read_small(self, asset: UpstreamAsset, *, limit: int) -> bytes:
        return await fetch_small(
            self._http, asset.url, retry=self._retry, limit=limit, what=asset.name
        )


class _Sink:
    """The index body written to the cache as it streams: a temporary file renamed into place
    only when the whole body parsed (``commit``); nothing at all without a cache. A cache that
    cannot be written costs requests, nothing else."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._handle: BinaryIO | None = None
        self.saved = False

    def __enter__(self) -> Self:
        if self._path is not None:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self._temp.open("wb")
            except OSError as e:
                log.warning("%s: cannot cache the index (%s)", self._path, e)
        return self

    @property
    def _temp(self) -> Path:
        assert self._path is not None  # noqa: S101 - only asked with a cache
        return self._path.with_name(self._path.name + ".tmp")

    def write(self, chunk: bytes) -> None:
        if self._handle is None:
            return
        try:
            self._handle.write(chunk)
        except OSError as e:
            log.warning("%s: cannot cache the index (%s)", self._path, e)
            self._drop()

    def commit(self) -> None:
        """The whole body parsed: put it in place."""
        if self._handle is None or self._path is None:
            return
        try:
            self._handle.close()
            self._handle = None
            self._temp.replace(self._path)
        except OSError as e:
            log.warning("%s: cannot cache the index (%s)", self._path, e)
            self._drop()
            return
        self.saved = True

    def _drop(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        with contextlib.suppress(OSError):
            self._temp.unlink(missing_ok=True)

    def __exit__(self, *exc: object) -> None:
        if not self.saved and self._path is not None:
            self._drop()
