"""The one HTTP client of a run: timeouts, connection limits, proxies, and the run's policy.

Redirects, the token and what a failure is come from ``policy``; the download threads
(``threads``) ask this client for the headers, the proxy and the request count, so that both
stacks behave alike. Whatever aiohttp raises for a broken connection or body leaves here as the
policy's ``ConnectionFailed`` (any other client error as ``RequestFailed``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined] # not in typeshed

import aiohttp
from yarl import URL

from mirrorsync import __version__
from mirrorsync.net.policy import ConnectionFailed, Hop, RequestFailed, TokenScope
from mirrorsync.net.threads import Transfers

USER_AGENT = f"mirrorsync/{__version__}"
CONNECT_TIMEOUT = 30.0
"""Seconds to open a connection (TCP, and TLS or a proxy's CONNECT), listing and downloads alike."""
READ_BUFFER = 1 << 20
"""aiohttp's read buffer: a listing page (~0.5 MB) arrives in a few steps."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A response with the URL it finally came from and whether a redirect changed hosts."""

    response: aiohttp.ClientResponse
    url: URL
    redirected: bool


def proxy_for(url: URL, proxies: Mapping[str, str]) -> str | None:
    """The proxy ``proxies`` names for ``url``'s scheme, unless its ``no`` entry exempts the host.

    ``NO_PROXY`` is matched by the standard library's rules (``proxy_bypass_environment``): the
    URL's host, with its port when the URL gives one, against each comma-separated entry.
    """
    proxy = proxies.get(url.scheme)
    if not proxy:
        return None
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as it stands in the URL
    if url.explicit_port is not None:
        host = f"{host}:{url.explicit_port}"
    # ``proxies`` is passed even when empty: with None the standard library reads os.environ.
    return None if bool(proxy_bypass_environment(host, dict(proxies))) else proxy


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
        self._token = TokenScope(token=token, origin=token_origin)
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

    def request_headers(self, hop: Hop, extra: Mapping[str, str] | None) -> dict[str, str]:
        """``extra`` plus the User-Agent, and the token where the policy lets it go."""
        return {"User-Agent": USER_AGENT, **(extra or {}), **self._token.headers(hop)}

    def proxy_for(self, url: URL) -> str | None:
        """The proxy for ``url`` from the run's proxies (``http``, ``https``, ``no``), if any.

        Resolved here once per host rather than by aiohttp's ``trust_env``, which also looks
        for a ``.netrc`` file in a thread on every request.
        """
        key = (url.scheme, url.raw_authority)
        if key not in self._proxy_cache:
            self._proxy_cache[key] = proxy_for(url, self._proxies)
        return self._proxy_cache[key]

    @contextlib.asynccontextmanager
    async def get(
        self,
        url: str | URL,
        *,
        headers: Mapping[str, str] | None = None,
        decompress: bool = True,
    ) -> AsyncIterator[Answer]:
        """GET ``url`` following redirects as the policy says (``Hop``), the token with them.

        ``decompress=False`` keeps archives byte-identical whatever ``Content-Encoding`` a server
        or CDN adds. Raises the policy's ``RequestFailed`` subclasses or ``TimeoutError``, also
        for a body that breaks while the caller reads it.
        """
        hop = Hop.first(URL(url, encoded=True) if isinstance(url, str) else url)
        try:
            while True:
                self.count_request()
                response = await self.session.get(
                    hop.url,
                    headers=self.request_headers(hop, headers),
                    allow_redirects=False,
                    auto_decompress=decompress,
                    proxy=self.proxy_for(hop.url),
                )
                try:
                    following = hop.after(response.status, response.headers.get("Location"))
                    if following is None:
                        yield Answer(response=response, url=hop.url, redirected=hop.left_origin)
                        return
                    hop = following
                finally:
                    response.release()
        except TimeoutError:
            raise  # aiohttp's stall timeouts are connection errors too: they stay timeouts
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as e:
            raise ConnectionFailed(_reason(e)) from e
        except aiohttp.ClientError as e:
            raise RequestFailed(_reason(e)) from e


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


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
