"""Stream one asset into its staging file while hashing it; verify size and sha256; resume."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

import aiohttp

from mirrorsync.client import HttpClient
from mirrorsync.errors import (
    ChecksumMismatch,
    DownloadError,
    SizeMismatch,
    TargetError,
    describe_os_error,
)
from mirrorsync.model import Asset
from mirrorsync.ratelimit import RateLimiter
from mirrorsync.retry import IncompleteBody, RetryPolicy, TransientHTTPError, rate_limit_wait

log = logging.getLogger(__name__)

WRITE_BATCH = 2 << 20
"""Bytes gathered before one write+hash step in a worker thread (large steps, few hops)."""
READ_BLOCK = 1 << 20
DOWNLOAD_HEADERS = {
    # Archives are compressed already; asking for identity keeps every byte as published.
    "Accept-Encoding": "identity",
    "Accept": "application/octet-stream",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched:
    """A verified staging file, ready to be renamed into place."""

    staged: Path
    sha256: str
    size: int
    downloaded: int
    """Bytes received over the network for it (less than ``size`` after a resume)."""


class _Part:
    """The staging file of one download, with the running hash of the bytes it holds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hash = hashlib.sha256()
        self.size = 0
        self._file: BinaryIO | None = None

    def open_resume(self, limit: int) -> int:
        """Open for appending after hashing what an earlier attempt left; returns its size."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hash = hashlib.sha256()
        self.size = 0
        try:
            existing = self.path.stat().st_size
        except FileNotFoundError:
            existing = 0
        if existing > limit:
            self.path.unlink()
            existing = 0
        self._file = self.path.open("ab" if existing else "wb")
        if existing:
            with self.path.open("rb") as f:
                while block := f.read(READ_BLOCK):
                    self.hash.update(block)
                    self.size += len(block)
        return self.size

    def restart(self) -> None:
        """Drop what was there: the server sent the whole body."""
        assert self._file is not None  # noqa: S101 - opened by open_resume
        self._file.seek(0)
        self._file.truncate()
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunks: list[bytes]) -> None:
        """Append and hash ``chunks`` (one worker-thread step; no joined copy is made)."""
        assert self._file is not None  # noqa: S101 - opened by open_resume
        for data in chunks:
            self._file.write(data)
            self.hash.update(data)
            self.size += len(data)

    def finish(self) -> None:
        """Flush to stable storage, so that a crash after the rename cannot lose the bytes."""
        self.close()
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        _discard(self.path)


async def fetch_asset(
    http: HttpClient,
    asset: Asset,
    *,
    staged: Path,
    retry: RetryPolicy,
    on_bytes: Callable[[int], None] = lambda _: None,
    limiter: RateLimiter | None = None,
) -> Fetched:
    """Download ``asset`` into ``staged``, resuming what a previous attempt left there.

    Transient failures are retried (resuming with ``Range``); a size or sha256 mismatch is never
    retried and leaves nothing behind, except that a mismatch after resuming an old partial file
    is tried once more from the first byte. Raises ``AssetError`` subclasses, or ``TargetError``
    when the staging file cannot be written.
    """
    if asset.sha256 is None:
        # Without a checksum nothing could tell an earlier run's partial file of another upstream
        # version from a prefix of this one: start afresh (retries in this run still resume).
        _discard(staged)
    download = _Download(
        http, asset, part=_Part(staged), retry=retry, on_bytes=on_bytes, limiter=limiter
    )
    try:
        try:
            return await download.run()
        except (SizeMismatch, ChecksumMismatch):
            if not download.resumed:
                raise
            log.info("%s: the resumed partial file was stale; downloading it whole", asset.path)
            download.part.discard()
            return await download.run()
    except (SizeMismatch, ChecksumMismatch):
        download.part.discard()
        raise
    except (aiohttp.ClientError, TimeoutError, TransientHTTPError, IncompleteBody) as e:
        # The partial file stays in staging: the next run resumes it with a Range request.
        reason = "stalled (no data within the timeout)" if isinstance(e, TimeoutError) else e
        raise DownloadError(asset.path, f"download failed: {reason or type(e).__name__}") from e
    except OSError as e:
        download.part.discard()
        raise TargetError(f"{asset.path}: cannot write ({describe_os_error(e)})") from e
    finally:
        download.part.close()


class _Download:
    def __init__(
        self,
        http: HttpClient,
        asset: Asset,
        *,
        part: _Part,
        retry: RetryPolicy,
        on_bytes: Callable[[int], None],
        limiter: RateLimiter | None,
    ) -> None:
        self.limiter = limiter
        self.http = http
        self.asset = asset
        self.part = part
        self.retry = retry
        self.on_bytes = on_bytes
        self.received = 0
        self.resumed = False

    async def run(self) -> Fetched:
        await self.retry.run(self._attempt, what=self.asset.path)
        part, asset = self.part, self.asset
        sha256 = part.hash.hexdigest()
        if part.size != asset.size:
            raise SizeMismatch(asset.path, expected=asset.size, actual=part.size)
        if asset.sha256 is not None and sha256 != asset.sha256:
            raise ChecksumMismatch(
                asset.path,
                expected=asset.sha256,
                actual=sha256,
                source=asset.sha256_source or "upstream",
            )
        await asyncio.to_thread(part.finish)
        return Fetched(staged=part.path, sha256=sha256, size=part.size, downloaded=self.received)

    async def _attempt(self) -> None:
        part, asset = self.part, self.asset
        try:
            offset = await asyncio.to_thread(part.open_resume, asset.size)
            self.resumed = self.resumed or offset > 0
            if offset == asset.size and asset.size > 0:
                return  # an earlier run stopped after the last byte: verify it, no request
            headers = dict(DOWNLOAD_HEADERS)
            if offset:
                headers["Range"] = f"bytes={offset}-"
            async with self.http.get(asset.upstream.url, headers=headers, decompress=False) as ans:
                r = ans.response
                await _check_download_status(ans.redirected, r, asset, retry=self.retry)
                if offset and not _resumes_at(r, offset):
                    log.debug("%s: the server ignored the range; downloading it whole", asset.path)
                    await asyncio.to_thread(part.restart)
                await self._stream(r)
            if part.size < asset.size:
                raise IncompleteBody(f"connection closed at {part.size} of {asset.size} bytes")
        finally:
            part.close()

    async def _stream(self, response: aiohttp.ClientResponse) -> None:
        part, asset = self.part, self.asset
        batch: list[bytes] = []
        pending = 0
        try:
            async for chunk in response.content.iter_any():
                _check_not_too_long(asset, part.size + pending + len(chunk))
                batch.append(chunk)
                pending += len(chunk)
                self.received += len(chunk)
                self.on_bytes(len(chunk))
                if self.limiter is not None:
                    await self.limiter.take(len(chunk))
                if pending >= WRITE_BATCH:
                    full, batch, pending = batch, [], 0
                    await asyncio.to_thread(part.write, full)
        except BaseException:
            # Keep what did arrive (a reset, a stall, Ctrl-C): the next attempt resumes after it.
            # A plain synchronous write of at most one batch: no await while unwinding.
            if batch:
                part.write(batch)
            raise
        if batch:
            await asyncio.to_thread(part.write, batch)


def _discard(path: Path) -> None:
    """Remove a staging file; a failure here must not hide the error being handled."""
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        log.debug("%s: cannot remove (%s)", path, e)


def _check_not_too_long(asset: Asset, size: int) -> None:
    if size > asset.size:
        raise SizeMismatch(asset.path, expected=asset.size, actual=size)


def _resumes_at(response: aiohttp.ClientResponse, offset: int) -> bool:
    if response.status != HTTPStatus.PARTIAL_CONTENT:
        return False
    content_range = response.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


async def _check_download_status(
    redirected: bool,  # noqa: FBT001 - internal helper, called once
    response: aiohttp.ClientResponse,
    asset: Asset,
    *,
    retry: RetryPolicy,
) -> None:
    status = response.status
    if status in (HTTPStatus.OK, HTTPStatus.PARTIAL_CONTENT):
        return
    if status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
        raise TransientHTTPError("the server refused to resume", status=status, wait=0)
    body = await response.text(errors="replace") if status >= HTTPStatus.BAD_REQUEST else ""
    wait = rate_limit_wait(status, response.headers, body, now=retry.clock())
    if wait is not None:
        raise TransientHTTPError(f"rate limited ({status})", status=status, wait=wait)
    if status == HTTPStatus.FORBIDDEN and redirected:
        # Signed download URLs expire within minutes: start over from the download URL.
        raise TransientHTTPError("the signed download link expired (403)", status=status, wait=0)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise TransientHTTPError(f"upstream answered {status}", status=status)
    raise DownloadError(asset.path, f"upstream answered {status} for {asset.upstream.url}")
