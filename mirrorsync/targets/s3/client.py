"""The S3 client of a run: aiobotocore loaded on demand, its configuration, what its errors mean.

**aiobotocore is imported only here, and only when a bucket is opened**, so the core works without
the ``mirrorsync[s3]`` extra; without it a bucket config is a ``ConfigError``. Every botocore
exception is classified and translated into a mirrorsync error here, and nowhere else: a missing
object, a lost conditional write (another run's lock), a fault of the whole bucket (credentials,
permissions, no such bucket: fatal, with a hint), or one object's failed upload (an ``AssetError``
for the report).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mirrorsync.errors import AssetError, ConfigError, MirrorsyncError, TargetError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger(__name__)
T = TypeVar("T")

EXTRA_HINT = "pip install 'mirrorsync[s3]'"
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
_LOADERS: list[object] = []
"""botocore's loader of service models, shared by the sessions of this process: parsing the
S3 model takes ~0.1 s, which every run (and every test) would pay again."""


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


class BucketClient:
    """The client of one bucket, opened per run by ``connect()``, and its errors' meaning.

    ``errors`` is what to catch around a call; ``fatal``, ``upload_failure`` and ``call`` turn
    what was caught into mirrorsync's errors.
    """

    def __init__(
        self,
        *,
        bucket: str,
        description: str,
        endpoint_url: str | None,
        region: str | None,
        addressing_style: str,
        connections: int,
        retries: int,
        timeout: float,
    ) -> None:
        self._boto = _load_boto()
        self.errors = self._boto.errors
        self.bucket = bucket
        self.description = description
        self.endpoint_url = endpoint_url
        self.region = region
        self.requests: Counter[str] = Counter()
        """HTTP requests sent, by S3 operation (each retry counts)."""
        self._client: S3Client | None = None
        self._settings: dict[str, Any] = {
            "region_name": region,
            "signature_version": "s3v4",
            "s3": {"addressing_style": addressing_style},
            # Stall timeouts only (a large part may take long); retries of transient failures.
            "connect_timeout": 30,
            "read_timeout": timeout,
            "retries": {"mode": "standard", "total_max_attempts": retries + 1},
            "max_pool_connections": max(10, connections),
            # botocore >= 1.36 adds CRC checksum headers by itself, which B2 and other services
            # reject: checksums are sent only as target.checksum says.
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3Target used outside connect()")
        return self._client

    def config(self) -> object:
        """The client's ``AioConfig``."""
        try:
            return self._boto.config(**self._settings)
        except TypeError:  # botocore < 1.36 knows neither key, and adds no checksum either
            settings = dict(self._settings)
            for name in ("request_checksum_calculation", "response_checksum_validation"):
                settings.pop(name)
            return self._boto.config(**settings)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[S3Client]:
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
            config=self.config(),
        )
        try:
            client = await creator.__aenter__()
        except self.errors as e:
            raise self.fatal(e, what="open the S3 client") from e
        client.meta.events.register("before-send.s3", self._count)
        self._client = client
        try:
            yield client
        finally:
            self._client = None
            await creator.__aexit__(None, None, None)
            if self.requests:
                counts = ", ".join(f"{op} {n}" for op, n in sorted(self.requests.items()))
                log.info("%s: %d S3 requests (%s)", self.description, self.requests.total(), counts)

    def _count(self, event_name: str = "", **_: object) -> None:
        self.requests[event_name.rsplit(".", 1)[-1]] += 1

    # -- what an error means -------------------------------------------------------------------

    def code(self, e: BaseException) -> tuple[str, int]:
        """The S3 error code and HTTP status of a failed request; ("", 0) for other failures."""
        if isinstance(e, self._boto.client_error):
            response: Mapping[str, Any] = getattr(e, "response", {})
            code = str(response.get("Error", {}).get("Code", ""))
            status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            return code, status
        return "", 0

    def missing(self, e: BaseException) -> bool:
        """The object (or key) is not there."""
        code, status = self.code(e)
        return code in _MISSING_CODES or status == 404  # noqa: PLR2004 - Not Found

    def conflict(self, e: BaseException) -> bool:
        """A conditional write or delete lost: the object is not what it expected."""
        code, status = self.code(e)
        return code in _HELD_CODES or status in (409, 412)  # 409: a concurrent conditional write

    def unsupported(self, e: BaseException) -> bool:
        """The service does not implement what was asked (a conditional write, say)."""
        code, status = self.code(e)
        return code == "NotImplemented" or status == 501  # noqa: PLR2004 - Not Implemented

    def reason(self, e: BaseException) -> str:
        if isinstance(e, self._boto.client_error):
            code, status = self.code(e)
            message = getattr(e, "response", {}).get("Error", {}).get("Message", "")
            return f"{code or status}: {message}" if message else code or str(status)
        return str(e) or type(e).__name__

    def fatal(self, e: BaseException, *, what: str) -> MirrorsyncError:
        """The bucket as a whole cannot be used: a ``TargetError`` with a hint where one helps."""
        hint = None
        if isinstance(e, self._boto.no_credentials):
            hint = (
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an "
                "instance role; credentials never go in the config file"
            )
        elif self.code(e)[0] == "NoSuchBucket":
            hint = f"create the bucket {self.bucket} first, or fix target.url"
        return TargetError(f"{self.description}: cannot {what} ({self.reason(e)})", hint=hint)

    def upload_failure(self, e: BaseException, path: str) -> MirrorsyncError:
        """One object failed: a value for the report, unless the whole bucket is unusable."""
        code, status = self.code(e)
        if isinstance(e, self._boto.no_credentials) or code in _FATAL_CODES or status in (401, 403):
            return self.fatal(e, what=f"upload {path}")
        return AssetError(path, f"upload to {self.description} failed: {self.reason(e)}")

    async def call(self, call: Awaitable[T], *, what: str) -> T:
        """Await one request; any failure of it is fatal."""
        try:
            return await call
        except self.errors as e:
            raise self.fatal(e, what=what) from e
