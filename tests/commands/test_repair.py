"""``mirrorsync verify`` from the command line: checking, --full, --repair, a copied tree."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mirror_harness import Mirror

from mirrorsync.cli import main

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
]


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv), environ={})


@pytest.fixture
async def synced(mirror: Mirror) -> Mirror:
    mirror.fake.add_release(TAG, NAMES)
    mirror.configure()
    assert (await mirror.sync()).exit_code == 0
    return mirror


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


async def test_clean_mirror_verifies_with_exit_0(
    synced: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """A freshly synced mirror verifies clean, fast and full, and --json says ok."""
    assert await cli("verify", "-c", str(synced.config_path)) == 0
    assert await cli("verify", "-c", str(synced.config_path), "--full", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "ok"
    assert doc["files_checked"] == 2
    assert doc["bytes_hashed"] == sum(len(synced.fake.content(TAG, n)) for n in NAMES)


async def test_same_size_corruption_needs_full(
    synced: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flipped byte passes the fast check and fails --full with exit 1, naming the file."""
    flip_a_byte(synced.root / TAG / NAMES[0])
    assert await cli("verify", "--root", str(synced.root)) == 0
    capsys.readouterr()
    assert await cli("verify", "--root", str(synced.root), "--full", "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert [(p["path"], p["kind"]) for p in doc["problems"]] == [(f"{TAG}/{NAMES[0]}", "sha256")]


async def test_repair_refetches_corrupt_and_missing_files(synced: Mirror) -> None:
    """--repair sets the corrupt file aside, fetches both files again, and ends clean."""
    flip_a_byte(synced.root / TAG / NAMES[0])
    (synced.root / TAG / NAMES[1]).unlink()
    (synced.root / TAG / "SHA256SUMS").write_text("garbage\n", encoding="utf-8")
    synced.fake.reset_hits()
    code = await cli("verify", "-c", str(synced.config_path), "--full", "--repair")
    assert code == 0
    for name in NAMES:
        assert (synced.root / TAG / name).read_bytes() == synced.fake.content(TAG, name)
    assert {h.asset for h in synced.fake.downloads()} == set(NAMES)
    quarantined = list((synced.root / ".mirrorsync" / "quarantine").rglob(NAMES[0]))
    assert len(quarantined) == 1
    assert await cli("verify", "--root", str(synced.root), "--full") == 0


async def test_repair_needs_the_config(synced: Mirror) -> None:
    """--repair with only --root is a usage error (exit 2): it needs to know the upstream."""
    assert await cli("verify", "--root", str(synced.root), "--repair") == 2


async def test_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    """verify of a directory that does not exist exits 2 instead of reporting a missing index."""
    assert await cli("verify", "--root", str(tmp_path / "nowhere")) == 2


async def test_copied_tree_verifies_without_config(synced: Mirror, tmp_path: Path) -> None:
    """A tree copied elsewhere (a USB stick) verifies with --root and no config file at all."""
    stick = tmp_path / "stick"
    proc = await asyncio.create_subprocess_exec("cp", "-a", str(synced.root), str(stick))
    assert await proc.wait() == 0
    assert await cli("verify", "--root", str(stick), "--full") == 0


async def test_a_repair_that_cannot_refetch_says_so_and_exits_1(
    synced: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the re-download fails, the repair exits 1 naming what is still missing; never ok."""
    flip_a_byte(synced.root / TAG / NAMES[0])
    synced.configure(download={"retries": 0})
    synced.fake.fail(NAMES[0], 404)
    code = await cli("verify", "-c", str(synced.config_path), "--full", "--repair", "--json")
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["status"] == "problems"
    [problem] = doc["problems"]
    assert (problem["path"], problem["kind"]) == (f"{TAG}/{NAMES[0]}", "missing")
    assert "not fetched again" in problem["detail"]
    assert "404" in problem["detail"]
    quarantined = list((synced.root / ".mirrorsync" / "quarantine").rglob(NAMES[0]))
    assert len(quarantined) == 1  # the damaged copy is kept, never deleted


async def test_a_wrong_record_of_a_good_file_is_fixed_not_quarantined(synced: Mirror) -> None:
    """When only index.json's record is wrong, the repair re-records the file; nothing is moved
    to quarantine and nothing is downloaded."""
    index_path = synced.root / "index.json"
    index = json.loads(index_path.read_bytes())
    entry = next(f for f in index["files"] if f["path"] == f"{TAG}/{NAMES[0]}")
    entry["sha256"] = "0" * 64
    index_path.write_text(json.dumps(index), encoding="utf-8")
    synced.fake.reset_hits()
    assert await cli("verify", "-c", str(synced.config_path), "--full", "--repair") == 0
    assert not list((synced.root / ".mirrorsync" / "quarantine").rglob("*.tar.gz"))
    assert [h for h in synced.fake.downloads() if h.route == "cdn"] == []
    fixed = synced.indexed()[f"{TAG}/{NAMES[0]}"]
    assert fixed["sha256"] == synced.fake.sha256(TAG, NAMES[0])
    assert await cli("verify", "--root", str(synced.root), "--full") == 0


async def test_verify_during_a_running_sync_says_so_and_exits_3(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """A verify while a sync publishes exits 3 saying a sync runs, not 1 with false alarms."""
    mirror.fake.add_release(TAG, NAMES)
    # One download at a time, in path order: NAMES[1] is published before NAMES[0] stalls, so
    # the stopped run has an index to write (without it, the last verify raced the first file).
    mirror.configure(download={"concurrency": 1})
    mirror.fake.stall(NAMES[0])
    run = asyncio.create_task(mirror.sync())
    await asyncio.wait_for(mirror.fake.stalled.wait(), 30)
    try:
        code = await cli("verify", "-c", str(mirror.config_path), "--json")
    finally:
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    out, err = capsys.readouterr()
    assert code == 3
    assert json.loads(out)["status"] == "failed"
    assert "a sync is changing this mirror right now" in err
    assert await mirror.run() == 0  # the stall was a one-off: this run completes
    assert await cli("verify", "-c", str(mirror.config_path)) == 0  # and, with no sync, verifies


def said_of(err: str, path: str) -> list[str]:
    """Every line of ``err`` (the log on stderr) that names ``path``."""
    return [line for line in err.splitlines() if path in line]


async def test_a_damaged_file_is_named_once_as_set_aside_and_fetched_again(
    synced: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """--repair of a flipped byte says once that the file was damaged, set aside and is fetched
    again (never "listed in the index but missing": the repair itself moved it), and no warning."""
    path = f"{TAG}/{NAMES[0]}"
    flip_a_byte(synced.root / path)
    damaged = synced.sha256(path)
    assert await cli("verify", "-c", str(synced.config_path), "--full", "--repair") == 0
    err = capsys.readouterr().err
    [moved] = (synced.root / ".mirrorsync" / "quarantine").rglob(NAMES[0])
    good = synced.fake.sha256(TAG, NAMES[0])
    assert said_of(err, path) == [
        (
            f"INFO: repair: quarantined {path} as {moved} (damaged: sha256 is {damaged}, "
            f"index.json records {good}); fetching it again"
        ),
        f"INFO: {path}: fetched {len(synced.fake.content(TAG, NAMES[0]))} bytes",
    ]
    assert [line for line in err.splitlines() if line.startswith(("WARNING", "ERROR"))] == []


async def test_a_missing_file_is_named_once_by_the_repair(
    synced: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """--repair of a deleted file warns once that it is listed but missing and fetched again."""
    path = f"{TAG}/{NAMES[1]}"
    (synced.root / path).unlink()
    assert await cli("verify", "-c", str(synced.config_path), "--repair") == 0
    err = capsys.readouterr().err
    assert said_of(err, path) == [
        f"WARNING: {path}: listed in the index but missing; fetching it again",
        f"INFO: {path}: fetched {len(synced.fake.content(TAG, NAMES[1]))} bytes",
    ]
