"""TEST INFRASTRUCTURE: a fake GitHub (REST API + release-asset CDN) served on loopback.

Nothing in ``mirrorsync`` imports this module. The whole suite talks real HTTP to it instead of
patching the client (``docs/architecture.md`` §6). One ``aiohttp.web`` server on
``127.0.0.1:PORT`` answers under two host names, like GitHub's split between
``api.github.com``/``github.com`` and the signed-URL storage host:

- ``api_url`` = ``http://127.0.0.1:PORT``: the REST routes and the ``browser_download_url`` route,
  which answers ``302`` to a signed URL below ``cdn_base``;
- ``cdn_base`` = ``http://localhost:PORT/cdn``: the bytes. A request reaching it with an
  ``Authorization`` header is logged in ``auth_violations`` (the ``fake_github`` fixture fails
  the test on teardown if that list is not empty) and answered 400.

Shapes follow ``testkit/data/gh_release_examples.json``; behaviour follows ``docs/upstream.md``
§5-§7.
Two faithful quirks worth knowing when reading ``hits``:

- ``Link`` URLs point at ``/repositories/{repo_id}/releases?...``, as GitHub's do, not at the
  ``/repos/{owner}/{repo}`` path the client started from. Follow them verbatim.
- Releases are listed newest-created first (reverse insertion order, or ``order``), never by tag.

Faults are queues consumed one per matching request, so a test scripts an exact sequence:
``fake.fail(NAME, 502, 503)`` then ``fake.truncate(NAME)`` makes the next four CDN GETs of
``NAME`` answer 502, 503, a truncated body, then the real bytes. Nothing here sleeps; a stalled
response waits on an event that ``stop()`` sets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import socket
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from itertools import repeat
from typing import Any, Literal, Self
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

ChecksumMode = Literal["digest", "sums", "sidecars", "none"]
Route = Literal["listing", "release", "assets", "download", "cdn", "unknown"]
DownloadFault = Literal["truncate", "reset", "corrupt", "stall"]

SUMS = "SHA256SUMS"
SIDECAR_SUFFIX = ".sha256"
DEFAULT_REPO = "astral-sh/python-build-standalone"
FAKE_REPO_ID = 100000001
"""Invented: the numeric id that ``Link`` URLs carry (``/repositories/{id}/releases``)."""
DEFAULT_PER_PAGE = 30
RATE_LIMIT_WINDOW = 3600
MIN_SIZE, MAX_SIZE = 256, 4096

# PBS era boundaries (docs/upstream.md §5), used by add_release_from_data to pick a checksum mode.
FIRST_SUMS_TAG = "20220227"
FIRST_DIGEST_TAG = "20250708"

_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_INVERT = bytes(255 - b for b in range(256))
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_HIT: web.RequestKey[Hit] = web.RequestKey("fake_github_hit")

# Real identity of PBS's CI uploader (gh_release_examples.json), used for `author`/`uploader`.
_BOT_LOGIN = "github-actions[bot]"
_BOT_URL = "https://api.github.com/users/github-actions%5Bbot%5D"
_BOT: dict[str, Any] = {
    "login": _BOT_LOGIN,
    "id": 41898282,
    "node_id": "MDM6Qm90NDE4OTgyODI=",
    "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
    "gravatar_id": "",
    "url": _BOT_URL,
    "html_url": "https://github.com/apps/github-actions",
    "followers_url": f"{_BOT_URL}/followers",
    "following_url": f"{_BOT_URL}/following{{/other_user}}",
    "gists_url": f"{_BOT_URL}/gists{{/gist_id}}",
    "starred_url": f"{_BOT_URL}/starred{{/owner}}{{/repo}}",
    "subscriptions_url": f"{_BOT_URL}/subscriptions",
    "organizations_url": f"{_BOT_URL}/orgs",
    "repos_url": f"{_BOT_URL}/repos",
    "events_url": f"{_BOT_URL}/events{{/privacy}}",
    "received_events_url": f"{_BOT_URL}/received_events",
    "type": "Bot",
    "user_view_type": "public",
    "site_admin": False,
}


@dataclass(kw_only=True)
class Hit:
    """One request the fake received, and the status it answered."""

    method: str
    host: str
    path: str
    """Decoded path (``%2B`` arrives here as ``+``)."""
    query: dict[str, str]
    headers: CIMultiDict[str]
    status: int = 0
    """0 until the response starts (a stalled response has its status as soon as it stalls)."""
    route: Route = "unknown"
    asset: str | None = None
    """The asset name, for ``download`` and ``cdn`` hits."""
    fault: str | None = None
    """The scripted fault it consumed: ``status 502``, ``truncate``, ``rate_limit``, …"""


@dataclass(kw_only=True)
class FakeAsset:
    """One uploaded file of a fake release. Replacing the bytes makes a new ``FakeAsset``."""

    id: int
    name: str
    data: bytes
    sha256: str
    created_at: str
    updated_at: str
    with_digest: bool
    state: str = "uploaded"


@dataclass(kw_only=True)
class FakeRelease:
    """One fake release; tests may flip ``draft``/``prerelease`` directly."""

    tag: str
    id: int
    checksums: ChecksumMode
    """The mode it was created with; assets added later get a digest only in ``digest`` mode."""
    created_at: str
    publish_at: str
    """What ``published_at`` says once ``draft`` is false."""
    draft: bool = False
    prerelease: bool = False
    assets: dict[str, FakeAsset] = field(default_factory=dict)
    """By name, in upload order (which is also the API order)."""

    @property
    def published_at(self) -> str | None:
        return None if self.draft else self.publish_at


def is_archive(name: str) -> bool:
    """Whether ``SHA256SUMS`` covers ``name``: every asset but itself and the sidecars."""
    return name != SUMS and not name.endswith(SIDECAR_SUFFIX)


def generated_content(name: str, size: int | None = None) -> bytes:
    """Deterministic pseudo-random bytes for ``name``: 256..4096 bytes unless ``size`` is given."""
    if size is None:
        seed = int.from_bytes(hashlib.sha256(b"size:" + name.encode()).digest()[:4], "big")
        size = MIN_SIZE + seed % (MAX_SIZE - MIN_SIZE + 1)
    return hashlib.shake_256(name.encode()).digest(size)


def render_sums(files: Mapping[str, bytes]) -> bytes:
    """PBS's ``SHA256SUMS``: ``"<hex>  <name>\\n"`` per file, sorted by name."""
    lines = (
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    )
    return "".join(lines).encode()


def checksums_for_tag(tag: str) -> ChecksumMode:
    """The checksum era of a PBS tag (docs/upstream.md §5); non-date tags count as current."""
    if not re.fullmatch(r"\d{8}", tag) or tag >= FIRST_DIGEST_TAG:
        return "digest"
    return "sums" if tag >= FIRST_SUMS_TAG else "none"


def _stamp(moment: datetime) -> str:
    return moment.strftime(_STAMP)


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)


def _node_id(prefix: str, number: int) -> str:
    return prefix + base64.b64encode(f"fake:{number}".encode()).decode().rstrip("=")


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as GitHub applies it to ``If-None-Match``."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    return any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted
        for tag in if_none_match.split(",")
    )


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``gzip`` is listed without ``q=0``."""
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        if coding.strip() == "gzip":
            _, _, q = params.replace(" ", "").partition("q=")
            return not q or q.strip("0.") != ""
    return False


def _gzip_bomb(size: int) -> web.Response:
    """``size`` spaces as a gzip body, compressed piece by piece (never held whole)."""
    pack = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip wrapper
    block = b" " * (1 << 20)
    parts = [pack.compress(block) for _ in range(size // len(block))]
    parts += [pack.compress(b" " * (size % len(block))), pack.flush()]
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    return web.Response(body=b"".join(parts), headers=headers)


def _int_param(value: str | None, default: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number >= 1 else default


class FakeGitHub:
    """TEST INFRASTRUCTURE: GitHub's releases API and download CDN on loopback (see module doc)."""

    def __init__(
        self,
        *,
        repo: str = DEFAULT_REPO,
        repo_id: int = FAKE_REPO_ID,
        show_drafts: bool = True,
        max_per_page: int = 100,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.repo_id = repo_id
        self.show_drafts = show_drafts
        """Authenticated clients with push access see drafts; anonymous ones do not."""
        self.max_per_page = max_per_page
        self.now = now
        """The clock behind ``x-ratelimit-reset``; tests inject a fake one."""
        self.order: list[str] | None = None
        """Listing order override (tags first in this order, the rest after, newest first)."""
        self.hits: list[Hit] = []
        self.auth_violations: list[Hit] = []
        self.cdn_in_flight = 0
        """CDN requests being answered right now."""
        self.max_cdn_in_flight = 0
        """The most CDN requests answered at once since the start (downloads in flight)."""
        self.stalled = asyncio.Event()
        """Set once a ``stall`` fault has sent its partial body; ``clear()`` it to await another."""

        self._releases: dict[str, FakeRelease] = {}
        self._by_asset_id: dict[int, FakeAsset] = {}
        self._next_release_id = 200000000
        self._next_asset_id = 300000000
        self._requests_used = 0

        self._signatures: dict[str, int] = {}
        self._expired_signatures: set[str] = set()
        self._expire_queue: dict[str, int] = {}
        self._download_faults: dict[str, deque[int | DownloadFault]] = {}
        self._corrupt_forever: set[str] = set()
        self._ignore_range: set[str] = set()
        self._listing_faults: dict[int | None, deque[int]] = {}
        self._rate_limits: deque[tuple[int, float | None, int | None]] = deque()
        self._empty_listings: int | None = 0
        """Listings left to answer ``[]``; None means every one."""
        self._page_hooks: dict[int, deque[Callable[[], object]]] = {}
        self._bad_links: dict[int, str] = {}
        self._bombs: dict[int, int] = {}

        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.sidecar_names = False
        """Whether a sidecar names its file (``<hex> *<name>``, uv's) or holds the hex alone."""
        self._host: FakeGitHub | None = None
        """The fake whose server answers for this one (a repository added with ``add_repo``)."""
        self._others: list[FakeGitHub] = []

    def add_repo(self, repo: str, *, repo_id: int) -> FakeGitHub:
        """Another repository at the same API, e.g. ``astral-sh/uv`` beside python-build-standalone:
        its listing, releases, downloads and CDN are served by this server (``hits`` and
        ``auth_violations`` are shared). Publish into it with the returned fake's methods."""
        other = FakeGitHub(
            repo=repo,
            repo_id=repo_id,
            show_drafts=self.show_drafts,
            max_per_page=self.max_per_page,
            now=self.now,
        )
        other._host = self
        other.hits = self.hits
        other.auth_violations = self.auth_violations
        other._released = self._released
        offset = 100_000_000 * (len(self._others) + 1)
        other._next_release_id = self._next_release_id + offset
        other._next_asset_id = self._next_asset_id + offset
        self._others.append(other)
        return other

    def added_repo(self, repo: str) -> FakeGitHub | None:
        """The repository ``add_repo`` added under this name, if any."""
        return next((o for o in self._others if o.repo == repo), None)

    def _other(self, request: web.Request) -> FakeGitHub | None:
        """The added repository a request is for, if not this one."""
        info = request.match_info
        if "asset_id" in info:
            asset_id = int(info["asset_id"])
            return next((o for o in self._others if asset_id in o._by_asset_id), None)
        return next((o for o in self._others if o._own_repo(request)), None)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve on ``127.0.0.1`` at a free port."""
        app = web.Application(middlewares=[self._record])
        app.on_response_prepare.append(self._on_prepare)
        owner_repo = "/repos/{owner}/{name}"
        by_id = "/repositories/{repo_id:\\d+}"
        for root in (owner_repo, by_id):
            app.router.add_get(f"{root}/releases", self._listing)
            app.router.add_get(f"{root}/releases/{{release_id:\\d+}}/assets", self._release_assets)
        app.router.add_get(f"{owner_repo}/releases/tags/{{tag}}", self._release_by_tag)
        app.router.add_get("/{owner}/{name}/releases/download/{tag}/{asset}", self._download)
        app.router.add_get("/cdn/{asset_id:\\d+}/{asset}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._released = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release stalled responses, then shut the server down."""
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._host is not None:
            return self._host.port
        if self._port is None:
            raise RuntimeError("FakeGitHub is not started")
        return self._port

    @property
    def api_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def cdn_host(self) -> str:
        return f"localhost:{self.port}"

    @property
    def api_url(self) -> str:
        """The API root, also the host of ``browser_download_url``."""
        return f"http://{self.api_host}"

    @property
    def cdn_base(self) -> str:
        """Where downloads redirect to: the same server under another host name."""
        return f"http://{self.cdn_host}/cdn"

    # ------------------------------------------------------------------ upstream state

    def add_release(
        self,
        tag: str,
        assets: Mapping[str, bytes] | Iterable[str],
        *,
        checksums: ChecksumMode = "digest",
        draft: bool = False,
        prerelease: bool = False,
        release_id: int | None = None,
        sizes: Mapping[str, int] | None = None,
        content_for: Callable[[str], bytes] | None = None,
    ) -> FakeRelease:
        """Publish a release; checksum files follow ``checksums`` (docs/upstream.md §5).

        ``assets`` maps names to bytes, or lists names whose bytes come from ``content_for(name)``
        or ``generated_content(name, sizes.get(name))``. Modes: ``digest`` = API digest on every
        asset plus ``SHA256SUMS``; ``sums`` = ``SHA256SUMS`` plus a ``.sha256`` sidecar after each
        archive, no digest; ``sidecars`` = sidecars only; ``none`` = nothing.
        """
        if tag in self._releases:
            raise ValueError(f"release {tag!r} exists already")
        if isinstance(assets, Mapping):
            contents = dict(assets)
        else:
            sizes = sizes or {}
            contents = {
                name: content_for(name) if content_for else generated_content(name, sizes.get(name))
                for name in assets
            }
        if release_id is None:
            release_id = self._next_release_id
            self._next_release_id += 1
        created = self._tag_moment(tag)
        release = FakeRelease(
            tag=tag,
            id=release_id,
            checksums=checksums,
            created_at=_stamp(created),
            publish_at=_stamp(created + timedelta(hours=2)),
            draft=draft,
            prerelease=prerelease,
        )
        self._releases[tag] = release
        for name, data in contents.items():
            self._put(release, name, data)
            if checksums in ("sums", "sidecars") and is_archive(name):
                self._put(release, name + SIDECAR_SUFFIX, self._sidecar(data, name))
        if checksums in ("digest", "sums"):
            self._put(release, SUMS, self._sums(release))
        return release

    def add_release_from_data(self, tag: str, names: Iterable[str], **kw: Any) -> FakeRelease:
        """Publish real upstream names; checksum files are generated for the tag's era.

        Sidecars and ``SHA256SUMS`` among ``names`` are dropped (they are derived), so the names of
        ``pbs_assets.json`` can be passed as they are. ``checksums`` defaults from the tag.
        """
        archives = [n for n in names if is_archive(n)]
        kw.setdefault("checksums", checksums_for_tag(tag))
        return self.add_release(tag, archives, **kw)

    def add_asset(
        self, tag: str, name: str, data: bytes | None = None, *, state: str = "uploaded"
    ) -> None:
        """Upload one more file to a release; its checksum files follow."""
        release = self.release(tag)
        if name in release.assets:
            raise ValueError(f"{tag}/{name} exists already; use set_content")
        data = generated_content(name) if data is None else data
        self._put(release, name, data, state=state)
        if is_archive(name) and release.checksums in ("sums", "sidecars"):
            self._put(release, name + SIDECAR_SUFFIX, self._sidecar(data, name))
        self._refresh_sums(release)

    def set_content(self, tag: str, name: str, data: bytes) -> None:
        """Upstream replaces an asset: new bytes, digest, id and ``updated_at``; checksums follow.

        Setting ``SHA256SUMS`` or a sidecar directly regenerates nothing, so a test can make the
        checksum files disagree with the archives.
        """
        release = self.release(tag)
        old = self._asset(release, name)
        self._put(release, name, data, state=old.state, after=old.updated_at)
        if not is_archive(name):
            return
        sidecar = release.assets.get(name + SIDECAR_SUFFIX)
        if sidecar is not None:
            self._put(release, sidecar.name, self._sidecar(data, name), after=sidecar.updated_at)
        self._refresh_sums(release)

    def remove_release(self, tag: str) -> None:
        release = self._releases.pop(self.release(tag).tag)
        for asset in release.assets.values():
            self._by_asset_id.pop(asset.id, None)

    def remove_asset(self, tag: str, name: str) -> None:
        """Delete an asset (with its sidecar, if an archive); ``SHA256SUMS`` follows."""
        release = self.release(tag)
        removed = [name, name + SIDECAR_SUFFIX] if is_archive(name) else [name]
        self._asset(release, name)
        for gone in removed:
            asset = release.assets.pop(gone, None)
            if asset is not None:
                self._by_asset_id.pop(asset.id, None)
        if is_archive(name):
            self._refresh_sums(release)

    def set_asset_state(self, tag: str, name: str, state: str = "open") -> None:
        """``open`` = upload in progress: listed with that state, not downloadable."""
        self._asset(self.release(tag), name).state = state

    def release(self, tag: str) -> FakeRelease:
        try:
            return self._releases[tag]
        except KeyError:
            raise KeyError(f"no fake release {tag!r}") from None

    def asset(self, tag: str, name: str) -> FakeAsset:
        return self._asset(self.release(tag), name)

    def content(self, tag: str, name: str) -> bytes:
        return self.asset(tag, name).data

    def sha256(self, tag: str, name: str) -> str:
        return self.asset(tag, name).sha256

    def browser_download_url(self, tag: str, name: str) -> str:
        """As GitHub writes it: the name quoted with ``safe=""`` (``+`` becomes ``%2B``)."""
        quoted = f"{quote(tag, safe='')}/{quote(name, safe='')}"
        return f"{self.api_url}/{self.repo}/releases/download/{quoted}"

    def _tag_moment(self, tag: str) -> datetime:
        try:
            day = datetime.strptime(tag, "%Y%m%d").replace(tzinfo=UTC)
        except ValueError:
            day = datetime(2025, 1, 1, tzinfo=UTC)
        return day + timedelta(hours=12)

    def _put(
        self,
        release: FakeRelease,
        name: str,
        data: bytes,
        *,
        state: str = "uploaded",
        after: str | None = None,
    ) -> None:
        """Upload ``name`` (a new id), keeping its place in the list if it replaces an asset."""
        asset_id = self._next_asset_id
        self._next_asset_id += 1
        if after is None:  # first upload: seconds after the release was created
            moment = _parse_stamp(release.created_at) + timedelta(seconds=len(release.assets) + 1)
        else:  # a replacement: an hour after the file it replaces
            moment = _parse_stamp(after) + timedelta(hours=1)
        old = release.assets.get(name)
        if old is not None:
            self._by_asset_id.pop(old.id, None)
        asset = FakeAsset(
            id=asset_id,
            name=name,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=_stamp(moment),
            updated_at=_stamp(moment),
            with_digest=release.checksums == "digest",
            state=state,
        )
        release.assets[name] = asset
        self._by_asset_id[asset_id] = asset

    @staticmethod
    def _asset(release: FakeRelease, name: str) -> FakeAsset:
        try:
            return release.assets[name]
        except KeyError:
            raise KeyError(f"no asset {name!r} in fake release {release.tag!r}") from None

    def _sidecar(self, data: bytes, name: str) -> bytes:
        digest = hashlib.sha256(data).hexdigest()
        if self.sidecar_names:  # cargo-dist's form, as uv's releases carry it
            return f"{digest} *{name}\n".encode()
        return f"{digest}\n".encode()

    @staticmethod
    def _sums(release: FakeRelease) -> bytes:
        return render_sums({n: a.data for n, a in release.assets.items() if is_archive(n)})

    def _refresh_sums(self, release: FakeRelease) -> None:
        """Re-upload ``SHA256SUMS``, if the release has one, after its archives changed."""
        sums = release.assets.get(SUMS)
        if sums is not None and (data := self._sums(release)) != sums.data:
            self._put(release, SUMS, data, after=sums.updated_at)

    # ------------------------------------------------------------------ faults

    def fail(self, name: str, *statuses: int) -> None:
        """The next CDN GETs of ``name`` answer these statuses, in order."""
        self._queue_download(name, statuses)

    def reset_mid_body(self, name: str, times: int = 1) -> None:
        """Send Content-Length and half the body, then reset the connection (TCP RST)."""
        self._queue_download(name, repeat("reset", times))

    def truncate(self, name: str, times: int = 1) -> None:
        """Send the full Content-Length but half the body, then close cleanly (FIN)."""
        self._queue_download(name, repeat("truncate", times))

    def corrupt(self, name: str, times: int | None = 1) -> None:
        """Serve the right length with wrong bytes; ``times=None`` means every time."""
        if times is None:
            self._check_name(name)
            self._corrupt_forever.add(name)
        else:
            self._queue_download(name, repeat("corrupt", times))

    def stall(self, name: str, times: int = 1) -> None:
        """Send headers and half the body, then hang until ``stop()``; sets ``stalled``."""
        self._queue_download(name, repeat("stall", times))

    def expire_redirect(self, name: str, times: int = 1) -> None:
        """The next redirects of ``name`` go to signed URLs the CDN refuses as expired (403).

        The URL stays expired: only a fresh request to ``browser_download_url`` gets a good one.
        """
        self._check_name(name)
        self._expire_queue[name] = self._expire_queue.get(name, 0) + times

    def ignore_range(self, name: str) -> None:
        """The CDN answers 200 with the whole body, even to ``Range``."""
        self._check_name(name)
        self._ignore_range.add(name)

    def fail_listing(self, *statuses: int, page: int | None = None) -> None:
        """The next listing requests (of that page only, if given) answer these statuses."""
        self._listing_faults.setdefault(page, deque()).extend(statuses)

    def before_page(self, page: int, *actions: Callable[[], object]) -> None:
        """Run each action once, in turn, just before page ``page`` of the listing is answered.

        This is how upstream changes while a client reads the pages: ``remove_release`` slides a
        later release onto a page already read, ``add_release`` pushes one onto the next page.
        """
        self._page_hooks.setdefault(page, deque()).extend(actions)

    def bad_link(self, page: int, value: str) -> None:
        """Answer page ``page`` with ``value`` as its ``Link`` header (a malformed one, say)."""
        self._bad_links[page] = value

    def gzip_bomb(self, page: int, size: int) -> None:
        """Answer page ``page`` with ``size`` spaces, gzipped: a few KB that inflate to ``size``."""
        self._bombs[page] = size

    def empty_listing(self, times: int | None = None) -> None:
        """Listings answer ``[]`` with 200; ``times=None`` (default) means until further notice."""
        self._empty_listings = times

    def rate_limit(
        self,
        *,
        status: int = 403,
        reset_in: float | None = 60,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next REST API requests answer ``status`` as a rate limit.

        With ``reset_in``: a primary limit, ``x-ratelimit-remaining: 0`` and
        ``x-ratelimit-reset = int(now() + reset_in)``. With ``reset_in=None``: a secondary limit,
        ``remaining`` left as it was. ``retry_after`` adds ``retry-after`` to either.
        """
        self._rate_limits.extend([(status, reset_in, retry_after)] * times)

    def _check_name(self, name: str) -> None:
        if not any(name in r.assets for r in self._releases.values()):
            raise KeyError(f"no fake asset named {name!r}: add the release before scripting faults")

    def _queue_download(self, name: str, faults: Iterable[int | DownloadFault]) -> None:
        self._check_name(name)
        self._download_faults.setdefault(name, deque()).extend(faults)

    # ------------------------------------------------------------------ hit log

    def api_hits(self) -> list[Hit]:
        """Requests to the REST API (the API host, less the download-redirect route)."""
        return [h for h in self.hits if h.host == self.api_host and h.route != "download"]

    def listing_hits(self) -> list[Hit]:
        """Requests to the release listing, under either path GitHub uses for it."""
        return [h for h in self.hits if h.route == "listing"]

    def downloads(self, name: str | None = None) -> list[Hit]:
        """CDN GETs answered 200 or 206 (of ``name``, if given), truncated or not."""
        return [
            h
            for h in self.hits
            if h.route == "cdn"
            and h.method == "GET"
            and h.status in (200, 206)
            and (name is None or h.asset == name)
        ]

    def reset_hits(self) -> None:
        """Forget ``hits`` (``auth_violations`` stay: the fixture checks them at teardown)."""
        self.hits.clear()

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        hit = Hit(
            method=request.method,
            host=request.host,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
        )
        self.hits.append(hit)
        request[_HIT] = hit
        wanted = self.cdn_host if request.path.startswith("/cdn/") else self.api_host
        if request.host != wanted:
            # Misdirected: e.g. the API asked under the CDN name, or the CDN under the API name.
            return web.Response(status=421, text=f"this route is served on {wanted} only\n")
        if wanted != self.cdn_host:
            return await handler(request)
        self.cdn_in_flight += 1
        self.max_cdn_in_flight = max(self.max_cdn_in_flight, self.cdn_in_flight)
        try:
            response = await handler(request)
            if not response.prepared:  # its body is sent while it is counted
                await response.prepare(request)
                await response.write_eof()
            return response
        finally:
            self.cdn_in_flight -= 1

    async def _on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        hit = request.get(_HIT)
        if hit is not None:
            hit.status = response.status

    def _hit(self, request: web.Request, route: Route, *, asset: str | None = None) -> Hit:
        hit = request[_HIT]
        hit.route = route
        hit.asset = asset
        return hit

    def _own_repo(self, request: web.Request) -> bool:
        info = request.match_info
        if "repo_id" in info:
            return int(info["repo_id"]) == self.repo_id
        return f"{info['owner']}/{info['name']}".lower() == self.repo.lower()

    def _visible(self) -> list[FakeRelease]:
        newest_first = list(reversed(self._releases.values()))
        if self.order is not None:
            first = [self._releases[t] for t in self.order if t in self._releases]
            newest_first = first + [r for r in newest_first if r not in first]
        return [r for r in newest_first if self.show_drafts or not r.draft]

    # ------------------------------------------------------------------ JSON

    def _asset_json(self, release: FakeRelease, asset: FakeAsset) -> dict[str, Any]:
        digest = None
        if asset.with_digest and asset.state == "uploaded":
            digest = f"sha256:{asset.sha256}"
        return {
            "url": f"{self.api_url}/repos/{self.repo}/releases/assets/{asset.id}",
            "id": asset.id,
            "node_id": _node_id("RA_", asset.id),
            "name": asset.name,
            "label": "",
            "uploader": _BOT,
            "content_type": "application/octet-stream",
            "state": asset.state,
            "size": len(asset.data),
            "digest": digest,
            # Constant: a count that moved with each download would change the listing's ETag.
            "download_count": 0,
            "created_at": asset.created_at,
            "updated_at": asset.updated_at,
            "browser_download_url": self.browser_download_url(release.tag, asset.name),
        }

    def _release_json(self, release: FakeRelease) -> dict[str, Any]:
        base = f"{self.api_url}/repos/{self.repo}"
        assets = [self._asset_json(release, a) for a in release.assets.values()]
        updated = max([release.created_at] + [a.updated_at for a in release.assets.values()])
        return {
            "url": f"{base}/releases/{release.id}",
            "assets_url": f"{base}/releases/{release.id}/assets",
            "upload_url": f"{self.api_url}/uploads/repos/{self.repo}/releases/{release.id}"
            "/assets{?name,label}",
            "html_url": f"{self.api_url}/{self.repo}/releases/tag/{release.tag}",
            "id": release.id,
            "author": _BOT,
            "node_id": _node_id("RE_", release.id),
            "tag_name": release.tag,
            "target_commitish": "main",
            "name": release.tag,
            "draft": release.draft,
            "immutable": False,
            "prerelease": release.prerelease,
            "created_at": release.created_at,
            "updated_at": updated,
            "published_at": release.published_at,
            "assets": assets,
            "tarball_url": f"{base}/tarball/{release.tag}",
            "zipball_url": f"{base}/zipball/{release.tag}",
            "body": "",
        }

    # ------------------------------------------------------------------ REST responses

    def _ratelimit_headers(
        self, request: web.Request, *, exhausted: bool = False
    ) -> dict[str, str]:
        limit = 5000 if "Authorization" in request.headers else 60
        # The normal path never reports exhaustion: that is scripted with rate_limit().
        used = limit if exhausted else min(self._requests_used, limit - 1)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(limit - used),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(self.now()) + RATE_LIMIT_WINDOW),
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
        }

    def _error(
        self, request: web.Request, status: int, message: str, **headers: str
    ) -> web.Response:
        body = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
        }
        return web.json_response(
            body, status=status, headers={**self._ratelimit_headers(request), **headers}
        )

    def _api_fault(self, request: web.Request, hit: Hit) -> web.Response | None:
        """A queued rate limit, answered before anything else (and before any 304)."""
        if not self._rate_limits:
            return None
        status, reset_in, retry_after = self._rate_limits.popleft()
        hit.fault = "rate_limit"
        headers = self._ratelimit_headers(request, exhausted=reset_in is not None)
        if reset_in is not None:
            headers["x-ratelimit-reset"] = str(int(self.now() + reset_in))
            message = f"API rate limit exceeded for {request.remote}."
        else:
            message = (
                "You have exceeded a secondary rate limit. "
                "Please wait a few minutes before you try again."
            )
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        body = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        }
        return web.json_response(body, status=status, headers=headers)

    def _json(self, request: web.Request, payload: Any, *, link: str | None = None) -> web.Response:
        """200 with ETag, or 304 when ``If-None-Match`` matches (free, like GitHub's)."""
        body = json.dumps(payload).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()}"'
        if _etag_matches(request.headers.get("If-None-Match"), etag):
            return web.Response(
                status=304, headers={**self._ratelimit_headers(request), "ETag": etag}
            )
        self._requests_used += 1
        headers = {
            **self._ratelimit_headers(request),
            "ETag": etag,
            "Vary": "Accept, Authorization, Accept-Encoding",
        }
        if link:
            headers["Link"] = link
        response = web.Response(
            body=body, content_type="application/json", charset="utf-8", headers=headers
        )
        if _accepts_gzip(request.headers.get("Accept-Encoding", "")):
            response.enable_compression(web.ContentCoding.gzip)
        return response

    def _page(self, request: web.Request, items: list[Any], path: str) -> web.Response:
        """One page of ``items``, with GitHub's ``Link`` (prev, next, last, first) by repo id."""
        per_page = min(
            _int_param(request.query.get("per_page"), DEFAULT_PER_PAGE), self.max_per_page
        )
        page = _int_param(request.query.get("page"), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def url(number: int) -> str:
            query = [(k, v) for k, v in request.query.items() if k != "page"] + [
                ("page", str(number))
            ]
            return f"{self.api_url}/repositories/{self.repo_id}{path}?{urlencode(query)}"

        rels: list[tuple[int, str]] = []
        if page > 1:
            rels.append((min(page - 1, last), "prev"))
        if page < last:
            rels += [(page + 1, "next"), (last, "last")]
        if page > 1:
            rels.append((1, "first"))
        link = ", ".join(f'<{url(n)}>; rel="{rel}"' for n, rel in rels) or None
        if page in self._bad_links:
            link = self._bad_links[page]
        return self._json(request, chunk, link=link)

    async def _listing(self, request: web.Request) -> web.Response:  # noqa: PLR0911 - per fault
        if (other := self._other(request)) is not None:
            return await other._listing(request)
        hit = self._hit(request, "listing")
        if not self._own_repo(request):
            return self._error(request, 404, "Not Found")
        if (limited := self._api_fault(request, hit)) is not None:
            return limited
        page = _int_param(request.query.get("page"), 1)
        if hooks := self._page_hooks.get(page):
            hooks.popleft()()
            hit.fault = "listing changed"
        if page in self._bombs:
            hit.fault = "gzip bomb"
            return _gzip_bomb(self._bombs[page])
        for key in (page, None):
            queue = self._listing_faults.get(key)
            if queue:
                status = queue.popleft()
                hit.fault = f"status {status}"
                return self._error(request, status, HTTPStatus(status).phrase)
        if self._empty_listings is None or self._empty_listings > 0:
            if self._empty_listings is not None:
                self._empty_listings -= 1
            hit.fault = "empty_listing"
            return self._json(request, [])
        releases = [self._release_json(r) for r in self._visible()]
        return self._page(request, releases, "/releases")

    async def _release_by_tag(self, request: web.Request) -> web.Response:
        if (other := self._other(request)) is not None:
            return await other._release_by_tag(request)
        hit = self._hit(request, "release")
        if (limited := self._api_fault(request, hit)) is not None:
            return limited
        release = self._releases.get(request.match_info["tag"])
        if not self._own_repo(request) or release is None or release.draft:
            return self._error(request, 404, "Not Found")
        return self._json(request, self._release_json(release))

    async def _release_assets(self, request: web.Request) -> web.Response:
        if (other := self._other(request)) is not None:
            return await other._release_assets(request)
        hit = self._hit(request, "assets")
        if (limited := self._api_fault(request, hit)) is not None:
            return limited
        release_id = int(request.match_info["release_id"])
        found = [r for r in self._visible() if r.id == release_id]
        if not self._own_repo(request) or not found:
            return self._error(request, 404, "Not Found")
        release = found[0]
        assets = [self._asset_json(release, a) for a in release.assets.values()]
        return self._page(request, assets, f"/releases/{release_id}/assets")

    async def _unknown(self, request: web.Request) -> web.Response:
        self._hit(request, "unknown")
        return self._error(request, 404, "Not Found")

    # ------------------------------------------------------------------ downloads

    async def _download(self, request: web.Request) -> web.Response:
        """``browser_download_url``: 302 to a fresh signed URL on the CDN host."""
        if (other := self._other(request)) is not None:
            return await other._download(request)
        info = request.match_info
        self._hit(request, "download", asset=info["asset"])
        release = self._releases.get(info["tag"])
        asset = release.assets.get(info["asset"]) if release is not None else None
        if not self._own_repo(request) or asset is None or asset.state != "uploaded":
            return web.Response(status=404, text="Not Found")
        signature = secrets.token_hex(16)
        self._signatures[signature] = asset.id
        if self._expire_queue.get(asset.name, 0) > 0:
            self._expire_queue[asset.name] -= 1
            self._expired_signatures.add(signature)
        target = f"{self.cdn_base}/{asset.id}/{quote(asset.name, safe='')}?sig={signature}"
        return web.Response(status=302, headers={"Location": target})

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        """The signed-URL storage host: bytes, ``Range``, and the scripted download faults."""
        if (other := self._other(request)) is not None:
            return await other._cdn(request)
        name = request.match_info["asset"]
        hit = self._hit(request, "cdn", asset=name)
        asset = self._signed_asset(request, hit)
        if isinstance(asset, web.Response):
            return asset
        fault: int | DownloadFault | None = None
        queue = self._download_faults.get(name)
        if request.method == "GET" and queue:  # HEAD consumes no fault
            fault = queue.popleft()
            hit.fault = f"status {fault}" if isinstance(fault, int) else fault
        if isinstance(fault, int):
            return web.Response(status=fault, text=f"{HTTPStatus(fault).phrase}\n")
        ranged = self._ranged(request, asset)
        if isinstance(ranged, web.Response):
            return ranged
        status, data, headers = ranged
        if fault == "corrupt" or name in self._corrupt_forever:
            hit.fault = hit.fault or "corrupt"
            data = data.translate(_INVERT)
        if fault in ("truncate", "reset", "stall"):
            return await self._broken_body(request, status, headers, data, fault)
        return web.Response(status=status, body=data, headers=headers)

    def _signed_asset(self, request: web.Request, hit: Hit) -> FakeAsset | web.Response:
        """The asset a CDN request names, or the refusal it earns."""
        if "Authorization" in request.headers:
            # The token must never leave the API host (docs/upstream.md §7.3).
            self.auth_violations.append(hit)
            return web.Response(status=400, text="Only one auth mechanism allowed\n")
        asset = self._by_asset_id.get(int(request.match_info["asset_id"]))
        if asset is None or asset.name != hit.asset:
            return web.Response(status=404, text="NoSuchKey\n")
        signature = request.query.get("sig", "")
        if self._signatures.get(signature) != asset.id:
            return web.Response(status=403, text="AccessDenied: bad signature\n")
        if signature in self._expired_signatures:
            return web.Response(status=403, text="AccessDenied: Request has expired\n")
        return asset

    def _ranged(
        self, request: web.Request, asset: FakeAsset
    ) -> tuple[int, bytes, dict[str, str]] | web.Response:
        """Status, body and headers for ``Range: bytes=N-[M]`` (206), or the whole file (200)."""
        data, total = asset.data, len(asset.data)
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        match = _RANGE.fullmatch(request.headers.get("Range", "").strip())
        if match is None or asset.name in self._ignore_range:
            return 200, data, headers
        start = int(match[1])
        end = min(int(match[2]), total - 1) if match[2] else total - 1
        if start >= total or end < start:
            headers["Content-Range"] = f"bytes */{total}"
            return web.Response(status=416, headers=headers)
        headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        return 206, data[start : end + 1], headers

    async def _broken_body(
        self, request: web.Request, status: int, headers: dict[str, str], data: bytes, fault: str
    ) -> web.StreamResponse:
        """Announce ``len(data)`` bytes, send half of them, then break the connection."""
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        transport = request.transport
        if transport is None:
            return response
        if fault == "stall":
            self.stalled.set()
            await self._released.wait()
        elif fault == "reset":
            # SO_LINGER 0: close() sends RST instead of FIN.
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if fault == "truncate":
            transport.close()
        else:
            transport.abort()
        return response
