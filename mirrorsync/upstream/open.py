"""The ``ReleaseSource`` a configuration names (``upstream.source``)."""

from __future__ import annotations

from dataclasses import dataclass

from mirrorsync.config.records import Config
from mirrorsync.core.uvbundle import uv_download_base, uv_index_url
from mirrorsync.net.client import HttpClient
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.upstream.astral import AstralReleases
from mirrorsync.upstream.cache import StateCache
from mirrorsync.upstream.github import CRAWL_KEY, PER_PAGE, DownloadBase, GitHubReleases
from mirrorsync.upstream.mirror import MirrorReleases, MirrorUvReleases
from mirrorsync.upstream.source import ReleaseSource


@dataclass(frozen=True, slots=True, kw_only=True)
class _Listing:
    """What differs between the Pythons' listing and uv's on the same upstream."""

    repo: str
    index_url: str
    download_url: str | None
    per_page: int = PER_PAGE
    cache_name: str = "index"
    crawl_key: str = CRAWL_KEY


def open_source(
    cfg: Config,
    http: HttpClient,
    *,
    retry: RetryPolicy,
    cache: StateCache | None,
    has_token: bool,
) -> ReleaseSource:
    """The listing of ``cfg.upstream``: GitHub (with a download base when set), a mirror, or
    Astral's index."""
    upstream = cfg.upstream
    if upstream.source == "mirror":
        assert upstream.url is not None  # noqa: S101 - the configuration requires it
        return MirrorReleases(http, url=upstream.url, retry=retry, cache=cache)
    listing = _Listing(
        repo=upstream.repo, index_url=upstream.index_url, download_url=upstream.download_url
    )
    return _open(cfg, http, listing, retry=retry, cache=cache, has_token=has_token)


UV_PER_PAGE = 100
"""uv's release objects are small (a few dozen assets): a page of a hundred is cheap."""


def open_uv_source(
    cfg: Config,
    http: HttpClient,
    *,
    python: ReleaseSource,
    retry: RetryPolicy,
    cache: StateCache | None,
    has_token: bool,
) -> ReleaseSource:
    """uv's releases (``bundle.uv``) from the counterpart of the Pythons' upstream: the
    releases of ``upstream.uv_repo`` at the same API, Astral's ``uv.ndjson`` beside its Python
    index, or the ``uv/`` of the upstream mirror (``python``, whose index is read once). The
    archives come from the uv counterpart of ``download_url`` (``core.uvbundle.uv_download_base``)
    with the same fallback, or from their own URLs."""
    upstream = cfg.upstream
    if upstream.source == "mirror":
        if not isinstance(python, MirrorReleases):
            assert upstream.url is not None  # noqa: S101 - the configuration requires it
            python = MirrorReleases(http, url=upstream.url, retry=retry, cache=cache)
        return MirrorUvReleases(python)
    listing = _Listing(
        repo=upstream.uv_repo,
        index_url=uv_index_url(upstream.index_url),
        download_url=uv_download_base(upstream.download_url),
        per_page=UV_PER_PAGE,
        cache_name="uv",
        crawl_key=f"{CRAWL_KEY}/uv",
    )
    return _open(cfg, http, listing, retry=retry, cache=cache, has_token=has_token)


def _open(
    cfg: Config,
    http: HttpClient,
    listing: _Listing,
    *,
    retry: RetryPolicy,
    cache: StateCache | None,
    has_token: bool,
) -> ReleaseSource:
    """An ``astral`` or ``github`` listing (with its download base, when there is one)."""
    upstream = cfg.upstream
    if upstream.source == "astral":
        return AstralReleases(
            http,
            index_url=listing.index_url,
            download_url=listing.download_url,
            fallback=upstream.fallback,
            retry=retry,
            cache=cache,
            cache_name=listing.cache_name,
        )
    github = GitHubReleases(
        http,
        api_url=upstream.api_url,
        repo=listing.repo,
        retry=retry,
        cache=cache,
        per_page=listing.per_page,
        has_token=has_token,
        full_listing_every=upstream.full_listing_hours * 3600,
        prove_consistent=cfg.prune,
        crawl_key=listing.crawl_key,
    )
    if listing.download_url is None:
        return github
    return DownloadBase(github, base=listing.download_url, fallback=upstream.fallback)
