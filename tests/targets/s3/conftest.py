"""Fixtures of the S3 suite: each test gets a new bucket on each server (``../conftest.py``
starts the servers once per session)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from s3_harness import (
    Bucket,
    Clock,
    S3Mirror,
    S3Proxy,
    S3Server,
    fresh_bucket,
)


@pytest.fixture(params=["moto", "seaweedfs"])
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each S3 test that takes this runs on both servers."""
    name = "moto_server" if request.param == "moto" else "seaweed_server"
    server: S3Server = request.getfixturevalue(name)
    return server


@pytest.fixture
async def bucket(s3_server: S3Server) -> AsyncIterator[Bucket]:
    """A new, empty bucket on the test's server."""
    async with fresh_bucket(s3_server) as b:
        yield b


@pytest.fixture
async def seaweed_bucket(seaweed_server: S3Server) -> AsyncIterator[Bucket]:
    """A new, empty bucket on SeaweedFS (the server that checks checksums and policies)."""
    async with fresh_bucket(seaweed_server) as b:
        yield b


async def started_proxy(server: S3Server) -> AsyncIterator[S3Proxy]:
    proxy = S3Proxy(upstream=server.endpoint)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def proxy(s3_server: S3Server) -> AsyncIterator[S3Proxy]:
    """The recording proxy in front of the test's server."""
    async for p in started_proxy(s3_server):
        yield p


@pytest.fixture
async def s3_mirror(
    tmp_path: Path,
    *,
    fake_github: FakeGitHub,
    bucket: Bucket,
    proxy: S3Proxy,
    no_sleep: Callable[[float], Awaitable[None]],
    fake_clock: Clock,
) -> S3Mirror:
    """A mirror in a new bucket of the test's server, synced from the fake GitHub."""
    return S3Mirror(
        base=tmp_path,
        fake=fake_github,
        bucket=bucket,
        proxy=proxy,
        sleep=no_sleep,
        clock=fake_clock,
    )


@pytest.fixture
async def seaweed_mirror(
    tmp_path: Path,
    *,
    fake_github: FakeGitHub,
    seaweed_bucket: Bucket,
    seaweed_server: S3Server,
    no_sleep: Callable[[float], Awaitable[None]],
    fake_clock: Clock,
) -> AsyncIterator[S3Mirror]:
    """A mirror in a new SeaweedFS bucket, through its own proxy."""
    async for p in started_proxy(seaweed_server):
        yield S3Mirror(
            base=tmp_path,
            fake=fake_github,
            bucket=seaweed_bucket,
            proxy=p,
            sleep=no_sleep,
            clock=fake_clock,
        )
