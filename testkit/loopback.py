"""TEST INFRASTRUCTURE: small HTTP servers on 127.0.0.1 (an aiohttp app, ``mirrorsync serve``)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from mirrorsync.commands.serve import serve


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free loopback port; yields ``http://127.0.0.1:PORT``."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serving(root: Path, **kw: float) -> AsyncIterator[str]:
    """``serve(root)`` on a free loopback port with the given limits; yields its base URL as
    ``ready`` reported it (with a trailing ``/``)."""
    urls: list[str] = []
    listening = asyncio.Event()

    def ready(url: str) -> None:
        urls.append(url)
        listening.set()

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(serve(root, port=0, ready=ready, **kw))  # type: ignore[arg-type]
        await listening.wait()
        try:
            yield urls[0]
        finally:
            task.cancel()


async def send_cut(
    request: web.Request, data: bytes, *, at: int, fault: str, status: int = 200
) -> web.StreamResponse:
    """Announce ``len(data)`` bytes, send the first ``at``, then break the connection: closed
    (``truncate``: the peer sees EOF early) or reset (``reset``: RST, SO_LINGER 0)."""
    response = web.StreamResponse(status=status)
    response.content_length = len(data)
    await response.prepare(request)
    await response.write(data[:at])
    transport = request.transport
    if transport is not None:
        if fault == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    return response
