"""``upstream.download_url`` for the GitHub source: listing and checksums from the API, archives
from another base, GitHub itself as the fallback when the base answers 404."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from eras import DIGEST, DIGEST_TAG, LINUX
from fake_github import FakeGitHub
from loopback import running
from mirror_harness import Mirror

TOKEN = "ghp_" + "a" * 36


@dataclass
class Base:
    """A second download host on loopback serving the fake's bytes below ``/pbs``."""

    fake: FakeGitHub
    url: str = ""
    missing: set[str] = field(default_factory=set)
    """Names answered 404 (a base that has not caught up yet)."""
    wrong: set[str] = field(default_factory=set)
    """Names answered with other bytes of the right size."""
    gets: list[str] = field(default_factory=list)
    authorized: list[str] = field(default_factory=list)
    """Paths of requests that arrived with an ``Authorization`` header."""

    async def handle(self, request: web.Request) -> web.Response:
        tag, name = request.match_info["tag"], request.match_info["name"]
        self.gets.append(request.raw_path)
        if "Authorization" in request.headers:
            self.authorized.append(request.raw_path)
        if name in self.missing:
            return web.Response(status=404, text="not mirrored yet")
        data = self.fake.content(tag, name)
        if name in self.wrong:
            data = bytes(b ^ 1 for b in data)
        return web.Response(body=data)


@asynccontextmanager
async def download_base(fake: FakeGitHub) -> AsyncIterator[Base]:
    """A started ``Base`` whose ``url`` is its ``/pbs`` prefix."""
    base = Base(fake)
    app = web.Application()
    app.router.add_get("/pbs/{tag}/{name}", base.handle)
    async with running(app) as url:
        base.url = f"{url}/pbs"
        yield base


async def test_archives_come_from_the_base_without_the_token(mirror: Mirror) -> None:
    """With a download base, every archive is fetched from it (never from GitHub), byte for
    byte, and the token never reaches it."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.token = TOKEN
    async with download_base(mirror.fake) as base:
        mirror.configure(upstream={"download_url": base.url})
        assert await mirror.run() == 0
    assert mirror.fake.downloads() == []
    assert len(base.gets) == len(DIGEST)
    assert base.authorized == []
    for name in DIGEST:
        assert (mirror.root / DIGEST_TAG / name).read_bytes() == mirror.fake.content(
            DIGEST_TAG, name
        )
    assert any("%2B" in path for path in base.gets)
    assert mirror.index()["upstream"]["download_url"] == base.url
    page = (mirror.root / "index.html").read_text(encoding="utf-8")
    assert f"downloaded from {base.url}" in page


async def test_a_404_at_the_base_falls_back_to_github(
    mirror: Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """``fallback: true``: a file the base answers 404 for is fetched from its own GitHub URL,
    and the switch is logged."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    async with download_base(mirror.fake) as base:
        base.missing.add(LINUX)
        mirror.configure(upstream={"download_url": base.url})
        with caplog.at_level(logging.WARNING, logger="mirrorsync.net.download"):
            assert await mirror.run() == 0
    assert [h.asset for h in mirror.fake.downloads()] == [LINUX]
    assert (mirror.root / DIGEST_TAG / LINUX).read_bytes() == mirror.fake.content(DIGEST_TAG, LINUX)
    assert any("answered 404; fetching it from" in r.getMessage() for r in caplog.records)


async def test_without_fallback_a_404_at_the_base_fails_that_file(mirror: Mirror) -> None:
    """``fallback: false``: a file the base answers 404 for fails (exit 1); GitHub is not asked
    and the other files are published."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    async with download_base(mirror.fake) as base:
        base.missing.add(LINUX)
        mirror.configure(upstream={"download_url": base.url, "fallback": False})
        outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"{DIGEST_TAG}/{LINUX}"]
    assert mirror.fake.downloads() == []
    assert mirror.published() == {f"{DIGEST_TAG}/{n}" for n in DIGEST if n != LINUX}


async def test_checksums_still_come_from_github(mirror: Mirror) -> None:
    """Bytes from the base are verified against GitHub's own SHA256SUMS (read from GitHub, not
    the base): a base serving other bytes for a file gets it refused, never published."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST, checksums="sums")
    async with download_base(mirror.fake) as base:
        base.wrong.add(LINUX)
        mirror.configure(upstream={"download_url": base.url})
        outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"{DIGEST_TAG}/{LINUX}"]
    assert "sha256" in outcome.report.failed[0].error.lower()
    assert not (mirror.root / DIGEST_TAG / LINUX).exists()
    assert not any(path.endswith("SHA256SUMS") for path in base.gets)
