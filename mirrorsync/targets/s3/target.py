"""A mirror in an S3 bucket (AWS, MinIO, R2, B2, Ceph): the ``Target`` behind ``target.url``.

The guarantees are the local tree's: assets are downloaded and verified in a local staging area,
then uploaded (a PUT is atomic: readers see the old object or the new one); indexes go after the
files they describe; a failed upload never touches the old object. Keys are
``PREFIX/<tag>/<name>`` with the literal ``+`` (botocore writes it as ``%2B`` on the wire).

Three things differ from a directory:

- **Trust instead of stat.** The bucket's ``index.json`` is the truth about assets: a run that
  finds nothing new reads it and uploads nothing, with no listing and no HEAD per object. The
  small files (indexes, pages, client files) are remembered in the local state directory as they
  were last uploaded, valid while the bucket's ``index.json`` keeps the ETag this machine last saw;
  on any other ETag (another machine, a lost state directory) that memory is dropped and relearnt
  with one listing of the prefix.
- **The lock is an object** (``PREFIX/.mirrorsync/lock``) created with ``If-None-Match: *``,
  holding owner, host and times, renewed while the run publishes, and taken over once expired.
- **aiobotocore is imported only here, and only when a bucket is opened**, so the core works
  without the ``mirrorsync[s3]`` extra; without it a bucket config is a ``ConfigError``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import logging
import math
import os
import shutil
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, TypeVar, cast

from mirrorsync.config.records import Config
from mirrorsync.core.layout import PAGE_NAME, STATE_DIR, check_relpath
from mirrorsync.core.manifest import INDEX_PATH, SUMS_NAME, timestamp
from mirrorsync.core.model import IndexEntry
from mirrorsync.errors import (
    AssetError,
    ConfigError,
    LockHeld,
    MirrorsyncError,
    TargetError,
)
from mirrorsync.targets.files import staging_file, sweep_staging_dir, write_atomic

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)
T = TypeVar("T")

EXTRA_HINT = "pip install 'mirrorsync[s3]'"
LOCK_PATH = f"{STATE_DIR}/lock"
"""Below the prefix; ``check_relpath`` refuses every asset path inside the state directory."""
LOCK_TTL = timedelta(minutes=30)
"""How long a crashed run blocks the next ones."""
LOCK_RENEW_SECONDS = 5 * 60.0
"""A run renews its lock when it publishes and the last renewal is older than this."""
DELETE_BATCH = 1000
"""S3's limit of keys per DeleteObjects request."""
PARTS_IN_FLIGHT = 4
"""Parts read into memory and uploading at once, across every upload of the run."""
MAX_PARTS = 10_000
SMALL_LIMIT = 256 << 20
"""``read`` serves indexes and pages; an object larger than this is not one of them."""
ARCHIVE_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "no-cache"
TEXT = "text/plain; charset=utf-8"
CONTENT_TYPES: Final = (
    (".tar.gz", "application/gzip"),
    (".tar.zst", "application/zstd"),
    (".json", "application/json"),
    (".html", "text/html; charset=utf-8"),
)
TAG_SMALL_FILES = frozenset({SUMS_NAME, PAGE_NAME})
_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_HELD_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_FATAL_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "NoSuchBucket",
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
    }
)
_HEX = frozenset("0123456789abcdef")
_LOADERS: list[object] = []
"""botocore's loader of service models, shared by the sessions of this process: parsing the
S3 model takes ~0.1 s, which every run (and every test) would pay again."""


def content_type(path: str) -> str:
    """The ``Content-Type`` of a mirror file; archives are never given a ``Content-Encoding``."""
    name = path.rsplit("/", 1)[-1]
    for suffix, kind in CONTENT_TYPES:
        if name.endswith(suffix):
            return kind
    if name == SUMS_NAME or name.endswith((".txt", ".sh", ".ps1")):
        return TEXT
    return "application/octet-stream"


def is_asset(path: str) -> bool:
    """Whether ``path`` is a release's archive (``<tag>/<name>``), not an index or a page."""
    return path.count("/") == 1 and path.rsplit("/", 1)[1] not in TAG_SMALL_FILES


def default_state_dir(*, bucket: str, prefix: str, endpoint_url: str | None) -> Path:
    """``~/.cache/mirrorsync/s3/<bucket>/<hash>``: one per endpoint, bucket and prefix."""
    where = f"{endpoint_url or 'aws'}|{bucket}|{prefix}"
    digest = hashlib.sha256(where.encode("utf-8")).hexdigest()[:16]
    return Path.home() / ".cache" / "mirrorsync" / "s3" / bucket / digest


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class _Window(io.RawIOBase):
    """Bytes ``[offset, offset + length)`` of a file as a seekable stream: a part is read while
    it is sent (and again on a retry), never held in memory whole."""

    def __init__(self, path: Path, *, offset: int, length: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._start = offset
        self._length = length
        self._pos = 0
        self._file.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(base + offset, self._length))
        self._file.seek(self._start + self._pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:  # noqa: ANN401 - any writable buffer
        view = memoryview(buffer).cast("B")
        got = self._file.readinto(view[: min(len(view), self._length - self._pos)])
        self._pos += got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def _digests(path: Path, *, offset: int, length: int) -> tuple[bytes, bytes]:
    """(sha256, md5) of a byte range of a file, read in blocks."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with _Window(path, offset=offset, length=length) as window:
        while block := window.read(1 << 20):
            sha.update(block)
            md5.update(block)
    return sha.digest(), md5.digest()


@dataclass(frozen=True, slots=True)
class _Boto:
    """What mirrorsync uses of aiobotocore and botocore, imported when a bucket is opened."""

    get_session: Any
    config: Any
    client_error: type[Exception]
    errors: tuple[type[Exception], ...]
    no_credentials: tuple[type[Exception], ...]


def _load_boto() -> _Boto:
    try:
        from aiobotocore.config import AioConfig  # noqa: PLC0415 - the optional extra
        from aiobotocore.session import get_session  # noqa: PLC0415
        from botocore.exceptions import (  # noqa: PLC0415
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )
    except ImportError as e:
        raise ConfigError(
            [f"target.url: an S3 target needs the s3 extra ({e.name} is not installed)"],
            hint=EXTRA_HINT,
        ) from e
    return _Boto(
        get_session=get_session,
        config=AioConfig,
        client_error=ClientError,
        errors=(ClientError, BotoCoreError),
        no_credentials=(NoCredentialsError, PartialCredentialsError),
    )


class _Unknown:
    """Marks a small file whose content this machine does not know."""


UNKNOWN: Final = _Unknown()


@dataclass(slots=True, kw_only=True)
class _Known:
    """What this machine knows of the bucket's small files, kept in the state directory.

    ``copies`` holds the exact bytes of each small file as last uploaded or read. The knowledge
    is valid while the bucket's ``index.json`` has ``index_etag``; once ``listed``, a small file
    that is neither copied nor in ``uncopied`` (present, bytes unknown) is absent.
    """

    copies: Path
    meta: Path
    index_etag: str | None = None
    listed: bool = False
    uncopied: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)
    persist: bool = False
    """Only the lock holder writes the state directory; a plan or verify keeps it in memory."""
    stale_copies: bool = False
    """The copies on disk no longer count (reset without ``persist``)."""
    memory: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> _Known:
        known = cls(copies=state_dir / "published", meta=state_dir / "published.json")
        try:
            doc = json.loads(known.meta.read_bytes())
            known.index_etag = doc["index_etag"]
            known.listed = bool(doc["listed"])
            known.uncopied = set(doc["uncopied"])
            known.absent = set(doc["absent"])
        except (OSError, ValueError, KeyError, TypeError):
            known.index_etag = None  # nothing usable: the first read of index.json resets
        return known

    def save(self) -> None:
        if not self.persist:
            return
        doc = {
            "index_etag": self.index_etag,
            "listed": self.listed,
            "uncopied": sorted(self.uncopied),
            "absent": sorted(self.absent),
        }
        write_atomic(self.meta, json.dumps(doc, indent=1).encode("utf-8"))

    def reset(self, index_etag: str | None) -> None:
        """Forget every small file: the bucket changed behind this machine's back."""
        if self.persist:
            shutil.rmtree(self.copies, ignore_errors=True)
        else:
            self.stale_copies = True
        self.index_etag = index_etag
        self.listed = False
        self.uncopied.clear()
        self.absent.clear()
        self.memory.clear()
        self.save()

    def get(self, path: str) -> bytes | _Unknown | None:
        """The bytes of a small file, None when it is absent, ``UNKNOWN`` when not known."""
        if path in self.absent:
            return None
        if path in self.memory:
            return self.memory[path]
        if path not in self.uncopied and not self.stale_copies:
            with contextlib.suppress(FileNotFoundError):
                return self.copies.joinpath(*path.split("/")).read_bytes()
        if self.listed and path not in self.uncopied:
            return None
        return UNKNOWN

    def present(self, path: str) -> bool | None:
        """Whether a small file is in the bucket; None when not known."""
        if path in self.uncopied:
            return True
        found = self.get(path)
        return None if isinstance(found, _Unknown) else found is not None

    def forget(self, path: str) -> None:
        """Before an upload or a delete: unknown bytes until it is known to have landed."""
        self.absent.discard(path)
        self.memory.pop(path, None)
        self.uncopied.add(path)
        self.save()

    def store(self, path: str, data: bytes) -> None:
        self.absent.discard(path)
        self.uncopied.discard(path)
        if self.persist:
            write_atomic(self.copies.joinpath(*path.split("/")), data)
        else:
            self.memory[path] = data
        self.save()

    def drop(self, path: str) -> None:
        if self.persist:
            self.copies.joinpath(*path.split("/")).unlink(missing_ok=True)
        self.memory.pop(path, None)
        self.uncopied.discard(path)
        self.absent.add(path)
        self.save()


@dataclass(slots=True, kw_only=True)
class _Held:
    """The lock this run holds: the object's ETag and what it says."""

    etag: str
    holder: dict[str, Any]
    started: datetime
    since: float
    """``time.monotonic()`` when the lock was taken."""
    renewed: float
    """``time.monotonic()`` of the last write of the lock object."""


class S3Target:
    """A mirror under ``s3://BUCKET/PREFIX``; open it with ``connect()`` for each run."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        state_dir: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str = "auto",
        checksum: str = "sha256",
        cache_control: Mapping[str, str] | None = None,
        multipart_threshold: int = 64 << 20,
        part_size: int = 8 << 20,
        concurrency: int = 8,
        retries: int = 5,
        timeout: float = 60.0,
    ) -> None:
        self._boto = _load_boto()
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.description = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.state_dir = state_dir
        self.local_root: Path | None = None
        self.staging_dir = state_dir / "staging"
        self.endpoint_url = endpoint_url
        self.region = region
        self.addressing_style = addressing_style
        self.checksum = checksum
        overrides = dict(cache_control or {})
        self.archive_cache = overrides.get("archives", ARCHIVE_CACHE)
        self.index_cache = overrides.get("indexes", INDEX_CACHE)
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.concurrency = concurrency
        self.retries = retries
        self.timeout = timeout
        self.requests: Counter[str] = Counter()
        """HTTP requests sent, by S3 operation (each retry counts)."""
        self._client: S3Client | None = None
        self._parts: asyncio.Semaphore | None = None
        self._known = _Known.load(state_dir)
        self._held: _Held | None = None
        self._renewing: asyncio.Lock | None = None
        self._listings: dict[str, dict[str, int]] = {}
        """Listings made during this connection, by directory below the prefix ("" = all)."""

    @classmethod
    def from_config(cls, cfg: Config) -> S3Target:
        t = cfg.target
        if t.bucket is None:
            raise ConfigError(["target.url: not set"])
        state_dir = t.state_dir or default_state_dir(
            bucket=t.bucket, prefix=t.prefix, endpoint_url=t.endpoint_url
        )
        return cls(
            bucket=t.bucket,
            prefix=t.prefix,
            state_dir=state_dir,
            endpoint_url=t.endpoint_url,
            region=t.region,
            addressing_style=t.addressing_style,
            checksum=t.checksum,
            cache_control=dict(t.cache_control),
            multipart_threshold=t.multipart_threshold,
            part_size=t.part_size,
            concurrency=cfg.download.concurrency,
            retries=cfg.download.retries,
            timeout=cfg.download.timeout,
        )

    # -- keys and the client -------------------------------------------------------------------

    def key(self, path: str) -> str:
        """The object key of a mirror path (checked first: names are untrusted)."""
        check_relpath(path)
        return f"{self.prefix}/{path}" if self.prefix else path

    def relpath(self, key: str) -> str | None:
        """The mirror path of a key below the prefix, else None."""
        if not self.prefix:
            return key
        head = self.prefix + "/"
        return key[len(head) :] if key.startswith(head) else None

    @property
    def _lock_key(self) -> str:
        return f"{self.prefix}/{LOCK_PATH}" if self.prefix else LOCK_PATH

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3Target used outside connect()")
        return self._client

    def _client_config(self) -> object:
        settings: dict[str, Any] = {
            "region_name": self.region,
            "signature_version": "s3v4",
            "s3": {"addressing_style": self.addressing_style},
            # Stall timeouts only (a large part may take long); retries of transient failures.
            "connect_timeout": 30,
            "read_timeout": self.timeout,
            "retries": {"mode": "standard", "total_max_attempts": self.retries + 1},
            "max_pool_connections": max(10, self.concurrency + PARTS_IN_FLIGHT),
            # botocore >= 1.36 adds CRC checksum headers by itself, which B2 and other services
            # reject: checksums are sent only as target.checksum says.
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
        try:
            return self._boto.config(**settings)
        except TypeError:  # botocore < 1.36 knows neither key, and adds no checksum either
            for name in ("request_checksum_calculation", "response_checksum_validation"):
                settings.pop(name)
            return self._boto.config(**settings)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        """One S3 client for the run, with its own aiohttp connection pool on this event loop."""
        session = self._boto.get_session()
        if _LOADERS:
            session.register_component("data_loader", _LOADERS[0])
        else:
            _LOADERS.append(session.get_component("data_loader"))
        creator = session.create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=self._client_config(),
        )
        try:
            client = await creator.__aenter__()
        except self._boto.errors as e:
            raise self._fatal(e, what="open the S3 client") from e
        client.meta.events.register("before-send.s3", self._count)
        self._client = client
        self._parts = asyncio.Semaphore(PARTS_IN_FLIGHT)
        self._renewing = asyncio.Lock()
        self._listings = {}
        try:
            yield
        finally:
            self._client = None
            await creator.__aexit__(None, None, None)
            if self.requests:
                counts = ", ".join(f"{op} {n}" for op, n in sorted(self.requests.items()))
                log.info("%s: %d S3 requests (%s)", self.description, self.requests.total(), counts)

    def _count(self, event_name: str = "", **_: object) -> None:
        self.requests[event_name.rsplit(".", 1)[-1]] += 1

    # -- error translation ---------------------------------------------------------------------

    def _code(self, e: BaseException) -> tuple[str, int]:
        if isinstance(e, self._boto.client_error):
            response: Mapping[str, Any] = getattr(e, "response", {})
            code = str(response.get("Error", {}).get("Code", ""))
            status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            return code, status
        return "", 0

    def _missing(self, e: BaseException) -> bool:
        code, status = self._code(e)
        return code in _MISSING_CODES or status == 404  # noqa: PLR2004 - Not Found

    def _reason(self, e: BaseException) -> str:
        if isinstance(e, self._boto.client_error):
            code, status = self._code(e)
            message = getattr(e, "response", {}).get("Error", {}).get("Message", "")
            return f"{code or status}: {message}" if message else code or str(status)
        return str(e) or type(e).__name__

    def _fatal(self, e: BaseException, *, what: str) -> MirrorsyncError:
        hint = None
        if isinstance(e, self._boto.no_credentials):
            hint = (
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an "
                "instance role; credentials never go in the config file"
            )
        elif self._code(e)[0] == "NoSuchBucket":
            hint = f"create the bucket {self.bucket} first, or fix target.url"
        return TargetError(f"{self.description}: cannot {what} ({self._reason(e)})", hint=hint)

    def _upload_failure(self, e: BaseException, path: str) -> MirrorsyncError:
        """One object failed: a value for the report, unless the whole bucket is unusable."""
        code, status = self._code(e)
        if isinstance(e, self._boto.no_credentials) or code in _FATAL_CODES or status in (401, 403):
            return self._fatal(e, what=f"upload {path}")
        return AssetError(path, f"upload to {self.description} failed: {self._reason(e)}")

    async def _call(self, call: Awaitable[T], *, what: str) -> T:
        try:
            return await call
        except self._boto.errors as e:
            raise self._fatal(e, what=what) from e

    # -- the Target protocol -------------------------------------------------------------------

    def staging_path(self, path: str) -> Path:
        return staging_file(self.staging_dir, path)

    async def prepare(self) -> None:
        """Create the local state directory; the bucket itself answers at the lock."""
        try:
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TargetError(f"{self.state_dir}: cannot create the state directory ({e})") from e

    @contextlib.asynccontextmanager
    async def lock(self, *, now: datetime) -> AsyncIterator[None]:
        """The lock object, then leftover multipart uploads of killed runs are aborted."""
        self._held = await self._acquire(now)
        self._known.persist = True
        try:
            await self._abort_leftover_uploads()
            yield
        finally:
            self._known.persist = False
            held, self._held = self._held, None
            # A remote lock can only be released with a request; if this fails, it expires.
            await self._release(held)

    async def read(self, path: str) -> bytes | None:
        """A small file: ``index.json`` from the bucket, the others as this machine knows them."""
        if path == INDEX_PATH:
            data, etag = await self.get_object(path)
            if etag is None or etag != self._known.index_etag:
                self._known.reset(etag)
            return data
        known = self._known.get(path)
        if not isinstance(known, _Unknown):
            return known
        data, _ = await self.get_object(path)
        if data is None:
            self._known.drop(path)
        else:
            self._known.store(path, data)
        return data

    async def get_object(
        self, path: str, *, limit: int = SMALL_LIMIT
    ) -> tuple[bytes | None, str | None]:
        """The bytes and ETag of a small object read from the bucket; (None, None) when absent."""
        key = self.key(path)
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=key)
            if response.get("ContentLength", 0) > limit:
                response["Body"].close()
                raise TargetError(f"{self.description}: {path} is larger than {limit} bytes")
            async with response["Body"] as body:
                data = await body.read()
        except self._boto.errors as e:
            if self._missing(e):
                return None, None
            raise self._fatal(e, what=f"read {path}") from e
        return data, response.get("ETag")

    async def write(self, path: str, data: bytes) -> None:
        """Upload a small file in one PUT (atomic for readers), with its checksum."""
        key = self.key(path)
        await self._renew_if_due()
        self._known.forget(path)
        sha256 = hashlib.sha256(data)
        extra = self._checksum_args(
            sha256=sha256.digest(), md5=lambda: hashlib.md5(data, usedforsecurity=False).digest()
        )
        response = await self._call(
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type(path),
                CacheControl=self._cache_for(path),
                Metadata={"sha256": sha256.hexdigest()},
                **extra,
            ),
            what=f"upload {path}",
        )
        self._known.store(path, data)
        if path == INDEX_PATH:
            self._known.index_etag = response.get("ETag")
            self._known.save()

    def write_now(self, path: str, data: bytes) -> bool:  # noqa: ARG002 - the protocol's
        return False  # an upload needs the event loop: the next run rewrites the indexes

    async def publish(self, staged: Path, path: str, *, sha256: str) -> None:
        """Upload a verified staging file, then delete it; ``AssetError`` for this file alone."""
        key = self.key(path)
        await self._renew_if_due()
        headers: dict[str, Any] = {
            "ContentType": content_type(path),
            "CacheControl": self._cache_for(path),
            "Metadata": {"sha256": sha256},
        }
        try:
            size = (await asyncio.to_thread(staged.stat)).st_size
            if size >= self.multipart_threshold:
                await self._multipart(staged, path, key=key, size=size, headers=headers)
            else:
                await self._put_file(
                    staged, path, key=key, size=size, sha256=sha256, headers=headers
                )
            await asyncio.to_thread(staged.unlink, missing_ok=True)
        except OSError as e:
            raise TargetError.from_os_error(f"{staged}: cannot read", e) from e

    async def delete(self, path: str) -> None:
        await self.delete_many([path])

    async def delete_many(self, paths: Sequence[str]) -> None:
        """DeleteObjects in batches of 1000 keys; absent keys are fine."""
        keys = {self.key(p): p for p in paths}
        await self._renew_if_due()
        for p in paths:
            if not is_asset(p):
                self._known.forget(p)
        ordered = sorted(keys)
        for start in range(0, len(ordered), DELETE_BATCH):
            batch = ordered[start : start + DELETE_BATCH]
            response = await self._call(
                self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                ),
                what=f"delete {len(batch)} object(s)",
            )
            if errors := response.get("Errors"):
                first = errors[0]
                raise TargetError(
                    f"{self.description}: cannot delete {len(errors)} object(s), e.g. "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".rstrip()
                )
        for p in paths:
            if not is_asset(p):
                self._known.drop(p)

    async def present(self, entries: Mapping[str, IndexEntry]) -> dict[str, IndexEntry]:
        """The bucket's index is trusted: no HEAD per object (``verify`` checks it)."""
        return dict(entries)

    async def missing(self, paths: Iterable[str]) -> set[str]:
        """Small files as this machine knows them; assets from one listing of their release.

        Nothing is requested for small files this machine knows, which after the first run is
        all of them; assets are asked about only when there is something to fetch (adoption).
        """
        wanted = list(paths)
        for p in wanted:
            check_relpath(p)
        small = [p for p in wanted if not is_asset(p)]
        if any(self._known.present(p) is None for p in small):
            await self._learn_small_files()
        absent = {p for p in small if not self._known.present(p)}
        for p in wanted:
            if is_asset(p) and p not in await self.listing(p.split("/", 1)[0]):
                absent.add(p)
        return absent

    async def existing_sha256(self, path: str, *, size: int) -> str | None:
        """The sha256 recorded in the object's metadata when its size matches (one HEAD)."""
        head = await self.head(path)
        if head is None or head[0] != size:
            return None
        return head[1]

    def sweep_staging(self, *, keep: set[Path]) -> int:
        return sweep_staging_dir(self.staging_dir, keep=keep)

    # -- reading the bucket --------------------------------------------------------------------

    async def head(self, path: str) -> tuple[int, str | None] | None:
        """(size, sha256 from x-amz-meta-sha256) of an object, or None when it is absent."""
        key = self.key(path)
        try:
            response = await self.client.head_object(Bucket=self.bucket, Key=key)
        except self._boto.errors as e:
            if self._missing(e):
                return None
            raise self._fatal(e, what=f"look at {path}") from e
        sha = response.get("Metadata", {}).get("sha256", "").lower()
        valid = len(sha) == 64 and set(sha) <= _HEX  # noqa: PLR2004 - sha256 hex length
        return int(response.get("ContentLength", -1)), sha if valid else None

    async def listing(self, directory: str = "") -> dict[str, int]:
        """Objects below the prefix (or below its ``directory``): ``/``-paths and sizes, without
        the state directory. Each listing is made once per connection."""
        if directory in self._listings:
            return self._listings[directory]
        found: dict[str, int] = {}
        start = "/".join(p for p in (self.prefix, directory) if p)
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(
                Bucket=self.bucket, Prefix=f"{start}/" if start else ""
            ):
                for obj in page.get("Contents", []):
                    rel = self.relpath(obj["Key"])
                    if rel is not None and rel.split("/", 1)[0] != STATE_DIR:
                        found[rel] = int(obj.get("Size", 0))
        except self._boto.errors as e:
            raise self._fatal(e, what="list the mirror") from e
        self._listings[directory] = found
        return found

    async def _learn_small_files(self) -> None:
        """One listing of the prefix tells which small files exist (their bytes come on read)."""
        for path in await self.listing():
            if not is_asset(path) and (
                path in self._known.absent or isinstance(self._known.get(path), _Unknown)
            ):
                self._known.absent.discard(path)
                self._known.uncopied.add(path)
        self._known.listed = True
        self._known.save()

    async def hash_object(
        self, path: str, *, on_bytes: Callable[[int], None] | None = None
    ) -> tuple[int, str] | None:
        """(size, sha256) of an object's bytes, streamed; None when it is absent."""
        key = self.key(path)
        h = hashlib.sha256()
        size = 0
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=key)
            async with response["Body"] as body:
                async for block in body.iter_chunks(1 << 20):
                    h.update(block)
                    size += len(block)
                    if on_bytes is not None:
                        on_bytes(len(block))
        except self._boto.errors as e:
            if self._missing(e):
                return None
            raise self._fatal(e, what=f"read {path}") from e
        return size, h.hexdigest()

    async def pending_uploads(self) -> list[tuple[str, str]]:
        """(key, upload id) of multipart uploads below the prefix never completed or aborted."""
        found: list[tuple[str, str]] = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
                found += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        except self._boto.errors as e:
            raise self._fatal(e, what="list multipart uploads") from e
        return found

    async def quarantine(self, path: str, *, stamp: str) -> str:
        """Move a damaged object below ``.mirrorsync/quarantine/<stamp>/`` (server-side copy,
        then delete); returns the new key."""
        source = self.key(path)
        check_relpath(stamp)
        moved = "/".join(p for p in (self.prefix, STATE_DIR, "quarantine", stamp, path) if p)
        await self._call(
            self.client.copy_object(
                Bucket=self.bucket, Key=moved, CopySource={"Bucket": self.bucket, "Key": source}
            ),
            what=f"quarantine {path}",
        )
        await self._call(
            self.client.delete_object(Bucket=self.bucket, Key=source), what=f"delete {path}"
        )
        return moved

    # -- uploads -------------------------------------------------------------------------------

    def _cache_for(self, path: str) -> str:
        return self.archive_cache if is_asset(path) else self.index_cache

    def _checksum_args(self, *, sha256: bytes, md5: Callable[[], bytes]) -> dict[str, Any]:
        if self.checksum == "sha256":
            return {"ChecksumSHA256": _b64(sha256)}
        if self.checksum == "md5":
            return {"ContentMD5": _b64(md5())}
        return {}

    async def _put_file(
        self, staged: Path, path: str, *, key: str, size: int, sha256: str, headers: dict[str, Any]
    ) -> None:
        """One PUT streamed from the staging file, with the sha256 the server verifies."""
        md5 = b""
        if self.checksum == "md5":
            _, md5 = await asyncio.to_thread(_digests, staged, offset=0, length=size)
        extra = self._checksum_args(sha256=bytes.fromhex(sha256), md5=lambda: md5)
        with staged.open("rb") as f:
            try:
                await self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=f, ContentLength=size, **headers, **extra
                )
            except self._boto.errors as e:
                raise self._upload_failure(e, path) from e

    async def _multipart(
        self, staged: Path, path: str, *, key: str, size: int, headers: dict[str, Any]
    ) -> None:
        """Parts of ``part_size`` read from the staging file, at most ``PARTS_IN_FLIGHT`` in memory
        across the run; a failed upload is aborted (one a killed run leaves, the next aborts)."""
        part_size = max(self.part_size, math.ceil(size / MAX_PARTS))
        algorithm: dict[str, Any] = {}
        if self.checksum == "sha256":
            algorithm["ChecksumAlgorithm"] = "SHA256"
        try:
            created = await self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, **headers, **algorithm
            )
        except self._boto.errors as e:
            raise self._upload_failure(e, path) from e
        upload_id = created["UploadId"]
        try:
            parts = await self._upload_parts(
                staged, path, key=key, upload_id=upload_id, size=size, part_size=part_size
            )
            await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except self._boto.errors as e:
            await self._abort_upload(key, upload_id)
            raise self._upload_failure(e, path) from e
        except MirrorsyncError:
            await self._abort_upload(key, upload_id)
            raise

    async def _upload_parts(
        self, staged: Path, path: str, *, key: str, upload_id: str, size: int, part_size: int
    ) -> list[CompletedPartTypeDef]:
        assert self._parts is not None  # noqa: S101 - set by connect()
        limit = self._parts
        done: dict[int, CompletedPartTypeDef] = {}

        async def one(number: int, offset: int) -> None:
            length = min(part_size, size - offset)
            async with limit:
                try:
                    sha, md5 = await asyncio.to_thread(
                        _digests, staged, offset=offset, length=length
                    )
                    body = _Window(staged, offset=offset, length=length)
                except OSError as e:
                    raise TargetError.from_os_error(f"{staged}: cannot read", e) from e
                extra = self._checksum_args(sha256=sha, md5=lambda: md5)
                with body:
                    try:
                        response = await self.client.upload_part(
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=number,
                            Body=cast("IO[bytes]", body),
                            ContentLength=length,
                            **extra,
                        )
                    except self._boto.errors as e:
                        raise self._upload_failure(e, path) from e
            part: CompletedPartTypeDef = {"PartNumber": number, "ETag": response["ETag"]}
            if "ChecksumSHA256" in extra:
                part["ChecksumSHA256"] = extra["ChecksumSHA256"]
            done[number] = part

        try:
            async with asyncio.TaskGroup() as tg:
                for index, offset in enumerate(range(0, size, part_size)):
                    tg.create_task(one(index + 1, offset), name=f"{path} part {index + 1}")
        except* MirrorsyncError as group:
            raise group.exceptions[0] from None
        return [done[n] for n in sorted(done)]

    async def _abort_upload(self, key: str, upload_id: str) -> None:
        try:
            await self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
        except self._boto.errors as e:  # the next run's sweep aborts it
            log.warning(
                "%s: cannot abort the multipart upload of %s: %s",
                self.description,
                key,
                self._reason(e),
            )

    async def _abort_leftover_uploads(self) -> None:
        """Uploads below the prefix that killed runs left (billed storage, invisible to readers)."""
        for key, upload_id in await self.pending_uploads():
            log.info("%s: aborting a multipart upload a killed run left: %s", self.description, key)
            await self._abort_upload(key, upload_id)

    # -- the lock ------------------------------------------------------------------------------

    def _holder(self, *, owner: str, started: datetime, now: datetime) -> dict[str, Any]:
        return {
            "owner": owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": timestamp(started),
            "renewed": timestamp(now),
            "expires": timestamp(now + LOCK_TTL),
        }

    async def _put_lock(self, holder: Mapping[str, Any], condition: Mapping[str, Any]) -> str:
        response = await self.client.put_object(
            Bucket=self.bucket,
            Key=self._lock_key,
            Body=json.dumps(holder, indent=1).encode("utf-8") + b"\n",
            ContentType="application/json",
            CacheControl="no-store",
            **condition,
        )
        return str(response.get("ETag", ""))

    async def _write_lock(self, holder: Mapping[str, Any], *, expect: str | None) -> str:
        """Write the lock object if it is absent (``expect`` None) or still has the ETag
        ``expect``; ``_Conflict`` otherwise. Returns the new ETag."""
        condition: dict[str, Any] = {"IfNoneMatch": "*"} if expect is None else {"IfMatch": expect}
        try:
            return await self._put_lock(holder, condition)
        except self._boto.errors as e:
            code, status = self._code(e)
            if code in _HELD_CODES or status in (409, 412):  # 409: a concurrent conditional write
                raise _Conflict from e
            if code != "NotImplemented" and status != 501:  # noqa: PLR2004 - Not Implemented
                raise self._fatal(e, what="write the lock object") from e
        # A service without conditional writes: look, then write (a narrow race remains there).
        _, etag = await self._get_lock()
        if etag != expect:
            raise _Conflict
        return await self._call(self._put_lock(holder, {}), what="write the lock object")

    async def _acquire(self, now: datetime) -> _Held:
        holder = self._holder(owner=uuid.uuid4().hex, started=now, now=now)
        theirs: dict[str, Any] = {}
        for _ in range(2):  # once more if the holder let go between our PUT and our GET
            try:
                return _held(await self._write_lock(holder, expect=None), holder, started=now)
            except _Conflict:
                pass
            data, their_etag = await self._get_lock()
            if data is None or their_etag is None:
                continue
            theirs = _parse_holder(data)
            expires = _parse_time(theirs.get("expires"))
            if expires is None or expires > now:
                break
            log.warning(
                "%s: taking over an expired lock (%s)", self.description, _holder_text(theirs)
            )
            try:
                return _held(await self._write_lock(holder, expect=their_etag), holder, started=now)
            except _Conflict:
                data, _ = await self._get_lock()
                theirs = _parse_holder(data or b"{}")
                break
        raise LockHeld(
            f"another run holds the lock on this mirror ({_holder_text(theirs)})",
            hint=f"lock object s3://{self.bucket}/{self._lock_key}; it expires by itself",
        )

    async def _get_lock(self) -> tuple[bytes | None, str | None]:
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=self._lock_key)
            async with response["Body"] as body:
                return await body.read(), response.get("ETag")
        except self._boto.errors as e:
            if self._missing(e):
                return None, None
            raise self._fatal(e, what="read the lock object") from e

    async def _renew_if_due(self) -> None:
        """Move the lock's expiry forward while the run publishes; ``LockHeld`` if it was lost."""
        held = self._held
        if held is None or time.monotonic() - held.renewed < LOCK_RENEW_SECONDS:
            return
        assert self._renewing is not None  # noqa: S101 - set by connect()
        async with self._renewing:
            if time.monotonic() - held.renewed < LOCK_RENEW_SECONDS:
                return
            now = held.started + timedelta(seconds=time.monotonic() - held.since)
            holder = self._holder(owner=held.holder["owner"], started=held.started, now=now)
            try:
                held.etag = await self._write_lock(holder, expect=held.etag)
            except _Conflict as e:
                raise LockHeld(
                    "this run's lock expired and another run took it over; stopping",
                    hint=f"lock object s3://{self.bucket}/{self._lock_key}",
                ) from e
            held.holder = holder
            held.renewed = time.monotonic()

    async def _release(self, held: _Held | None) -> None:
        if held is None:
            return
        try:
            try:
                await self.client.delete_object(
                    Bucket=self.bucket, Key=self._lock_key, IfMatch=held.etag
                )
            except self._boto.errors as e:
                code, status = self._code(e)
                if code in _HELD_CODES or status in (409, 412):
                    log.warning("%s: the lock was taken over meanwhile", self.description)
                    return
                # A service without conditional deletes: the lock is ours (the ETag was ours).
                await self.client.delete_object(Bucket=self.bucket, Key=self._lock_key)
        except self._boto.errors as e:
            log.warning(
                "%s: cannot release the lock (%s); it expires by itself",
                self.description,
                self._reason(e),
            )


class _Conflict(Exception):
    """The lock object is not what a conditional write expected (another run has it)."""


def _held(etag: str, holder: dict[str, Any], *, started: datetime) -> _Held:
    moment = time.monotonic()
    return _Held(etag=etag, holder=holder, started=started, since=moment, renewed=moment)


def _parse_holder(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _holder_text(info: Mapping[str, Any]) -> str:
    if not info:
        return "holder unknown"
    return (
        f"pid {info.get('pid', '?')}, host {info.get('host', '?')}, "
        f"since {info.get('started', '?')}, expires {info.get('expires', '?')}"
    )
