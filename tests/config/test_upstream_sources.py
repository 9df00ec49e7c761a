"""The ``upstream`` keys of each source: ``github`` (with a download base) and ``mirror``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from mirrorsync.config.records import ASTRAL_DOWNLOAD_URL, ASTRAL_INDEX_URL, UpstreamConfig
from mirrorsync.config.schema import parse_config
from mirrorsync.errors import ConfigError

BASE = Path("/srv/pbs")


def upstream(text: str) -> UpstreamConfig:
    """The ``upstream`` record of a YAML snippet read as ``/srv/pbs/mirror.yaml``."""
    return parse_config(yaml.safe_load(textwrap.dedent(text)), base_dir=BASE).upstream


def problems(text: str) -> list[str]:
    """The problem lines a YAML snippet produces (it must produce some)."""
    with pytest.raises(ConfigError) as info:
        upstream(text)
    return info.value.problems


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://mirror.example/pbs/", "https://mirror.example/pbs"),
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("file:///media/stick/pbs/", "/media/stick/pbs"),
        ("file:///media/my%20stick", "/media/my stick"),
        ("../stick", "/srv/pbs/../stick"),
        ("/media/stick", "/media/stick"),
    ],
)
def test_mirror_url_forms(url: str, normalised: str) -> None:
    """``upstream.url`` takes http(s), ``file://`` and paths (relative to the config file)."""
    got = upstream(f"upstream: {{source: mirror, url: '{url}'}}")
    assert (got.source, got.url) == ("mirror", normalised)


def test_defaults_of_the_new_keys() -> None:
    """``download_url`` defaults to GitHub itself (null), ``fallback`` to true, ``url`` to null."""
    got = upstream("upstream: {}")
    assert (got.source, got.download_url, got.fallback, got.url) == ("github", None, True, None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "upstream: {source: mirror}",
            "upstream.url: the 'mirror' source needs url: the root of another mirrorsync mirror",
        ),
        (
            "upstream: {source: mirror, url: /m, repo: a/b}",
            "upstream.repo: does not apply to the 'mirror' source",
        ),
        (
            "upstream: {source: mirror, url: /m, token_env: T}",
            "upstream.token_env: does not apply to the 'mirror' source",
        ),
        (
            "upstream: {source: mirror, url: /m, download_url: 'https://cdn.example/x'}",
            "upstream.download_url: does not apply to the 'mirror' source",
        ),
        ("upstream: {url: /m}", "upstream.url: does not apply to the 'github' source"),
        *(
            (
                f"upstream: {{source: astral, {key}: {value}}}",
                f"upstream.{key}: does not apply to the 'astral' source",
            )
            for key, value in [
                ("repo", "a/b"),
                ("api_url", "'https://api.example'"),
                ("token_env", "T"),
                ("full_listing_hours", "1"),
                ("url", "/m"),
            ]
        ),
        (
            "upstream: {index_url: 'https://x.example/i.ndjson'}",
            "upstream.index_url: does not apply to the 'github' source",
        ),
        (
            "upstream: {source: astral, index_url: 'ftp://x/i'}",
            "upstream.index_url: expected an http:// or https:// URL, got 'ftp://x/i'",
        ),
        (
            "upstream: {source: mirror, url: 'ftp://host/pbs'}",
            "upstream.url: expected an http(s):// or file:// URL or a path, got 'ftp://host/pbs'",
        ),
        (
            "upstream: {source: mirror, url: 'file://host/pbs'}",
            "upstream.url: expected a file:///absolute/path URL, got 'file://host/pbs'",
        ),
        (
            "upstream: {download_url: 'https://api.github.com/dl'}",
            (
                "upstream.download_url: is on the origin of api_url; the token is never sent to a "
                "download base, so it must be another host (or leave it null for GitHub's own "
                "downloads)"
            ),
        ),
        ("upstream: {fallback: 1}", "upstream.fallback: expected true or false, got 1"),
    ],
)
def test_keys_that_do_not_fit_the_source_are_errors(text: str, problem: str) -> None:
    """A key of another source, a missing url or a bad value is one problem naming the key."""
    assert problems(text) == [f"mirror.yaml: {problem}"]


def test_download_base_is_recorded_without_trailing_slash() -> None:
    """``download_url`` is normalised like every URL and ``fallback`` read as given."""
    got = upstream("upstream: {download_url: 'https://cdn.example/pbs/', fallback: false}")
    assert (got.download_url, got.fallback) == ("https://cdn.example/pbs", False)
    assert got.manifest() == {
        "source": "github",
        "repo": "astral-sh/python-build-standalone",
        "download_url": "https://cdn.example/pbs",
    }


def test_astral_download_url_defaults_to_astrals_base() -> None:
    """For ``astral`` an absent ``download_url`` is Astral's base; null means each index URL."""
    got = upstream("upstream: {source: astral}")
    assert (got.index_url, got.download_url, got.fallback) == (
        ASTRAL_INDEX_URL,
        ASTRAL_DOWNLOAD_URL,
        True,
    )
    assert got.manifest() == {
        "source": "astral",
        "index_url": ASTRAL_INDEX_URL,
        "download_url": ASTRAL_DOWNLOAD_URL,
    }
    assert upstream("upstream: {source: astral, download_url: null}").download_url is None
    assert upstream("upstream: {}").download_url is None


def test_astral_base_on_the_api_origin_is_allowed() -> None:
    """The api_url origin rule guards the token; ``astral`` sends none, so it does not apply."""
    got = upstream("upstream: {source: astral, download_url: 'https://api.github.com/dl'}")
    assert got.download_url == "https://api.github.com/dl"
