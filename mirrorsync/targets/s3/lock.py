"""The lease lock of a bucket: an object, ``PREFIX/.mirrorsync/lock``, that one run holds at a time.

It is created with ``If-None-Match: *`` and holds owner, host, pid and times; the holder renews
it (``If-Match`` its last ETag) while the run publishes, and a run that finds it expired takes it
over (``If-Match`` the expired one's ETag). A run whose renewal finds another's lock stops
instead of publishing beside it. On a service without conditional writes the lock is looked at,
then written: a narrow race remains there. A remote lock can only be released with a request; if
that fails, it expires by itself (``LOCK_TTL``).

A run killed on this machine cannot release its lock; the next run here sees the lock name this
host and a pid that is no longer running, and takes it over at once instead of waiting out the
lease (as the directory lock, which dies with its process). A lock object whose expiry cannot be
read (made by hand, truncated, another format) counts as expired one lease after it was last
written, so it never blocks for ever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mirrorsync.core.layout import STATE_DIR
from mirrorsync.core.lock import held_message, holder_record, holder_text, parse_holder
from mirrorsync.core.units import parse_timestamp, timestamp
from mirrorsync.errors import LockHeld
from mirrorsync.targets.s3.client import BucketClient

log = logging.getLogger(__name__)

LOCK_PATH = f"{STATE_DIR}/lock"
"""Below the prefix; ``check_relpath`` refuses every asset path inside the state directory."""
LOCK_TTL = timedelta(minutes=30)
"""How long a crashed run blocks the next ones."""
LOCK_RENEW_SECONDS = 5 * 60.0
"""A run renews its lock when it publishes and the last renewal is older than this."""


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


class _Conflict(Exception):
    """The lock object is not what a conditional write expected (another run has it)."""


class LeaseLock:
    """The lock object at ``key``; ``connect()`` (each run) before ``acquire``."""

    def __init__(self, s3: BucketClient, *, key: str) -> None:
        self._s3 = s3
        self.key = key
        self._held: _Held | None = None
        self._renewing: asyncio.Lock | None = None

    def connect(self) -> None:
        """A new run (and event loop): a fresh guard against two renewals at once."""
        self._renewing = asyncio.Lock()

    def _holder(self, *, owner: str, started: datetime, now: datetime) -> dict[str, Any]:
        record = holder_record(pid=os.getpid(), host=socket.gethostname(), started=started)
        return {
            "owner": owner,
            **record,
            "renewed": timestamp(now),
            "expires": timestamp(now + LOCK_TTL),
        }

    async def _put(self, holder: Mapping[str, Any], condition: Mapping[str, Any]) -> str:
        response = await self._s3.client.put_object(
            Bucket=self._s3.bucket,
            Key=self.key,
            Body=json.dumps(holder, indent=1).encode("utf-8") + b"\n",
            ContentType="application/json",
            CacheControl="no-store",
            **condition,
        )
        return str(response.get("ETag", ""))

    async def _write(self, holder: Mapping[str, Any], *, expect: str | None) -> str:
        """Write the lock object if it is absent (``expect`` None) or still has the ETag
        ``expect``; ``_Conflict`` otherwise. Returns the new ETag."""
        condition: dict[str, Any] = {"IfNoneMatch": "*"} if expect is None else {"IfMatch": expect}
        try:
            return await self._put(holder, condition)
        except self._s3.errors as e:
            if self._s3.conflict(e):
                raise _Conflict from e
            if not self._s3.unsupported(e):
                raise self._s3.fatal(e, what="write the lock object") from e
        # A service without conditional writes: look, then write (a narrow race remains there).
        _, etag = await self._get()
        if etag != expect:
            raise _Conflict
        return await self._s3.call(self._put(holder, {}), what="write the lock object")

    async def acquire(self, now: datetime) -> None:
        """Take the lock, or take over an expired one; ``LockHeld`` while another run holds it."""
        self._held = await self._take(now)

    async def _take(self, now: datetime) -> _Held:
        holder = self._holder(owner=uuid.uuid4().hex, started=now, now=now)
        theirs: dict[str, Any] = {}
        hint = f"lock object s3://{self._s3.bucket}/{self.key}; it expires by itself"
        for _ in range(2):  # once more if the holder let go between our PUT and our GET
            try:
                return _held(await self._write(holder, expect=None), holder, started=now)
            except _Conflict:
                pass
            data, their_etag, written = await self._read()
            if data is None or their_etag is None:
                continue
            theirs = parse_holder(data)
            verdict = takeover_reason(
                theirs, now=now, written=written, host=socket.gethostname(), alive=_pid_alive
            )
            if verdict is None:
                if parse_timestamp(theirs.get("expires")) is None:
                    hint = self._unreadable_hint(written)
                break
            log.warning("%s: %s (%s)", self._s3.description, verdict, holder_text(theirs))
            try:
                return _held(await self._write(holder, expect=their_etag), holder, started=now)
            except _Conflict:
                data, _, _ = await self._read()
                theirs = parse_holder(data or b"{}")
                break
        raise LockHeld(held_message(theirs), hint=hint)

    async def holder(self, now: datetime) -> str | None:
        """Who holds the lock now (a lease that stands), or None; reads only."""
        data, _, written = await self._read()
        if data is None:
            return None
        theirs = parse_holder(data)
        verdict = takeover_reason(
            theirs, now=now, written=written, host=socket.gethostname(), alive=_pid_alive
        )
        return holder_text(theirs) if verdict is None else None

    def _unreadable_hint(self, written: datetime | None) -> str:
        url = f"s3://{self._s3.bucket}/{self.key}"
        until = f"at {timestamp(written + LOCK_TTL)}" if written is not None else "one lease on"
        return (
            f"the lock object {url} is not in mirrorsync's format; it counts as expired {until}. "
            f"If no run is going on, delete it (for example: aws s3 rm {url})"
        )

    async def _get(self) -> tuple[bytes | None, str | None]:
        data, etag, _ = await self._read()
        return data, etag

    async def _read(self) -> tuple[bytes | None, str | None, datetime | None]:
        """The lock object's bytes, ETag and Last-Modified; Nones when there is none."""
        try:
            response = await self._s3.client.get_object(Bucket=self._s3.bucket, Key=self.key)
            async with response["Body"] as body:
                data = await body.read()
        except self._s3.errors as e:
            if self._s3.missing(e):
                return None, None, None
            raise self._s3.fatal(e, what="read the lock object") from e
        return data, response.get("ETag"), response.get("LastModified")

    async def renew_if_due(self) -> None:
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
                held.etag = await self._write(holder, expect=held.etag)
            except _Conflict as e:
                raise LockHeld(
                    "this run's lock expired and another run took it over; stopping",
                    hint=f"lock object s3://{self._s3.bucket}/{self.key}",
                ) from e
            held.holder = holder
            held.renewed = time.monotonic()

    async def release(self) -> None:
        """Delete the lock object if it is still ours; a failure is only logged (it expires)."""
        held, self._held = self._held, None
        if held is None:
            return
        client = self._s3.client
        try:
            try:
                await client.delete_object(Bucket=self._s3.bucket, Key=self.key, IfMatch=held.etag)
            except self._s3.errors as e:
                if self._s3.conflict(e):
                    log.warning("%s: the lock was taken over meanwhile", self._s3.description)
                    return
                # A service without conditional deletes: the lock is ours (the ETag was ours).
                await client.delete_object(Bucket=self._s3.bucket, Key=self.key)
        except self._s3.errors as e:
            log.warning(
                "%s: cannot release the lock (%s); it expires by itself",
                self._s3.description,
                self._s3.reason(e),
            )


def takeover_reason(
    theirs: Mapping[str, Any],
    *,
    now: datetime,
    written: datetime | None,
    host: str,
    alive: Callable[[int], bool],
) -> str | None:
    """Why the lock ``theirs`` may be taken over now, or None while it stands.

    Its lease is over; or it names this ``host`` and a pid that is not ``alive`` (a run killed
    here); or its expiry cannot be read and it was ``written`` more than one lease ago.
    """
    expires = parse_timestamp(theirs.get("expires"))
    if expires is not None and expires <= now:
        return "taking over an expired lock"
    pid = theirs.get("pid")
    if theirs.get("host") != host or not isinstance(pid, int) or isinstance(pid, bool):
        pid = 0
    if pid > 0 and not alive(pid):
        return f"taking over the lock of pid {pid}, which is no longer running on this host"
    if expires is None and written is not None and written + LOCK_TTL <= now:
        return "taking over a lock object in an unknown format, written more than a lease ago"
    return None


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (one we may not signal exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True  # unknown: never take a lock over on a guess
    return True


def _held(etag: str, holder: dict[str, Any], *, started: datetime) -> _Held:
    moment = time.monotonic()
    return _Held(etag=etag, holder=holder, started=started, since=moment, renewed=moment)
