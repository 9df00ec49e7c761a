"""Proxy selection: NO_PROXY semantics as curl and Python's urllib read them."""

from __future__ import annotations

import pytest
from yarl import URL

from mirrorsync.net.client import bypasses_proxy


@pytest.mark.parametrize(
    ("url", "no_proxy", "bypass"),
    [
        ("http://127.0.0.1:8080/x", "127.0.0.1,localhost", True),  # an exact host
        ("https://api.github.com/", ".github.com", True),  # a leading dot: the domain
        ("https://api.github.com/", "github.com", True),  # no dot: the domain as well
        ("https://notgithub.com/", "github.com", False),  # a suffix is not a domain
        ("http://h:81/", "h:80", False),  # a port limits the entry
        ("http://h:80/", "h:80", True),
        ("http://anything/", "*", True),
        ("http://anything/", "", False),
        ("http://Example.ORG/", " example.org ", True),  # case and spaces do not matter
    ],
)
def test_no_proxy_entries(url: str, no_proxy: str, bypass: bool) -> None:  # noqa: FBT001
    """A URL bypasses the proxy exactly when a NO_PROXY entry names its host or domain."""
    assert bypasses_proxy(URL(url), no_proxy) is bypass
