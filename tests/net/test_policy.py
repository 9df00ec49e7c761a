"""The HTTP policy as tables: redirect chains, the token's origin, status classes, proxies."""

from __future__ import annotations

import os
import urllib.request

import pytest
from yarl import URL

from mirrorsync.net.policy import (
    MAX_REDIRECTS,
    SECONDARY_LIMIT_WAIT,
    BadURL,
    ConnectionFailed,
    Hop,
    IncompleteBody,
    Kind,
    RequestFailed,
    TokenScope,
    TooManyRedirects,
    TransientHTTPError,
    Verdict,
    classify,
    is_transient,
    proxies_from,
)

API = "https://api.example.com"
NOW = 1_750_000_000.0
"""The injected clock: epoch seconds at the moment the answer is classified."""


def chain(start: str, *steps: tuple[int, str | None]) -> Hop:
    """The hop reached from ``start`` through redirect answers ``(status, Location)``."""
    hop = Hop.first(URL(start))
    for status, location in steps:
        following = hop.after(status, location)
        assert following is not None, f"{status} {location} ended the chain"
        hop = following
    return hop


# -- redirect chains --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "steps", "url", "left_origin"),
    [
        # A relative Location resolves against the URL that answered, not the first one.
        (f"{API}/a/b", [(302, "c")], f"{API}/a/c", False),
        (f"{API}/a/b", [(301, "/x?y=1")], f"{API}/x?y=1", False),
        (f"{API}/a/b", [(302, "/x/"), (307, "../z")], f"{API}/z", False),
        (f"{API}/a", [(308, "//cdn.example.net/f")], "https://cdn.example.net/f", True),
        (f"{API}/a", [(303, "https://cdn.example.net/f")], "https://cdn.example.net/f", True),
        # Another port or scheme is another origin.
        (f"{API}/a", [(302, "https://api.example.com:8443/a")], f"{API}:8443/a", True),
        (f"{API}/a", [(302, "http://api.example.com/a")], "http://api.example.com/a", True),
        # Once the chain has left its origin it has left it: further hops on the new host, or
        # back on the first one, do not undo that.
        (
            f"{API}/a",
            [(302, "https://cdn.example.net/f"), (302, "/g")],
            "https://cdn.example.net/g",
            True,
        ),
        (
            f"{API}/a",
            [(302, "https://cdn.example.net/f"), (302, f"{API}/b")],
            f"{API}/b",
            True,
        ),
        # An encoded Location is kept as it was sent (a signed URL's signature must not change).
        (f"{API}/a", [(302, "https://cdn.example.net/f?sig=a%2Fb%3D")], None, True),
    ],
)
def test_redirect_chain(
    start: str,
    steps: list[tuple[int, str]],
    url: str | None,
    left_origin: bool,  # noqa: FBT001
) -> None:
    """Each redirect leads to its Location, relative ones resolved, noting a change of origin."""
    hop = chain(start, *steps)
    assert str(hop.url) == (url or steps[-1][1])
    assert hop.left_origin is left_origin
    assert hop.redirects == len(steps)
    assert str(hop.start) == start


@pytest.mark.parametrize(
    ("status", "location"),
    [
        (200, None),
        (200, "https://elsewhere.example/"),  # a Location on a 200 is no redirect
        (304, "https://elsewhere.example/"),  # nor on a 304 (Not Modified)
        (404, None),
        (302, None),  # a redirect without a Location: the caller gets the answer
        (302, ""),
    ],
)
def test_final_answers_end_the_chain(status: int, location: str | None) -> None:
    """An answer that is not a redirect with a Location is the one the caller gets."""
    assert Hop.first(URL(f"{API}/a")).after(status, location) is None


def test_the_redirect_limit() -> None:
    """MAX_REDIRECTS (10) redirects are followed; one more fails, naming the first URL."""
    hop = chain(f"{API}/0", *[(302, f"/{n}") for n in range(1, MAX_REDIRECTS + 1)])
    assert (MAX_REDIRECTS, str(hop.url)) == (10, f"{API}/10")
    with pytest.raises(TooManyRedirects, match=f"more than 10 redirects from {API}/0$"):
        hop.after(302, "/11")


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("http://[bad/x", r"api\.example\.com redirected to an invalid URL 'http://\[bad/x'"),
        ("ftp://files.example/x", "cannot download from ftp://files.example/x .*only http"),
        ("file:///etc/passwd", "cannot download from file:///etc/passwd .*only http"),
    ],
)
def test_a_bad_location_is_a_bad_url(location: str, message: str) -> None:
    """A Location that is no URL, or not http(s), fails with a clear message (never retried)."""
    with pytest.raises(BadURL, match=message):
        Hop.first(URL(f"{API}/a")).after(302, location)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "/relative", "x"])
def test_only_absolute_http_urls_start_a_chain(url: str) -> None:
    """A first URL that is not absolute http or https is refused before any request."""
    with pytest.raises(BadURL, match="only http and https"):
        Hop.first(URL(url))


# -- the token --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "steps", "sent"),
    [
        (f"{API}/repos/o/r/releases", [], True),
        (f"{API}/repos/o/r/releases", [(301, "/repositories/1/releases")], True),
        ("https://cdn.example.net/f", [], False),  # not the API's origin
        (f"{API}:8443/x", [], False),  # another port
        ("http://api.example.com/x", [], False),  # another scheme
        (f"{API}/dl", [(302, "https://cdn.example.net/f?sig=1")], False),
        # Never after a detour, even back on the API's own origin.
        (f"{API}/dl", [(302, "https://cdn.example.net/f"), (302, f"{API}/again")], False),
        # A chain that starts elsewhere never gains the token by reaching the API.
        ("https://github.example/dl", [(302, f"{API}/assets/1")], False),
    ],
)
def test_the_token_goes_only_to_its_origin(
    start: str,
    steps: list[tuple[int, str]],
    sent: bool,  # noqa: FBT001
) -> None:
    """Authorization goes to the API's origin on a chain that never left it, nowhere else."""
    scope = TokenScope(token="t0ken", origin=URL(API).origin())
    expected = {"Authorization": "Bearer t0ken"} if sent else {}
    assert scope.headers(chain(start, *steps)) == expected


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_no_header(token: str | None) -> None:
    """Without a token no Authorization header is sent, even to the API."""
    scope = TokenScope(token=token, origin=URL(API).origin())
    assert scope.headers(Hop.first(URL(f"{API}/x"))) == {}


# -- statuses ---------------------------------------------------------------------------------

RL, EXPIRED, TRANSIENT, PERMANENT = (
    Kind.RATE_LIMITED,
    Kind.EXPIRED,
    Kind.TRANSIENT,
    Kind.PERMANENT,
)
PRIMARY = {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "60"}
SECONDARY_BODY = '{"message": "You have exceeded a secondary rate limit."}'


@pytest.mark.parametrize(
    ("status", "headers", "body", "expires", "expected"),
    [
        # Primary limit: until x-ratelimit-reset, by the injected clock.
        (403, PRIMARY | {"x-ratelimit-reset": str(int(NOW) + 120)}, "", False, (RL, 120.0)),
        (429, PRIMARY | {"x-ratelimit-reset": str(int(NOW) + 5)}, "", False, (RL, 5.0)),
        (403, PRIMARY | {"x-ratelimit-reset": str(int(NOW) - 30)}, "", False, (RL, 0.0)),
        (403, PRIMARY, "", False, (RL, SECONDARY_LIMIT_WAIT)),  # no reset given
        (403, PRIMARY | {"x-ratelimit-reset": "soon"}, "", False, (RL, SECONDARY_LIMIT_WAIT)),
        # retry-after decides over the reset.
        (429, {"retry-after": "7"}, "", False, (RL, 7.0)),
        (403, PRIMARY | {"retry-after": "3", "x-ratelimit-reset": "0"}, "", False, (RL, 3.0)),
        (429, {"retry-after": "-4"}, "", False, (RL, 0.0)),
        # Secondary limit: GitHub's minute, from a bare 429 or the body's words.
        (429, {}, "", False, (RL, SECONDARY_LIMIT_WAIT)),
        (403, {"x-ratelimit-remaining": "4999"}, SECONDARY_BODY, False, (RL, 60.0)),
        (429, {"retry-after": "later"}, "", False, (RL, SECONDARY_LIMIT_WAIT)),
        # A rate limit is a rate limit also where a redirect led.
        (403, {"retry-after": "9"}, "", True, (RL, 9.0)),
        # Expired signed URL: a 403 where a download's redirect led; ask again at once.
        (403, {}, "AccessDenied: Request has expired\n", True, (EXPIRED, 0.0)),
        (403, {"x-ratelimit-remaining": "10"}, "", True, (EXPIRED, 0.0)),
        # Transient: the server's trouble, left to the retry's backoff.
        (500, {}, "", False, (TRANSIENT, None)),
        (502, {}, "", True, (TRANSIENT, None)),
        (503, {"retry-after": "30"}, "", False, (TRANSIENT, None)),  # only 403/429 are limits
        (504, {}, "", False, (TRANSIENT, None)),
        # Permanent: asking again gets the same answer.
        (403, {}, '{"message": "Resource not accessible"}', False, (PERMANENT, None)),
        (401, {}, "", False, (PERMANENT, None)),
        (404, {}, "", True, (PERMANENT, None)),
        (410, {}, "", False, (PERMANENT, None)),
        (416, {}, "", False, (PERMANENT, None)),
        (204, {}, "", False, (PERMANENT, None)),  # not what a download asked for
    ],
)
def test_status_classes(
    status: int,
    headers: dict[str, str],
    body: str,
    expires: bool,  # noqa: FBT001
    expected: tuple[Kind, float | None],
) -> None:
    """Each status is rate limited (with its wait), transient, an expired link, or permanent."""
    kind, wait = expected
    verdict = classify(status, headers, body, now=NOW, expires=expires)
    assert verdict == Verdict(kind, status, wait)
    assert verdict.retryable is (kind is not PERMANENT)


def test_the_wait_follows_the_injected_clock() -> None:
    """The same reset header gives the time left from whatever ``now`` the caller's clock says."""
    headers = PRIMARY | {"x-ratelimit-reset": str(int(NOW) + 100)}
    waits = [classify(403, headers, "", now=NOW + t, expires=False).wait for t in (0, 40, 100)]
    assert waits == [100.0, 60.0, 0.0]


@pytest.mark.parametrize(
    ("verdict", "message", "wait"),
    [
        (Verdict(Kind.RATE_LIMITED, 429, 7.0), "rate limited by api.example.com (429)", 7.0),
        (Verdict(Kind.TRANSIENT, 503), "api.example.com answered 503", None),
        (Verdict(Kind.EXPIRED, 403, 0.0), "the signed download link expired (403)", 0.0),
    ],
)
def test_retryable_verdicts_become_one_error(verdict: Verdict, message: str, wait: float) -> None:
    """Both stacks raise the same TransientHTTPError, with the same words, for a verdict."""
    error = verdict.error(URL(f"{API}/x"))
    assert (str(error), error.status, error.wait) == (message, verdict.status, wait)
    assert is_transient(error)


def test_a_permanent_verdict_has_no_retry_error() -> None:
    """Asking a permanent verdict for a retry error is a programming error, said as such."""
    with pytest.raises(ValueError, match="404 is not worth retrying"):
        Verdict(Kind.PERMANENT, 404).error(URL(API))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientHTTPError("x", status=503), True),
        (IncompleteBody("x"), True),
        (ConnectionFailed("x"), True),
        (TimeoutError(), True),
        (BadURL("x"), False),
        (TooManyRedirects("x"), False),
        (RequestFailed("x"), False),
        (ValueError("x"), False),
    ],
)
def test_what_is_transient(error: BaseException, transient: bool) -> None:  # noqa: FBT001
    """Only failures that may go away on their own are retried."""
    assert is_transient(error) is transient


# -- proxies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"HTTP_PROXY": "http://p:1"},
        {"http_proxy": "http://p:1", "HTTPS_PROXY": "http://q:2", "NO_PROXY": ".example.com"},
        {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"},
        {"http_proxy": "http://lower:2", "HTTP_PROXY": "http://upper:1"},
        {"HTTPS_PROXY": "http://upper:1", "https_proxy": ""},  # set but empty: no proxy
        {"HTTPS_PROXY": "", "NO_PROXY": ""},
        {"Ftp_Proxy": "http://mixed:3", "ALL_PROXY": "socks5://s:4"},
        {"HTTP_PROXY": "http://from-a-client:1", "REQUEST_METHOD": "GET"},  # CGI
        {"http_proxy": "http://mine:1", "REQUEST_METHOD": "GET"},
        {"PROXY": "http://not-a-scheme:1", "HTTP_PROXYX": "x", "no_proxy": "localhost"},
    ],
)
def test_proxies_are_read_as_the_standard_library_reads_them(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mapping gives the proxies getproxies_environment() finds in an environment like it."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert proxies_from(environ) == urllib.request.getproxies_environment()
