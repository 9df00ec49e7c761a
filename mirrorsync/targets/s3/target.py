"""``S3Target``: the ``Target`` protocol over a bucket, composed of the package's other modules.

The guarantees are the local tree's: assets are downloaded and verified in a local staging area,
then uploaded (see ``uploads``); indexes go after the files they describe. Keys are
``PREFIX/<tag>/<name>`` with the literal ``+`` (botocore writes it as ``%2B`` on the wire).
Small files are read as this machine knows them (``known``); the run holds the bucket's lease
lock (``lock``) and renews it before each write; every request goes through the run's client,
which also says what its errors mean (``client``). The protocol's read side delegates to the
bucket reads ``head``, ``listing``, ``hash_object``, ``pending_uploads``; a bucket has neither
links nor file modes, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mirrorsync.config.records import Config
from mirrorsync.core.checksums import SHA256_HEX
from mirrorsync.core.idle import bucket_digest
from mirrorsync.core.layout import INDEX_PATH, QUARANTINE_DIR, STAGING_DIR, STATE_DIR, check_relpath
from mirrorsync.core.media import CACHE_CONTROL, CacheClass, cache_class, content_type
from mirrorsync.core.model import Filesystem, IndexEntry
from mirrorsync.errors import ConfigError, TargetError
from mirrorsync.targets.base import BLOCK, Inventory, Leftovers
from mirrorsync.targets.files import staging_file, sweep_staging_dir
from mirrorsync.targets.s3.client import BucketClient
from mirrorsync.targets.s3.known import Known, Unknown, is_asset
from mirrorsync.targets.s3.lock import LOCK_PATH, LeaseLock
from mirrorsync.targets.s3.uploads import PARTS_IN_FLIGHT, Uploads
from mirrorsync.targets.signature import state_signature

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

DELETE_BATCH = 1000
"""S3's limit of keys per DeleteObjects request."""
SMALL_LIMIT = 256 << 20
"""``read`` serves indexes and pages; an object larger than this is not one of them."""


def default_state_dir(*, bucket: str, prefix: str, endpoint_url: str | None) -> Path:
    """``~/.cache/mirrorsync/s3/<bucket>/<hash>``: one per endpoint, bucket and prefix."""
    where = f"{endpoint_url or 'aws'}|{bucket}|{prefix}"
    digest = hashlib.sha256(where.encode("utf-8")).hexdigest()[:16]
    return Path.home() / ".cache" / "mirrorsync" / "s3" / bucket / digest


class S3Target:
    """A mirror under ``s3://BUCKET/PREFIX``; open it with ``connect()`` for each run."""

    keeps_sha256 = True
    """Every object carries the sha256 it was uploaded with (``x-amz-meta-sha256``)."""
    reads_staged = True
    """A staged file is read to be uploaded: its pages stay cached until then."""

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
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.description = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.state_dir = state_dir
        self.parallel_reads = concurrency
        """``verify --full`` reads as many objects at once as a sync downloads."""
        self.staging_dir = state_dir / STAGING_DIR
        overrides = dict(cache_control or {})
        self.cache_control = {
            CacheClass.IMMUTABLE: overrides.get("archives", CACHE_CONTROL[CacheClass.IMMUTABLE]),
            CacheClass.REVALIDATE: overrides.get("indexes", CACHE_CONTROL[CacheClass.REVALIDATE]),
        }
        """``Cache-Control`` by cache class: ``target.cache_control`` over the defaults."""
        self._s3 = BucketClient(
            bucket=bucket,
            description=self.description,
            endpoint_url=endpoint_url,
            region=region,
            addressing_style=addressing_style,
            connections=concurrency + PARTS_IN_FLIGHT,
            retries=retries,
            timeout=timeout,
        )
        self._uploads = Uploads(
            self._s3,
            checksum=checksum,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
        )
        self._lease = LeaseLock(
            self._s3, key=f"{self.prefix}/{LOCK_PATH}" if self.prefix else LOCK_PATH
        )
        self._known = Known.load(state_dir)
        self._listings: dict[str, dict[str, int]] = {}
        """Listings made during this connection, by directory below the prefix ("" = all)."""
        self._index_seen = False
        """Whether this connection read or wrote ``index.json`` (``Known.index_etag`` is then
        the ETag the bucket gave for it in this run)."""

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

    @property
    def requests(self) -> Counter[str]:
        """HTTP requests sent, by S3 operation (each retry counts)."""
        return self._s3.requests

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
    def client(self) -> S3Client:
        return self._s3.client

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        """One S3 client for the run, with its own aiohttp connection pool on this event loop."""
        async with self._s3.connect():
            self._uploads.connect()
            self._lease.connect()
            self._listings = {}
            self._index_seen = False
            yield

    def _headers(self, path: str) -> dict[str, Any]:
        kind = cache_class(path)
        return {"ContentType": content_type(path), "CacheControl": self.cache_control[kind]}

    # -- the Target protocol -------------------------------------------------------------------

    def staging_path(self, path: str) -> Path:
        return staging_file(self.staging_dir, path)

    async def prepare(self) -> None:
        """Create the local state directory; the bucket itself answers at the lock."""
        try:
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TargetError(f"{self.state_dir}: cannot create the state directory ({e})") from e

    async def running(self, *, now: datetime) -> str | None:
        return await self._lease.holder(now)

    @contextlib.asynccontextmanager
    async def lock(self, *, now: datetime) -> AsyncIterator[None]:
        """The lock object, then leftover multipart uploads of killed runs are aborted."""
        await self._lease.acquire(now)
        self._known.persist = True
        try:
            await self._uploads.abort_leftovers(await self.pending_uploads())
            yield
        finally:
            self._known.persist = False
            # A remote lock can only be released with a request; if this fails, it expires.
            await self._lease.release()

    async def read(self, path: str, *, fresh: bool = False) -> bytes | None:
        """A small file: ``index.json`` from the bucket, the others as this machine knows them;
        with ``fresh``, from the bucket, leaving what this machine knows as it was."""
        if fresh:
            data, _ = await self.get_object(path)
            return data
        if path == INDEX_PATH:
            data, etag = await self.get_object(path)
            if etag is None or etag != self._known.index_etag:
                self._known.reset(etag)
            self._index_seen = True
            return data
        known = self._known.get(path)
        if not isinstance(known, Unknown):
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
        except self._s3.errors as e:
            if self._s3.missing(e):
                return None, None
            raise self._s3.fatal(e, what=f"read {path}") from e
        return data, response.get("ETag")

    async def write_pieces(self, path: str, pieces: Iterable[bytes]) -> None:
        """One PUT of the pieces joined (an upload is atomic only whole)."""
        await self.write(path, b"".join(pieces))

    async def write(self, path: str, data: bytes) -> None:
        """Upload a small file in one PUT (atomic for readers), with its checksum."""
        key = self.key(path)
        await self._lease.renew_if_due()
        self._known.forget(path)
        etag = await self._uploads.put_bytes(path, data, key=key, headers=self._headers(path))
        self._known.store(path, data)
        if path == INDEX_PATH:
            self._known.index_etag = etag
            self._known.save()
            self._index_seen = True

    async def publish(self, staged: Path, path: str, *, sha256: str) -> None:
        """Upload a verified staging file, then delete it; ``AssetError`` for this file alone."""
        key = self.key(path)
        await self._lease.renew_if_due()
        try:
            await self._uploads.put_file(
                staged, path, key=key, sha256=sha256, headers=self._headers(path)
            )
            await asyncio.to_thread(staged.unlink, missing_ok=True)
        except OSError as e:
            raise TargetError.from_os_error(f"{staged}: cannot read", e) from e

    async def delete(self, path: str) -> None:
        await self.delete_many([path])

    async def delete_many(self, paths: Sequence[str]) -> None:
        """DeleteObjects in batches of 1000 keys; absent keys are fine."""
        keys = {self.key(p): p for p in paths}
        await self._lease.renew_if_due()
        for p in paths:
            if not is_asset(p):
                self._known.forget(p)
        ordered = sorted(keys)
        for start in range(0, len(ordered), DELETE_BATCH):
            batch = ordered[start : start + DELETE_BATCH]
            response = await self._s3.call(
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
        for path in entries:
            check_relpath(path)
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
            self._known.learn(await self.listing())
        absent = {p for p in small if not self._known.present(p)}
        for p in wanted:
            if is_asset(p) and p not in await self.listing(p.rsplit("/", 1)[0]):
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

    async def idle_signature(self) -> str | None:
        """``core.idle.bucket_digest``: the ETag of the bucket's ``index.json`` and the stat digest
        of what this machine keeps of the bucket (``known``'s copies and its record, the staging
        area). A plan reads no more of a bucket: it trusts ``index.json`` for the archives
        (``present``) and this machine's copies for the small files while that ETag is the one
        they were kept with. One HEAD, or none when this connection already read or wrote
        ``index.json`` (the lock held since: only this run wrote it); None when the bucket's
        ``index.json`` is not the one this machine knows (a plan would relearn the small files)."""
        if self._index_seen:
            etag = self._known.index_etag
        else:
            etag = await self.index_etag()
            if etag != self._known.index_etag:
                return None
        state = await state_signature(self.state_dir, (*self._known.files, STAGING_DIR))
        return None if state is None else bucket_digest(etag, state)

    # -- reading the bucket --------------------------------------------------------------------

    async def head(self, path: str) -> tuple[int, str | None] | None:
        """(size, sha256 from x-amz-meta-sha256) of an object, or None when it is absent."""
        response = await self._head_object(path)
        if response is None:
            return None
        sha = response.get("Metadata", {}).get("sha256", "").lower()
        valid = SHA256_HEX.fullmatch(sha) is not None
        return int(response.get("ContentLength", -1)), sha if valid else None

    async def index_etag(self) -> str | None:
        """The ETag of the bucket's ``index.json`` (one HEAD), or None when it is absent."""
        response = await self._head_object(INDEX_PATH)
        return None if response is None else response.get("ETag")

    async def _head_object(self, path: str) -> Mapping[str, Any] | None:
        """The HEAD answer for the object at ``path``, or None when it is absent."""
        try:
            return await self.client.head_object(Bucket=self.bucket, Key=self.key(path))
        except self._s3.errors as e:
            if self._s3.missing(e):
                return None
            raise self._s3.fatal(e, what=f"look at {path}") from e

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
        except self._s3.errors as e:
            raise self._s3.fatal(e, what="list the mirror") from e
        self._listings[directory] = found
        return found

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
                async for block in body.iter_chunks(BLOCK):
                    h.update(block)
                    size += len(block)
                    if on_bytes is not None:
                        on_bytes(len(block))
        except self._s3.errors as e:
            if self._s3.missing(e):
                return None
            raise self._s3.fatal(e, what=f"read {path}") from e
        return size, h.hexdigest()

    async def pending_uploads(self) -> list[tuple[str, str]]:
        """(key, upload id) of multipart uploads below the prefix never completed or aborted."""
        found: list[tuple[str, str]] = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
                found += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        except self._s3.errors as e:
            raise self._s3.fatal(e, what="list multipart uploads") from e
        return found

    async def quarantine(self, path: str, *, stamp: str) -> str | None:
        """Move a damaged object below ``.mirrorsync/quarantine/<stamp>/`` (server-side copy,
        then delete); returns the new key, or None when there was no object."""
        source = self.key(path)
        check_relpath(stamp)
        moved = "/".join(p for p in (self.prefix, STATE_DIR, QUARANTINE_DIR, stamp, path) if p)
        try:
            await self.client.copy_object(
                Bucket=self.bucket, Key=moved, CopySource={"Bucket": self.bucket, "Key": source}
            )
        except self._s3.errors as e:
            if self._s3.missing(e):
                return None
            raise self._s3.fatal(e, what=f"quarantine {path}") from e
        await self._s3.call(
            self.client.delete_object(Bucket=self.bucket, Key=source), what=f"delete {path}"
        )
        return moved

    # -- the protocol's read side ----------------------------------------------------------------

    async def inventory(self) -> Inventory:
        """One listing of the prefix, made now (and kept for ``sizes`` in this connection)."""
        self._listings.pop("", None)
        return Inventory(files=await self.listing())

    async def sizes(self, paths: Iterable[str]) -> dict[str, int | str]:
        """From one listing of the prefix (this connection's, if one was made)."""
        wanted = list(paths)
        for path in wanted:
            check_relpath(path)
        found = await self.listing()
        return {p: found.get(p, "absent from the bucket") for p in wanted}

    async def recorded(self, path: str) -> tuple[int, str | None] | None:
        return await self.head(path)

    async def hash(
        self, path: str, *, on_bytes: Callable[[int], None] = lambda _: None
    ) -> tuple[int, str] | None:
        return await self.hash_object(path, on_bytes=on_bytes)

    async def leftovers(self) -> Leftovers:
        """Multipart uploads below the prefix that were never completed nor aborted."""
        uploads = await self.pending_uploads()
        what = "a multipart upload an interrupted run left unfinished"
        return Leftovers(unfinished={self.relpath(key) or key: what for key, _ in uploads})

    async def remove_leftover(self, path: str) -> bool:  # noqa: ARG002 - the protocol's
        return False  # unfinished uploads are aborted when a run takes the lock

    # -- capabilities: a bucket has neither links nor file modes ---------------------------------

    def symlink(self, path: str, to: str, *, wanted: bool = True) -> bool:  # noqa: ARG002
        check_relpath(path)
        return False

    async def filesystem(self, *, largest: int = 0, probe_links: bool = True) -> Filesystem:  # noqa: ARG002
        """A bucket cannot tell its free space and needs no links."""
        return Filesystem(place=self.description)

    def hard_links(
        self,
        directory: str,
        sources: Mapping[str, str],
        *,
        copies: bool = False,  # noqa: ARG002 - a bucket has neither
    ) -> bool:
        for name, path in sources.items():
            check_relpath(f"{directory}/{name}")
            check_relpath(path)
        check_relpath(directory)
        return False

    def make_executable(self, path: str) -> bool:
        check_relpath(path)
        return False
