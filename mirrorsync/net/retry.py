"""One retry policy for every request: transient failures only, bounded, with injectable time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TypeVar

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mirrorsync.net.threads import ConnectionFailed

log = logging.getLogger(__name__)

T = TypeVar("T")

SECONDARY_LIMIT_WAIT = 60.0
"""GitHub's advice for a secondary rate limit without ``retry-after``: wait at least a minute."""


class TransientHTTPError(Exception):
    """An HTTP answer worth retrying (5xx, a rate limit, an expired signed URL)."""

    def __init__(self, message: str, *, status: int, wait: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.wait = wait
        """Seconds the server asked us to wait (retry-after, rate-limit reset), if it said."""


class IncompleteBody(Exception):
    """The connection ended before the announced body was complete."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failure may go away when the same request is made again."""
    return isinstance(
        exc,
        TransientHTTPError
        | IncompleteBody
        | ConnectionFailed
        | aiohttp.ClientConnectionError
        | aiohttp.ClientPayloadError
        | TimeoutError,
    )


def rate_limit_wait(
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


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Retries transient failures with jittered exponential backoff; honours server-told waits."""

    retries: int = 5
    """Attempts after the first one; 0 means a single attempt."""
    initial: float = 1.0
    max_backoff: float = 60.0
    max_wait: float = 3600.0
    """Upper bound for one server-told wait (a rate-limit reset far away is not worth a hang)."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.time

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientHTTPError) and exc.wait is not None:
            return min(exc.wait, self.max_wait)
        backoff = wait_exponential_jitter(initial=self.initial, max=self.max_backoff)
        return float(backoff(state))

    async def run(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run ``attempt`` until it succeeds, fails permanently, or the retries are spent."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.upcoming_sleep
            log.info("%s: %s; retrying in %.1fs", what, _describe(exc), delay)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=retry_if_exception(is_transient),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        result: T
        async for trial in retrying:
            with trial:
                result = await attempt()
        return result


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "failed"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        return "timed out"
    return text
