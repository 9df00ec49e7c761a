"""Download links held compactly: ``split_link`` and ``UpstreamAsset.url`` give back every URL."""

from __future__ import annotations

import pytest

from mirrorsync.core.model import UpstreamAsset, split_link
from mirrorsync.upstream.github import release_from_json

BASE = "https://github.com/astral-sh/python-build-standalone/releases/download/20240713/"
PLUS = "cpython-3.12.4+20240713-x86_64-unknown-linux-gnu-install_only.tar.gz"
PLAIN = "cpython-3.7.3-linux64-20190427T2308.tar.zst"


def asset(url: str, name: str) -> UpstreamAsset:
    link, is_base = split_link(url, name)
    return UpstreamAsset(name=name, size=1, link=link, link_is_base=is_base)


@pytest.mark.parametrize(
    ("url", "name", "derived"),
    [
        # GitHub's browser_download_url: the directory, then the name with '+' as %2B.
        (BASE + PLUS.replace("+", "%2B"), PLUS, True),
        (BASE + PLAIN, PLAIN, True),
        # Not the derivation: each is kept verbatim.
        (BASE + PLUS, PLUS, False),  # '+' left unencoded
        (BASE + PLUS.replace("+", "%2b"), PLUS, False),  # lower-case escape
        (BASE + "other-name.tar.gz", PLAIN, False),  # another name (a redirecting store)
        (BASE + PLAIN + "?token=x", PLAIN, False),  # a query after the name
        ("https://cdn.example/x" + PLAIN, PLAIN, False),  # no '/' before the name
        (PLAIN, PLAIN, False),  # the name alone
    ],
)
def test_every_url_is_given_back_exactly(url: str, name: str, *, derived: bool) -> None:
    """``url`` is exactly the URL given; only the derivable ones are held as a shared base."""
    up = asset(url, name)
    assert up.url == url
    assert up.link_is_base is derived
    assert (up.link == url) is not derived


def test_the_assets_of_a_release_share_one_base() -> None:
    """Two assets of a release hold the same base string, not one URL each."""
    a = asset(BASE + PLAIN, PLAIN)
    b = asset(BASE + PLUS.replace("+", "%2B"), PLUS)
    assert a.link is b.link


def test_a_github_listing_keeps_an_underivable_url_verbatim() -> None:
    """An API asset whose browser_download_url is not the derivation downloads from that URL;
    a name needing percent-encoding downloads from its encoded URL."""
    odd = "https://objects.example/download/abc123?name=" + PLAIN
    release = release_from_json(
        {
            "tag_name": "20240713",
            "assets": [
                {"name": PLAIN, "size": 1, "browser_download_url": odd},
                {"name": PLUS, "size": 2, "browser_download_url": BASE + PLUS.replace("+", "%2B")},
            ],
        }
    )
    first, second = release.assets
    assert (first.url, first.link_is_base) == (odd, False)
    encoded = "cpython-3.12.4%2B20240713-x86_64-unknown-linux-gnu-install_only.tar.gz"
    assert second.url == BASE + encoded
    assert second.link == BASE
