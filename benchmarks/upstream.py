"""The benchmark upstream: the test suite's fake GitHub, scaled up and shaped like a WAN.

``BenchUpstream`` subclasses ``testkit/fake_github.FakeGitHub`` (same routes, listing,
pagination,
ETags, 302 to a CDN on another host name) and changes four things:

- asset bodies are ``GeneratedBody``s: streamed block by block with ``Range`` support, so a
  1 GiB asset costs no memory; their sha256 is computed once, when a release is added, and
  published as the API ``digest`` and in ``SHA256SUMS``;
- traffic shaping: every request waits ``latency`` seconds before it is answered, and every
  download body is paced by a token bucket to ``bandwidth`` bytes per second (one response at a
  time per HTTP/1.1 connection, so this is a per-connection cap); API and redirect responses are
  delayed but not paced (they are small next to the archives);
- per-route counters (requests, statuses, bytes on the wire, connections) that ``stats()``
  returns and resets;
- release objects are rendered once, not at every listing request, so the fake's own CPU does
  not slow a crawl of ~90,000 assets.

Run as ``python -m benchmarks.upstream [--latency S] [--bandwidth B/S]`` it serves in its own
process, so its CPU never mixes with the measured client's. It then speaks JSON lines: the first
line it prints is ``{"api_url": ...}``; each line it reads is a command (``populate``, ``urls``,
``stats``, ``stop``) answered by one line. End of input stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from fake_github import SUMS, FakeAsset, FakeGitHub, FakeRelease, is_archive

from benchmarks.content import BLOCK, Body, GeneratedBody, StoredBody

PACED_CHUNK = 16 << 10
"""Bytes per step of a paced body: 4 ms at 4 MB/s, smooth enough for a token bucket."""
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    """WAN-like shaping: a delay before every answer and a per-connection body rate."""

    latency: float = 0.0
    """Seconds each request waits before it is answered."""
    bandwidth: float | None = None
    """Bytes per second per download body; None means as fast as loopback goes."""


@dataclass(kw_only=True)
class _Counters:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    wire_bytes: Counter[str] = field(default_factory=Counter)
    peers: set[str] = field(default_factory=set)
    cpu: float = 0.0
    started: float = 0.0


def _route(path: str) -> str:
    if path.startswith("/cdn/"):
        return "cdn"
    if "/releases/download/" in path:
        return "redirect"
    return "api"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class BenchUpstream(FakeGitHub):
    """BENCHMARK INFRASTRUCTURE: ``FakeGitHub`` with generated bodies, shaping and counters."""

    def __init__(self, *, shape: Shape = Shape()) -> None:
        super().__init__()
        self.shape = shape
        self._bodies: dict[int, Body] = {}
        self._pending: dict[str, GeneratedBody] = {}
        self._rendered: dict[int, dict[str, Any]] = {}
        self._counters = _Counters(cpu=_cpu(), started=time.monotonic())

    # ------------------------------------------------------------------ content

    def add_generated_release(self, tag: str, sizes: Mapping[str, int]) -> FakeRelease:
        """Publish ``tag`` with a generated body of ``sizes[name]`` bytes per name (digests on)."""
        self._pending = {name: GeneratedBody(name=name, size=size) for name, size in sizes.items()}
        try:
            return self.add_release(tag, dict.fromkeys(sizes, b""), checksums="digest")
        finally:
            self._pending = {}

    def _put(
        self,
        release: FakeRelease,
        name: str,
        data: bytes,
        *,
        state: str = "uploaded",
        after: str | None = None,
    ) -> None:
        super()._put(release, name, data, state=state, after=after)
        asset = release.assets[name]
        generated = self._pending.get(name)
        if generated is None:
            self._bodies[asset.id] = StoredBody(data=data)
            return
        asset.sha256 = generated.sha256()
        self._bodies[asset.id] = generated

    @staticmethod
    def _sums(release: FakeRelease) -> bytes:
        # From the recorded sha256, not from ``data`` (empty for generated bodies).
        lines = (f"{a.sha256}  {a.name}\n" for a in release.assets.values() if is_archive(a.name))
        return "".join(sorted(lines, key=lambda line: line.split("  ", 1)[1])).encode()

    def body(self, asset: FakeAsset) -> Body:
        return self._bodies[asset.id]

    def _asset_json(self, release: FakeRelease, asset: FakeAsset) -> dict[str, Any]:
        rendered = super()._asset_json(release, asset)
        rendered["size"] = self._bodies[asset.id].size
        return rendered

    def _release_json(self, release: FakeRelease) -> dict[str, Any]:
        # Releases never change once populated: render each once.
        if release.id not in self._rendered:
            self._rendered[release.id] = super()._release_json(release)
        return self._rendered[release.id]

    def assets(self) -> Iterable[tuple[FakeRelease, FakeAsset]]:
        """Every published asset, by tag, in upload order."""
        for release in sorted(self._visible(), key=lambda r: r.tag):
            for asset in release.assets.values():
                yield release, asset

    # ------------------------------------------------------------------ shaping and counting

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.shape.latency > 0:
            await asyncio.sleep(self.shape.latency)
        response = await super()._record(request, handler)
        if not response.prepared:
            # Send it here rather than after the middleware returns, so its size is known.
            await response.prepare(request)
            await response.write_eof()
        route = _route(request.path)
        counters = self._counters
        counters.requests[route] += 1
        counters.statuses[f"{route} {response.status}"] += 1
        counters.wire_bytes[route] += response.body_length
        transport = request.transport
        if transport is not None:
            counters.peers.add(repr(transport.get_extra_info("peername")))
        return response

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        """The CDN: a streamed, optionally paced body, whole or from ``Range: bytes=N-[M]``."""
        hit = self._hit(request, "cdn", asset=request.match_info["asset"])
        asset = self._signed_asset(request, hit)
        if isinstance(asset, web.Response):
            return asset
        body = self._bodies[asset.id]
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        start, stop, status = 0, body.size, 200
        match = _RANGE.fullmatch(request.headers.get("Range", "").strip())
        if match is not None:
            start = int(match[1])
            stop = min(int(match[2]) + 1, body.size) if match[2] else body.size
            if start >= body.size or stop <= start:
                headers["Content-Range"] = f"bytes */{body.size}"
                return web.Response(status=416, headers=headers)
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{body.size}"
            status = 206
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = stop - start
        await response.prepare(request)
        if request.method != "HEAD":
            await self._send(response, body, start=start, stop=stop)
        await response.write_eof()
        return response

    async def _send(
        self, response: web.StreamResponse, body: Body, *, start: int, stop: int
    ) -> None:
        rate = self.shape.bandwidth
        if not rate:
            for chunk in body.chunks(start, stop, chunk=BLOCK):
                await response.write(chunk)
            return
        # A token bucket one chunk deep: the body never runs ahead of ``rate`` by more than that.
        loop = asyncio.get_running_loop()
        began, sent = loop.time(), 0
        for chunk in body.chunks(start, stop, chunk=PACED_CHUNK):
            await response.write(chunk)
            sent += len(chunk)
            ahead = began + sent / rate - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)

    # ------------------------------------------------------------------ counters

    def stats(self) -> dict[str, Any]:
        """What was served since the last call (then reset), and this process's CPU seconds."""
        c = self._counters
        now_cpu = _cpu()
        result = {
            "requests": dict(c.requests),
            "statuses": dict(c.statuses),
            "bytes": dict(c.wire_bytes),
            "connections": len(c.peers),
            "cpu": now_cpu - c.cpu,
            "seconds": time.monotonic() - c.started,
        }
        self._counters = _Counters(cpu=now_cpu, started=time.monotonic())
        self.reset_hits()
        return result


# ---------------------------------------------------------------------- the server process


def _populate(upstream: BenchUpstream, command: Mapping[str, Any]) -> dict[str, Any]:
    began = time.monotonic()
    count = total = 0
    for release in command["releases"]:
        sizes = {str(name): int(size) for name, size in release["sizes"].items()}
        upstream.add_generated_release(str(release["tag"]), sizes)
        count += len(sizes)
        total += sum(sizes.values())
    return {"assets": count, "bytes": total, "seconds": time.monotonic() - began}


def _urls(upstream: BenchUpstream) -> dict[str, Any]:
    rows: list[list[Any]] = []
    for release, asset in upstream.assets():
        if asset.name != SUMS:
            url = upstream.browser_download_url(release.tag, asset.name)
            rows.append([release.tag, asset.name, url, upstream.body(asset).size, asset.sha256])
    return {"urls": rows}


def _reply(payload: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def serve(shape: Shape) -> None:
    """Serve until ``stop`` or end of input, answering one JSON line per command line."""
    upstream = BenchUpstream(shape=shape)
    await upstream.start()
    try:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 30)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        _reply({"api_url": upstream.api_url, "port": upstream.port})
        while line := await reader.readline():
            command = json.loads(line)
            op = command.get("op")
            if op == "stop":
                break
            if op == "populate":
                _reply(_populate(upstream, command))
            elif op == "urls":
                _reply(_urls(upstream))
            elif op == "stats":
                _reply(upstream.stats())
            else:
                _reply({"error": f"unknown op {op!r}"})
    finally:
        await upstream.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upstream")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--bandwidth", type=float, default=None, help="bytes/s per connection")
    args = parser.parse_args(argv)
    asyncio.run(serve(Shape(latency=args.latency, bandwidth=args.bandwidth)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
