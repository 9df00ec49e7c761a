"""The one HTTP client of a run: timeouts, connection limits, and the token only for its host."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from mirrorsync import __version__
from mirrorsync.net.threads import MAX_REDIRECTS, REDIRECTS, Transfers

USER_AGENT = f"mirrorsync/{__version__}"
CONNECT_TIMEOUT = 30.0
"""Seconds to open a connection (TCP, and TLS or a proxy's CONNECT), listing and downloads alike."""
READ_BUFFER = 1 << 20
"""aiohttp's read buffer: a listing page (~0.5 MB) arrives in a few steps."""


class TooManyRedirects(aiohttp.ClientError):
    """A redirect chain longer than ``MAX_REDIRECTS``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A response with the URL it finally came from and whether a redirect changed hosts."""

    response: aiohttp.ClientResponse
    url: URL
    redirected: bool


def bypasses_proxy(url: URL, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (``host``, ``.domain``, ``host:port``, ``*``) exempts ``url``."""
    host = (url.raw_host or "").lower().strip("[]")
    for raw in no_proxy.replace(" ", "").lower().split(","):
        entry, _, port = raw.partition(":") if raw.count(":") == 1 else (raw, "", "")
        entry = entry.strip("[]")
        if entry == "*":
            return True
        if not entry or (port and port != str(url.port)):
            continue
        if host == entry.lstrip(".") or host.endswith("." + entry.lstrip(".")):
            return True
    return False


class HttpClient:
    """Wraps one ``aiohttp.ClientSession``; follows redirects itself to control the token."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token: str | None,
        token_origin: URL | None,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self._token = token
        self._token_origin = token_origin
        self._proxies = dict(proxies or {})
        self._proxy_cache: dict[tuple[str, str], str | None] = {}
        self._requests = 0
        self._count_lock = threading.Lock()
        self._transfers: Transfers | None = None

    @property
    def transfers(self) -> Transfers:
        """Where archive bodies are downloaded: worker threads (``open_client`` sets them up)."""
        if self._transfers is None:
            raise RuntimeError("this client has no download threads (use open_client)")
        return self._transfers

    @transfers.setter
    def transfers(self, transfers: Transfers) -> None:
        self._transfers = transfers

    @property
    def requests(self) -> int:
        """Requests sent (each redirect hop counts), here and by ``transfers``."""
        return self._requests

    def count_request(self) -> None:
        with self._count_lock:  # also called from download threads
            self._requests += 1

    def request_headers(self, url: URL, extra: Mapping[str, str] | None) -> dict[str, str]:
        """``extra`` plus the User-Agent, and the token when ``url`` is on the token's origin."""
        headers = {"User-Agent": USER_AGENT, **(extra or {})}
        if self._token and self._token_origin is not None and url.origin() == self._token_origin:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def proxy_for(self, url: URL) -> str | None:
        """The proxy for ``url`` from ``http_proxy``/``https_proxy``/``no_proxy``, if any.

        Resolved here once per host rather than by aiohttp's ``trust_env``, which also looks
        for a ``.netrc`` file in a thread on every request.
        """
        key = (url.scheme, url.raw_authority)
        if key not in self._proxy_cache:
            proxy = self._proxies.get(url.scheme)
            if proxy and bypasses_proxy(url, self._proxies.get("no", "")):
                proxy = None
            self._proxy_cache[key] = proxy
        return self._proxy_cache[key]

    @contextlib.asynccontextmanager
    async def get(
        self,
        url: str | URL,
        *,
        headers: Mapping[str, str] | None = None,
        decompress: bool = True,
    ) -> AsyncIterator[Answer]:
        """GET ``url`` following redirects; the token goes only to its own origin, never beyond.

        ``decompress=False`` keeps archives byte-identical whatever ``Content-Encoding`` a server
        or CDN adds.
        """
        current = URL(url, encoded=True) if isinstance(url, str) else url
        redirected = False
        for _ in range(MAX_REDIRECTS + 1):
            self.count_request()
            response = await self.session.get(
                current,
                headers=self.request_headers(current, headers),
                allow_redirects=False,
                auto_decompress=decompress,
                proxy=self.proxy_for(current),
            )
            try:
                location = response.headers.get("Location")
                if response.status in REDIRECTS and location:
                    target = current.join(URL(location, encoded=True))
                    redirected = redirected or target.origin() != current.origin()
                    current = target
                    continue
                yield Answer(response=response, url=current, redirected=redirected)
                return
            finally:
                response.release()
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects from {url}")


@contextlib.asynccontextmanager
async def open_client(
    *,
    concurrency: int,
    stall_timeout: float,
    token: str | None,
    api_url: str,
    proxies: Mapping[str, str] | None = None,
) -> AsyncIterator[HttpClient]:
    """One session for the whole run, and its download threads: stall timeouts only, never a
    total-time limit.

    ``proxies`` maps a scheme to a proxy URL, with ``no`` for the hosts that bypass it (the
    shape of ``urllib.request.getproxies_environment()``).
    """
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=CONNECT_TIMEOUT, sock_read=stall_timeout
    )
    connector = aiohttp.TCPConnector(limit=concurrency + 4, ttl_dns_cache=300)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        read_bufsize=READ_BUFFER,
    ) as session:
        http = HttpClient(session, token=token, token_origin=URL(api_url).origin(), proxies=proxies)
        http.transfers = Transfers(
            http,
            workers=concurrency,
            stall_timeout=stall_timeout,
            connect_timeout=CONNECT_TIMEOUT,
        )
        try:
            yield http
        finally:
            http.transfers.close()
