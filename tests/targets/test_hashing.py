"""``LocalTree.hash_files``: hashing processes for many files, threads for a few, the same
outcomes either way, and no process left behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest
from processes import reaped, spawned

from mirrorsync.targets import hashpool, local
from mirrorsync.targets.base import Hashed, Unreadable
from mirrorsync.targets.local import LocalTree

TAG = "20250101"
MIB = 1 << 20


def outcome(hashed: Hashed) -> object:
    """A comparable form of one outcome (an ``Unreadable`` is an exception: compared by value)."""
    if isinstance(hashed, Unreadable):
        return ("unreadable", hashed.path, hashed.reason)
    return hashed


@pytest.fixture
def tree(tmp_path: Path) -> tuple[LocalTree, list[tuple[str, int]]]:
    """A release directory of regular files of several sizes (one spanning blocks), a missing
    file, a directory, a symbolic-link loop and a link to a file, in that order."""
    release = tmp_path / TAG
    release.mkdir()
    files: list[tuple[str, int]] = []
    for i, size in enumerate([0, 1, 5000, 3 * MIB + 7, 64 << 10]):
        name = f"file-{i}.tar.gz"
        (release / name).write_bytes(bytes([i + 1]) * size)
        files.append((f"{TAG}/{name}", size))
    (release / "dir.tar.gz").mkdir()
    (release / "loop.tar.gz").symlink_to("loop.tar.gz")
    (release / "link.tar.gz").symlink_to("file-2.tar.gz")
    files += [(f"{TAG}/gone.tar.gz", 10), (f"{TAG}/dir.tar.gz", 0)]
    files += [(f"{TAG}/loop.tar.gz", 0), (f"{TAG}/link.tar.gz", 5000)]
    return LocalTree(tmp_path), files


async def hash_all(
    target: LocalTree, files: list[tuple[str, int]], *, workers: int = 2
) -> tuple[list[tuple[str, object]], int]:
    found: list[tuple[str, object]] = []
    told: list[int] = []
    await target.hash_files(
        files,
        workers=workers,
        found=lambda p, h: found.append((p, outcome(h))),
        on_bytes=told.append,
    )
    return found, sum(told)


async def test_processes_find_what_threads_find(
    tree: tuple[LocalTree, list[tuple[str, int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every outcome (a digest, an absent file, a directory, a link loop, a link) is the same
    from the hashing processes as from the threads, in the order of the files, and the bytes
    told add up to the bytes read; the processes are gone afterwards."""
    target, files = tree
    monkeypatch.setattr(local, "_PROCESS_MIN_FILES", 10**9)
    in_threads = await hash_all(target, files)
    monkeypatch.setattr(local, "_PROCESS_MIN_FILES", 1)
    monkeypatch.setattr(local, "_RUN_FILES", 3)  # several runs: their order is kept
    pids = spawned(monkeypatch)
    in_processes = await hash_all(target, files)
    assert pids
    assert in_processes == in_threads
    found = dict(in_threads[0])
    data = (target.root / TAG / "file-3.tar.gz").read_bytes()
    assert found[f"{TAG}/file-3.tar.gz"] == (len(data), hashlib.sha256(data).hexdigest())
    assert found[f"{TAG}/gone.tar.gz"] is None
    assert found[f"{TAG}/dir.tar.gz"] == ("unreadable", f"{TAG}/dir.tar.gz", "Is a directory")
    loop = found[f"{TAG}/loop.tar.gz"]
    assert isinstance(loop, tuple)
    assert loop[0] == "unreadable"
    assert found[f"{TAG}/link.tar.gz"] == found[f"{TAG}/file-2.tar.gz"]
    assert in_threads[1] == sum(size for _, size in files[:5]) + 5000
    assert all(reaped(pid) for pid in pids)


async def test_a_few_files_start_no_process(
    tree: tuple[LocalTree, list[tuple[str, int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer files than the threshold are hashed in threads: no process is started."""
    target, files = tree
    assert len(files) < local._PROCESS_MIN_FILES
    pids = spawned(monkeypatch)
    found, _ = await hash_all(target, files)
    assert len(found) == len(files)
    assert pids == []


@pytest.mark.parametrize(
    "script",
    [
        "import sys; sys.exit(3)\n",
        "print('nonsense')\n",
        "import signal; print('nonsense', flush=True); signal.pause()\n",  # and never ends
        None,
    ],
)
async def test_a_process_that_fails_leaves_its_files_to_threads(
    tree: tuple[LocalTree, list[tuple[str, int]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    script: str | None,
) -> None:
    """A hashing process that exits at once, answers nonsense (and then hangs), or cannot be
    found costs no outcome: its files are hashed in threads, with the same outcomes, and it is
    gone afterwards."""
    target, files = tree
    monkeypatch.setattr(local, "_PROCESS_MIN_FILES", 10**9)
    in_threads, _ = await hash_all(target, files)
    broken = tmp_path / "broken.py"
    if script is not None:
        broken.write_text(script, encoding="utf-8")
    monkeypatch.setattr(hashpool, "SCRIPT", broken)
    monkeypatch.setattr(local, "_PROCESS_MIN_FILES", 1)
    monkeypatch.setattr(local, "_RUN_FILES", 2)
    pids = spawned(monkeypatch)
    found, _ = await hash_all(target, files)
    assert found == in_threads
    assert len(pids) == (0 if script is None else 2)
    assert all(reaped(pid) for pid in pids)


async def test_cancelling_stops_and_reaps_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while processes hash: hash_files is cancelled, and once it has returned every
    process it started has exited and been waited for."""
    (tmp_path / TAG).mkdir()
    files = []
    for i in range(128):
        (tmp_path / TAG / f"f{i}").write_bytes(b"x" * (MIB // 2))
        files.append((f"{TAG}/f{i}", MIB // 2))
    monkeypatch.setattr(local, "_PROCESS_MIN_FILES", 1)
    monkeypatch.setattr(local, "_RUN_FILES", 1)
    pids = spawned(monkeypatch)
    task: asyncio.Task[None] | None = None
    found: list[str] = []

    def stop(path: str, _: Hashed) -> None:
        found.append(path)
        assert task is not None
        task.cancel()  # at the first file delivered: most are still to be hashed

    task = asyncio.create_task(LocalTree(tmp_path).hash_files(files, workers=2, found=stop))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(found) < len(files)  # runs already hashed may still be delivered
    assert len(pids) == min(2, os.cpu_count() or 1)
    assert all(reaped(pid) for pid in pids)
