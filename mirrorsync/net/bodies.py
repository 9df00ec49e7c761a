"""Bodies read into memory, capped on their size after decompression.

A few KB of gzip can inflate to gigabytes (a "decompression bomb"); aiohttp inflates whatever it
is sent. Everything mirrorsync holds in memory (listing pages, checksum lists, uv lists, an
upstream's index) is read through these functions, which stop at a cap on the inflated size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from mirrorsync.errors import UpstreamError

READ_STEP = 1 << 16


async def iter_capped(
    response: aiohttp.ClientResponse, *, limit: int, what: str
) -> AsyncIterator[bytes]:
    """The (inflated) body piece by piece, for a reader that never holds it whole (Astral's
    index); ``UpstreamError`` naming ``what`` once it passes ``limit``."""
    total = 0
    async for chunk in response.content.iter_chunked(READ_STEP):
        total += len(chunk)
        if total > limit:
            raise UpstreamError(
                f"{what}: the body is larger than {limit} bytes (after decompression); refused"
            )
        yield chunk


async def read_capped(response: aiohttp.ClientResponse, *, limit: int, what: str) -> bytes:
    """The whole (inflated) body; ``UpstreamError`` naming ``what`` once it passes ``limit``."""
    data = bytearray()
    async for chunk in iter_capped(response, limit=limit, what=what):
        data += chunk
    return bytes(data)


async def read_head(response: aiohttp.ClientResponse, *, limit: int) -> bytes:
    """At most the first ``limit`` bytes of the (inflated) body: enough of an error message."""
    data = bytearray()
    async for chunk in response.content.iter_chunked(READ_STEP):
        data += chunk
        if len(data) >= limit:
            return bytes(data[:limit])
    return bytes(data)
