"""The run's HTTP client: proxies by the standard library's NO_PROXY rules, and one policy for
both stacks (the aiohttp listing and the download threads) on real loopback servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import zlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from conftest import NoSleep
from yarl import URL

from mirrorsync.errors import UpstreamError
from mirrorsync.net.client import HttpClient, open_client, proxy_for
from mirrorsync.net.policy import BadURL, ConnectionFailed, TooManyRedirects
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.net.threads import Cancel
from mirrorsync.upstream.github import fetch_small

PROXY = "http://proxy.example:3128"


@pytest.mark.parametrize(
    ("url", "no_proxy", "bypass"),
    [
        ("http://127.0.0.1:8080/x", "127.0.0.1,localhost", True),  # an IP address
        ("http://127.0.0.1:8080/x", "127.0.0.1:8080", True),  # host:port
        ("http://127.0.0.1:8081/x", "127.0.0.1:8080", False),  # ... another port
        ("https://api.example.com/", ".example.com", True),  # a leading dot: the domain
        ("https://example.com/", ".example.com", True),  # ... and the name itself
        ("https://api.example.com/", "example.com", True),  # no dot: the domain as well
        ("https://notexample.com/", "example.com", False),  # a suffix is not a domain
        ("http://h/", "h:80", False),  # a port matches only a port the URL gives
        ("http://h:80/", "h:80", True),
        ("http://anything/", "*", True),
        ("http://anything/", "*,example.org", False),  # '*' only as the whole value
        ("http://anything/", "", False),
        ("http://Example.ORG/", " example.org ", True),  # case and spaces do not matter
        ("http://[::1]:8080/", "[::1]", True),  # an IPv6 address as the URL writes it
        ("http://[::1]:8080/", "::1", False),
    ],
)
def test_no_proxy_entries(url: str, no_proxy: str, bypass: bool) -> None:  # noqa: FBT001
    """A URL bypasses the proxy exactly when NO_PROXY, read by the standard library, says so."""
    proxies = {"http": PROXY, "https": PROXY, "no": no_proxy}
    assert proxy_for(URL(url), proxies) == (None if bypass else PROXY)


@pytest.mark.parametrize(
    ("url", "proxies"),
    [
        ("http://h/", {}),
        ("https://h/", {"http": PROXY}),  # a proxy for another scheme
        ("http://h/", {"http": ""}),
    ],
)
def test_no_proxy_configured(url: str, proxies: dict[str, str]) -> None:
    """Without a proxy for the URL's scheme the request goes direct, whatever os.environ holds."""
    assert proxy_for(URL(url), proxies) is None


# -- on loopback --------------------------------------------------------------------------------


@dataclass
class Recorder:
    """A loopback HTTP server that records every GET (Host, target as sent, Authorization) and
    answers 200, or 302 for a path in ``routes`` (its Location, ``{port}`` filled in)."""

    routes: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def answer(self, request: web.Request) -> web.Response:
        self.seen.append((request.host, request.raw_path, request.headers.get("Authorization")))
        if (location := self.routes.get(request.path)) is not None:
            return web.Response(status=302, headers={"Location": location.format(port=self.port)})
        return web.Response(text="ok")

    @property
    def port(self) -> int:
        assert self.runner is not None
        (address,) = self.runner.addresses
        return int(address[1])

    @property
    def targets(self) -> list[str]:
        return [target for _, target, _ in self.seen]


@contextlib.asynccontextmanager
async def serving(routes: dict[str, str] | None = None) -> AsyncIterator[Recorder]:
    recorder = Recorder(routes=routes or {})
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", recorder.answer)
    recorder.runner = web.AppRunner(app, access_log=None)
    await recorder.runner.setup()
    try:
        await web.TCPSite(recorder.runner, "127.0.0.1", 0).start()
        yield recorder
    finally:
        await recorder.runner.cleanup()


@pytest.fixture
async def origin() -> AsyncIterator[Recorder]:
    async with serving() as recorder:
        yield recorder


@pytest.fixture
async def forward_proxy() -> AsyncIterator[Recorder]:
    """A forward proxy on loopback that answers every request itself (absolute URLs recorded)."""
    async with serving() as recorder:
        yield recorder


def client(
    *, proxies: dict[str, str] | None = None, token: str | None = None, api_url: str = ""
) -> AbstractAsyncContextManager[HttpClient]:
    return open_client(
        concurrency=1,
        stall_timeout=30,
        token=token,
        api_url=api_url or "http://127.0.0.1:9",
        proxies=proxies,
    )


async def get_both_ways(http: HttpClient, url: str) -> int:
    """GET ``url`` through the listing's stack, then the download threads'; the two statuses'
    sum (400 when both answered 200)."""
    async with http.get(url) as answer:
        listing = answer.response.status

    def in_thread() -> int:
        opened = http.transfers.open(URL(url), headers={}, cancel=Cancel())
        opened.response.read()
        http.transfers.finish(opened, complete=True)
        return int(opened.response.status)

    return listing + await asyncio.to_thread(in_thread)


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypass"),
    [
        ("127.0.0.1", "127.0.0.1", True),  # an IP address
        ("127.0.0.1", "127.0.0.1:{port}", True),  # host:port
        ("127.0.0.1", "127.0.0.1:1", False),  # ... another port
        ("127.0.0.1", "*", True),
        ("localhost", ".localhost", True),  # a leading dot covers the name itself
        ("localhost", "calhost", False),  # a suffix is not a domain
        ("localhost", "example.com, localhost", True),
        ("127.0.0.1", "", False),
    ],
)
async def test_both_stacks_bypass_the_proxy_by_no_proxy(
    origin: Recorder,
    forward_proxy: Recorder,
    host: str,
    no_proxy: str,
    bypass: bool,  # noqa: FBT001
) -> None:
    """The listing and the download threads go direct exactly for the hosts NO_PROXY names,
    through the proxy otherwise: one decision for both stacks."""
    proxies = {"http": f"http://127.0.0.1:{forward_proxy.port}", "no": no_proxy}
    proxies["no"] = no_proxy.format(port=origin.port)
    url = f"http://{host}:{origin.port}/f"
    async with client(proxies=proxies) as http:
        assert await get_both_ways(http, url) == 400
    direct, proxied = origin.targets, forward_proxy.targets
    if bypass:
        assert (direct, proxied) == (["/f", "/f"], [])
    else:
        assert (direct, proxied) == ([], [url, url])


@pytest.fixture
async def detour() -> AsyncIterator[Recorder]:
    """An API on 127.0.0.1 whose /start goes to another host (localhost), then back to /end."""
    routes = {"/start": "http://localhost:{port}/detour", "/detour": "http://127.0.0.1:{port}/end"}
    async with serving(routes) as recorder:
        yield recorder


async def test_both_stacks_drop_the_token_after_a_detour(detour: Recorder) -> None:
    """The token goes to the API; after a redirect to another host it is never sent again in
    that chain, not even back on the API's host, in either stack."""
    api = f"http://127.0.0.1:{detour.port}"
    async with client(token="t0ken", api_url=api) as http:
        assert await get_both_ways(http, f"{api}/start") == 400
    hops = [
        (f"127.0.0.1:{detour.port}", "/start", "Bearer t0ken"),
        (f"localhost:{detour.port}", "/detour", None),
        (f"127.0.0.1:{detour.port}", "/end", None),
    ]
    assert detour.seen == hops + hops


@pytest.fixture
async def looping() -> AsyncIterator[Recorder]:
    """/loop redirects to itself; /bad to a Location that is no URL."""
    async with serving({"/loop": "/loop", "/bad": "http://[bad/x"}) as recorder:
        yield recorder


async def test_the_listing_stack_follows_the_redirect_limit(looping: Recorder) -> None:
    """The listing's client gives up after 10 redirects with the policy's one exception, as the
    download threads do."""
    async with client() as http:
        with pytest.raises(TooManyRedirects, match="more than 10 redirects"):
            async with http.get(f"http://127.0.0.1:{looping.port}/loop"):
                pass
        assert http.requests == 11


async def test_a_redirect_loop_of_a_small_file_is_not_retries_exhausted(
    looping: Recorder, no_sleep: NoSleep
) -> None:
    """A checksum list caught in a redirect loop fails at once saying so, never as "retries
    exhausted": retrying a loop cannot help."""
    async with client() as http:
        with pytest.raises(UpstreamError) as failed:
            await fetch_small(
                http,
                f"http://127.0.0.1:{looping.port}/loop",
                retry=RetryPolicy(retries=3, sleep=no_sleep),
                limit=9,
                what="SHA256SUMS",
            )
    assert "more than 10 redirects" in str(failed.value)
    assert "retries exhausted" not in str(failed.value)
    assert no_sleep.delays == []


async def test_a_bad_redirect_of_a_small_file_is_a_clear_error(
    looping: Recorder, no_sleep: NoSleep
) -> None:
    """A Location that is no URL fails a small file once with a message, not with a traceback."""
    async with client() as http:
        with pytest.raises(BadURL, match="redirected to an invalid URL"):
            async with http.get(f"http://127.0.0.1:{looping.port}/bad"):
                pass
        with pytest.raises(UpstreamError, match=r"redirected to an invalid URL 'http://\[bad/x'$"):
            await fetch_small(
                http,
                f"http://127.0.0.1:{looping.port}/bad",
                retry=RetryPolicy(sleep=no_sleep),
                limit=1000,
                what="SHA256SUMS",
            )
    assert len(looping.seen) == 2  # one each: a bad URL is never retried


async def test_a_refused_connection_is_the_policys_connection_failure(
    no_sleep: NoSleep,
) -> None:
    """aiohttp's connection errors leave the client as ConnectionFailed: retried, then reported."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connecting is refused
    retry = RetryPolicy(retries=2, sleep=no_sleep)
    async with client() as http:
        with pytest.raises(ConnectionFailed):
            async with http.get(f"http://127.0.0.1:{port}/x"):
                pass
        with pytest.raises(UpstreamError, match=r"\(retries exhausted\)$"):
            await fetch_small(http, f"http://127.0.0.1:{port}/x", retry=retry, limit=9, what="f")
    assert len(no_sleep.delays) == 2


async def test_a_transient_failure_without_retries_names_the_setting(no_sleep: NoSleep) -> None:
    """With ``download.retries: 0`` a transient failure says no retry was configured, never
    "retries exhausted", and nothing sleeps."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connecting is refused
    retry = RetryPolicy(retries=0, sleep=no_sleep)
    async with client() as http:
        with pytest.raises(UpstreamError, match=r"\(download\.retries is 0\)$"):
            await fetch_small(http, f"http://127.0.0.1:{port}/x", retry=retry, limit=9, what="f")
    assert no_sleep.delays == []


async def test_a_gzip_bomb_of_a_small_file_is_refused_at_the_cap(no_sleep: NoSleep) -> None:
    """A checksum list (or uv list) that inflates past its cap is refused, naming it, however
    small it is on the wire; it is never retried."""
    inflated = 4 << 20
    packed = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip wrapper
    body = packed.compress(b" " * inflated) + packed.flush()
    hits: list[str] = []

    async def bomb(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/SHA256SUMS", bomb)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with client() as http:
            with pytest.raises(
                UpstreamError, match=r"^SHA256SUMS: the body is larger than 1048576"
            ):
                await fetch_small(
                    http,
                    f"http://127.0.0.1:{port}/SHA256SUMS",
                    retry=RetryPolicy(retries=3, sleep=no_sleep),
                    limit=1 << 20,
                    what="SHA256SUMS",
                )
    finally:
        await runner.cleanup()
    assert len(body) < inflated // 100
    assert hits == ["/SHA256SUMS"]
