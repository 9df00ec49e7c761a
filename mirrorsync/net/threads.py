"""Archive bodies move in worker threads: blocking sockets, one download per thread.

The event loop is the right place for the listing (many small requests) but the wrong one for a
gigabyte of archives: with every socket read, parse and copy on one thread, a cold sync on
loopback ran at half of what curl does. Here each download runs whole in a thread of its own:
read a chunk (at most one ``recv``), sha256 and write it, all of which release the GIL, so
several downloads use several cores.

Redirects follow the run's one policy (``policy.Hop``: the next URL, the limit, a bad
``Location``), as in the listing. What the listing's ``HttpClient`` decides stays decided there
(which headers a request gets, the token among them; which proxy a URL goes through; the request
count); this module asks it through ``Routing``. Connections are kept per (scheme, host, port,
proxy) and reused.
A download is stopped from the event loop with ``Cancel.set()``: it shuts the socket down, which
wakes a thread blocked on a stalled server at once.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from yarl import URL

from mirrorsync.net.policy import BadURL, ConnectionFailed, Hop, TooManyRedirects, shown

ERROR_BODY_LIMIT = 64 << 10
"""Bytes of an error answer read for its message (a rate-limit notice, say); the rest is not."""
IDLE_PER_KEY = 16
"""Idle connections kept per (scheme, host, port, proxy)."""


class Routing(Protocol):
    """What the run's HTTP policy says about a URL (implemented by ``client.HttpClient``)."""

    def request_headers(self, hop: Hop, extra: Mapping[str, str] | None) -> dict[str, str]: ...

    def proxy_for(self, url: URL) -> str | None: ...

    def count_request(self) -> None: ...


class Cancelled(Exception):
    """The event loop called off this download (Ctrl-C, SIGTERM, a sibling's fatal error)."""


class Cancel:
    """Set from the event loop to stop one download's thread, even one blocked in ``recv``."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._waiting: concurrent.futures.Future[object] | None = None

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()
        with self._lock:
            # Under the lock: once ``watching`` is left, the socket may serve another download.
            if self._sock is not None:
                # The plain socket's shutdown, also under TLS: the reader owns the SSL state.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            waiting = self._waiting
        if waiting is not None:
            waiting.cancel()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled

    @contextlib.contextmanager
    def watching(self, sock: socket.socket | None) -> Iterator[None]:
        """While inside, ``set()`` shuts ``sock`` down."""
        with self._lock:
            self._sock = sock
        try:
            self.check()
            yield
        finally:
            with self._lock:
                self._sock = None

    @contextlib.contextmanager
    def waiting_on(self, future: concurrent.futures.Future[object]) -> Iterator[None]:
        """While inside, ``set()`` cancels ``future`` (a wait on the event loop)."""
        with self._lock:
            self._waiting = future
        try:
            if self._event.is_set():
                future.cancel()
            yield
        finally:
            with self._lock:
                self._waiting = None


_Key = tuple[str, str, int, str | None]


@dataclass(slots=True)
class Opened:
    """An answer whose body is still to be read, from ``Transfers.open``."""

    response: http.client.HTTPResponse
    hop: Hop
    """The request that got it: its URL, and whether a redirect led to another origin."""
    connection: http.client.HTTPConnection
    key: _Key
    sock: socket.socket | None
    """The answer's socket, kept here: for an answer that ends by closing (``Connection: close``,
    no length) http.client hands it to the response and forgets it on the connection."""

    @property
    def url(self) -> URL:
        return self.hop.url

    @property
    def redirected(self) -> bool:
        """Whether a redirect led to another origin (an expired signed URL says 403 there)."""
        return self.hop.left_origin

    @property
    def headers(self) -> dict[str, str]:
        """Header names in lower case (the last of repeated ones)."""
        return {k.lower(): v for k, v in self.response.getheaders()}


class Transfers:
    """Blocking GETs with redirects, keep-alive and proxies, for worker threads."""

    def __init__(
        self,
        routing: Routing,
        *,
        workers: int,
        stall_timeout: float,
        connect_timeout: float,
    ) -> None:
        self.routing = routing
        self.stall_timeout = stall_timeout
        self.connect_timeout = connect_timeout
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="mirrorsync-download"
        )
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    @property
    def idle_connections(self) -> int:
        """Connections kept for reuse right now (for diagnostics and tests)."""
        with self._lock:
            return sum(len(c) for c in self._idle.values())

    def close(self) -> None:
        """Wait for the threads (every caller has stopped its own) and close idle connections."""
        self.executor.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    # -- requests ------------------------------------------------------------------------------

    def open(self, url: URL, *, headers: Mapping[str, str], cancel: Cancel) -> Opened:
        """GET ``url``, following redirects; the body is left to read. Call in a worker thread.

        Raises ``ConnectionFailed``, ``TimeoutError`` (connecting or a stall), ``BadURL``,
        ``TooManyRedirects`` or ``Cancelled``.
        """
        hop = Hop.first(url)
        while True:
            cancel.check()
            opened = self._request(hop, headers, cancel=cancel)
            try:
                following = hop.after(opened.response.status, opened.response.getheader("Location"))
            except (BadURL, TooManyRedirects):
                self.finish(opened, complete=False)
                raise
            if following is None:
                return opened
            _read_start(opened, cancel)  # a redirect's body: read, so the connection can go on
            self.finish(opened, complete=not cancel.is_set)
            hop = following

    def finish(self, opened: Opened, *, complete: bool) -> None:
        """Done with an answer. Its connection is kept for the next request only when the caller
        read the body without error (``complete``) and it ended where its length said."""
        response = opened.response
        if complete and _read_to_the_end(response) and not response.will_close:
            with self._lock:
                idle = self._idle.setdefault(opened.key, [])
                if len(idle) < IDLE_PER_KEY:
                    idle.append(opened.connection)
                    return
        response.close()
        opened.connection.close()

    def error_text(self, opened: Opened, cancel: Cancel) -> str:
        """The start of an error answer's body, as text."""
        return _read_start(opened, cancel).decode("utf-8", "replace")

    def _request(self, hop: Hop, extra: Mapping[str, str], *, cancel: Cancel) -> Opened:
        url = hop.url
        key, reused = self._connection_key(url), True
        connection = self._take_idle(key)
        if connection is None:
            connection, reused = self._connect(key), False
        target, headers = self._request_line(hop, extra, proxy=key[3])
        while True:
            self.routing.count_request()
            try:
                if connection.sock is None:
                    # Not interruptible: a host that drops SYNs holds a Ctrl-C for up to
                    # connect_timeout. Everything after this is.
                    cancel.check()
                    connection.connect()  # with connect_timeout, also for TLS and CONNECT
                    _reading(connection, stall=self.stall_timeout)
                sock = connection.sock
                with cancel.watching(sock):
                    connection.request("GET", target, headers=headers)
                    response = connection.getresponse()
            except Cancelled:
                connection.close()
                raise
            except TimeoutError:
                connection.close()
                cancel.check()
                raise
            except (OSError, http.client.HTTPException) as e:
                connection.close()
                cancel.check()
                if reused and _is_stale(e):
                    # A kept-alive connection the server had closed: once more on a new one.
                    connection, reused = self._connect(key), False
                    continue
                raise ConnectionFailed(_describe(e, url)) from e
            except (ValueError, http.client.InvalidURL) as e:  # UnicodeEncodeError among them
                connection.close()
                raise BadURL(f"cannot request {shown(url)}: {e}") from e
            return Opened(
                response=response,
                hop=hop,
                connection=connection,
                key=key,
                sock=sock,
            )

    def _request_line(
        self, hop: Hop, extra: Mapping[str, str], *, proxy: str | None
    ) -> tuple[str, dict[str, str]]:
        """The request target and headers: a forward proxy takes the absolute URL and its own
        credentials; through a CONNECT tunnel the origin sees neither."""
        url = hop.url
        headers = self.routing.request_headers(hop, extra)
        if proxy is None or url.scheme != "http":
            return url.raw_path_qs, headers
        if auth := _proxy_authorization(proxy):
            headers["Proxy-Authorization"] = auth
        return str(url), headers

    def _connection_key(self, url: URL) -> _Key:
        assert url.raw_host is not None  # noqa: S101 - Hop checked it
        port = url.port or (443 if url.scheme == "https" else 80)
        return (url.scheme, url.raw_host, port, self.routing.proxy_for(url))

    def _take_idle(self, key: _Key) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _connect(self, key: _Key) -> http.client.HTTPConnection:
        """A new, not yet connected connection for ``key`` (connecting happens on first use)."""
        scheme, host, port, proxy = key
        connect_to, connect_port = host.strip("[]"), port
        if proxy is not None:
            via = URL(proxy)
            connect_to = (via.raw_host or "").strip("[]")
            connect_port = via.port or 80
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                connect_to, connect_port, timeout=self.connect_timeout, context=self._context()
            )
            if proxy is not None:
                tunnel_headers = {}
                if auth := _proxy_authorization(proxy):
                    tunnel_headers["Proxy-Authorization"] = auth
                connection.set_tunnel(host.strip("[]"), port, headers=tunnel_headers)
        else:
            connection = http.client.HTTPConnection(
                connect_to, connect_port, timeout=self.connect_timeout
            )
        return connection

    def _context(self) -> ssl.SSLContext:
        # Made once, on first need: the same system trust store aiohttp uses for the listing.
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _reading(connection: http.client.HTTPConnection, *, stall: float) -> None:
    """Once connected, the socket's timeout is the stall timeout: no data for that long fails."""
    connection.sock.settimeout(stall)


def _read_start(opened: Opened, cancel: Cancel) -> bytes:
    """Up to ``ERROR_BODY_LIMIT`` bytes of a small answer's body, where Ctrl-C can stop the read;
    nothing if the connection fails meanwhile."""
    try:
        with cancel.watching(opened.sock):
            return opened.response.read(ERROR_BODY_LIMIT)
    except (OSError, http.client.HTTPException):
        return b""


def _read_to_the_end(response: http.client.HTTPResponse) -> bool:
    """Whether the whole body was read, so that the connection can carry the next request.

    ``read1`` leaves a body of known length open after its last byte (only ``read`` closes it);
    a ``read()`` at that point reads nothing and marks it done. A body cut short also ends
    closed, but with bytes still owed: its connection is never reused.
    """
    if response.chunked:
        return response.isclosed()  # closed by the last chunk; a cut raises IncompleteRead
    if response.length is None:
        return False  # ended by the server closing the connection
    if response.length != 0:
        return False
    if not response.isclosed():
        response.read()
    return response.isclosed()


def _proxy_authorization(proxy: str | None) -> str | None:
    if proxy is None:
        return None
    via = URL(proxy)
    if via.user is None:
        return None
    credentials = f"{unquote(via.raw_user or '')}:{unquote(via.raw_password or '')}"
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


def _is_stale(error: BaseException) -> bool:
    return isinstance(
        error,
        http.client.RemoteDisconnected
        | BrokenPipeError
        | ConnectionResetError
        | http.client.BadStatusLine,
    )


def _describe(error: BaseException, url: URL) -> str:
    if isinstance(error, http.client.RemoteDisconnected):
        return f"{url.host} closed the connection without answering"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve {url.host} ({error.strerror})"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate of {url.host} not trusted ({error.verify_message})"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"{url.host}: {text}"
