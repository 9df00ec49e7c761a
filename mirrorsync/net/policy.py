"""The HTTP policy both stacks follow, stated once: redirects, the token, statuses, failures.

The listing (``client``, aiohttp) and the download threads (``threads``, ``http.client``) ask the
same questions of every answer, and ``retry`` asks which failures are worth another attempt. The
answers are here, with no transport imported:

- **Redirects** (``Hop``): a 301/302/303/307/308 with a ``Location`` leads to that URL, a
  relative one resolved against the URL that answered; at most ``MAX_REDIRECTS`` of them
  (``TooManyRedirects``). A ``Location`` that is no URL, and any URL that is not absolute http or
  https, is a ``BadURL``: never retried, it would only fail the same way.
- **The token** (``TokenScope``): the ``Authorization`` token goes to the API's origin only, and
  never once a redirect has changed origin: not to the storage host of a signed URL, nor back to
  the API from a detour.
- **Statuses** (``classify``): a rate limit (with the wait its headers give), transient (5xx), an
  expired signed link (403 from where a download's redirect led), or permanent.
- **Failures** (``is_transient``): what ``retry`` tries again. Both stacks raise the same
  exceptions (subclasses of ``RequestFailed``), so their callers and ``retry`` see one vocabulary.
- **Proxies** (``proxies_from``): the variables ``cli`` reads, in the shape of the standard
  library's ``getproxies_environment()``; ``client`` leaves ``NO_PROXY`` matching to the standard
  library's ``proxy_bypass_environment``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

from yarl import URL

MAX_REDIRECTS = 10
"""Redirects followed from one URL; one more fails the request."""
REDIRECTS = frozenset(
    {
        HTTPStatus.MOVED_PERMANENTLY,
        HTTPStatus.FOUND,
        HTTPStatus.SEE_OTHER,
        HTTPStatus.TEMPORARY_REDIRECT,
        HTTPStatus.PERMANENT_REDIRECT,
    }
)
SCHEMES = frozenset({"http", "https"})
SECONDARY_LIMIT_WAIT = 60.0
"""GitHub's advice for a secondary rate limit without ``retry-after``: wait at least a minute."""


# -- failures ---------------------------------------------------------------------------------


class RequestFailed(Exception):
    """A request that gave no usable answer, in either stack."""


class BadURL(RequestFailed):
    """A URL (asked for, or a redirect's ``Location``) that cannot be requested: not retried."""


class TooManyRedirects(RequestFailed):
    """A redirect chain longer than ``MAX_REDIRECTS``."""


class ConnectionFailed(RequestFailed):
    """The connection failed or broke (refused, reset, closed early, a TLS or protocol error)."""


class IncompleteBody(RequestFailed):
    """The connection ended before the announced body was complete."""


class TransientHTTPError(RequestFailed):
    """An HTTP answer worth retrying (5xx, a rate limit, an expired signed URL)."""

    def __init__(self, message: str, *, status: int, wait: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.wait = wait
        """Seconds the server asked us to wait (retry-after, rate-limit reset), if it said."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failure may go away when the same request is made again."""
    return isinstance(exc, TransientHTTPError | IncompleteBody | ConnectionFailed | TimeoutError)


# -- redirects and the token ------------------------------------------------------------------


def shown(url: URL | str) -> str:
    """``url`` as messages, logs and records may show it: no query, fragment or credentials.

    A download's redirect carries a signature in its query (``?sig=``, ``X-Amz-Signature=``)
    that grants access for a while; it must never reach a log, ``--json``, ``status.json`` or
    ``history.jsonl``. The asset is named by the rest of the URL.
    """
    try:
        parsed = url if isinstance(url, URL) else URL(url, encoded=True)
        if not parsed.absolute:
            return str(parsed.with_query(None).with_fragment(None))[:300]
        return str(parsed.with_user(None).with_query(None).with_fragment(None))[:300]
    except (ValueError, TypeError):
        return str(url).split("?", 1)[0].split("#", 1)[0][:300]


def check_requestable(url: URL) -> URL:
    """``url`` itself when it is an absolute http or https URL with a host, else ``BadURL``."""
    if url.scheme not in SCHEMES or not url.raw_host:
        raise BadURL(f"cannot download from {shown(url)} (only http and https URLs)")
    return url


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One request of a redirect chain: its URL, where the chain began, and how it got here."""

    url: URL
    start: URL
    redirects: int = 0
    left_origin: bool = False
    """Whether a redirect of the chain went to another origin (scheme, host and port): there the
    token is never sent, and a 403 means that a signed URL expired."""

    @classmethod
    def first(cls, url: URL) -> Hop:
        """The first request for ``url``; ``BadURL`` when it cannot be requested."""
        return cls(url=check_requestable(url), start=url)

    def after(self, status: int, location: str | None) -> Hop | None:
        """The next request after an answer with ``status`` and ``Location``; None when the
        answer is final (no redirect, or one without a ``Location``).

        Raises ``TooManyRedirects`` for one redirect past ``MAX_REDIRECTS`` and ``BadURL`` for a
        ``Location`` that is no URL or leads somewhere that cannot be requested.
        """
        if status not in REDIRECTS or not location:
            return None
        if self.redirects >= MAX_REDIRECTS:
            raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects from {shown(self.start)}")
        try:
            target = self.url.join(URL(location, encoded=True))
        except ValueError as e:
            raise BadURL(f"{self.url.host} redirected to an invalid URL {shown(location)!r}") from e
        check_requestable(target)
        return Hop(
            url=target,
            start=self.start,
            redirects=self.redirects + 1,
            left_origin=self.left_origin or target.origin() != self.url.origin(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenScope:
    """Where the API token may go: its own origin, on a chain that never left its origin."""

    token: str | None
    origin: URL | None
    """The API's origin (scheme, host, port)."""

    def headers(self, hop: Hop) -> dict[str, str]:
        """``Authorization`` for ``hop`` when the token may go there, else nothing."""
        if not self.token or self.origin is None or hop.left_origin:
            return {}
        if hop.url.origin() != self.origin:
            return {}
        return {"Authorization": f"Bearer {self.token}"}


# -- statuses ---------------------------------------------------------------------------------


class Kind(enum.Enum):
    """What an answer that is not the one asked for means for the next attempt."""

    RATE_LIMITED = "rate limited"
    """Ask again after the wait the server gave (or GitHub's minute)."""
    TRANSIENT = "transient"
    """Ask again after the retry's own backoff (a 5xx)."""
    EXPIRED = "expired signed URL"
    """Ask again at once, from the first URL: the redirect hands out a fresh signature."""
    PERMANENT = "permanent"
    """Asking again would get the same answer."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The class of one HTTP status, and for a rate limit how long to wait."""

    kind: Kind
    status: int
    wait: float | None = None
    """Seconds before the next attempt; None leaves it to the retry's backoff."""

    @property
    def retryable(self) -> bool:
        return self.kind is not Kind.PERMANENT

    def error(self, url: URL) -> TransientHTTPError:
        """The failure to raise for a retryable answer from ``url``."""
        if self.kind is Kind.RATE_LIMITED:
            message = f"rate limited by {url.host} ({self.status})"
        elif self.kind is Kind.EXPIRED:
            message = f"the signed download link expired ({self.status})"
        elif self.kind is Kind.TRANSIENT:
            message = f"{url.host} answered {self.status}"
        else:
            raise ValueError(f"a {self.status} is not worth retrying")
        return TransientHTTPError(message, status=self.status, wait=self.wait)


def classify(
    status: int, headers: Mapping[str, str], body: str, *, now: float, expires: bool
) -> Verdict:
    """The class of an answer that is not the one the caller asked for.

    ``headers`` with names in lower case (or a case-insensitive mapping); ``body`` the start of the
    answer's body (rate-limit notices say so there); ``now`` in epoch seconds, for
    ``x-ratelimit-reset``. ``expires``: the answer came from where a download's redirect led to
    another origin, a signed URL that a 403 says has expired (the API itself never does).
    """
    wait = _rate_limit_wait(status, headers, body, now=now)
    if wait is not None:
        return Verdict(Kind.RATE_LIMITED, status, wait)
    if status == HTTPStatus.FORBIDDEN and expires:
        return Verdict(Kind.EXPIRED, status, 0.0)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return Verdict(Kind.TRANSIENT, status)
    return Verdict(Kind.PERMANENT, status)


def _rate_limit_wait(
    status: int, headers: Mapping[str, str], body: str, *, now: float
) -> float | None:
    """Seconds to wait when an answer is a GitHub rate limit, else None.

    A primary limit is a 403 or 429 with ``x-ratelimit-remaining: 0`` and waits until
    ``x-ratelimit-reset``; a secondary limit sends ``retry-after`` or says so in its body.
    """
    if status not in (HTTPStatus.FORBIDDEN, HTTPStatus.TOO_MANY_REQUESTS):
        return None
    if (retry_after := _seconds(headers.get("retry-after"))) is not None:
        return retry_after
    if headers.get("x-ratelimit-remaining") == "0":
        reset = _seconds(headers.get("x-ratelimit-reset"))
        return SECONDARY_LIMIT_WAIT if reset is None else max(0.0, reset - now)
    if status == HTTPStatus.TOO_MANY_REQUESTS or "rate limit" in body.lower():
        return SECONDARY_LIMIT_WAIT
    return None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# -- proxies ----------------------------------------------------------------------------------


def proxies_from(environ: Mapping[str, str]) -> dict[str, str]:
    """The proxies that ``environ`` names, by scheme, with ``no`` holding ``NO_PROXY``.

    The reading of ``urllib.request.getproxies_environment()``, applied to a mapping instead of
    the process's environment: ``<scheme>_proxy`` in any case of the name; a name ending in a
    lower-case ``_proxy`` decides over the other spellings (set but empty, it removes the
    scheme); under CGI (``REQUEST_METHOD`` set) an upper-case ``HTTP_PROXY`` is ignored, since a
    client's ``Proxy:`` header arrives as that variable.
    """
    cgi = "REQUEST_METHOD" in environ
    other: dict[str, str] = {}
    lower: dict[str, str] = {}
    for name, value in environ.items():
        suffix = name[-6:]
        if suffix.lower() != "_proxy":
            continue
        scheme = name[:-6].lower()
        if suffix == "_proxy":
            lower[scheme] = value
        elif value and not (cgi and scheme == "http"):
            other[scheme] = value
    chosen = {**other, **lower}
    return {scheme: value for scheme, value in chosen.items() if value}
