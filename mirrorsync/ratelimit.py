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


def parse_rate(text: str | float) -> int:
    """``"20M"`` -> 20000000, ``"500K"`` -> 500000, ``"1.5M"``, ``"1G"``, or a number of bytes.

    Decimal units, as network speeds are quoted (``Mi``/``Ki`` for binary ones). ``ValueError``
    for anything else.
    """
    units = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "KI": 2**10, "MI": 2**20, "GI": 2**30}
    if isinstance(text, bool):
        raise TypeError("expected a rate such as 20M, 500K or a number of bytes per second")
    if isinstance(text, int | float):
        value, unit = float(text), ""
    else:
        raw = text.replace(" ", "").upper().removesuffix("/S").removesuffix("B")
        number = raw.rstrip("KMGI")
        unit = raw[len(number) :]
        try:
            value = float(number)
        except ValueError:
            raise ValueError(
                f"expected a rate such as 20M, 500K or a number of bytes per second, got {text!r}"
            ) from None
        if unit not in units:
            raise ValueError(f"unknown unit {unit!r} in {text!r}; use K, M, G, Ki, Mi or Gi")
    rate = int(value * units[unit])
    if rate <= 0:
        raise ValueError(f"a rate must be positive, got {text!r}")
    return rate
