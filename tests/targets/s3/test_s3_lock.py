"""The bucket's lease lock after a crash: a dead holder on this host and an unreadable lock
object never block for a whole lease, or for ever."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from s3_harness import S3Mirror

from mirrorsync.errors import LockHeld
from mirrorsync.targets.s3.lock import LOCK_TTL, takeover_reason

from .test_s3_faults import LOCK, NAMES, TAG, lock_body

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOST = "this-host"


def holder(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"host": "other-host", "pid": 4242}
    base["expires"] = (NOW + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("theirs", "written", "alive", "expected"),
    [
        (holder(), NOW, True, None),  # a live lease of another host stands
        (holder(expires="2026-01-01T11:59:59Z"), NOW, True, "expired"),
        (holder(host=HOST), NOW, True, None),  # ours, but the process still runs
        (holder(host=HOST), NOW, False, "pid 4242, which is no longer running"),
        (holder(host=HOST, pid="4242"), NOW, False, None),  # a pid that is not a number
        (holder(host=HOST, pid=True), NOW, False, None),
        (holder(host=HOST, pid=0), NOW, False, None),
        (holder(pid=7), NOW, False, None),  # another host's pid says nothing here
        ({}, NOW - LOCK_TTL, True, "unknown format"),  # unreadable, one lease old
        ({}, NOW - LOCK_TTL + timedelta(seconds=1), True, None),
        ({"expires": "soon"}, NOW - 2 * LOCK_TTL, True, "unknown format"),
        ({}, None, True, None),  # unreadable and no Last-Modified: the lease cannot be told
    ],
)
def test_takeover_table(
    theirs: dict[str, object], *, written: datetime | None, alive: bool, expected: str | None
) -> None:
    """A lock is taken over when expired, held by a dead pid here, or unreadable and old."""
    reason = takeover_reason(theirs, now=NOW, written=written, host=HOST, alive=lambda _: alive)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert expected in reason


def dead_pid() -> int:
    """The pid of a process of ours that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_lock_left_by_a_killed_run_on_this_host_is_taken_over_at_once(
    s3_mirror: S3Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """A live lease naming this host and a pid that is gone does not block: the run says so."""
    s3_mirror.fake.add_release(TAG, NAMES)
    now = datetime.fromtimestamp(s3_mirror.clock(), UTC)
    body = lock_body(expires=now + timedelta(minutes=25), host=socket.gethostname())
    body = body.replace(b'"pid": 4242', f'"pid": {dead_pid()}'.encode())
    await s3_mirror.bucket.put(LOCK, body)
    caplog.set_level(logging.WARNING, logger="mirrorsync")
    assert await s3_mirror.run() == 0
    assert any("no longer running on this host" in r.getMessage() for r in caplog.records)


async def test_an_unreadable_lock_says_how_to_remove_it_and_expires_after_a_lease(
    s3_mirror: S3Mirror,
) -> None:
    """A hand-made lock object blocks (exit 3, with how to delete it) for one lease, no more."""
    s3_mirror.fake.add_release(TAG, NAMES)
    await s3_mirror.bucket.put(LOCK, b"locked by hand\n")
    s3_mirror.clock.advance(time.time() - s3_mirror.clock())  # Last-Modified is the real time
    with pytest.raises(LockHeld) as held:
        await s3_mirror.sync()
    assert held.value.hint is not None
    assert "aws s3 rm" in held.value.hint
    assert "counts as expired at" in held.value.hint
    s3_mirror.clock.advance(LOCK_TTL.total_seconds() + 60)
    assert await s3_mirror.run() == 0
