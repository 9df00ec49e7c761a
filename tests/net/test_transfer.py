"""Download threads: keep-alive, stale connections, cancellation, TLS and CONNECT proxies."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from conftest import NoSleep
from yarl import URL

from mirrorsync.core.model import Asset, UpstreamAsset
from mirrorsync.core.names import parse_asset_name
from mirrorsync.errors import DownloadError
from mirrorsync.net import download
from mirrorsync.net.client import HttpClient, open_client
from mirrorsync.net.download import fetch_asset
from mirrorsync.net.policy import ConnectionFailed, Hop, is_transient
from mirrorsync.net.ratelimit import RateLimiter
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.net.threads import Cancel, Transfers

NAME = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
BODY = bytes(range(256)) * 1024  # 256 KiB


@dataclass
class Routing:
    """The run's HTTP policy as the download threads see it: no token, an optional proxy."""

    proxy: str | None = None
    count: int = 0

    def request_headers(self, hop: Hop, extra: Mapping[str, str] | None) -> dict[str, str]:
        del hop
        return dict(extra or {})

    def proxy_for(self, url: URL) -> str | None:
        del url
        return self.proxy

    def count_request(self) -> None:
        self.count += 1


@dataclass
class Origin:
    """A loopback file server that records the client port of every request."""

    url: str
    peers: list[int] = field(default_factory=list)


def asset_at(url: str, *, size: int = len(BODY)) -> Asset:
    upstream = UpstreamAsset(name=NAME, size=size, link=url)
    return Asset(tag="20251217", parsed=parse_asset_name(NAME), upstream=upstream)


def loopback_client(*, stall_timeout: float = 30) -> AbstractAsyncContextManager[HttpClient]:
    """The run's HTTP client, for tests that fetch archives only (its API URL is never asked)."""
    return open_client(
        concurrency=1, stall_timeout=stall_timeout, token=None, api_url="http://127.0.0.1:9"
    )


def one_thread(routing: Routing) -> Transfers:
    return Transfers(routing, workers=1, stall_timeout=30, connect_timeout=30)


def get(transfers: Transfers, url: str) -> bytes:
    """One whole GET through ``transfers`` (in the calling thread), its connection kept."""
    opened = transfers.open(URL(url), headers={}, cancel=Cancel())
    body = opened.response.read()
    transfers.finish(opened, complete=True)
    return body


async def serve_app(app: web.Application, context: ssl.SSLContext | None = None) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    return runner


def port_of(runner: web.AppRunner) -> int:
    (address,) = runner.addresses
    return int(address[1])


def file_app(peers: list[int]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peers.append(peer[1] if peer else 0)
        return web.Response(body=BODY, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{name}", handler)
    return app


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    peers: list[int] = []
    runner = await serve_app(file_app(peers))
    yield Origin(url=f"http://127.0.0.1:{port_of(runner)}", peers=peers)
    await runner.cleanup()


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A CA that the system trust store accepts for this test (through SSL_CERT_FILE)."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return ca


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


async def test_connections_are_kept_alive(origin: Origin) -> None:
    """Five downloads in a row from one host use one connection."""
    transfers = one_thread(Routing())
    try:
        for n in range(5):
            assert await asyncio.to_thread(get, transfers, f"{origin.url}/f{n}") == BODY
    finally:
        transfers.close()
    assert len(origin.peers) == 5
    assert len(set(origin.peers)) == 1


async def test_downloads_reuse_their_connection(
    origin: Origin, tmp_path: Path, no_sleep: NoSleep
) -> None:
    """Five archives fetched one after another from one host go over one connection."""
    async with loopback_client() as http:
        for n in range(5):
            got = await fetch_asset(
                http,
                asset_at(f"{origin.url}/f{n}"),
                staged=tmp_path / f"{n}.part",
                retry=RetryPolicy(sleep=no_sleep),
            )
            assert got.staged.read_bytes() == BODY
    assert len(origin.peers) == 5
    assert len(set(origin.peers)) == 1


def numbered(size: int, seed: int) -> bytes:
    """``size`` bytes in which no 4-byte word repeats (a misplaced block changes the sha256)."""
    words = (size + 3) // 4
    return b"".join(((seed << 28) + i).to_bytes(4, "big") for i in range(words))[:size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_large_bodies_in_one_thread_arrive_whole(
    tmp_path: Path,
    no_sleep: NoSleep,
    monkeypatch: pytest.MonkeyPatch,
    chunked: bool,  # noqa: FBT001
) -> None:
    """Two bodies of several MiB fetched one after the other by one download thread (which
    reads both through the same buffer) each arrive whole and verified, over one kept-alive
    connection, and the disk is told to start writing each file every 4 MiB, in order."""
    bodies = {f"f{n}": numbered((9 << 20) + 12345 * n + 1, seed=n) for n in range(2)}
    peers: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peers.append(peer[1] if peer else 0)
        body = bodies[request.match_info["name"]]
        if not chunked:
            return web.Response(body=body, content_type="application/octet-stream")
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 300_000):
            await response.write(body[start : start + 300_000])
        await response.write_eof()
        return response

    started: list[tuple[int, int]] = []
    writeback = download.start_writeback

    def recording(fd: int, start: int, end: int) -> None:
        started.append((start, end))
        writeback(fd, start, end)

    monkeypatch.setattr(download, "start_writeback", recording)
    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = await serve_app(app)
    try:
        async with loopback_client() as http:
            for name, body in bodies.items():
                got = await fetch_asset(
                    http,
                    dataclasses.replace(
                        asset_at(f"http://127.0.0.1:{port_of(runner)}/{name}", size=len(body)),
                        sha256=hashlib.sha256(body).hexdigest(),
                    ),
                    staged=tmp_path / f"{name}.part",
                    retry=RetryPolicy(retries=0, sleep=no_sleep),
                )
                assert got.staged.read_bytes() == body
    finally:
        await runner.cleanup()
    assert len(peers) == 2
    assert len(set(peers)) == 1
    # Each file: its first 8 MiB in two steps, from its start, contiguous; the rest is fsynced.
    step, most = download.WRITEBACK_STEP, download.WRITEBACK_STEP + download.BUFFER
    assert [start for start, _ in started] == [0, started[0][1], 0, started[2][1]]
    assert all(step <= end - start < most for start, end in started)


async def test_a_connection_the_server_closed_is_replaced_quietly() -> None:
    """A kept-alive connection the server has since closed is retried once on a new one."""
    connections = 0

    async def answer_once_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        # Keep-alive as far as the headers say, then the server goes away (an idle timeout).
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transfers = one_thread(Routing())
    try:
        assert await asyncio.to_thread(get, transfers, f"http://127.0.0.1:{port}/a") == b"hello"
        assert await asyncio.to_thread(get, transfers, f"http://127.0.0.1:{port}/b") == b"hello"
    finally:
        transfers.close()
        server.close()
        await server.wait_closed()
    assert connections == 2


@dataclass
class Staller:
    """Announces BODY, sends ``sent`` bytes of it, then sends nothing more until told."""

    sent: int
    head: str = f"Content-Length: {len(BODY)}"
    """The answer's framing headers: a length, or ``Connection: close`` with or without one."""
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 200 OK\r\n{self.head}\r\n\r\n".encode())
        writer.write(BODY[: self.sent])
        await writer.drain()
        self.reached.set()
        await self.release.wait()
        writer.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "head",
    [
        f"Content-Length: {len(BODY)}",
        f"Content-Length: {len(BODY)}\r\nConnection: close",
        "Connection: close",  # HTTP/1.0 style: the body ends when the connection does
    ],
)
async def test_cancelling_wakes_a_download_stalled_in_a_read(
    tmp_path: Path, no_sleep: NoSleep, head: str
) -> None:
    """Ctrl-C stops a thread blocked on a silent server at once and keeps the bytes it had,
    whether the answer keeps the connection alive or ends by closing it."""
    staller = Staller(sent=1000, head=head)
    server = await asyncio.start_server(staller, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    staged = tmp_path / "x.part"
    received = 0
    arrived = asyncio.Event()

    def on_bytes(n: int) -> None:
        nonlocal received
        received += n
        if received >= staller.sent:
            arrived.set()

    try:
        # A stall timeout beyond the test's own: only the socket shutdown can end the read.
        async with loopback_client(stall_timeout=60) as http:
            task = asyncio.create_task(
                fetch_asset(
                    http,
                    asset_at(f"http://127.0.0.1:{port}/x"),
                    staged=staged,
                    retry=RetryPolicy(sleep=no_sleep),
                    on_bytes=on_bytes,
                )
            )
            await arrived.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        staller.release.set()
        server.close()
        await server.wait_closed()
    assert staged.read_bytes() == BODY[: staller.sent]


@pytest.mark.timeout(30)
async def test_cancelling_a_download_waiting_for_the_rate_cap(
    origin: Origin, tmp_path: Path, no_sleep: NoSleep
) -> None:
    """A download thread parked on the shared rate limiter stops when the run is cancelled."""
    parked = asyncio.Event()
    never = asyncio.Event()

    async def endless_sleep(seconds: float) -> None:
        del seconds
        parked.set()
        await never.wait()

    limiter = RateLimiter(1000, sleep=endless_sleep)
    async with loopback_client() as http:
        task = asyncio.create_task(
            fetch_asset(
                http,
                asset_at(f"{origin.url}/x"),
                staged=tmp_path / "x.part",
                retry=RetryPolicy(sleep=no_sleep),
                limiter=limiter,
            )
        )
        await parked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (tmp_path / "x.part").stat().st_size > 0


async def test_https_download_verifies_the_server(
    tls: trustme.CA, tmp_path: Path, no_sleep: NoSleep
) -> None:
    """An HTTPS origin whose certificate the trust store accepts serves a verified download."""
    runner = await serve_app(file_app([]), server_context(tls))
    url = f"https://localhost:{port_of(runner)}/x"
    try:
        async with loopback_client() as http:
            got = await fetch_asset(
                http, asset_at(url), staged=tmp_path / "x.part", retry=RetryPolicy(sleep=no_sleep)
            )
    finally:
        await runner.cleanup()
    assert got.staged.read_bytes() == BODY


async def test_untrusted_certificate_is_a_clear_error(tmp_path: Path, no_sleep: NoSleep) -> None:
    """A certificate from an unknown CA fails the download and says why."""
    runner = await serve_app(file_app([]), server_context(trustme.CA()))
    url = f"https://localhost:{port_of(runner)}/x"
    try:
        async with loopback_client() as http:
            with pytest.raises(DownloadError, match="TLS certificate of localhost not trusted"):
                await fetch_asset(
                    http,
                    asset_at(url),
                    staged=tmp_path / "x.part",
                    retry=RetryPolicy(retries=0, sleep=no_sleep),
                )
    finally:
        await runner.cleanup()


@dataclass
class ConnectProxy:
    """A forward proxy for HTTPS: answers CONNECT and relays bytes both ways."""

    requests: list[bytes] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a tunnel has been torn down on both sides."""

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        host, port = head.split()[1].decode().rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port))
        del host  # always loopback here
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(1 << 16):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.done.set()


async def test_https_through_a_connect_proxy_with_credentials(tls: trustme.CA) -> None:
    """https_proxy tunnels with CONNECT, sends its credentials, and TLS checks the origin."""
    runner = await serve_app(file_app([]), server_context(tls))
    port = port_of(runner)
    proxy = ConnectProxy()
    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    routing = Routing(proxy=f"http://us%40r:p%3Ass@127.0.0.1:{proxy_port}")
    transfers = one_thread(routing)
    try:
        body = await asyncio.to_thread(get, transfers, f"https://localhost:{port}/x")
    finally:
        transfers.close()  # closes the tunnel: the proxy then closes its side too
        await proxy.done.wait()
        server.close()
        await runner.cleanup()
    assert body == BODY
    (head,) = proxy.requests
    assert head.startswith(f"CONNECT localhost:{port} ".encode())
    expected = base64.b64encode(b"us@r:p:ss").decode()
    assert f"Proxy-Authorization: Basic {expected}".encode() in head


async def test_redirect_loop_is_reported(tmp_path: Path, no_sleep: NoSleep) -> None:
    """A URL that redirects to itself fails that asset after 10 hops, saying so."""

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url))

    app = web.Application()
    app.router.add_get("/{name}", loop)
    runner = await serve_app(app)
    try:
        async with loopback_client() as http:
            with pytest.raises(DownloadError, match="more than 10 redirects"):
                await fetch_asset(
                    http,
                    asset_at(f"http://127.0.0.1:{port_of(runner)}/x"),
                    staged=tmp_path / "x.part",
                    retry=RetryPolicy(sleep=no_sleep),
                )
            assert http.requests == 11
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd"])
async def test_only_http_and_https_urls_are_downloaded(
    url: str, tmp_path: Path, no_sleep: NoSleep
) -> None:
    """An asset URL of another scheme is refused with a message, not fetched."""
    async with loopback_client() as http:
        with pytest.raises(DownloadError, match="only http and https"):
            await fetch_asset(
                http,
                asset_at(url),
                staged=tmp_path / "x.part",
                retry=RetryPolicy(retries=0, sleep=no_sleep),
            )


def test_connection_failed_is_retried() -> None:
    """A broken connection counts as transient: the retry policy tries again."""
    assert is_transient(ConnectionFailed("reset"))


async def test_progress_reaches_the_event_loop_in_batches(
    tmp_path: Path, no_sleep: NoSleep
) -> None:
    """A body arriving in 64 small pieces wakes the event loop a few times, not once a piece, and
    is written whole and in order."""
    piece = 16 << 10
    body = b"".join(i.to_bytes(4, "big") for i in range(piece * 64 // 4))  # no two pieces alike

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await response.prepare(request)
        for start in range(0, len(body), piece):
            await response.write(body[start : start + piece])
        return response

    app = web.Application()
    app.router.add_get("/{name}", trickle)
    runner = await serve_app(app)
    calls: list[int] = []
    try:
        async with loopback_client() as http:
            got = await fetch_asset(
                http,
                asset_at(f"http://127.0.0.1:{port_of(runner)}/x", size=len(body)),
                staged=tmp_path / "x.part",
                retry=RetryPolicy(sleep=no_sleep),
                on_bytes=calls.append,
            )
    finally:
        await runner.cleanup()
    assert sum(calls) == len(body)
    assert got.staged.read_bytes() == body  # the small pieces, gathered, in order
    assert 1 <= len(calls) <= 16, calls  # one per MiB or per 0.2 s, plus the first bytes at once


async def test_http_through_a_forward_proxy_with_credentials() -> None:
    """http_proxy gets the absolute URL and the proxy's credentials; the origin never sees them."""
    seen: list[tuple[str, str | None]] = []

    async def forward_proxy(request: web.Request) -> web.Response:
        seen.append((request.raw_path, request.headers.get("Proxy-Authorization")))
        return web.Response(body=BODY)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", forward_proxy)
    runner = await serve_app(app)
    routing = Routing(proxy=f"http://me:secret@127.0.0.1:{port_of(runner)}")
    transfers = one_thread(routing)
    try:
        body = await asyncio.to_thread(get, transfers, "http://origin.invalid:8080/a/b?c=1")
    finally:
        transfers.close()
        await runner.cleanup()
    assert body == BODY
    expected = "Basic " + base64.b64encode(b"me:secret").decode()
    assert seen == [("http://origin.invalid:8080/a/b?c=1", expected)]


@pytest.mark.parametrize(
    ("location", "message"),
    [("http://[bad/x", "redirected to an invalid URL"), ("/caf\u00e9", "cannot request")],
)
async def test_a_bad_redirect_fails_only_that_asset(
    location: str, message: str, tmp_path: Path, no_sleep: NoSleep
) -> None:
    """A Location that is no valid URL (or not ASCII) fails the asset with a message, untried."""
    hits = 0

    async def bad_redirect(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        del request
        return web.Response(status=302, headers={"Location": location})

    app = web.Application()
    app.router.add_get("/{name}", bad_redirect)
    runner = await serve_app(app)
    try:
        async with loopback_client() as http:
            with pytest.raises(DownloadError, match=message):
                await fetch_asset(
                    http,
                    asset_at(f"http://127.0.0.1:{port_of(runner)}/x"),
                    staged=tmp_path / "x.part",
                    retry=RetryPolicy(sleep=no_sleep),
                )
    finally:
        await runner.cleanup()
    assert hits == 1  # not retried: it would only fail the same way


async def test_a_connection_whose_body_was_cut_is_not_kept(
    tmp_path: Path, no_sleep: NoSleep
) -> None:
    """After a body that ends early the connection is closed, never handed to the next download."""
    staller = Staller(sent=1000)
    server = await asyncio.start_server(staller, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    staller.release.set()  # the server closes right after the first 1000 bytes
    try:
        async with loopback_client() as http:
            with pytest.raises(DownloadError, match="connection closed at 1000"):
                await fetch_asset(
                    http,
                    asset_at(f"http://127.0.0.1:{port}/x"),
                    staged=tmp_path / "x.part",
                    retry=RetryPolicy(retries=0, sleep=no_sleep),
                )
            assert http.transfers.idle_connections == 0
    finally:
        server.close()
        await server.wait_closed()


async def test_a_refused_resume_drops_the_partial_file(tmp_path: Path, no_sleep: NoSleep) -> None:
    """A 416 for our Range means the partial file is no prefix of the file: start from byte 0."""
    ranges: list[str | None] = []

    async def no_such_range(request: web.Request) -> web.Response:
        ranges.append(request.headers.get("Range"))
        if request.headers.get("Range"):
            return web.Response(status=416)
        return web.Response(body=BODY)

    app = web.Application()
    app.router.add_get("/{name}", no_such_range)
    runner = await serve_app(app)
    staged = tmp_path / "x.part"
    staged.write_bytes(b"not a prefix of anything")
    try:
        async with loopback_client() as http:
            # With a known sha256 (else nothing tells a stale partial file from a prefix, and it
            # is dropped before the first request).
            asset = dataclasses.replace(
                asset_at(f"http://127.0.0.1:{port_of(runner)}/x"),
                sha256=hashlib.sha256(BODY).hexdigest(),
            )
            got = await fetch_asset(http, asset, staged=staged, retry=RetryPolicy(sleep=no_sleep))
    finally:
        await runner.cleanup()
    assert got.staged.read_bytes() == BODY
    assert ranges == ["bytes=24-", None]


@dataclass
class Replacing:
    """Serves version A (ETag "a") cut in the middle, then has version B of the same size."""

    heads: list[bytes] = field(default_factory=list)

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        old, new = BODY, BODY[::-1]
        if len(self.heads) == 1:
            writer.write(
                f'HTTP/1.1 200 OK\r\nETag: "a"\r\nContent-Length: {len(old)}\r\n\r\n'.encode()
            )
            writer.write(old[: len(old) // 2])
        elif b"If-Range:" not in head:
            # A plain Range is served from the new version: resuming with it would splice.
            start = len(old) // 2
            writer.write(
                f'HTTP/1.1 206 Partial Content\r\nETag: "b"\r\n'
                f"Content-Range: bytes {start}-{len(new) - 1}/{len(new)}\r\n"
                f"Content-Length: {len(new) - start}\r\n\r\n".encode()
            )
            writer.write(new[start:])
        else:
            # If-Range names "a", which is gone: the whole new version, as RFC 9110 says.
            writer.write(
                f'HTTP/1.1 200 OK\r\nETag: "b"\r\nContent-Length: {len(new)}\r\n\r\n'.encode()
            )
            writer.write(new)
        await writer.drain()
        writer.close()


async def test_a_file_replaced_between_attempts_is_not_spliced(
    tmp_path: Path, no_sleep: NoSleep
) -> None:
    """A retry resumes with If-Range; a file replaced upstream meanwhile comes whole, unspliced."""
    server_logic = Replacing()
    server = await asyncio.start_server(server_logic, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with loopback_client() as http:
            got = await fetch_asset(
                http,
                asset_at(f"http://127.0.0.1:{port}/x"),  # no sha256 upstream: nothing else checks
                staged=tmp_path / "x.part",
                retry=RetryPolicy(sleep=no_sleep),
            )
    finally:
        server.close()
        await server.wait_closed()
    assert got.staged.read_bytes() == BODY[::-1]
    second = server_logic.heads[1].decode()
    assert f"Range: bytes={len(BODY) // 2}-" in second
    assert 'If-Range: "a"' in second
