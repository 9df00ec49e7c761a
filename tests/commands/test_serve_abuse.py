"""``mirrorsync serve`` against broken and hostile clients: ranges that must not splice, slow and
half-open connections, floods of bad requests. Real sockets on loopback, no sleeps."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path

import pytest
import pytest_asyncio
from loopback import serving
from test_serve import ONE_PLUS, SIZE, TAG, Served, body_of, enc, make_tree, running

from mirrorsync.cli import main
from mirrorsync.commands.serve import build_app, range_use

ERRORS_LOGGER = "mirrorsync.commands.serve.requests"
ETAG = "18a2b3c4d5e6f708-1900"

# -- what a Range means (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_", "if_range", "expected"),
    [
        (None, None, "whole"),  # no Range at all
        ("bytes=0-9", None, "range"),  # a plain range
        ("bytes=-10", None, "range"),  # a suffix range
        ("bytes=-0", None, "unsatisfiable"),  # a suffix of no bytes selects nothing
        ("bytes=0-1,5-6", None, "whole"),  # multi-range: no multipart answers, the whole file
        ("items=0-5", None, "whole"),  # another unit is ignored (RFC 9110 §14.2)
        ("bytes=0-9", f'"{ETAG}"', "range"),  # If-Range names the current file
        ("bytes=0-9", '"0-0"', "whole"),  # If-Range names an older file: send it whole
        ("bytes=0-9", f'W/"{ETAG}"', "whole"),  # a weak tag never matches (strong comparison)
        ("bytes=0-9", "Wed, 21 Oct 2015 07:28:00 GMT", "range"),  # a date: aiohttp compares it
        ("bytes=0-9", "yesterday", "whole"),  # neither a tag nor a date: ignore the Range
    ],
)
def test_range_use_table(range_: str | None, if_range: str | None, expected: str) -> None:
    """Each Range/If-Range pair is honoured, ignored or unsatisfiable as RFC 9110 says."""
    assert range_use(range_, if_range, etag=ETAG) == expected


# -- ranges over HTTP ---------------------------------------------------------------------------


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """A mirror tree served by ``build_app`` on loopback."""
    root = make_tree(tmp_path)
    async with running(build_app(root)) as port:
        yield Served(root=root, base=tmp_path, port=port)


async def test_if_range_with_a_stale_etag_gets_the_whole_file(served: Served) -> None:
    """A resuming client whose If-Range ETag no longer matches gets 200 and every byte."""
    target = f"/{TAG}/{enc(ONE_PLUS)}"
    fresh = await served.request(target, method="HEAD")
    stale = await served.request(target, headers={"Range": "bytes=100-", "If-Range": '"0-0"'})
    assert stale.status == 200
    assert stale.body == body_of(ONE_PLUS)
    assert stale.headers["etag"] == fresh.headers["etag"]


async def test_if_range_with_the_current_etag_resumes(served: Served) -> None:
    """A resuming client whose If-Range carries the ETag the server sent gets 206 and the tail."""
    target = f"/{TAG}/{enc(ONE_PLUS)}"
    etag = (await served.request(target, method="HEAD")).headers["etag"]
    reply = await served.request(target, headers={"Range": "bytes=100-", "If-Range": etag})
    assert reply.status == 206
    assert reply.body == body_of(ONE_PLUS)[100:]


async def test_if_range_with_an_old_date_gets_the_whole_file(served: Served) -> None:
    """An If-Range date older than the file's modification gives 200 with the whole file."""
    target = f"/{TAG}/{enc(ONE_PLUS)}"
    reply = await served.request(
        target, headers={"Range": "bytes=100-", "If-Range": formatdate(0, usegmt=True)}
    )
    assert reply.status == 200
    assert reply.body == body_of(ONE_PLUS)


async def test_empty_suffix_range_is_416(served: Served) -> None:
    """``bytes=-0`` selects no bytes: 416 with ``Content-Range: bytes */<size>``."""
    reply = await served.request(f"/{TAG}/{enc(ONE_PLUS)}", headers={"Range": "bytes=-0"})
    assert reply.status == 416
    assert reply.headers["content-range"] == f"bytes */{SIZE}"


async def test_multi_range_gets_the_whole_file(served: Served) -> None:
    """A multi-range request gets 200 with the whole file, never a mislabelled single part."""
    reply = await served.request(f"/{TAG}/{enc(ONE_PLUS)}", headers={"Range": "bytes=0-1,5-6"})
    assert reply.status == 200
    assert reply.body == body_of(ONE_PLUS)


# -- slow, half-open and too many connections ---------------------------------------------------


@asynccontextmanager
async def port_of(root: Path, **kw: float) -> AsyncIterator[int]:
    """``serving`` reduced to the port it listens on."""
    async with serving(root, **kw) as url:
        yield int(url.rstrip("/").rsplit(":", 1)[1])


async def half_request(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that sends half a request header and then nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
    await writer.drain()
    return reader, writer


async def get(port: int, target: str) -> tuple[int, bytes]:
    served = Served(root=Path(), base=Path(), port=port)
    reply = await served.request(target)
    return reply.status, reply.body


async def test_half_sent_header_is_dropped_after_the_header_timeout(tmp_path: Path) -> None:
    """A client that never finishes its headers is disconnected, not held forever."""
    root = make_tree(tmp_path)
    async with port_of(root, header_timeout=0.2) as port:
        reader, writer = await half_request(port)
        assert await asyncio.wait_for(reader.read(), timeout=30) == b""
        writer.close()


async def test_idle_connections_make_room_for_a_real_client(tmp_path: Path) -> None:
    """At the connection limit, half-open connections are closed so a real request is served."""
    root = make_tree(tmp_path)
    async with port_of(root, max_connections=3) as port:
        idle = [await half_request(port) for _ in range(5)]
        status, body = await get(port, f"/{TAG}/{enc(ONE_PLUS)}")
        closed = [await asyncio.wait_for(r.read(), timeout=30) == b"" for r, _ in idle[:3]]
        for _, w in idle:
            w.close()
    assert (status, body) == (200, body_of(ONE_PLUS))
    assert all(closed)


async def test_busy_server_answers_503_at_its_limit(tmp_path: Path) -> None:
    """When every connection is busy with a download, a newcomer gets 503, not a hang."""
    root = make_tree(tmp_path)
    big = root / TAG / "big.tar.gz"
    with big.open("wb") as f:
        f.truncate(256 << 20)  # sparse: socket buffers fill long before it is sent
    async with port_of(root, max_connections=2) as port:
        stalled = []
        for _ in range(2):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /{TAG}/big.tar.gz HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")  # the download has started; nobody reads it
            stalled.append(writer)
        status, _ = await get(port, "/index.json")
        for w in stalled:
            w.close()
    assert status == 503


# -- bad requests in the log --------------------------------------------------------------------


async def bad_request(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon in this header\r\n\r\n")
    data = await reader.read()
    writer.close()
    return data


async def test_bad_request_is_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed request is answered 400 and logged as one line with no traceback."""
    caplog.set_level(logging.INFO, logger="mirrorsync")
    async with port_of(make_tree(tmp_path)) as port:
        answer = await bad_request(port)
    records = [r for r in caplog.records if r.name == ERRORS_LOGGER]
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert len(records) == 1
    assert records[0].exc_info is None
    assert "\n" not in records[0].getMessage()
    assert "127.0.0.1" in records[0].getMessage()


async def test_a_flood_of_bad_requests_is_rate_limited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past 20 bad requests a minute, further ones are counted in one line, not logged each."""
    caplog.set_level(logging.INFO, logger="mirrorsync")
    async with port_of(make_tree(tmp_path)) as port:
        for _ in range(30):
            await bad_request(port)
    lines = [r.getMessage() for r in caplog.records if r.name == ERRORS_LOGGER]
    assert len(lines) == 21
    assert lines[-1] == "10 more bad requests this minute were not logged"


# -- the port option ----------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_serve_port_out_of_range_is_a_usage_error(
    tmp_path: Path, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve --port`` outside 0-65535 is a usage error (exit 2), never a traceback."""
    assert main(["serve", "--root", os.fspath(tmp_path), "--port", port], environ={}) == 2
    err = capsys.readouterr().err
    assert "--port" in err
    assert "Traceback" not in err
