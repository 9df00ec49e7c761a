"""Download one asset into its staging file while hashing it; verify size and sha256; resume.

Each attempt runs whole in a download thread (``transfer``): read a chunk from the socket, check
the size, hash it, append it to the staging file, with nothing copied in between. The event loop
keeps the retries, the rate cap and the progress, and stops the thread on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import http.client
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO

from yarl import URL

from mirrorsync.core.model import Asset
from mirrorsync.errors import (
    AssetError,
    ChecksumMismatch,
    DownloadError,
    SizeMismatch,
    TargetError,
    describe_os_error,
)
from mirrorsync.net.client import HttpClient
from mirrorsync.net.policy import (
    ConnectionFailed,
    IncompleteBody,
    RequestFailed,
    TransientHTTPError,
    classify,
    shown,
)
from mirrorsync.net.ratelimit import RateLimiter
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.net.threads import Cancel, Cancelled, Opened, Transfers

log = logging.getLogger(__name__)

CHUNK = 256 << 10
"""Most bytes per socket read under a rate cap (the cap sets the pace: its waits stay short),
and per read of a local upstream's file (``copy_local``)."""
BUFFER = 1 << 20
WRITE_AT = 512 << 10
"""A download reads into one buffer of ``BUFFER`` bytes (no larger than the file), one socket
read at a time, and hashes and appends what it holds once that is ``WRITE_AT`` bytes or more,
or the buffer is full, or the body ends or breaks. No bytes object is made per read, and there
is one hash+write step (each releases and retakes the GIL) per half MiB, however the socket
hands the bytes out. On S1 (64 x 16 MiB over loopback, 8 downloads on 2 cores), against a
``read1`` of at most 256 KiB hashed and written each time: half the socket reads and polls, a
quarter of the writes, 40 % fewer futex calls, ~0.1 CPU s less (BENCHMARKS.md)."""
SMALL_READ = 64 << 10
"""Reads of at most this many bytes go through ``read1`` (see ``_readinto1``)."""
WRITEBACK_STEP = 4 << 20
"""Bytes of a staging file after which the disk is told to start writing them (see
``start_writeback``)."""
READ_BLOCK = 1 << 20
"""Bytes per read when hashing what an earlier attempt left."""
PROGRESS_STEP = 1 << 20
PROGRESS_INTERVAL = 0.2
"""Progress reaches the event loop every ``PROGRESS_STEP`` bytes or this many seconds."""
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
    """The staging file of one download, with the running hash of the bytes it holds; with
    ``drop_cached``, its pages leave the page cache once it is on disk (``drop_cached_pages``)."""

    def __init__(self, path: Path, *, drop_cached: bool = False) -> None:
        self.path = path
        self.drop_cached = drop_cached
        self.hash = hashlib.sha256()
        self.size = 0
        self._written_back = 0
        """Where the last ``start_writeback`` ended: the bytes after it are left to the fsync."""
        self._file: BinaryIO | None = None

    def open_resume(self, limit: int, cancel: Cancel) -> int:
        """Open for appending after hashing what an earlier attempt left; returns its size."""
        self.hash = hashlib.sha256()
        self.size = 0
        try:
            existing = self.path.stat().st_size
        except FileNotFoundError:  # the usual case: no earlier attempt, maybe no directory yet
            existing = 0
        if existing > limit:
            self.path.unlink()
            existing = 0
        try:
            self._file = self._open(append=existing > 0)
        except FileNotFoundError:  # the release's first file: one mkdir, not one per file
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._open(append=existing > 0)
        if existing:
            with self.path.open("rb") as f:
                while block := f.read(READ_BLOCK):
                    cancel.check()  # a partial file can be gigabytes: Ctrl-C stops the re-hash
                    self.hash.update(block)
                    self.size += len(block)
        self._written_back = self.size
        return self.size

    def _open(self, *, append: bool) -> BinaryIO:
        return self.path.open("ab") if append else self.path.open("wb")

    def restart(self) -> None:
        """Drop what was there: the server sent the whole body."""
        assert self._file is not None  # noqa: S101 - opened by open_resume
        self._file.seek(0)
        self._file.truncate()
        self.hash = hashlib.sha256()
        self.size = self._written_back = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append and hash ``data`` (both release the GIL for a chunk this size); every
        ``WRITEBACK_STEP`` bytes, have the disk start writing them."""
        assert self._file is not None  # noqa: S101 - opened by open_resume
        self._file.write(data)
        self.hash.update(data)
        self.size += len(data)
        if self.size - self._written_back >= WRITEBACK_STEP:
            self._file.flush()
            start_writeback(self._file.fileno(), self._written_back, self.size)
            self._written_back = self.size

    def finish(self) -> None:
        """Flush to stable storage, so that a crash after the rename cannot lose the bytes."""
        if self._file is not None:  # still open from this attempt: fsync it as it is
            self._file.flush()
            self._durable(self._file.fileno())
            self.close()
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            self._durable(fd)
        finally:
            os.close(fd)

    def _durable(self, fd: int) -> None:
        os.fsync(fd)
        if self.drop_cached:
            drop_cached_pages(fd)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        _discard(self.path)


def start_writeback(fd: int, start: int, end: int) -> None:
    """Have the kernel start writing bytes ``start``-``end`` of ``fd`` to disk, without waiting.

    Each file is fsynced before its rename. Left to the fsync, the whole file goes to the disk
    then, while its download thread waits, and downloads of equal size end together, so their
    fsyncs do too. On S1 (64 x 16 MiB, 8 at a time) with the writes started every 4 MiB, the
    median fsync took 6-10 ms instead of 23-36 ms, and the threads' summed waits in fsync and
    here 0.4 s instead of 0.7-0.9 s (BENCHMARKS.md). The same work, done earlier; where Linux's
    ``sync_file_range`` is not available nothing is done, and the fsync does it all as before.
    """
    call = _sync_file_range()
    if call is not None:
        call(fd, start, end - start, SYNC_FILE_RANGE_WRITE)


def drop_cached_pages(fd: int) -> None:
    """Have the kernel drop ``fd``'s pages from the page cache, once they are on disk (fsynced).

    A sync writes gigabytes nothing reads back soon: left cached, they push out what the
    machine does use (a web server's hot files, the cache of a container's memory limit, which
    counts them), and a virtual machine whose host reclaims freed memory pays again for every
    fresh page: on S1 here the same 1 GiB of durable writes cost 0.5 or 1.0-1.9 CPU s by how
    warm the guest's memory was, 0.5 when the written pages were dropped (BENCHMARKS.md). Only
    clean pages are dropped; where ``posix_fadvise`` is missing (macOS) or refused, nothing is.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


SYNC_FILE_RANGE_WRITE = 2
"""``sync_file_range``'s flag: start writing the range's dirty pages, wait for nothing."""


@cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """C library's ``sync_file_range`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # noqa: PLC0415 - only where it is used, and only once

    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


async def fetch_asset(
    http: HttpClient,
    asset: Asset,
    *,
    staged: Path,
    retry: RetryPolicy,
    on_bytes: Callable[[int], None] = lambda _: None,
    limiter: RateLimiter | None = None,
    drop_cached: bool = False,
) -> Fetched:
    """Download ``asset`` into ``staged``, resuming what a previous attempt left there.

    Transient failures are retried (resuming with ``Range``); a size or sha256 mismatch is never
    retried and leaves nothing behind, except that a mismatch after resuming an old partial file
    is tried once more from the first byte. Raises ``AssetError`` subclasses, or ``TargetError``
    when the staging file cannot be written. With ``drop_cached`` (nothing reads the file
    back: it is renamed into place), its pages leave the page cache once it is on disk.
    """
    if asset.upstream.local_path is not None:
        return await _copy_in_thread(
            asset, staged=staged, on_bytes=on_bytes, drop_cached=drop_cached
        )
    if asset.sha256 is None:
        # Without a checksum nothing could tell an earlier run's partial file of another upstream
        # version from a prefix of this one: start afresh (retries in this run still resume).
        _discard(staged)
    download = _new_download(
        http,
        asset,
        part=_Part(staged, drop_cached=drop_cached),
        retry=retry,
        on_bytes=on_bytes,
        limiter=limiter,
    )
    return await _conclude(download, download.run)


def _new_download(
    http: HttpClient,
    asset: Asset,
    *,
    part: _Part,
    retry: RetryPolicy,
    on_bytes: Callable[[int], None],
    limiter: RateLimiter | None,
) -> _Download:
    return _Download(
        http.transfers,
        asset,
        part=part,
        retry=retry,
        on_bytes=on_bytes,
        limiter=limiter,
        loop=asyncio.get_running_loop(),
    )


async def _conclude(download: _Download, first: Callable[[], Awaitable[Fetched]]) -> Fetched:
    """``first()`` (the download, or what is left of it), with what its failures mean."""
    asset = download.asset
    try:
        try:
            return await first()
        except (SizeMismatch, ChecksumMismatch):
            if not download.resumed:
                raise
            log.info("%s: the resumed partial file was stale; downloading it whole", asset.path)
            download.part.discard()
            return await download.run()
    except (SizeMismatch, ChecksumMismatch):
        download.part.discard()
        raise
    except (RequestFailed, TimeoutError) as e:
        # The partial file stays in staging: the next run resumes it with a Range request.
        reason = "stalled (no data within the timeout)" if isinstance(e, TimeoutError) else e
        raise DownloadError(asset.path, f"download failed: {reason or type(e).__name__}") from e
    except OSError as e:
        download.part.discard()
        raise TargetError.from_os_error(f"{asset.path}: cannot write", e) from e
    finally:
        download.part.close()


STREAK_FILES = 16
STREAK_BYTES = 8 << 20
"""A streak: up to this many small files (and bytes) whose first attempts one download thread
makes one after another, with one hand-over to the event loop for all of them."""


def streakable(asset: Asset) -> bool:
    """Whether ``fetch_streak`` may take ``asset``: fetched over HTTP, with a known size and
    sha256 (a size not known could be large; without a sha256 a partial file is not trusted)."""
    return (
        asset.upstream.local_path is None
        and asset.size is not None
        and asset.size < STREAK_BYTES
        and asset.sha256 is not None
    )


async def fetch_streak(
    http: HttpClient,
    assets: Sequence[tuple[Asset, Path]],
    *,
    retry: RetryPolicy,
    on_bytes: Callable[[int], None] = lambda _: None,
    limiter: RateLimiter | None = None,
    drop_cached: bool = False,
) -> list[Fetched | AssetError]:
    """Download each ``(asset, staging file)`` as ``fetch_asset`` would, in order, each one's
    outcome (``Fetched`` or its ``AssetError``) in its place; other errors are raised.

    The first attempts run one after another in one download thread, which hands all of them
    over at once: tens of thousands of small files cost their requests, not a thread hop and
    an event-loop wake-up each. A first attempt that fails stops the streak; that download is
    then concluded on the event loop exactly as ``fetch_asset`` would (retries, resume), and
    the rest of the streak goes on in a new one.
    """
    downloads = [
        _new_download(
            http,
            a,
            part=_Part(staged, drop_cached=drop_cached),
            retry=retry,
            on_bytes=on_bytes,
            limiter=limiter,
        )
        for a, staged in assets
    ]
    for download in downloads:
        download.in_streak = True
    loop = asyncio.get_running_loop()
    outcomes: list[Fetched | AssetError] = []
    while len(outcomes) < len(downloads):
        left = downloads[len(outcomes) :]
        cancel = Cancel()
        job = loop.run_in_executor(http.transfers.executor, _first_attempts, left, cancel)
        try:
            done, failed = await asyncio.shield(job)
        except asyncio.CancelledError:
            cancel.set()
            await _wait_out(job, cancel)
            raise
        finally:
            for download in left:
                download.report_unreported()
        outcomes += done
        if failed is not None:
            download, error = failed
            try:
                outcomes.append(await _conclude(download, partial(download.run_after, error)))
            except AssetError as e:
                outcomes.append(e)
    return outcomes


_Failed = tuple["_Download", Exception]


def _first_attempts(
    downloads: Sequence[_Download], cancel: Cancel
) -> tuple[list[Fetched], _Failed | None]:
    """In a download thread: the downloads that succeeded at once, in order, and the first one
    that did not, with its failure (the rest is left for another streak)."""
    done: list[Fetched] = []
    for download in downloads:
        try:
            done.append(download.first_in_thread(cancel))
        except Cancelled:
            raise
        except Exception as e:  # noqa: BLE001 - concluded on the event loop, as fetch_asset would
            download.part.close()
            return done, (download, e)
    return done, None


async def _copy_in_thread(
    asset: Asset, *, staged: Path, on_bytes: Callable[[int], None], drop_cached: bool
) -> Fetched:
    """``copy_local`` in a worker thread, its progress on the event loop; Ctrl-C stops it."""
    loop, cancel = asyncio.get_running_loop(), Cancel()
    progress = _Progress(loop, on_bytes)

    def copy() -> Fetched:
        try:
            return copy_local(
                asset,
                staged=staged,
                on_bytes=progress.add,
                cancel=cancel,
                drop_cached=drop_cached,
            )
        finally:
            progress.flush()

    job = asyncio.ensure_future(asyncio.to_thread(copy))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        cancel.set()
        await _wait_out(job, cancel)
        raise


def copy_local(
    asset: Asset,
    *,
    staged: Path,
    on_bytes: Callable[[int], None] = lambda _: None,
    cancel: Cancel | None = None,
    drop_cached: bool = False,
) -> Fetched:
    """Copy an asset of a local upstream mirror (``local_path``: a courier disk, a mount) into
    ``staged``, hashing as it goes; verified exactly like a download: a wrong size or sha256
    leaves nothing behind."""
    source = Path(asset.upstream.local_path or "")
    cancel = cancel or Cancel()
    part = _Part(staged, drop_cached=drop_cached)
    try:
        reader = source.open("rb")
    except OSError as e:
        raise DownloadError(asset.path, f"cannot read {source}: {describe_os_error(e)}") from e
    try:
        with reader:
            part.open_resume(0, cancel)  # limit 0: any earlier partial file is dropped
            while block := _read_block(reader, asset):
                _check_not_too_long(asset, part.size + len(block))
                part.write(block)
                on_bytes(len(block))
                cancel.check()
        sha256 = _verified(part, asset)
        part.finish()
    except AssetError:
        part.discard()
        raise
    except OSError as e:
        part.discard()
        raise TargetError.from_os_error(f"{asset.path}: cannot write", e) from e
    finally:
        part.close()
    return Fetched(staged=part.path, sha256=sha256, size=part.size, downloaded=part.size)


def _verified(part: _Part, asset: Asset) -> str:
    """The sha256 of the bytes in ``part``; ``SizeMismatch``/``ChecksumMismatch`` unless they are
    exactly what ``asset`` promises."""
    sha256 = part.hash.hexdigest()
    if asset.size is not None and part.size != asset.size:  # unknown: the sha256 decides
        raise SizeMismatch(asset.path, expected=asset.size, actual=part.size)
    if asset.sha256 is not None and sha256 != asset.sha256:
        raise ChecksumMismatch(
            asset.path,
            expected=asset.sha256,
            actual=sha256,
            source=asset.sha256_source or "upstream",
        )
    return sha256


def _read_block(reader: BinaryIO, asset: Asset) -> bytes:
    try:
        return reader.read(CHUNK)
    except OSError as e:
        raise DownloadError(asset.path, f"cannot read it: {describe_os_error(e)}") from e


class _Download:
    def __init__(
        self,
        transfers: Transfers,
        asset: Asset,
        *,
        part: _Part,
        retry: RetryPolicy,
        on_bytes: Callable[[int], None],
        limiter: RateLimiter | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.transfers = transfers
        self.asset = asset
        self.part = part
        self.retry = retry
        self.on_bytes = on_bytes
        self.limiter = limiter
        self.loop = loop
        self.received = 0
        self.unreported = 0
        """Bytes the last attempt received and did not report (set by its thread, which has
        finished when the event loop reads it)."""
        self.resumed = False
        self.validator: str | None = None
        """The ETag (else Last-Modified) of the answer this run's partial file began with: sent
        as If-Range when resuming, so that a file replaced upstream is sent whole, not spliced."""
        self.durable = False
        """Whether the last attempt verified and fsynced the file itself (one thread hop less)."""
        self.stage = "attempt"
        """How far ``first_in_thread`` got: its attempt, or checking and syncing the file."""
        self.in_streak = False
        """Whether it is one of a streak of small files (its progress need not show at once)."""
        self.url = asset.upstream.url
        """Where the bytes come from: the asset's URL until it answered 404 and a fallback took
        over (then for the rest of the download)."""

    async def run(self, *, after: Exception | None = None) -> Fetched:
        """Every attempt it takes; ``after``: the first one was made and failed so."""
        await self.retry.run(self._attempt, what=self.asset.path, after=after)
        part = self.part
        sha256 = _verified(part, self.asset)
        if not self.durable:
            await self.loop.run_in_executor(self.transfers.executor, part.finish)
        return self._fetched(sha256)

    async def run_after(self, error: Exception) -> Fetched:
        """What is left after ``first_in_thread`` raised ``error``."""
        if self.stage == "attempt":
            return await self.run(after=error)
        raise error  # the file is complete but wrong, or could not be made durable

    def first_in_thread(self, cancel: Cancel) -> Fetched:
        """In a download thread: the first attempt, verified and made durable."""
        self.stage = "attempt"
        self._attempt_in_thread(cancel)
        self.stage = "verify"
        sha256 = _verified(self.part, self.asset)
        if not self.durable:
            self.part.finish()
        return self._fetched(sha256)

    def report_unreported(self) -> None:
        """On the event loop: the bytes the thread did not hand over itself."""
        if unreported := self.unreported:
            self.unreported = 0
            self.on_bytes(unreported)

    def _fetched(self, sha256: str) -> Fetched:
        part = self.part
        return Fetched(staged=part.path, sha256=sha256, size=part.size, downloaded=self.received)

    async def _attempt(self) -> None:
        """One attempt, whole, in a download thread; cancelling it stops the thread first."""
        cancel = Cancel()
        job = self.loop.run_in_executor(self.transfers.executor, self._attempt_in_thread, cancel)
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            cancel.set()
            await _wait_out(job, cancel)
            raise
        finally:
            # The bytes the thread did not hand over itself: no wake-up of the loop per file.
            self.report_unreported()

    # -- in the download thread ----------------------------------------------------------------

    def _attempt_in_thread(self, cancel: Cancel) -> None:
        part, asset = self.part, self.asset
        self.durable = False
        try:
            # A size upstream does not list: no partial file is trusted (limit 0), the download
            # starts over; its sha256 still decides.
            offset = part.open_resume(asset.size or 0, cancel)
            self.resumed = self.resumed or offset > 0
            if offset == asset.size and offset > 0:
                return  # an earlier run stopped after the last byte: verify it, no request
            headers = dict(DOWNLOAD_HEADERS)
            if offset:
                headers["Range"] = f"bytes={offset}-"
                if self.validator is not None:
                    headers["If-Range"] = self.validator
            else:
                self.validator = None
            opened = self._open(headers, cancel)
            complete = False
            try:
                self._check_status(opened, offset=offset, cancel=cancel)
                if offset and not _resumes_at(opened, offset):
                    log.debug(
                        "%s: the server sent the whole file; downloading it whole", asset.path
                    )
                    part.restart()
                if part.size == 0:
                    self.validator = _validator(opened)
                self._stream(opened, cancel)
                complete = not cancel.is_set
            finally:
                self.transfers.finish(opened, complete=complete)
            cancel.check()
            if asset.size is not None and part.size < asset.size:
                raise IncompleteBody(f"connection closed at {part.size} of {asset.size} bytes")
            if asset.sha256 is None or part.hash.hexdigest() == asset.sha256:
                part.finish()  # run() raises for a wrong size or sha256; it need not wait
                self.durable = True
        finally:
            part.close()

    def _open(self, headers: dict[str, str], cancel: Cancel) -> Opened:
        """The answer for ``self.url``; a 404 there switches to the asset's fallback URL."""
        opened = self.transfers.open(URL(self.url, encoded=True), headers=headers, cancel=cancel)
        fallback = self.asset.upstream.fallback_url
        if opened.response.status != HTTPStatus.NOT_FOUND or fallback in (None, self.url):
            return opened
        self.transfers.finish(opened, complete=False)
        log.warning(
            "%s: %s answered 404; fetching it from %s",
            self.asset.path,
            shown(self.url),
            shown(fallback),
        )
        self.url = fallback
        return self.transfers.open(URL(fallback, encoded=True), headers=headers, cancel=cancel)

    def _stream(self, opened: Opened, cancel: Cancel) -> None:
        part, asset, response = self.part, self.asset, opened.response
        progress = _Progress(self.loop, self.on_bytes, eager=not self.in_streak)
        left = BUFFER if asset.size is None else max(asset.size - part.size, 1)
        buffer = _buffer(left)
        most = CHUNK if self.limiter is not None else len(buffer)
        held, first = 0, True
        try:
            with cancel.watching(opened.sock):
                while n := _receive(response, buffer[held : held + most], cancel, first=first):
                    held, first = held + n, False
                    _check_not_too_long(asset, part.size + held)
                    if held >= WRITE_AT or held == len(buffer):
                        part.write(buffer[:held])
                        held = 0
                    self.received += n
                    # The last bytes are reported by the event loop once the attempt is over.
                    progress.add(n, last=asset.size == part.size + held)
                    if self.limiter is not None:
                        self._throttle(n, cancel)
                    cancel.check()
        finally:
            # Whatever arrived is kept, also after a reset, a stall or Ctrl-C: the next attempt
            # resumes after it.
            if held:
                part.write(buffer[:held])
            self.unreported += progress.take()

    def _throttle(self, nbytes: int, cancel: Cancel) -> None:
        """Take ``nbytes`` from the run's shared rate limiter, which lives on the event loop."""
        assert self.limiter is not None  # noqa: S101 - checked by the caller
        waited = asyncio.run_coroutine_threadsafe(self.limiter.take(nbytes), self.loop)
        with cancel.waiting_on(waited):  # type: ignore[arg-type]
            try:
                waited.result()
            except concurrent.futures.CancelledError:
                raise Cancelled from None

    def _check_status(self, opened: Opened, *, offset: int, cancel: Cancel) -> None:
        status = opened.response.status
        if status in (HTTPStatus.OK, HTTPStatus.PARTIAL_CONTENT):
            return
        if status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE and offset:
            # The server has no bytes past our partial file: it is not a prefix of what is served
            # now. Drop it, so that the retry (and any later run) asks for the whole file.
            self.part.restart()
            raise TransientHTTPError("the server refused to resume", status=status, wait=0)
        body = self.transfers.error_text(opened, cancel) if status >= HTTPStatus.BAD_REQUEST else ""
        verdict = classify(
            status, opened.headers, body, now=self.retry.clock(), expires=opened.redirected
        )
        if verdict.retryable:
            raise verdict.error(opened.url)
        raise DownloadError(self.asset.path, f"upstream answered {status} for {shown(opened.url)}")


class _Progress:
    """Byte counts for the event loop's progress display, a few times a second at most."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_bytes: Callable[[int], None],
        *,
        eager: bool = True,
    ) -> None:
        self._loop = loop
        self._on_bytes = on_bytes
        self._pending = 0
        # Eager: the first bytes are shown at once (a large download, or one that stalls, shows
        # that it started); else after the first interval, as a small file's seldom lasts that.
        self._last = 0.0 if eager else time.monotonic()

    def add(self, nbytes: int, *, last: bool = False) -> None:
        """Count ``nbytes``; ``last``: the body is complete, so the caller reports them."""
        self._pending += nbytes
        if last:
            return
        if self._pending >= PROGRESS_STEP or time.monotonic() - self._last >= PROGRESS_INTERVAL:
            self.flush()

    def take(self) -> int:
        """The bytes counted but not yet reported, for the caller to report."""
        pending, self._pending = self._pending, 0
        return pending

    def flush(self) -> None:
        if self._pending:
            self._loop.call_soon_threadsafe(self._on_bytes, self._pending)
            self._pending = 0
        self._last = time.monotonic()


async def _wait_out(job: asyncio.Future[Any], cancel: Cancel) -> None:
    """Wait for a cancelled download's thread to stop (quick: its socket is shut down).

    Its partial file must be closed before the run goes on to clean up; a second Ctrl-C does not
    abandon it.
    """
    while not job.done():
        try:
            await asyncio.wait({job})
        except asyncio.CancelledError:
            cancel.set()
    if not job.cancelled():
        job.exception()  # retrieved: the cancellation is what gets reported


_thread_buffers = threading.local()


def _buffer(left: int) -> memoryview:
    """A buffer for a body of which ``left`` bytes are to come: a small file's own (one write),
    else the download thread's ``BUFFER`` bytes, made once. A fresh one per large file would
    cost ~256 page faults, as freeing it hands its pages back to the system."""
    if left < BUFFER:
        return memoryview(bytearray(left))
    kept: memoryview | None = getattr(_thread_buffers, "buffer", None)
    if kept is None:
        kept = _thread_buffers.buffer = memoryview(bytearray(BUFFER))
    return kept


def _receive(
    response: http.client.HTTPResponse, into: memoryview, cancel: Cancel, *, first: bool
) -> int:
    """At most one socket read of the body into ``into``: the bytes read, 0 at its end.
    ``first``: the first read of this response."""
    try:
        return _readinto1(response, into, first=first)
    except TimeoutError:
        cancel.check()
        raise
    except (OSError, http.client.HTTPException) as e:
        cancel.check()
        raise ConnectionFailed(f"connection broke: {str(e) or type(e).__name__}") from e


def _readinto1(response: http.client.HTTPResponse, into: memoryview, *, first: bool) -> int:
    """``response.read1`` into the caller's buffer, without making a bytes object per read.

    The response's count of the bytes still owed (``length``) is kept as ``read1`` keeps it, so
    that the connection is reused only after a whole body. ``read1`` itself takes the first read
    (the body's first bytes may have come with the headers, and the reader's ``readinto1`` would
    block for more rather than return them), a chunked body, and reads of a few KiB (into which
    ``readinto1`` would read through the reader's own buffer, leaving bytes behind in it).
    """
    if response.chunked or response.isclosed():
        return _copy_into(response, into)
    if first:
        return _copy_into(response, into[:SMALL_READ])
    if response.length is not None:
        into = into[: response.length]
    if len(into) <= SMALL_READ:
        return _copy_into(response, into)
    n = response.fp.readinto1(into)
    if response.length is not None:
        response.length -= n
    return n


def _copy_into(response: http.client.HTTPResponse, into: memoryview) -> int:
    data = response.read1(len(into))
    into[: len(data)] = data
    return len(data)


def _discard(path: Path) -> None:
    """Remove a staging file; a failure here must not hide the error being handled."""
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        log.debug("%s: cannot remove (%s)", path, e)


MAX_UNKNOWN_SIZE = 8 << 30
"""Bytes a download of unknown size (an index without sizes) may take at most: far above any
python-build-standalone archive, far below a disk. Past it, a host that never stops sending is
refused before it fills the target."""


def _check_not_too_long(asset: Asset, size: int) -> None:
    if asset.size is not None and size > asset.size:
        raise SizeMismatch(asset.path, expected=asset.size, actual=size)
    if asset.size is None and size > MAX_UNKNOWN_SIZE:
        raise DownloadError(
            asset.path, f"more than {MAX_UNKNOWN_SIZE} bytes with no size announced; refused"
        )


def _validator(opened: Opened) -> str | None:
    """A strong ETag, else Last-Modified: what If-Range may carry (RFC 9110 13.1.5)."""
    etag = opened.response.getheader("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return opened.response.getheader("Last-Modified")


def _resumes_at(opened: Opened, offset: int) -> bool:
    if opened.response.status != HTTPStatus.PARTIAL_CONTENT:
        return False
    return (opened.response.getheader("Content-Range") or "").startswith(f"bytes {offset}-")
