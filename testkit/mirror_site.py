"""TEST INFRASTRUCTURE: an upstream mirror served over HTTP with faults.

``mirrorsync serve`` over a mirror root, behind a small aiohttp app that forwards each GET (with
its conditional and ``Range`` headers) and records it, unless a fault is scripted for that path:
statuses to answer instead (a 5xx storm is a long list), or a body cut short (``truncate``: the
connection closed mid-body; ``reset``: reset mid-body).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import aiohttp
from aiohttp import web
from loopback import running, send_cut, serving

FORWARDED = ("If-None-Match", "If-Modified-Since", "Range")
RETURNED = ("ETag", "Last-Modified", "Content-Type", "Content-Range", "Accept-Ranges")


@dataclass(kw_only=True)
class SiteHit:
    """One request the site received: its decoded path (no leading ``/``) and its answer."""

    path: str
    status: int


@dataclass
class MirrorSite:
    """``serve(root)`` on loopback, seen through a recording, fault-injecting front."""

    root: Path
    hits: list[SiteHit] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    """Path -> statuses answered to its next requests, one each, instead of forwarding."""
    cuts: dict[str, list[str]] = field(default_factory=dict)
    """Path -> faults (``truncate``, ``reset``) for its next requests, one each."""
    url: str = ""

    async def __aenter__(self) -> Self:
        self._serving = serving(self.root)
        self._backend = (await self._serving.__aenter__()).rstrip("/")
        self._session = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._running = running(app)
        self.url = await self._running.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._running.__aexit__(None, None, None)
        await self._session.close()
        await self._serving.__aexit__(None, None, None)

    def clear_faults(self) -> None:
        self.statuses.clear()
        self.cuts.clear()

    def storm(self, path: str, status: int = 503, times: int = 50) -> None:
        """``path`` answers ``status`` to its next ``times`` requests."""
        self.statuses[path] = [status] * times

    def count(self, path: str) -> int:
        return sum(1 for h in self.hits if h.path == path)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["tail"]
        if self.statuses.get(path):
            status = self.statuses[path].pop(0)
            self.hits.append(SiteHit(path=path, status=status))
            return web.Response(status=status, text="scripted fault")
        headers = {k: request.headers[k] for k in FORWARDED if k in request.headers}
        async with self._session.get(f"{self._backend}{request.raw_path}", headers=headers) as up:
            body = await up.read()
            status = up.status
            back = {k: up.headers[k] for k in RETURNED if k in up.headers}
        self.hits.append(SiteHit(path=path, status=status))
        if self.cuts.get(path) and status == 200:
            return await send_cut(request, body, at=len(body) // 2, fault=self.cuts[path].pop(0))
        return web.Response(status=status, body=body, headers=back)
