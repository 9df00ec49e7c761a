"""Unattended operation: bandwidth cap, proxies, run history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping

import aiohttp
import pytest
from aiohttp import web
from mirror_harness import Mirror

from mirrorsync.cli import main

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-x86_64-pc-windows-msvc-install_only.tar.gz",
]
SIZE = 30_000


async def test_max_rate_caps_the_aggregate_download_rate(mirror: Mirror) -> None:
    """With max_rate, the waits add up to what the cap demands for the bytes received."""
    mirror.fake.add_release(TAG, NAMES, sizes=dict.fromkeys(NAMES, SIZE))
    mirror.configure(download={"max_rate": 10_000, "concurrency": 3})
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    total = 3 * SIZE
    # One second's worth may pass at once (the bucket starts full); the rest waits.
    waited = sum(mirror.sleep.delays)
    assert waited == pytest.approx((total - 10_000) / 10_000, rel=0.05)


async def test_no_max_rate_means_no_waits(mirror: Mirror) -> None:
    """Without max_rate a clean sync never waits."""
    mirror.fake.add_release(TAG, NAMES, sizes=dict.fromkeys(NAMES, SIZE))
    await mirror.sync()
    assert mirror.sleep.delays == []


async def test_history_keeps_one_line_per_run(mirror: Mirror) -> None:
    """Each run appends its outcome and figures to .mirrorsync/history.jsonl."""
    mirror.fake.add_release(TAG, NAMES)
    await mirror.sync()
    mirror.fake.corrupt(NAMES[0])
    mirror.fake.set_content(TAG, NAMES[0], b"new" * 100)
    await mirror.sync()
    await mirror.sync()
    lines = (mirror.root / ".mirrorsync" / "history.jsonl").read_text(encoding="utf-8")
    runs = [json.loads(line) for line in lines.splitlines()]
    assert [r["status"] for r in runs] == ["success", "partial", "success"]
    assert [r["fetched"] for r in runs] == [3, 0, 1]
    assert runs[1]["failed"][0]["path"] == f"{TAG}/{NAMES[0]}"
    assert all(r["files"] == 3 for r in runs)


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A minimal forward HTTP proxy on loopback that records the absolute URLs it relays."""
    seen: list[str] = []

    async def relay(request: web.Request) -> web.StreamResponse:
        url = str(request.url)
        seen.append(url)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.get(url, headers=headers, allow_redirects=False) as upstream,
        ):
            body = await upstream.read()
            keep = ("content-type", "location", "etag", "content-encoding", "link", "content-range")
            out = {k: v for k, v in upstream.headers.items() if k.lower() in keep}
            return web.Response(status=upstream.status, body=body, headers=out)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def sync_with_environment(mirror: Mirror, environ: Mapping[str, str]) -> int:
    """``mirrorsync sync`` for ``mirror`` as the command line runs it, in ``environ``."""
    mirror.configure()
    argv = ["sync", "-q", "-c", str(mirror.config_path)]
    return await asyncio.to_thread(main, argv, environ=environ)


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy"])
async def test_http_proxy_from_the_environment_is_used(
    mirror: Mirror, proxy: tuple[str, list[str]], name: str
) -> None:
    """HTTP_PROXY routes the listing and downloads through the proxy; the tree is still right."""
    url, seen = proxy
    mirror.fake.add_release(TAG, NAMES)
    assert await sync_with_environment(mirror, {name: url}) == 0
    assert any("/releases?" in u for u in seen)
    assert any("/cdn/" in u for u in seen)
    for asset in NAMES:
        assert (mirror.root / TAG / asset).read_bytes() == mirror.fake.content(TAG, asset)


async def test_no_proxy_bypasses_the_proxy(mirror: Mirror, proxy: tuple[str, list[str]]) -> None:
    """Hosts listed in NO_PROXY are reached directly."""
    url, seen = proxy
    mirror.fake.add_release(TAG, NAMES)
    environ = {"HTTP_PROXY": url, "NO_PROXY": "127.0.0.1,localhost"}
    assert await sync_with_environment(mirror, environ) == 0
    assert mirror.published() == {f"{TAG}/{name}" for name in NAMES}
    assert seen == []


async def test_only_the_command_line_reads_proxies_from_the_environment(
    mirror: Mirror, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run given no proxies goes direct, whatever the process environment says."""
    url, seen = proxy
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    mirror.fake.add_release(TAG, NAMES)
    assert (await mirror.sync()).exit_code == 0
    assert seen == []
