"""The ``ReleaseSource`` a configuration names (``upstream.source``)."""

from __future__ import annotations

from mirrorsync.config.records import Config
from mirrorsync.net.client import HttpClient
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.upstream.astral import AstralReleases
from mirrorsync.upstream.cache import StateCache
from mirrorsync.upstream.github import DownloadBase, GitHubReleases
from mirrorsync.upstream.mirror import MirrorReleases
from mirrorsync.upstream.source import ReleaseSource


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
    if upstream.source == "astral":
        return AstralReleases(
            http,
            index_url=upstream.index_url,
            download_url=upstream.download_url,
            fallback=upstream.fallback,
            retry=retry,
            cache=cache,
        )
    if upstream.source == "mirror":
        assert upstream.url is not None  # noqa: S101 - the configuration requires it
        return MirrorReleases(http, url=upstream.url, retry=retry, cache=cache)
    github = GitHubReleases(
        http,
        api_url=upstream.api_url,
        repo=upstream.repo,
        retry=retry,
        cache=cache,
        has_token=has_token,
        full_listing_every=upstream.full_listing_hours * 3600,
        prove_consistent=cfg.prune,
    )
    if upstream.download_url is None:
        return github
    return DownloadBase(github, base=upstream.download_url, fallback=upstream.fallback)
