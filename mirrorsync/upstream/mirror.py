"""Another mirrorsync mirror as a ``ReleaseSource`` (``upstream.source: mirror``).

Its ``index.json`` is the listing: over HTTP(S) it is fetched conditionally (``If-None-Match``,
``If-Modified-Since``, the validators kept in the state cache), so an idle run costs one request
answered 304; the files are downloaded from ``<root>/<tag>/<name>`` (``+`` as ``%2B``). A local
root (a ``file://`` URL or a path: a courier disk, a mount) is read directly: its files become
``file://`` URLs, which the download step copies while hashing them.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import aiohttp
from yarl import URL

from mirrorsync.core.layout import INDEX_PATH
from mirrorsync.core.manifest import parse_index, safe_entries
from mirrorsync.core.model import IndexEntry, Kind, Release, UpstreamAsset
from mirrorsync.core.releases import releases_from_index
from mirrorsync.errors import ConfigError, StateError, UpstreamError, describe_os_error
from mirrorsync.net.bodies import read_capped
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

MAX_INDEX_BYTES = 512 << 20
"""An upstream ``index.json`` larger than this once inflated is refused (every release ever
published, every asset: ~60 MB)."""
INDEX_KEY = "mirror/index.json"
"""The state cache entry holding the upstream index with its validators."""
NOT_A_MIRROR = (
    "upstream.url must be the root of a mirrorsync mirror (the directory of its index.json)"
)


def is_local(url: str) -> bool:
    """Whether ``upstream.url`` (as the configuration normalised it) names a local directory."""
    return not url.startswith(("http://", "https://"))


class MirrorUvReleases(UnprovenListing):
    """The uv archives another mirrorsync mirror carries (``bundle.uv`` with ``source: mirror``):
    its ``index.json``'s ``uv`` list, read once with its Python listing."""

    def __init__(self, mirror: MirrorReleases) -> None:
        self._mirror = mirror
        self.description = mirror.description

    async def list_releases(self) -> list[Release]:
        return await self._mirror.list_uv()

    async def read_small(self, asset: UpstreamAsset, *, limit: int) -> bytes:
        return await self._mirror.read_small(asset, limit=limit)


class MirrorReleases(UnprovenListing):
    """Lists the files another mirrorsync mirror holds, from its ``index.json``."""

    def __init__(
        self, http: HttpClient, *, url: str, retry: RetryPolicy, cache: StateCache | None
    ) -> None:
        self._http = http
        self._root = url.rstrip("/") or "/"
        self._retry = retry
        self._cache = cache
        self.description = f"mirror:{self._shown(self._root)}"
        self.index_unchanged = False
        """Whether the last listing was answered 304 (the cached index was used)."""
        self._entries: dict[str, IndexEntry] | None = None
        """The entries of the index the last listing read (the uv listing reuses them)."""

    def _shown(self, where: str) -> str:
        # A local path is shown whole ('#' and '?' are file name characters there).
        return where if is_local(self._root) else shown(where)

    @property
    def index_url(self) -> str:
        if is_local(self._root):
            return str(Path(self._root) / INDEX_PATH)
        return f"{self._root}/{INDEX_PATH}"

    async def list_releases(self) -> list[Release]:
        """The upstream mirror's files as releases; ``UpstreamError`` (or ``ConfigError`` for a
        local root that is not there) when its index cannot be read or is not one."""
        return self._releases(await self._read_entries(), kind="python")

    async def list_uv(self) -> list[Release]:
        """The uv archives the upstream mirror carries (``uv/<version>/``), as releases tagged
        with the bare version; from the index the Python listing read, when it did."""
        entries = self._entries if self._entries is not None else await self._read_entries()
        return self._releases(entries, kind="uv")

    def _releases(self, entries: dict[str, IndexEntry], *, kind: Kind) -> list[Release]:
        local = self._root if is_local(self._root) else None
        return releases_from_index(entries, url_of=self._url_of, local_root=local, kind=kind)

    async def _read_entries(self) -> dict[str, IndexEntry]:
        if is_local(self._root):
            data = await asyncio.to_thread(self._read_local_index)
        else:
            data = await with_retries(
                self._retry, self._fetch_index, what=f"listing {shown(self.index_url)}"
            )
        try:
            entries = safe_entries(parse_index(data, origin=self._shown(self.index_url)))
        except StateError as e:
            raise UpstreamError(str(e), hint=NOT_A_MIRROR) from e
        self._entries = entries
        return entries

    def _url_of(self, tag: str, name: str) -> str:
        """Where a file of release directory ``tag`` (``uv/<version>`` for uv) is."""
        if is_local(self._root):
            return Path(self._root, *tag.split("/"), name).as_uri()
        quoted = "/".join(quote(part, safe="") for part in tag.split("/"))
        return f"{self._root}/{quoted}/{quote(name, safe='')}"

    def _read_local_index(self) -> bytes:
        root = Path(self._root)
        if not root.is_dir():
            raise ConfigError([f"upstream.url: {root}: no such directory"], hint=NOT_A_MIRROR)
        try:
            return (root / INDEX_PATH).read_bytes()
        except FileNotFoundError as e:
            raise ConfigError(
                [f"upstream.url: {root} holds no {INDEX_PATH}: not a mirrorsync mirror"],
                hint=NOT_A_MIRROR,
            ) from e
        except OSError as e:
            raise UpstreamError(f"cannot read {root / INDEX_PATH}: {describe_os_error(e)}") from e

    async def _fetch_index(self) -> bytes:
        """One conditional GET of ``index.json``: the cached body when it answers 304."""
        url = self.index_url
        cached = self._cached()
        headers = conditional_headers(
            {"Accept": "application/json", "Accept-Encoding": "gzip"}, cached
        )
        async with self._http.get(url, headers=headers) as answer:
            r = answer.response
            if r.status == HTTPStatus.NOT_MODIFIED and cached is not None:
                self.index_unchanged = True
                return cached["body"].encode("utf-8")
            if r.status != HTTPStatus.OK:
                await self._refuse(r, answer.url)
            data = await read_capped(r, limit=MAX_INDEX_BYTES, what=shown(url))
            self._store(r, data)
            return data

    async def _refuse(self, r: aiohttp.ClientResponse, url: URL) -> NoReturn:
        await refuse(
            r,
            url,
            message=f"{shown(self.index_url)} answered {r.status}",
            hint=NOT_A_MIRROR,
            clock=self._retry.clock,
        )

    def _cached(self) -> dict[str, str] | None:
        return read_record(self._cache, INDEX_KEY, identity=self.index_url, needs="body")

    def _store(self, r: aiohttp.ClientResponse, data: bytes) -> None:
        try:
            body = data.decode("utf-8")
        except UnicodeDecodeError:
            return  # not an index: parse_index refuses it
        store_record(self._cache, INDEX_KEY, identity=self.index_url, headers=r.headers, body=body)

    async def read_small(self, asset: UpstreamAsset, *, limit: int) -> bytes:
        if asset.local_path is not None:
            path = Path(asset.local_path)
            try:
                data = await asyncio.to_thread(_read_at_most, path, limit + 1)
            except OSError as e:
                raise UpstreamError(f"cannot read {path}: {describe_os_error(e)}") from e
            if len(data) > limit:
                raise UpstreamError(f"{asset.name} is larger than {limit} bytes")
            return data
        return await fetch_small(
            self._http, asset.url, retry=self._retry, limit=limit, what=asset.name
        )


def _read_at_most(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of ``path``: a file on a stick is never read whole to be refused."""
    with path.open("rb") as f:
        return f.read(size)
