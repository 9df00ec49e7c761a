"""Uploads to the bucket: one PUT or a multipart upload, each with the checksum the server checks.

A PUT is atomic (readers see the old object or the new one) and a failed upload never touches the
old object. A file is streamed from its staging file, never held in memory whole: a small one in
one PUT, one of ``multipart_threshold`` bytes or more in parts of ``part_size`` (more when 10,000
parts would not hold it), at most ``PARTS_IN_FLIGHT`` parts in flight across the whole run. A
failed multipart upload is aborted; one that a killed run left is aborted by the next holder of
the lock. ``target.checksum`` says which checksum goes with each request (sha256, md5, none):
botocore adds none of its own (see ``client``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from mirrorsync.errors import MirrorsyncError, TargetError
from mirrorsync.targets.s3.client import BucketClient

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

PARTS_IN_FLIGHT = 4
"""Parts read into memory and uploading at once, across every upload of the run."""
MAX_PARTS = 10_000


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


class Uploads:
    """The uploads of one target; ``connect()`` (each run) before the first."""

    def __init__(
        self, s3: BucketClient, *, checksum: str, multipart_threshold: int, part_size: int
    ) -> None:
        self._s3 = s3
        self.checksum = checksum
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._parts: asyncio.Semaphore | None = None

    def connect(self) -> None:
        """A new run (and event loop): a fresh limit of parts in flight."""
        self._parts = asyncio.Semaphore(PARTS_IN_FLIGHT)

    def _checksum_args(self, *, sha256: bytes, md5: Callable[[], bytes]) -> dict[str, Any]:
        if self.checksum == "sha256":
            return {"ChecksumSHA256": _b64(sha256)}
        if self.checksum == "md5":
            return {"ContentMD5": _b64(md5())}
        return {}

    async def put_bytes(
        self, path: str, data: bytes, *, key: str, headers: dict[str, Any]
    ) -> str | None:
        """A small file in one PUT, its sha256 in the metadata; any failure is fatal. The ETag."""
        sha256 = hashlib.sha256(data)
        extra = self._checksum_args(
            sha256=sha256.digest(), md5=lambda: hashlib.md5(data, usedforsecurity=False).digest()
        )
        response = await self._s3.call(
            self._s3.client.put_object(
                Bucket=self._s3.bucket,
                Key=key,
                Body=data,
                **headers,
                Metadata={"sha256": sha256.hexdigest()},
                **extra,
            ),
            what=f"upload {path}",
        )
        return response.get("ETag")

    async def put_file(
        self, staged: Path, path: str, *, key: str, sha256: str, headers: dict[str, Any]
    ) -> None:
        """A verified staging file, in one PUT or in parts by its size; ``AssetError`` when this
        object fails, ``OSError`` when the file cannot be read."""
        size = (await asyncio.to_thread(staged.stat)).st_size
        headers = {**headers, "Metadata": {"sha256": sha256}}
        if size >= self.multipart_threshold:
            await self._multipart(staged, path, key=key, size=size, headers=headers)
        else:
            await self._put_file(staged, path, key=key, size=size, sha256=sha256, headers=headers)

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
                await self._s3.client.put_object(
                    Bucket=self._s3.bucket,
                    Key=key,
                    Body=f,
                    ContentLength=size,
                    **headers,
                    **extra,
                )
            except self._s3.errors as e:
                raise self._s3.upload_failure(e, path) from e

    async def _multipart(
        self, staged: Path, path: str, *, key: str, size: int, headers: dict[str, Any]
    ) -> None:
        """Parts of ``part_size`` read from the staging file, at most ``PARTS_IN_FLIGHT`` in memory
        across the run; a failed upload is aborted (one a killed run leaves, the next aborts)."""
        part_size = max(self.part_size, math.ceil(size / MAX_PARTS))
        algorithm: dict[str, Any] = {}
        if self.checksum == "sha256":
            algorithm["ChecksumAlgorithm"] = "SHA256"
        client = self._s3.client
        try:
            created = await client.create_multipart_upload(
                Bucket=self._s3.bucket, Key=key, **headers, **algorithm
            )
        except self._s3.errors as e:
            raise self._s3.upload_failure(e, path) from e
        upload_id = created["UploadId"]
        try:
            parts = await self._upload_parts(
                staged, path, key=key, upload_id=upload_id, size=size, part_size=part_size
            )
            await client.complete_multipart_upload(
                Bucket=self._s3.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except self._s3.errors as e:
            await self.abort(key, upload_id)
            raise self._s3.upload_failure(e, path) from e
        except MirrorsyncError:
            await self.abort(key, upload_id)
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
                        response = await self._s3.client.upload_part(
                            Bucket=self._s3.bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=number,
                            Body=cast("IO[bytes]", body),
                            ContentLength=length,
                            **extra,
                        )
                    except self._s3.errors as e:
                        raise self._s3.upload_failure(e, path) from e
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

    async def abort(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload; a failure is only logged (the next run's sweep aborts it)."""
        try:
            await self._s3.client.abort_multipart_upload(
                Bucket=self._s3.bucket, Key=key, UploadId=upload_id
            )
        except self._s3.errors as e:  # the next run's sweep aborts it
            log.warning(
                "%s: cannot abort the multipart upload of %s: %s",
                self._s3.description,
                key,
                self._s3.reason(e),
            )

    async def abort_leftovers(self, pending: Iterable[tuple[str, str]]) -> None:
        """Uploads below the prefix that killed runs left (billed storage, invisible to readers)."""
        for key, upload_id in pending:
            log.info(
                "%s: aborting a multipart upload a killed run left: %s", self._s3.description, key
            )
            await self.abort(key, upload_id)
