"""The ``Target`` contract: every case runs on a local directory, a moto bucket and SeaweedFS.

Each target is opened with ``open_target`` from a config, like a run opens it. A ``Kit`` pairs it
with a look behind its back (the directory itself, or a plain S3 client), so that a case can say
what really landed and plant what another program left.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from s3_harness import PREFIX, REGION, Bucket, S3Server, fresh_bucket

from mirrorsync.config.records import Config
from mirrorsync.config.schema import parse_config
from mirrorsync.core.manifest import FORMAT, parse_index
from mirrorsync.core.model import IndexEntry
from mirrorsync.errors import LockHeld, UnsafeName
from mirrorsync.targets.base import Target
from mirrorsync.targets.open import open_target

TAG = "20251217"
ARCHIVE = f"{TAG}/cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz"
OTHER = f"{TAG}/cpython-3.13.11+20251217-aarch64-apple-darwin-install_only.tar.gz"
BODY = bytes(range(256)) * 5000  # 1.2 MiB: more than one hashing block
UNSAFE = ["../outside.tar.gz", "/etc/passwd", f"{TAG}/../../x", ".mirrorsync/lock", "a\\b", ""]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Kit:
    """A target, a second handle on the same mirror, and a look behind the target's back."""

    target: Target
    again: Callable[[], Target]
    """Opens the same mirror anew (another run)."""
    peek: Callable[[str], Awaitable[bytes | None]]
    """The bytes at a path below the root (following links), read without mirrorsync."""
    plant: Callable[[str, bytes], Awaitable[None]]
    """Put bytes at a path below the root without mirrorsync (another program, damage)."""
    leave_unfinished: Callable[[str], Awaitable[str]]
    """Leave what a killed run leaves for ``path`` that no sync resumes; the path it is reported
    at."""
    quarantined: Callable[[str], Awaitable[bytes]]
    """The bytes at the place ``quarantine`` said it moved a file to."""
    executable: Callable[[str], bool]
    """Whether the file at a path has its execute bits (False where there are no modes)."""
    activity: Callable[[], object]
    """A fingerprint of everything the target could have touched (files, requests)."""

    async def publish(self, path: str, data: bytes) -> None:
        staged = self.target.staging_path(path)
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(data)
        await self.target.publish(staged, path, sha256=sha256(data))


NAME_FIELDS = {
    "python": "3.13.11",
    "platform": "x86_64-unknown-linux-gnu",
    "flavor": "install_only",
    "build": "",
    "variant": "default",
}
"""What an index records of ARCHIVE's name (no target reads it)."""


def entry(path: str, data: bytes) -> IndexEntry:
    """The index entry of ``data`` published at ``path``, as ``index.json`` would give it."""
    raw = {"path": path, "size": len(data), "sha256": sha256(data), "verified": True}
    index = {"format": FORMAT, "files": [raw | NAME_FIELDS]}
    return parse_index(json.dumps(index).encode("utf-8"))[path]


async def attempt(call: Callable[[], object]) -> None:
    """Call, and await what it returns if that is awaitable."""
    result = call()
    if isinstance(result, Awaitable):
        await result


def config(document: dict[str, Any], base: Path) -> Config:
    return parse_config(
        {"upstream": {"api_url": "http://127.0.0.1:9/api"}, **document}, base_dir=base
    )


def snapshot(top: Path) -> dict[str, tuple[int, int]]:
    """Every path below ``top`` (links not followed) with its size and mtime."""
    out = {}
    for directory, dirs, files in os.walk(top):
        for name in dirs + files:
            st = (Path(directory) / name).lstat()
            out[os.path.relpath(Path(directory) / name, top)] = (st.st_size, st.st_mtime_ns)
    return out


def directory_kit(base: Path) -> Kit:
    root = base / "mirror"
    cfg = config({"target": {"path": str(root)}}, base)

    async def peek(path: str) -> bytes | None:
        try:
            return (root / path).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def plant(path: str, data: bytes) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)

    async def leave_unfinished(path: str) -> str:
        temp = root / ".mirrorsync" / "staging" / f"{path}.4242.tmp"
        temp.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(b"half")
        return f".mirrorsync/staging/{path}.4242.tmp"

    def executable(path: str) -> bool:
        return os.access(root / path, os.X_OK)

    async def quarantined(moved: str) -> bytes:
        return await asyncio.to_thread(Path(moved).read_bytes)

    return Kit(
        target=open_target(cfg),
        again=lambda: open_target(cfg),
        peek=peek,
        plant=plant,
        leave_unfinished=leave_unfinished,
        quarantined=quarantined,
        executable=executable,
        activity=lambda: snapshot(base),
    )


def bucket_kit(base: Path, bucket: Bucket) -> Kit:
    target_config = {
        "url": f"s3://{bucket.name}/{PREFIX}",
        "endpoint_url": bucket.server.endpoint,
        "region": REGION,
        "addressing_style": "path",
        "state_dir": str(base / "state"),
    }
    cfg = config({"target": target_config}, base)
    target = open_target(cfg)

    async def peek(path: str) -> bytes | None:
        with contextlib.suppress(bucket.client.exceptions.NoSuchKey):
            return await bucket.get(path)
        return None

    async def leave_unfinished(path: str) -> str:
        await bucket.client.create_multipart_upload(Bucket=bucket.name, Key=bucket.key(path))
        return path

    async def quarantined(moved: str) -> bytes:
        response = await bucket.client.get_object(Bucket=bucket.name, Key=moved)
        async with response["Body"] as body:
            return await body.read()

    def activity() -> object:
        return snapshot(base), dict(getattr(target, "requests", {}))

    return Kit(
        target=target,
        again=lambda: open_target(cfg),
        peek=peek,
        plant=bucket.put,
        leave_unfinished=leave_unfinished,
        quarantined=quarantined,
        executable=lambda _: False,
        activity=activity,
    )


@pytest.fixture(params=["directory", "moto", "seaweedfs"])
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Kit]:
    """Each contract case runs on a directory and on a bucket of each S3 server."""
    if request.param == "directory":
        yield directory_kit(tmp_path)
        return
    request.getfixturevalue("aws_environment")
    name = "moto_server" if request.param == "moto" else "seaweed_server"
    server: S3Server = request.getfixturevalue(name)
    async with fresh_bucket(server) as bucket:
        yield bucket_kit(tmp_path, bucket)


@contextlib.asynccontextmanager
async def running(target: Target) -> AsyncIterator[Target]:
    """Connected and prepared, as a run holds it (without the lock)."""
    async with target.connect():
        await target.prepare()
        yield target


async def test_published_file_is_in_inventory_sizes_and_hash(kit: Kit) -> None:
    """A published file is listed with its size and hashes to its bytes; its staged copy is gone."""
    async with running(kit.target) as target:
        await kit.publish(ARCHIVE, BODY)
        assert not target.staging_path(ARCHIVE).exists()
        inventory = await target.inventory()
        assert inventory.files == {ARCHIVE: len(BODY)}
        assert inventory.unreadable == {}
        assert await target.sizes([ARCHIVE]) == {ARCHIVE: len(BODY)}
        seen: list[int] = []
        assert await target.hash(ARCHIVE, on_bytes=seen.append) == (len(BODY), sha256(BODY))
        assert sum(seen) == len(BODY)
    assert await kit.peek(ARCHIVE) == BODY


async def test_absent_file_has_no_size_hash_or_record(kit: Kit) -> None:
    """An absent file: sizes says why ("absent..."); hash, recorded, existing_sha256 say None."""
    async with running(kit.target) as target:
        sizes = await target.sizes([ARCHIVE])
        assert isinstance(sizes[ARCHIVE], str)
        assert str(sizes[ARCHIVE]).startswith("absent")
        assert await target.hash(ARCHIVE) is None
        assert await target.recorded(ARCHIVE) is None
        assert await target.existing_sha256(ARCHIVE, size=len(BODY)) is None


async def test_recorded_sha256_is_kept_exactly_where_the_target_says(kit: Kit) -> None:
    """recorded gives the size, and the published sha256 if and only if keeps_sha256."""
    async with running(kit.target) as target:
        await kit.publish(ARCHIVE, BODY)
        expected = sha256(BODY) if target.keeps_sha256 else None
        assert await target.recorded(ARCHIVE) == (len(BODY), expected)


async def test_existing_sha256_answers_only_for_the_right_size(kit: Kit) -> None:
    """existing_sha256 gives the file's sha256 at its size, and None at any other size."""
    async with running(kit.target) as target:
        await kit.publish(ARCHIVE, BODY)
        assert await target.existing_sha256(ARCHIVE, size=len(BODY)) == sha256(BODY)
        assert await target.existing_sha256(ARCHIVE, size=len(BODY) - 1) is None


async def test_small_files_are_written_whole_and_read_back(kit: Kit) -> None:
    """write replaces a small file whole; read (remembered or fresh) returns it; absent is None."""
    async with running(kit.target) as target:
        assert await target.read("index.json") is None
        await target.write("index.json", b"first")
        await target.write(f"{TAG}/SHA256SUMS", b"sums\n")
        await target.write("index.json", b"second, longer")
        assert await target.read("index.json") == b"second, longer"
        assert await target.read("index.json", fresh=True) == b"second, longer"
        assert await target.read(f"{TAG}/SHA256SUMS") == b"sums\n"
    assert await kit.peek("index.json") == b"second, longer"


async def test_a_file_written_in_pieces_lands_whole_or_not_at_all(kit: Kit) -> None:
    """write_pieces publishes the pieces joined; a piece that fails to render leaves the file as
    it was and the error is raised."""

    class RenderError(Exception):
        pass

    def failing() -> Iterator[bytes]:
        yield b"half of a new index"
        raise RenderError

    async with running(kit.target) as target:
        await target.write_pieces("index.json", iter([b"first ", b"", b"second"]))
        assert await target.read("index.json", fresh=True) == b"first second"
        with pytest.raises(RenderError):
            await target.write_pieces("index.json", failing())
        assert await target.read("index.json", fresh=True) == b"first second"
    assert await kit.peek("index.json") == b"first second"


async def test_fresh_read_sees_a_change_made_behind_the_targets_back(kit: Kit) -> None:
    """read(fresh=True) returns what is there now, even after this target wrote something else."""
    async with running(kit.target) as target:
        await target.write(f"{TAG}/SHA256SUMS", b"ours\n")
        await kit.plant(f"{TAG}/SHA256SUMS", b"someone else's\n")
        assert await target.read(f"{TAG}/SHA256SUMS", fresh=True) == b"someone else's\n"


async def test_delete_and_delete_many_accept_absent_files(kit: Kit) -> None:
    """delete and delete_many remove what is there and accept what is not."""
    async with running(kit.target) as target:
        await kit.publish(ARCHIVE, BODY)
        await kit.publish(OTHER, b"other")
        await target.write(f"{TAG}/index.html", b"<p>")
        await target.delete(ARCHIVE)
        await target.delete(ARCHIVE)
        await target.delete_many([OTHER, f"{TAG}/index.html", f"{TAG}/never-there.tar.gz"])
        await target.delete_many([])
    for path in (ARCHIVE, OTHER, f"{TAG}/index.html"):
        assert await kit.peek(path) is None
    async with running(kit.again()) as target:
        assert (await target.inventory()).files == {}


async def test_present_and_missing_account_for_published_files(kit: Kit) -> None:
    """present keeps every entry whose file is there; missing names every absent path."""
    async with running(kit.target) as target:
        await kit.publish(ARCHIVE, BODY)
        await target.write("index.html", b"<p>")
    async with running(kit.again()) as target:
        assert ARCHIVE in await target.present({ARCHIVE: entry(ARCHIVE, BODY)})
        absent = await target.missing([ARCHIVE, OTHER, "index.html", "download-metadata.json"])
        assert absent == {OTHER, "download-metadata.json"}


async def test_quarantine_moves_a_file_out_of_the_tree_and_keeps_it(kit: Kit) -> None:
    """quarantine takes a file out of the published tree, keeping it; None when there is none."""
    async with running(kit.target) as target:
        await kit.publish(ARCHIVE, BODY)
        moved = await target.quarantine(ARCHIVE, stamp="20260101T000000Z")
        assert moved is not None
        assert "20260101T000000Z" in moved
        assert await kit.quarantined(moved) == BODY
        assert await target.quarantine(OTHER, stamp="20260101T000000Z") is None
        assert (await target.inventory()).files == {}
    assert await kit.peek(ARCHIVE) is None


async def test_inventory_never_shows_the_state_directory(kit: Kit) -> None:
    """Neither the lock held nor a quarantined file appears in the inventory."""
    async with running(kit.target) as target, target.lock(now=datetime.now(UTC)):
        await kit.publish(ARCHIVE, BODY)
        await target.write("index.json", b"{}")
        await kit.publish(OTHER, b"damaged")
        await target.quarantine(OTHER, stamp="20260101T000000Z")
        assert set((await target.inventory()).files) == {ARCHIVE, "index.json"}


async def test_the_lock_is_held_against_another_run_until_released(kit: Kit) -> None:
    """While one run holds the lock another gets LockHeld at once; after release it gets it."""
    other = kit.again()
    async with running(kit.target) as target, running(other):
        async with target.lock(now=datetime.now(UTC)):
            with pytest.raises(LockHeld):
                async with other.lock(now=datetime.now(UTC)):
                    pass
        async with other.lock(now=datetime.now(UTC)):
            pass


async def test_a_held_lock_is_seen_by_a_reader_without_taking_it(kit: Kit) -> None:
    """``running`` names the holder while a run holds the lock, and None before and after."""
    other = kit.again()
    now = datetime.now(UTC)
    async with running(kit.target) as target, running(other):
        assert await other.running(now=now) is None
        async with target.lock(now=now):
            holder = await other.running(now=now)
            assert holder is not None
            assert f"pid {os.getpid()}" in holder
        assert await other.running(now=now) is None


async def test_unfinished_leftovers_are_reported_and_gone_after_repair_and_the_next_lock(
    kit: Kit,
) -> None:
    """What a killed run leaves is an unfinished leftover; remove_leftover or the lock clears it."""
    reported = await kit.leave_unfinished(ARCHIVE)
    async with running(kit.target) as target:
        leftovers = await target.leftovers()
        assert set(leftovers.unfinished) == {reported}
        assert leftovers.resumable == ()
        removed = await target.remove_leftover(reported)
        async with target.lock(now=datetime.now(UTC)):
            pass
        assert (await target.leftovers()).unfinished == {}
        assert not removed or await target.remove_leftover(reported) is False


async def test_staging_sweep_removes_what_is_not_kept(kit: Kit) -> None:
    """sweep_staging deletes staging files not kept, keeps the others, and counts what went."""
    async with running(kit.target) as target:
        keep, drop = target.staging_path(ARCHIVE), target.staging_path(OTHER)
        for staged in (keep, drop):
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(b"partial")
        assert target.sweep_staging(keep={keep}) == 1
        assert keep.exists()
        assert not drop.exists()


@pytest.mark.parametrize("path", UNSAFE)
async def test_unsafe_paths_are_refused_before_any_io(kit: Kit, path: str) -> None:
    """Every method that takes a path raises UnsafeName for an unsafe one and touches nothing."""
    staged = kit.target.staging_path(ARCHIVE)
    async with running(kit.target) as target:
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(b"x")
        before = kit.activity()
        calls: list[Callable[[], object]] = [
            lambda: target.staging_path(path),
            lambda: target.read(path),
            lambda: target.read(path, fresh=True),
            lambda: target.write(path, b"x"),
            lambda: target.publish(staged, path, sha256="0" * 64),
            lambda: target.delete(path),
            lambda: target.delete_many([ARCHIVE, path]),
            lambda: target.present({path: entry(path, b"x")}),
            lambda: target.missing([path]),
            lambda: target.existing_sha256(path, size=1),
            lambda: target.sizes([path]),
            lambda: target.recorded(path),
            lambda: target.hash(path),
            lambda: target.quarantine(path, stamp="20260101T000000Z"),
            lambda: target.quarantine(ARCHIVE, stamp=path),
            lambda: target.symlink(path, "../.."),
            lambda: target.hard_links("flat", {"x": path}),
            lambda: target.hard_links(path, {}),
            lambda: target.make_executable(path),
        ]
        for call in calls:
            with pytest.raises(UnsafeName):
                await attempt(call)
        assert kit.activity() == before


async def test_links_are_published_and_removed_or_declined(kit: Kit) -> None:
    """symlink and hard_links make and remove links (True) or decline, writing nothing (False)."""
    async with running(kit.target) as target:
        await kit.publish(ARCHIVE, BODY)
        links = target.symlink("view/releases", "..", wanted=True)
        assert await kit.peek(f"view/releases/{ARCHIVE}") == (BODY if links else None)
        assert target.symlink("view/releases", "..", wanted=False) is links
        assert await kit.peek(f"view/releases/{ARCHIVE}") is None
        flat = target.hard_links("flat", {"a.tar.gz": ARCHIVE})
        assert await kit.peek("flat/a.tar.gz") == (BODY if flat else None)
        assert target.hard_links("flat", {}) is flat
        assert await kit.peek("flat/a.tar.gz") is None
        assert set((await target.inventory()).files) == {ARCHIVE}


async def test_file_modes_are_set_or_declined(kit: Kit) -> None:
    """make_executable sets the execute bits where it answers True, and does nothing else."""
    async with running(kit.target) as target:
        await target.write("use-mirror.sh", b"#!/bin/sh\n")
        answered = target.make_executable("use-mirror.sh")
        assert kit.executable("use-mirror.sh") is answered
        assert await target.read("use-mirror.sh", fresh=True) == b"#!/bin/sh\n"
