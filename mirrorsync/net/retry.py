"""One retry loop for every request: what ``policy`` calls transient, bounded, injectable time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mirrorsync.net.policy import TransientHTTPError, is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")


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

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        what: str,
        after: Exception | None = None,
    ) -> T:
        """Run ``attempt`` until it succeeds, fails permanently, or the retries are spent;
        ``after``: the first attempt was made elsewhere (a download thread) and failed so.

        The first attempt runs bare: most succeed, and a sync makes tens of thousands of them.
        A transient failure hands over to the retry loop, which counts it as its first attempt.
        """
        if after is None:
            try:
                return await attempt()
            except Exception as e:  # noqa: BLE001 - judged by is_transient below
                after = e
        if self.retries == 0 or not is_transient(after):
            raise after
        first = after
        calls = 0

        async def replayed() -> T:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise first  # the failure already seen: waited for and logged as usual
            return await attempt()

        return await self._retrying(replayed, what=what)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
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
