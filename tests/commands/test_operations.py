"""Unattended operation: bandwidth cap, proxies, run history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from mirror_harness import Mirror

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


async def test_http_proxy_from_the_environment_is_used(
    mirror: Mirror, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY routes the listing and downloads through the proxy; the tree is still right."""
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("http_proxy", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    mirror.fake.add_release(TAG, NAMES)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert any("/releases?" in u for u in seen)
    assert any("/cdn/" in u for u in seen)
    for name in NAMES:
        assert (mirror.root / TAG / name).read_bytes() == mirror.fake.content(TAG, name)


async def test_no_proxy_bypasses_the_proxy(
    mirror: Mirror, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hosts listed in NO_PROXY are reached directly."""
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    mirror.fake.add_release(TAG, NAMES)
    assert (await mirror.sync()).exit_code == 0
    assert seen == []
