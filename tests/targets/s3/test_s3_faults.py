"""Operations on a bucket going wrong: failed and interrupted uploads, the lock, bad settings."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from s3_harness import PREFIX, S3Mirror, sha256

from mirrorsync.commands import sync
from mirrorsync.errors import LockHeld, TargetError
from mirrorsync.targets.s3 import lock as s3_lock

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
]
LINUX = f"{TAG}/{NAMES[0]}"
BIG = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst"
MIB = 1 << 20
MULTIPART = {"multipart_threshold": "5Mi", "part_size": "5Mi"}
LOCK = ".mirrorsync/lock"


def lock_body(*, expires: datetime, host: str = "other-host") -> bytes:
    holder = {
        "owner": "someone-else",
        "host": host,
        "pid": 4242,
        "started": "2025-12-06T05:00:00Z",
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.dumps(holder).encode()


async def interrupt_at(s3_mirror: S3Mirror, method: str, path_pattern: str) -> None:
    """Run a sync and cancel it (as Ctrl-C does) once it sends a matching request."""
    s3_mirror.proxy.stall(method, path_pattern)
    run = asyncio.ensure_future(s3_mirror.sync())
    await s3_mirror.proxy.stalled.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run


async def test_failed_upload_keeps_the_old_object(s3_mirror: S3Mirror) -> None:
    """When the upload of a changed archive fails, the old object and its index entry stay,
    and the run exits 1 naming the file."""
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure(download={"retries": 0})
    await s3_mirror.sync()
    old = await s3_mirror.bucket.get(LINUX)
    s3_mirror.fake.set_content(TAG, NAMES[0], b"new bytes" * 100)
    s3_mirror.proxy.fail("PUT", r"x86_64-unknown-linux-gnu-install_only_stripped", 500)
    outcome = await s3_mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [LINUX]
    assert await s3_mirror.bucket.get(LINUX) == old
    assert (await s3_mirror.indexed())[LINUX]["sha256"] == sha256(old)
    assert (await s3_mirror.sync()).exit_code == 0  # the next run replaces it
    assert await s3_mirror.bucket.get(LINUX) == b"new bytes" * 100


async def test_a_corrupt_download_is_never_uploaded(s3_mirror: S3Mirror) -> None:
    """Bytes that fail their sha256 never reach the bucket; the rest is published."""
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.fake.corrupt(NAMES[0], times=None)
    outcome = await s3_mirror.sync()
    assert outcome.exit_code == 1
    assert LINUX not in await s3_mirror.bucket.files()
    assert f"{TAG}/{NAMES[1]}" in await s3_mirror.bucket.files()
    assert all("x86_64-unknown-linux" not in h.path for h in s3_mirror.proxy.puts())


async def test_interrupted_upload_leaves_nothing_and_the_next_run_finishes(
    s3_mirror: S3Mirror,
) -> None:
    """A run cancelled mid multipart upload publishes no partial object and releases its lock;
    the next run aborts the leftover upload and completes the mirror."""
    s3_mirror.fake.add_release(TAG, [BIG], sizes={BIG: 11 * MIB})
    s3_mirror.configure(target=MULTIPART)
    await interrupt_at(s3_mirror, "PUT", r"partNumber=2")
    key = f"{TAG}/{BIG}"
    assert key not in await s3_mirror.bucket.files()
    assert await s3_mirror.bucket.pending_uploads() == [f"{PREFIX}/{key}"]
    assert f"{PREFIX}/{LOCK}" not in await s3_mirror.bucket.keys()
    outcome = await s3_mirror.sync()
    assert outcome.exit_code == 0
    assert await s3_mirror.bucket.pending_uploads() == []
    assert sha256(await s3_mirror.bucket.get(key)) == (await s3_mirror.indexed())[key]["sha256"]


async def test_an_interrupted_run_indexes_what_it_uploaded(s3_mirror: S3Mirror) -> None:
    """A bucket run cancelled mid-upload still writes index.json and SHA256SUMS listing exactly
    the files it published, as a directory run does."""
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure(download={"concurrency": 1})  # darwin, then linux: in path order
    await interrupt_at(s3_mirror, "PUT", r"x86_64-unknown-linux")
    darwin = f"{TAG}/{NAMES[1]}"
    assert LINUX not in await s3_mirror.bucket.files()
    indexed = await s3_mirror.indexed()
    assert set(indexed) == {darwin}
    assert sha256(await s3_mirror.bucket.get(darwin)) == indexed[darwin]["sha256"]
    sums = await s3_mirror.bucket.get(f"{TAG}/SHA256SUMS")
    assert sums == f"{indexed[darwin]['sha256']}  {NAMES[1]}\n".encode()
    assert f"{PREFIX}/{LOCK}" not in await s3_mirror.bucket.keys()


async def test_an_index_write_that_hangs_after_an_interruption_is_given_up(
    s3_mirror: S3Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped run waits for its index writes only ABORT_WRITE_SECONDS, then still records
    itself as interrupted and releases the lock; the next run writes the indexes."""
    monkeypatch.setattr(sync, "ABORT_WRITE_SECONDS", 0.05)
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure(download={"concurrency": 1})
    s3_mirror.proxy.stall("PUT", r"/SHA256SUMS")
    await interrupt_at(s3_mirror, "PUT", r"x86_64-unknown-linux")
    assert "index.json" not in await s3_mirror.bucket.files()
    assert f"{PREFIX}/{LOCK}" not in await s3_mirror.bucket.keys()
    status = json.loads((s3_mirror.state_dir / "status.json").read_bytes())
    assert status["status"] == "interrupted"
    s3_mirror.proxy.release()
    assert (await s3_mirror.sync()).exit_code == 0
    assert set(await s3_mirror.indexed()) == {LINUX, f"{TAG}/{NAMES[1]}"}


async def test_a_concurrent_run_exits_3(s3_mirror: S3Mirror) -> None:
    """While one run holds the bucket, a second one (another machine) stops at once with 3."""
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.proxy.stall("PUT", r"aarch64")
    first = asyncio.ensure_future(s3_mirror.sync())
    await s3_mirror.proxy.stalled.wait()
    s3_mirror.configure(target={"state_dir": str(s3_mirror.base / "other-machine")})
    with pytest.raises(LockHeld, match=r"another run holds the lock on this mirror \(pid \d+"):
        await s3_mirror.sync()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_live_foreign_lock_exits_3_and_is_left_alone(s3_mirror: S3Mirror) -> None:
    """A lock object that has not expired makes the run exit 3 without touching anything."""
    s3_mirror.fake.add_release(TAG, NAMES)
    now = datetime.fromtimestamp(s3_mirror.clock(), UTC)
    body = lock_body(expires=now + timedelta(minutes=10))
    await s3_mirror.bucket.put(LOCK, body)
    assert await s3_mirror.run() == 3
    assert await s3_mirror.bucket.get(LOCK) == body
    assert await s3_mirror.bucket.files() == set()


async def test_an_expired_lock_is_taken_over(s3_mirror: S3Mirror) -> None:
    """A lock whose holder crashed (expired) no longer blocks: the run takes it and succeeds."""
    s3_mirror.fake.add_release(TAG, NAMES)
    now = datetime.fromtimestamp(s3_mirror.clock(), UTC)
    await s3_mirror.bucket.put(LOCK, lock_body(expires=now - timedelta(seconds=1)))
    assert await s3_mirror.run() == 0
    assert LINUX in await s3_mirror.bucket.files()
    assert f"{PREFIX}/{LOCK}" not in await s3_mirror.bucket.keys()


async def test_the_lock_holds_owner_host_and_times(s3_mirror: S3Mirror) -> None:
    """During a run the lock object names its holder, start and expiry; it is gone after."""
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.proxy.stall("PUT", r"aarch64")
    run = asyncio.ensure_future(s3_mirror.sync())
    await s3_mirror.proxy.stalled.wait()
    holder = json.loads(await s3_mirror.bucket.get(LOCK))
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert {"owner", "host", "pid", "started", "expires"} <= holder.keys()
    started = datetime.strptime(holder["started"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    expires = datetime.strptime(holder["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert started == datetime.fromtimestamp(int(s3_mirror.clock()), UTC)
    assert expires - started == timedelta(minutes=30)
    assert f"{PREFIX}/{LOCK}" not in await s3_mirror.bucket.keys()


async def test_a_missing_bucket_is_a_target_error_with_a_hint(s3_mirror: S3Mirror) -> None:
    """A bucket that does not exist fails the run (exit 1) with advice, uploading nothing."""
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure(target={"url": f"s3://{s3_mirror.bucket.name}-absent/{PREFIX}"})
    with pytest.raises(TargetError, match="create the bucket"):
        await s3_mirror.sync()


async def test_missing_credentials_are_a_target_error_with_a_hint(
    s3_mirror: S3Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without credentials anywhere in the AWS chain, the run says where they belong."""
    s3_mirror.fake.add_release(TAG, NAMES)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(TargetError, match="AWS_ACCESS_KEY_ID") as info:
        await s3_mirror.sync()
    assert info.value.exit_code == 1
    assert s3_mirror.proxy.hits == []  # nothing unsigned ever left the machine


async def test_the_lock_is_renewed_while_the_run_publishes(
    s3_mirror: S3Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that keeps publishing rewrites its lock (conditionally, on its own ETag)."""
    monkeypatch.setattr(s3_lock, "LOCK_RENEW_SECONDS", 0.0)  # every publish is "late"
    s3_mirror.fake.add_release(TAG, NAMES)
    assert (await s3_mirror.sync()).exit_code == 0
    lock_puts = [h for h in s3_mirror.proxy.puts() if h.path.endswith(f"/{LOCK}")]
    assert len(lock_puts) > 1
    assert "if-none-match" in lock_puts[0].headers
    assert all("if-match" in h.headers for h in lock_puts[1:])


async def test_a_run_whose_lock_was_taken_over_stops_with_3(
    s3_mirror: S3Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another run took the lock over (ours had expired), the renewal fails and the run
    stops with exit 3 instead of publishing beside it."""
    monkeypatch.setattr(s3_lock, "LOCK_RENEW_SECONDS", 0.0)
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure(download={"retries": 0})
    s3_mirror.proxy.stall("PUT", r"aarch64")
    run = asyncio.ensure_future(s3_mirror.run())
    await s3_mirror.proxy.stalled.wait()
    now = datetime.fromtimestamp(s3_mirror.clock(), UTC)
    await s3_mirror.bucket.put(LOCK, lock_body(expires=now + timedelta(minutes=30)))
    s3_mirror.proxy.release()  # that upload fails; the indexes' renewal finds the lock gone
    assert await run == 3
    assert "index.json" not in await s3_mirror.bucket.files()
    assert json.loads(await s3_mirror.bucket.get(LOCK))["host"] == "other-host"
