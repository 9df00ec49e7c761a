"""The GitHub releases API as a ``ReleaseSource``: pagination, conditional requests, rate limits."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from http import HTTPStatus
from typing import TypeVar

import aiohttp
from yarl import URL

from mirrorsync.core.checksums import parse_digest
from mirrorsync.core.idle import listing_digest
from mirrorsync.core.layout import SUMS_NAME
from mirrorsync.core.model import Release, UpstreamAsset, release_link, split_link
from mirrorsync.core.names import SIDECAR_SUFFIX
from mirrorsync.core.releases import distinct_releases
from mirrorsync.errors import UpstreamError
from mirrorsync.net.bodies import read_capped, read_head
from mirrorsync.net.client import HttpClient
from mirrorsync.net.policy import IncompleteBody, RequestFailed, classify, is_transient, shown
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.upstream.cache import CachedPage, StateCache

log = logging.getLogger(__name__)
T = TypeVar("T")

API_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "Accept-Encoding": "gzip",
}
PER_PAGE = 10
"""PBS release objects embed hundreds of assets: big pages time out on the server
(docs/upstream.md §7.2)."""
MAX_PAGES = 1000
MAX_PAGE_BYTES = 64 << 20
"""A listing page larger than this once inflated is refused (ten real releases: ~10 MB)."""
MAX_ERROR_BYTES = 64 << 10
"""How much of an error answer is read for its message."""
LISTING_TRIES = 3
"""Full listings read before a listing that keeps changing under us is given up (exit 1)."""
LOW_RATE_LIMIT = 10
CRAWL_KEY = "listing/last-full-check"

_Answer = tuple[list[object] | None, str | None, bool, str | None, str]
"""A page's releases (None: unchanged, not parsed), next URL, unchanged, ETag, digest."""


_KEPT_KEYS = frozenset(
    {
        # a release
        "tag_name",
        "id",
        "draft",
        "prerelease",
        "published_at",
        "assets",
        # an asset
        "name",
        "size",
        "browser_download_url",
        "updated_at",
        "state",
        "digest",
    }
)
"""The fields ``release_from_json`` reads: all a listing page is kept for."""


def _slim(obj: dict[str, object]) -> dict[str, object]:
    """``json`` object hook: a release or an asset object keeps only the fields read.

    Objects are built innermost first, so an asset's ``uploader`` (20 fields, in every asset of
    the API) and a release's ``author`` and ``body`` are dropped as soon as their parent is
    built: a page is never held whole as parsed objects.
    """
    if "tag_name" in obj or "browser_download_url" in obj:
        return {k: v for k, v in obj.items() if k in _KEPT_KEYS}
    return obj


def parse_listing_page(body: str) -> list[object]:
    """A listing page's JSON array, each release and asset object with only the fields read;
    ``ValueError`` when it is not JSON, ``UpstreamError`` when it is not an array."""
    data = json.loads(body, object_hook=_slim)
    if not isinstance(data, list):
        raise UpstreamError("not a JSON array")
    return data


def compact_page(body: str) -> str:
    """A listing page as JSON with only the fields read (what the cache keeps of it); the body
    itself when it does not parse (it is then refused when it is parsed, as it was)."""
    try:
        data = parse_listing_page(body)
    except (ValueError, UpstreamError):
        return body
    return _compact(data)


def _compact(data: list[object]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _body_digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def release_from_json(data: object) -> Release:
    """One release object of the API; raises ``UpstreamError`` when its shape is wrong."""
    if not isinstance(data, dict):
        raise UpstreamError(f"unexpected listing: a release is not an object: {data!r:.80}")
    tag = data.get("tag_name")
    if not isinstance(tag, str):
        raise UpstreamError(f"unexpected listing: a release has no tag_name: {data.get('id')!r}")
    raw_assets = data.get("assets") or []
    if not isinstance(raw_assets, list):
        raise UpstreamError(f"unexpected listing: release {tag!r}: assets is not a list")
    assets = tuple(a for a in map(_asset_from_json, raw_assets) if a is not None)
    rid = data.get("id")
    published = data.get("published_at")
    return Release(
        tag=tag,
        id=rid if isinstance(rid, int) else None,
        draft=data.get("draft") is True,
        prerelease=data.get("prerelease") is True,
        published_at=published if isinstance(published, str) else None,
        assets=assets,
    )


def _asset_from_json(data: object) -> UpstreamAsset | None:
    # An asset object without a usable name, size or URL cannot be mirrored; it is dropped here
    # and the rest of the release stays usable.
    if not isinstance(data, dict):
        return None
    name, size, url = data.get("name"), data.get("size"), data.get("browser_download_url")
    if not isinstance(name, str) or not isinstance(url, str):
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    aid, updated, state, digest = (data.get(k) for k in ("id", "updated_at", "state", "digest"))
    link, is_base = split_link(url, name)
    return UpstreamAsset(
        name=name,
        size=size,
        link=link,
        link_is_base=is_base,
        digest=parse_digest(digest if isinstance(digest, str) else None),
        id=aid if isinstance(aid, int) and not isinstance(aid, bool) else None,
        # Upload times are nearly all distinct (a release's assets go up one by one): interned,
        # each would also cost an entry of the interpreter's table of interned strings. States
        # are a handful of words: each held once.
        updated_at=updated if isinstance(updated, str) else None,
        state=sys.intern(state) if isinstance(state, str) else "uploaded",
    )


def _check_status(
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    url: URL,
    now: float,
    expires: bool = False,
) -> None:
    """Turn an error status into a transient error (retried) or an ``UpstreamError`` (final).

    ``expires``: the answer came through a redirect to another host (a small file's signed
    URL). The API answers itself: there a 403 is a refusal, never an expired link.
    """
    if status < HTTPStatus.BAD_REQUEST:
        return
    verdict = classify(status, headers, body, now=now, expires=expires)
    if verdict.retryable:
        raise verdict.error(url)
    message = _api_message(body)
    hint = {
        HTTPStatus.UNAUTHORIZED.value: "the token is invalid or expired",
        HTTPStatus.NOT_FOUND.value: "check upstream.repo and upstream.api_url",
    }.get(status)
    raise UpstreamError(f"{shown(url)} answered {status}{message}", hint=hint)


async def _error_text(r: aiohttp.ClientResponse) -> str:
    return (await read_head(r, limit=MAX_ERROR_BYTES)).decode("utf-8", errors="replace")


_LINK_NAME = r"[A-Za-z0-9!#$&+.^_`|~-]+"
_PARAM = rf'{_LINK_NAME}\s*(?:=\s*(?:"[^"]*"|[^;,"\s]*))?'
_LINK_VALUE = re.compile(rf"\s*<([^<>\s]*)>\s*((?:;\s*{_PARAM}\s*)*)")
"""One link-value of RFC 8288: ``<target>`` and its parameters (values optional)."""
_LINK_PARAM = re.compile(rf';\s*({_LINK_NAME})\s*(?:=\s*(?:"([^"]*)"|([^;,"\s]*)))?')


def next_page_url(values: list[str], *, page_url: str) -> str | None:
    """The ``rel="next"`` target of a page's ``Link`` headers (RFC 8288), or None on the last page.

    A header that does not parse is a listing error, never "no next page": taking a garbled
    header for the end would make a partial listing look complete, and a prune delete what it
    did not see. The target must be an http(s) URL on the page's own host and port.
    """
    text = ", ".join(values)
    targets: list[str] = []
    pos = 0
    while pos < len(text):
        match = _LINK_VALUE.match(text, pos)
        if match is None or (match.end() < len(text) and text[match.end()] != ","):
            raise UpstreamError(f"malformed Link header from {page_url}: {text[:200]!r}")
        rels = {
            quoted or plain
            for key, quoted, plain in _LINK_PARAM.findall(match.group(2))
            if key.lower() == "rel"
        }
        if any("next" in rel.lower().split() for rel in rels):
            targets.append(match.group(1))
        pos = match.end() + 1
    if not targets:
        return None
    if len(targets) > 1:
        raise UpstreamError(f"Link header from {page_url} names {len(targets)} next pages")
    page, target = URL(page_url), URL(page_url).join(URL(targets[0]))
    if target.scheme not in ("http", "https") or (target.host, target.port) != (
        page.host,
        page.port,
    ):
        raise UpstreamError(
            f"Link header from {page_url} points the next page elsewhere: {targets[0][:200]!r}"
        )
    return str(target)


def _api_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return f": {message}" if isinstance(message, str) else ""


async def with_retries(retry: RetryPolicy, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Run ``attempt`` under ``retry``; what is still failing after it is an ``UpstreamError``."""
    try:
        return await retry.run(attempt, what=what)
    except (RequestFailed, TimeoutError) as e:
        reason = str(e) or type(e).__name__
        if is_transient(e):
            # With ``download.retries: 0`` nothing was retried: say so rather than "exhausted".
            reason += " (retries exhausted)" if retry.retries else " (download.retries is 0)"
        raise UpstreamError(f"{what}: {reason}") from e


async def fetch_small(
    http: HttpClient, url: str, *, retry: RetryPolicy, limit: int, what: str
) -> bytes:
    """The whole body of a small file (a checksum list, a uv download list), with retries."""

    async def attempt() -> bytes:
        async with http.get(url) as answer:
            r = answer.response
            text = "" if r.status < HTTPStatus.BAD_REQUEST else await _error_text(r)
            _check_status(
                r.status,
                r.headers,
                text,
                url=answer.url,
                now=retry.clock(),
                expires=answer.redirected,
            )
            data = await read_capped(r, limit=limit, what=what)
            encoded = r.headers.get("Content-Encoding", "identity") != "identity"
            if r.content_length is not None and not encoded and len(data) != r.content_length:
                raise IncompleteBody(f"{what}: got {len(data)} of {r.content_length} bytes")
            return data

    return await with_retries(retry, attempt, what=what)


class GitHubReleases:
    """Lists the releases of one repository through a GitHub-compatible REST API."""

    def __init__(
        self,
        http: HttpClient,
        *,
        api_url: str,
        repo: str,
        retry: RetryPolicy,
        cache: StateCache | None,
        per_page: int = PER_PAGE,
        has_token: bool = False,
        full_listing_every: float = 0.0,
        prove_consistent: bool = False,
        crawl_key: str = CRAWL_KEY,
    ) -> None:
        self._http = http
        self._crawl_key = crawl_key
        """The state cache entry of the last full listing (one per repository listed)."""
        self._api_url = api_url.rstrip("/")
        self._repo = repo
        self._retry = retry
        self._cache = cache
        self._per_page = per_page
        self._has_token = has_token
        self.description = f"github:{repo}"
        self._full_listing_every = full_listing_every
        """Seconds during which an unchanged first page vouches for the cached later pages."""
        self._prove_consistent = prove_consistent
        """Whether a listing must be proven unchanged while it was read (it drives a prune)."""
        self.pages_fetched = 0
        self.pages_unchanged = 0
        self.pages_trusted = 0
        self._answers: dict[str, _Answer] = {}
        """Pages ``unchanged_listing`` asked this run, for ``list_releases`` not to ask again."""

    async def list_releases(self) -> list[Release]:
        """Every release, each once; with ``prove_consistent``, a listing proven unchanged.

        GitHub pages by offset: a release deleted while the pages are read slides a later
        release onto a page already read (it is missed: a prune would delete its files), and a
        release published meanwhile pushes one onto the next page (it is seen twice). So every
        page asked of the server is asked again once the last one is in, conditionally (a 304
        costs no rate limit); any change means the listing is read again, up to
        ``LISTING_TRIES`` times. Repeats are dropped in any case.
        """
        for _ in range(LISTING_TRIES):
            releases, asked = await self._list_once()
            if not self._prove_consistent or await self._all_unchanged(asked):
                log.debug(
                    "listing: %d page(s) fetched, %d unchanged (304), %d taken from the cache",
                    self.pages_fetched,
                    self.pages_unchanged,
                    self.pages_trusted,
                )
                kept, repeats = distinct_releases(releases)
                if repeats:
                    log.info(
                        "the listing showed %d entries twice (it moved while it was read): %s",
                        len(repeats),
                        ", ".join(repeats[:5]),
                    )
                return kept
            log.info("the release listing changed while it was read; reading it again")
        raise UpstreamError(
            f"the release listing kept changing while it was read ({LISTING_TRIES} times); "
            "nothing was pruned",
            hint="upstream is publishing or deleting releases right now: run again later",
        )

    async def _all_unchanged(self, asked: list[tuple[str, str | None, str]]) -> bool:
        """Whether every page asked of the server still answers as it did: its ETag, else the
        fields read of it (a change elsewhere in a release object changes nothing mirrored)."""
        for url, etag, digest in asked:
            if not await self._unchanged(url, etag, digest):
                log.debug("%s changed while the listing was read", url)
                return False
        return True

    async def _unchanged(self, url: str, etag: str | None, digest: str) -> bool:
        async def attempt() -> bool:
            headers = dict(API_HEADERS)
            if etag:
                headers["If-None-Match"] = etag
            async with self._http.get(url, headers=headers) as answer:
                r = answer.response
                if r.status == HTTPStatus.NOT_MODIFIED and etag:
                    return True
                text = await self._page_text(r, url)
                _check_status(r.status, r.headers, text, url=answer.url, now=self._retry.clock())
                self.pages_fetched += 1
                return _body_digest(compact_page(text)) == digest

        return await self._run(attempt, what=f"checking {url}")

    async def _list_once(self) -> tuple[list[Release], list[tuple[str, str | None, str]]]:
        """One pass over the pages: the releases, and each page asked of the server this pass
        (URL, ETag, sha256 of the body) for the consistency check.

        Each page is parsed into compact records as it arrives and its text dropped: a whole
        history is ~2 KB of JSON per asset, and nothing of it is needed once parsed (the check
        compares a page's ETag, else the digest of its body).
        """
        first = self._first_page()
        url: str | None = first
        seen: set[str] = set()
        asked: list[tuple[str, str | None, str]] = []
        releases: list[Release] = []
        # New releases appear on the first page. When it is unchanged (304) and the last full
        # check of every page is recent, the later pages are taken from the cache unasked.
        trust_rest = False
        while url is not None:
            if url in seen or len(seen) >= MAX_PAGES:
                raise UpstreamError(f"the listing's pagination loops or never ends (at {url})")
            seen.add(url)
            cached = self._cache.page(url) if (trust_rest and self._cache) else None
            if cached is not None:
                self.pages_trusted += 1
                data, url = self._parse_page(cached.body), cached.next_url
            else:
                page_url = url
                got, url, unchanged, etag, digest = await self._page(page_url)
                assert got is not None  # noqa: S101 - parse_unchanged: always parsed
                data = got
                asked.append((page_url, etag, digest))
                if len(seen) == 1:
                    trust_rest = unchanged and self._recent_full_listing(first)
            releases.extend(release_from_json(item) for item in data)
            del data
        if not trust_rest and self._cache is not None:
            self._cache.store_file(self._crawl_key, identity=first, text=str(self._retry.clock()))
        return releases, asked

    async def unchanged_listing(self) -> str | None:
        """The listing's ``listing_digest`` when every page is unchanged since the state
        directory's cache saw it (a 304 to its ETag, or trusted from the cache as
        ``list_releases`` trusts it), nothing parsed; None as soon as a page changed.

        Every answer is kept for ``list_releases`` in this run, which then asks no page twice.
        """
        if self._cache is None:
            return None
        first = self._first_page()
        url: str | None = first
        seen: set[str] = set()
        pages: list[tuple[str, str, str]] = []
        trust_rest = False
        while url is not None:
            if url in seen or len(seen) >= MAX_PAGES:
                return None
            seen.add(url)
            cached = self._cache.page(url)
            if cached is None:
                return None
            if trust_rest:
                pages.append((url, cached.etag, _body_digest(cached.body)))
                url = cached.next_url
                continue
            answer = await self._page(url, parse_unchanged=False)
            self._answers[url] = answer
            _, next_url, unchanged, etag, digest = answer
            if not unchanged or etag is None:
                return None
            pages.append((url, etag, digest))
            if len(seen) == 1:
                trust_rest = self._recent_full_listing(first)
            url = next_url
        return listing_digest(pages)

    def cached_listing(self) -> str | None:
        """``listing_digest`` of the pages as the cache holds them now (after a run that read
        them all), or None when one is missing: what ``unchanged_listing`` will compare with."""
        if self._cache is None:
            return None
        url: str | None = self._first_page()
        seen: set[str] = set()
        pages: list[tuple[str, str, str]] = []
        while url is not None:
            cached = self._cache.page(url)
            if cached is None or url in seen or len(seen) >= MAX_PAGES:
                return None
            seen.add(url)
            pages.append((url, cached.etag, _body_digest(cached.body)))
            url = cached.next_url
        return listing_digest(pages)

    def _first_page(self) -> str:
        return f"{self._api_url}/repos/{self._repo}/releases?per_page={self._per_page}"

    def _recent_full_listing(self, first: str) -> bool:
        if self._cache is None or self._full_listing_every <= 0:
            return False
        stamp = self._cache.file(self._crawl_key, identity=first)
        try:
            age = self._retry.clock() - float(stamp or "nan")
        except ValueError:
            return False
        return 0 <= age < self._full_listing_every

    def _parse_page(self, body: str) -> list[object]:
        try:
            return parse_listing_page(body)
        except (ValueError, UpstreamError) as e:
            raise UpstreamError(f"unexpected listing from {self._api_url}: {e}") from e

    async def _page(self, url: str, *, parse_unchanged: bool = True) -> _Answer:
        """One page: its releases (parsed, only the fields read), the next page's URL, whether
        it was unchanged (304), its ETag, and the sha256 of its compact form. An answer kept by
        ``unchanged_listing`` in this run is used rather than asked again. Without
        ``parse_unchanged`` an unchanged page is not parsed (its releases are None)."""
        kept = self._answers.pop(url, None)
        if kept is not None:
            data, next_url, unchanged, etag, digest = kept
            if data is None:
                cached = self._cache.page(url) if self._cache else None
                if cached is None:  # the entry went away meanwhile: ask again
                    return await self._page(url, parse_unchanged=parse_unchanged)
                data = self._parse_page(cached.body) if parse_unchanged else None
            return data, next_url, unchanged, etag, digest
        cached = self._cache.page(url) if self._cache else None

        async def attempt() -> _Answer:
            headers = dict(API_HEADERS)
            if cached is not None:
                headers["If-None-Match"] = cached.etag
            async with self._http.get(url, headers=headers) as answer:
                r = answer.response
                self._note_rate_limit(r.headers)
                if r.status == HTTPStatus.NOT_MODIFIED and cached is not None:
                    self.pages_unchanged += 1
                    data = self._parse_page(cached.body) if parse_unchanged else None
                    return data, cached.next_url, True, cached.etag, _body_digest(cached.body)
                body = await self._page_text(r, url)
                _check_status(r.status, r.headers, body, url=answer.url, now=self._retry.clock())
                next_url = next_page_url(r.headers.getall("Link", []), page_url=str(answer.url))
                self.pages_fetched += 1
                data = self._parse_page(body)
                del body
                # Only what is read is replayed on a 304: the cache holds the page with only
                # those fields (a fifth of its size), so an idle run parses that much less.
                compact = _compact(data)
                etag = r.headers.get("ETag")
                if self._cache is not None and etag:
                    self._cache.store_page(
                        CachedPage(url=url, etag=etag, body=compact, next_url=next_url)
                    )
                return data, next_url, False, etag, _body_digest(compact)

        return await self._run(attempt, what=f"listing {url}")

    @staticmethod
    async def _page_text(r: aiohttp.ClientResponse, url: str) -> str:
        if r.status >= HTTPStatus.BAD_REQUEST:
            return await _error_text(r)
        data = await read_capped(r, limit=MAX_PAGE_BYTES, what=f"listing page {url}")
        return data.decode("utf-8", errors="replace")

    async def read_small(self, asset: UpstreamAsset, *, limit: int) -> bytes:
        return await fetch_small(
            self._http, asset.url, retry=self._retry, limit=limit, what=asset.name
        )

    async def _run(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
        return await with_retries(self._retry, attempt, what=what)

    def _note_rate_limit(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("x-ratelimit-remaining")
        if remaining is None:
            return
        log.debug(
            "rate limit: %s of %s left, resets at %s",
            remaining,
            headers.get("x-ratelimit-limit"),
            headers.get("x-ratelimit-reset"),
        )
        if not self._has_token and remaining.isdigit() and int(remaining) < LOW_RATE_LIMIT:
            log.warning(
                "only %s anonymous GitHub API requests left this hour; set GITHUB_TOKEN "
                "(or upstream.token_env) to raise the limit",
                remaining,
            )


class DownloadBase:
    """GitHub's listing and checksums, the archives' bytes from another base
    (``upstream.download_url``: a CDN, a campus mirror, an artifact proxy).

    Each asset's URL becomes ``<base>/<tag>/<name>``; with ``fallback`` its own
    ``browser_download_url`` is kept as the URL to use when the base answers 404. Small files
    (``SHA256SUMS``, sidecars) are still read from GitHub. The token never goes to the base: it
    is sent to the API's origin only, and the configuration refuses a base on that origin.
    """

    def __init__(self, inner: GitHubReleases, *, base: str, fallback: bool) -> None:
        self.inner = inner
        self._base = base.rstrip("/")
        self._fallback = fallback
        self._original: dict[str, str] = {}
        self.description = inner.description

    async def list_releases(self) -> list[Release]:
        releases = await self.inner.list_releases()
        return [replace(r, assets=tuple(self._moved(r.tag, a) for a in r.assets)) for r in releases]

    def _moved(self, tag: str, asset: UpstreamAsset) -> UpstreamAsset:
        moved = replace(
            asset,
            # One directory string per release, shared by its assets (``split_link``).
            link=release_link(self._base, tag),
            link_is_base=True,
            fallback_url=asset.url if self._fallback else None,
        )
        if _is_small(asset.name):
            self._original[moved.url] = asset.url
        return moved

    async def read_small(self, asset: UpstreamAsset, *, limit: int) -> bytes:
        original = self._original.get(asset.url, asset.url)
        return await self.inner.read_small(
            replace(asset, link=original, link_is_base=False), limit=limit
        )

    async def unchanged_listing(self) -> str | None:
        """The inner listing's: the download base changes no field the plan reads of it but
        the URLs, and those are derived from the configuration (in the proof's fingerprint)."""
        return await self.inner.unchanged_listing()

    def cached_listing(self) -> str | None:
        return self.inner.cached_listing()


def _is_small(name: str) -> bool:
    """Whether ``name`` is a checksum file, which ``read_small`` reads from GitHub (only their
    original URLs are remembered: not two URLs for each of a whole history's archives)."""
    return name == SUMS_NAME or name.endswith(SIDECAR_SUFFIX)
