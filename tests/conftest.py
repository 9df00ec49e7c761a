"""Fixtures shared by the whole suite.

TEST INFRASTRUCTURE: ``fake_github`` serves the fake GitHub of ``testkit/fake_github.py`` on
loopback; ``fake_clock`` and ``no_sleep`` replace real time, so no test ever sleeps.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fake_github import FakeGitHub

pytest_plugins = ["mirror_harness", "mounts"]

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "testkit" / "data"

FAKE_EPOCH = 1_765_000_000.0
"""2025-12-06T05:46:40Z: where ``fake_clock`` starts."""


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Real public upstream data copied into the repository (``testkit/data``, its README)."""
    return DATA


@pytest.fixture(scope="session")
def pbs_releases(real_data: Path) -> dict[str, list[dict[str, Any]]]:
    """Real upstream asset names by release tag, from ``pbs_assets.json``."""
    data = json.loads((real_data / "pbs_assets.json").read_text(encoding="utf-8"))
    releases: dict[str, list[dict[str, Any]]] = data["releases"]
    return releases


@dataclass
class FakeClock:
    """TEST INFRASTRUCTURE: a wall clock (epoch seconds) that moves only when told to."""

    t: float = FAKE_EPOCH

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class NoSleep:
    """TEST INFRASTRUCTURE: an ``asyncio.sleep`` stand-in that records each delay and returns.

    With a ``clock`` it also moves that clock by the delay, so a wait computed as
    ``reset - clock()`` leaves the clock exactly at ``reset``.
    """

    clock: FakeClock | None = None
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.clock is not None:
            self.clock.advance(max(delay, 0.0))


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake wall clock shared by ``no_sleep`` and ``fake_github`` (its ``x-ratelimit-reset``)."""
    return FakeClock()


@pytest.fixture
def no_sleep(fake_clock: FakeClock) -> NoSleep:
    """A recording, never-sleeping ``sleep`` for ``RetryPolicy``; it advances ``fake_clock``."""
    return NoSleep(clock=fake_clock)


@pytest_asyncio.fixture
async def fake_github(fake_clock: FakeClock) -> AsyncIterator[FakeGitHub]:
    """A started fake GitHub on loopback; fails the test if a token reached its CDN host."""
    async with FakeGitHub(now=fake_clock) as fake:
        yield fake
    if fake.auth_violations:
        leaked = ", ".join(f"{h.method} {h.host}{h.path}" for h in fake.auth_violations)
        pytest.fail(f"Authorization header sent to the CDN host: {leaked}")
