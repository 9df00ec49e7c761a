"""An aggregate bandwidth cap shared by every download of a run (``download.max_rate``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """A token bucket: downloads take tokens (bytes) and wait when the bucket is empty.

    The bucket holds at most one second's worth, so a pause never turns into a burst above the
    rate. Waiting is fair enough for a handful of connections: each waits for its own deficit.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = rate
        self._last = clock()
        self._lock = asyncio.Lock()

    async def take(self, nbytes: int) -> None:
        """Account for ``nbytes`` received; wait as long as the cap requires."""
        async with self._lock:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= nbytes
            deficit = -self._tokens
            if deficit > 0:
                # Sleeping under the lock queues the other downloads behind this one's debt.
                await self._sleep(deficit / self.rate)
