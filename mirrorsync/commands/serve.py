"""``mirrorsync serve``: a static HTTP server over a mirror root, for LANs and air-gapped sites.

Consumers ask for ``<tag>/<name>`` with the ``+`` sent as ``%2B`` (uv) or literally (pbs-installer,
mise, rules_python), so the request path is percent-decoded exactly once and a ``+`` is never a
space (docs/clients.md §4, §5). Request paths are untrusted: a file is served only if it resolves,
symlinks included, inside the resolved root, and nothing hidden (``.mirrorsync/``, dot-files) is
ever served or listed.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import stat
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal, TypeAlias
from urllib.parse import quote, unquote_to_bytes

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict, CIMultiDictProxy

from mirrorsync.core.layout import PAGE_NAME
from mirrorsync.core.media import CACHE_CONTROL, HTML, CacheClass, cache_class, content_type
from mirrorsync.core.names import RELEASE_TAG
from mirrorsync.errors import ConfigError, MirrorsyncError

log = logging.getLogger(__name__)

# A release directory matches core.names.RELEASE_TAG; any other directory below the root is the
# operator's (never immutable).
SHUTDOWN_GRACE = 5.0
"""Seconds in-flight downloads get on shutdown (aiohttp's 60 s default delays Ctrl-C)."""
HEADER_TIMEOUT = 15.0
"""Seconds a connection may take to send a request's headers, or stay idle between requests.

aiohttp closes a connection whose handler waits for a request this long (its keep-alive timer
starts when the connection opens); a client that sends half a header is dropped as well.
"""
MAX_CONNECTIONS = 512
"""Open connections at most: far below the usual 1024 file descriptors, far above a LAN's needs."""
BAD_REQUEST_LINES = 20
"""Bad-request lines logged per minute at most; the rest are counted in one line."""

ROOT_KEY = web.AppKey("mirrorsync_root", Path)


class InFlight:
    """The connections with a request being handled or a file being sent: the busy ones.

    Weak references: a connection that goes away mid-request leaves nothing behind.
    """

    def __init__(self) -> None:
        self._busy: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()

    def begin(self, transport: asyncio.BaseTransport | None) -> Callable[[], None]:
        """Mark ``transport`` busy; returns the call that marks it free again."""
        if transport is None:
            return lambda: None
        self._busy.add(transport)
        return lambda: self._busy.discard(transport)

    def busy(self, transport: asyncio.BaseTransport | None) -> bool:
        return transport is not None and transport in self._busy


IN_FLIGHT_KEY = web.AppKey("mirrorsync_in_flight", InFlight)


@dataclass(frozen=True, slots=True, kw_only=True)
class _File:
    """A regular file inside the root, with the headers it is served with."""

    path: Path
    content_type: str
    cache_control: str
    etag: str
    """The strong validator aiohttp sends for this file (``<mtime_ns>-<size>`` in hex)."""
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    """One line of a directory listing."""

    name: str
    is_dir: bool
    size: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Listing:
    entries: tuple[_Entry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _SlashRedirect:
    """A directory asked for without its trailing slash."""


_Found: TypeAlias = _File | _Listing | _SlashRedirect


def valid_name(name: str) -> bool:
    """Whether a decoded path segment (or a directory entry) may be served at all."""
    return not (
        not name
        or name.startswith(".")  # ".", "..", dot-files and the .mirrorsync/ state directory
        or any(c in name for c in "/\\:")  # ":" would make a Windows drive or NTFS stream
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)  # noqa: PLR2004 - ASCII controls
    )


def parse_request_path(raw_path: str) -> tuple[tuple[str, ...], bool] | None:
    """Split a still-encoded URL path into decoded segments and whether it ended in ``/``.

    Each segment is percent-decoded once, after splitting, so ``%2F`` can never become a
    separator; ``+`` is not special in a path. None means "not found", whatever the reason.
    """
    if not raw_path.startswith("/"):
        return None
    body = raw_path[1:]
    if not body:
        return (), True
    slash = body.endswith("/")
    parts: list[str] = []
    for raw in (body[:-1] if slash else body).split("/"):
        try:
            # Bytes, not str: a file name need not be UTF-8, and a listing links it as its bytes.
            part = os.fsdecode(unquote_to_bytes(raw.encode("utf-8", "surrogateescape")))
        except UnicodeError:
            return None
        if not valid_name(part):
            return None
        parts.append(part)
    return tuple(parts), slash


def _inside(base: Path, real: Path) -> tuple[str, ...] | None:
    """``real``'s parts below ``base`` if it stays inside and is not hidden, else None."""
    if not real.is_relative_to(base):
        return None
    rel = real.relative_to(base).parts
    if any(p.startswith(".") for p in rel):  # a link into .mirrorsync/ is still .mirrorsync/
        return None
    return rel


def _cache_control(parts: tuple[str, ...], rel: tuple[str, ...]) -> str:
    # Immutable only if both the URL (what caches key on) and the file on disk are
    # <tag>/<archive>: a "latest/" link to a tag directory must stay revalidated.
    url, disk = parts[-2:], rel
    if (
        all(cache_class("/".join(p)) is CacheClass.IMMUTABLE for p in (url, disk))
        and all(RELEASE_TAG.fullmatch(p[0]) is not None for p in (url, disk))
        and disk[-1] == url[-1]
    ):
        return CACHE_CONTROL[CacheClass.IMMUTABLE]
    return CACHE_CONTROL[CacheClass.REVALIDATE]


def _list_dir(base: Path, directory: Path) -> tuple[_Entry, ...]:
    entries: list[_Entry] = []
    with os.scandir(directory) as it:
        for e in it:
            if not valid_name(e.name):
                continue
            try:
                if e.is_symlink():
                    target = Path(e.path).resolve(strict=True)
                    if _inside(base, target) is None:
                        continue
                    st = target.stat()
                    # A linked directory can be an ancestor (the Astral link points at the
                    # root itself): listing it would give crawlers an endless URL space.
                    if stat.S_ISDIR(st.st_mode):
                        continue
                else:
                    st = e.stat(follow_symlinks=False)
            except (OSError, RuntimeError):  # RuntimeError: a symlink loop before Python 3.13
                continue
            if stat.S_ISDIR(st.st_mode):
                entries.append(_Entry(name=e.name, is_dir=True, size=None))
            elif stat.S_ISREG(st.st_mode):
                entries.append(_Entry(name=e.name, is_dir=False, size=st.st_size))
    return tuple(sorted(entries, key=lambda x: x.name))


def locate(root: Path, parts: tuple[str, ...], *, slash: bool) -> _Found | None:
    """What ``parts`` names inside ``root`` (blocking file-system calls; run it in a thread)."""
    try:
        # Resolved per request: an operator may swap a "current" root link between syncs.
        base = root.resolve(strict=True)
        real = base.joinpath(*parts).resolve(strict=True)
        rel = _inside(base, real)
        if rel is None:
            return None
        st = real.stat()
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if not slash:
                return _SlashRedirect()
            index = locate(root, (*parts, PAGE_NAME), slash=False)
            return index if isinstance(index, _File) else _Listing(entries=_list_dir(base, real))
    except (OSError, RuntimeError):
        return None
    if slash or not stat.S_ISREG(mode):
        return None
    name = parts[-1]
    return _File(
        path=real,
        content_type=content_type(name),
        cache_control=_cache_control(parts, rel),
        etag=f"{st.st_mtime_ns:x}-{st.st_size:x}",
        size=st.st_size,
    )


def _display(name: str) -> str:
    # os.fsdecode keeps undecodable bytes as surrogates, which cannot be sent as UTF-8.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def render_listing(parts: tuple[str, ...], entries: tuple[_Entry, ...]) -> str:
    """A minimal HTML index of one directory; names escaped, links relative and encoded."""
    title = html.escape("/" + "".join(f"{_display(p)}/" for p in parts))
    rows = [] if not parts else ['<tr><td><a href="../">../</a></td><td></td></tr>']
    for e in entries:
        # quote() of the bytes: "+" becomes %2B, so S3-style servers in front cannot mangle it.
        href = quote(os.fsencode(e.name), safe="") + ("/" if e.is_dir else "")
        label = html.escape(_display(e.name) + ("/" if e.is_dir else ""))
        size = "-" if e.size is None else str(e.size)
        rows.append(f'<tr><td><a href="{html.escape(href)}">{label}</a></td><td>{size}</td></tr>')
    body = "\n".join(rows)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Index of {title}</title></head>\n"
        f"<body><h1>Index of {title}</h1>\n<table>\n{body}\n</table></body></html>\n"
    )


RangeUse = Literal["whole", "range", "unsatisfiable"]


def range_use(range_: str | None, if_range: str | None, *, etag: str) -> RangeUse:
    """What to do with a request's ``Range`` (RFC 9110 §14.2, §13.1.5), given the file's ETag.

    ``whole``: ignore it and send 200 with the whole file: no Range, a unit other than bytes, a
    multi-range (we send no multipart answers), or an ``If-Range`` that does not match the file
    (an entity tag compared strongly, or a date that cannot be parsed; a resuming client then
    gets the new file whole instead of splicing old and new bytes). ``unsatisfiable``: 416
    (``bytes=-0`` asks for no bytes at all). ``range``: leave it to aiohttp (a valid date in
    ``If-Range`` is compared there with the file's modification time).
    """
    if range_ is None:
        return "whole"
    unit, _, spec = range_.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return "whole"
    if if_range is not None:
        validator = if_range.strip()
        if validator.startswith(('"', "W/")):
            if validator != f'"{etag}"':  # a weak tag never matches: If-Range is strong
                return "whole"
        elif _http_date(validator) is None:
            return "whole"
    if spec.strip() == "-0":
        return "unsatisfiable"
    return "range"


def _http_date(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


_RANGE_HEADERS = frozenset({"range", "if-range"})


def _without(headers: CIMultiDictProxy[str], names: frozenset[str]) -> CIMultiDict[str]:
    kept: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        if key.lower() in names:
            continue
        try:
            value.encode("utf-8")  # Request.clone re-encodes headers strictly
        except UnicodeError:
            continue
        kept.add(key, value)
    return kept


class _IdentityFileResponse(web.FileResponse):
    """A ``FileResponse`` that always sends the named file's own bytes, and honest ranges.

    ``FileResponse`` sends a sibling ``X.gz``/``X.br`` with ``Content-Encoding`` in place of ``X``
    when the client accepts that encoding; a client then unpacks a ``.tar.gz`` on the fly and its
    sha256 no longer matches. Hiding ``Accept-Encoding`` disables that lookup, whatever encodings
    a later aiohttp adds, while Range, HEAD, conditional requests and sendfile stay aiohttp's.
    ``range_use`` decides first what a ``Range`` means (aiohttp honours a Range whatever entity
    tag ``If-Range`` carries, and answers ``bytes=-0`` with the whole file).
    """

    def __init__(self, found: _File, *, whole: bool, done: Callable[[], None]) -> None:
        headers = {hdrs.CONTENT_TYPE: found.content_type, hdrs.CACHE_CONTROL: found.cache_control}
        super().__init__(found.path, headers=headers)
        self._whole = whole
        self._done = done

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        hidden: set[str] = set()
        if hdrs.ACCEPT_ENCODING in request.headers:
            hidden.add("accept-encoding")
        if self._whole and not _RANGE_HEADERS.isdisjoint(k.lower() for k in request.headers):
            hidden |= _RANGE_HEADERS
        if hidden:
            request = request.clone(headers=_without(request.headers, frozenset(hidden)))
        try:
            return await super().prepare(request)  # sends the whole body before it returns
        finally:
            self._done()


async def _handle(request: web.Request) -> web.StreamResponse:
    done = request.app[IN_FLIGHT_KEY].begin(request.transport)
    handed_over = False
    try:
        response = await _respond(request, done)
        handed_over = isinstance(response, _IdentityFileResponse)
        return response
    finally:
        if not handed_over:
            done()


async def _respond(request: web.Request, done: Callable[[], None]) -> web.StreamResponse:
    url = request.rel_url
    parsed = parse_request_path(url.raw_path)  # still encoded: request.path decodes %2F to "/"
    if parsed is None:
        raise web.HTTPNotFound
    parts, slash = parsed
    found = await asyncio.to_thread(locate, request.app[ROOT_KEY], parts, slash=slash)
    if isinstance(found, _File):
        use = range_use(
            request.headers.get(hdrs.RANGE), request.headers.get(hdrs.IF_RANGE), etag=found.etag
        )
        if use == "unsatisfiable":
            raise web.HTTPRequestRangeNotSatisfiable(
                headers={hdrs.CONTENT_RANGE: f"bytes */{found.size}"}
            )
        return _IdentityFileResponse(found, whole=use == "whole", done=done)
    if isinstance(found, _Listing):
        return web.Response(
            text=render_listing(parts, found.entries),
            headers={
                hdrs.CONTENT_TYPE: HTML,
                hdrs.CACHE_CONTROL: CACHE_CONTROL[CacheClass.REVALIDATE],
            },
        )
    if isinstance(found, _SlashRedirect):
        query = f"?{url.raw_query_string}" if url.raw_query_string else ""
        raise web.HTTPMovedPermanently(location=f"{url.raw_path}/{query}")
    raise web.HTTPNotFound


async def _log_access(request: web.Request, response: web.StreamResponse) -> None:
    # Logged once the headers are final, so a FileResponse's Content-Length is known.
    version = request.version
    log.info(
        '%s "%s %s HTTP/%d.%d" %d %s "%s"',
        request.remote or "-",
        request.method,
        request.raw_path,
        version.major,
        version.minor,
        response.status,
        response.headers.get(hdrs.CONTENT_LENGTH, "-"),
        request.headers.get(hdrs.USER_AGENT, "-"),
    )


def build_app(root: Path, *, access_log: bool = True) -> web.Application:
    """The static-file application over the mirror ``root``: GET and HEAD only."""
    if not root.is_dir():
        raise ConfigError([f"{root}: the mirror root is not a directory"])
    app = web.Application()
    app[ROOT_KEY] = root
    app[IN_FLIGHT_KEY] = InFlight()
    # add_get also answers HEAD; the router answers 405 (with Allow) to every other method.
    app.router.add_get("/{path:.*}", _handle)
    if access_log:
        app.on_response_prepare.append(_log_access)
    return app


class _RequestErrorLog(logging.Logger):
    """The logger aiohttp's connection handlers get: one line per bad request, rate-limited.

    aiohttp logs every malformed request with its traceback (eleven lines); a client that sends
    garbage in a loop would fill the disk. Here each becomes one warning naming the peer and the
    error, at most ``budget`` a minute, and the others are counted and reported in one line.
    """

    def __init__(self, *, budget: int, clock: Callable[[], float]) -> None:
        super().__init__(f"{__name__}.requests")
        self.parent = log
        self._budget = budget
        self._clock = clock
        self._window_start = clock()
        self._logged = 0
        self._suppressed = 0

    def exception(self, msg: object, *args: object, **kwargs: object) -> None:
        exc = kwargs.get("exc_info")
        reason = _one_line(exc) if isinstance(exc, BaseException) else "error"
        text = str(msg) % args if args else str(msg)
        self._note(f"{text}: {reason}")

    def _note(self, line: str) -> None:
        now = self._clock()
        if now - self._window_start >= 60:  # noqa: PLR2004 - a minute
            self.flush()
            self._window_start, self._logged = now, 0
        if self._logged < self._budget:
            self._logged += 1
            self.warning("%s", line)
        else:
            self._suppressed += 1

    def flush(self) -> None:
        """Report the lines the budget held back, if any."""
        if self._suppressed:
            self.warning("%d more bad requests this minute were not logged", self._suppressed)
            self._suppressed = 0


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."  # noqa: PLR2004


class _Busy(asyncio.Protocol):
    """Answers 503 at once and closes: the server is at its connection limit."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
        transport.close()


def bounded(
    server: web.Server, in_flight: InFlight, *, limit: int
) -> Callable[[], asyncio.BaseProtocol]:
    """A protocol factory that keeps at most ``limit`` connections of ``server`` open.

    At the limit, the connection idle the longest (between requests, or still sending headers:
    a slow or half-open client) is closed to make room, so a flood of such connections cannot
    lock real clients out; when every connection is busy with a request, the newcomer gets 503.
    """

    def factory() -> asyncio.BaseProtocol:
        connections = server.connections
        if len(connections) >= limit:
            idle = next((h for h in connections if not in_flight.busy(h.transport)), None)
            if idle is None:
                return _Busy()
            idle.force_close()
        return server()

    return factory


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    ready: Callable[[str], None] | None = None,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Serve ``root`` over HTTP until cancelled; ``ready(base_url)`` once listening.

    A LAN server meets broken and hostile clients: a connection has ``header_timeout`` seconds
    to send its headers (and may stay idle that long between requests), at most
    ``max_connections`` are open at once (idle ones make room for new ones), and each bad
    request is one log line, ``BAD_REQUEST_LINES`` a minute at most.
    """
    errors = _RequestErrorLog(budget=BAD_REQUEST_LINES, clock=clock)
    app = build_app(root)
    # The app writes the access lines itself; aiohttp's own would double them.
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=SHUTDOWN_GRACE,
        keepalive_timeout=header_timeout,
        logger=errors,
    )
    await runner.setup()
    listener: asyncio.Server | None = None
    try:
        loop = asyncio.get_running_loop()
        if runner.server is None:  # setup() made it; None only before setup or after cleanup
            raise RuntimeError("the server runner has no server")
        factory = bounded(runner.server, app[IN_FLIGHT_KEY], limit=max_connections)
        try:
            listener = await loop.create_server(factory, host, port)
        except OSError as e:
            raise MirrorsyncError(
                f"cannot listen on {_url_host(host)}:{port} ({e.strerror or e})"
            ) from e
        bound_port = listener.sockets[0].getsockname()[1]  # port 0 asks the OS for a free one
        base_url = f"http://{_url_host(host)}:{bound_port}/"
        log.info("serving %s at %s", root, base_url)
        if ready is not None:
            ready(base_url)
        await asyncio.Event().wait()
    finally:
        if listener is not None:
            listener.close()
        await runner.cleanup()
        errors.flush()
