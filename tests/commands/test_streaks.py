"""Whole-history plans: a bounded pool of download workers, small files fetched in streaks."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from mirror_harness import Mirror

from mirrorsync.commands.sync import run_sync
from mirrorsync.config.load import load_config
from mirrorsync.net import download

TAG = "20251217"
NAMES = sorted(
    f"cpython-3.{minor}.{patch}+{TAG}-{platform}-install_only.tar.gz"
    for minor in (10, 11, 12, 13)
    for patch in range(8)
    for platform in ("x86_64-unknown-linux-gnu", "aarch64-apple-darwin")
)  # 64 small files
SIZE = 40 * 1024


def _applier_tasks() -> int:
    """The tasks running the applier's coroutines (its download workers)."""
    names = (getattr(t.get_coro(), "__qualname__", "") for t in asyncio.all_tasks())
    return sum(name.startswith("Applier.") for name in names)


class TaskCounter:
    """Progress that records how many applier tasks exist each time a file is done."""

    def __init__(self) -> None:
        self.tasks: list[int] = []
        self.files = 0

    def begin(self, *, files: int, total_bytes: int | None) -> None:  # noqa: ARG002
        self.files = files

    def advance(self, nbytes: int) -> None:
        pass

    def file_done(self, path: str) -> None:  # noqa: ARG002 - part of the Progress protocol
        self.tasks.append(_applier_tasks())

    def end(self) -> None:
        pass


@pytest.fixture
def streaks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every streak of first attempts a download thread was handed."""
    seen: list[int] = []
    first_attempts = download._first_attempts

    def spy(downloads: Sequence[Any], cancel: Any) -> Any:
        seen.append(len(downloads))
        return first_attempts(downloads, cancel)

    monkeypatch.setattr(download, "_first_attempts", spy)
    return seen


async def test_a_large_plan_holds_one_task_per_worker(mirror: Mirror) -> None:
    """64 files with concurrency 3: never more than 3 downloads in flight, and the run holds a
    few tasks (the workers), not one per file."""
    mirror.fake.add_release(TAG, NAMES, sizes=dict.fromkeys(NAMES, SIZE))
    mirror.configure(download={"concurrency": 3})
    counter = TaskCounter()
    runtime = dataclasses.replace(mirror.runtime(), progress=counter)
    outcome = await run_sync(load_config(mirror.config_path), runtime=runtime)
    assert outcome.exit_code == 0
    assert outcome.report.fetched == len(NAMES) == counter.files
    assert len(counter.tasks) == len(NAMES)
    assert 1 <= mirror.fake.max_cdn_in_flight <= 3
    assert max(counter.tasks) <= 3, counter.tasks  # the workers, not a task per file


async def test_faults_inside_a_streak_are_handled_as_alone(
    mirror: Mirror, streaks: list[int]
) -> None:
    """In a streak, a reset body is resumed with Range, a corrupt one fails without a retry, a
    404 fails at once; the files after them in the streak are still fetched."""
    mirror.fake.add_release(TAG, NAMES, sizes=dict.fromkeys(NAMES, SIZE))
    mirror.configure(download={"concurrency": 2})
    reset, corrupt, missing = NAMES[1], NAMES[2], NAMES[3]
    mirror.fake.reset_mid_body(reset)
    mirror.fake.corrupt(corrupt)
    mirror.fake.fail(missing, 404)
    outcome = await mirror.sync()
    assert max(streaks) > 3  # the faults were inside streaks, not each file alone
    assert outcome.exit_code == 1
    assert sorted(f.path for f in outcome.report.failed) == [f"{TAG}/{corrupt}", f"{TAG}/{missing}"]
    assert mirror.published() == {f"{TAG}/{n}" for n in NAMES} - {
        f"{TAG}/{corrupt}",
        f"{TAG}/{missing}",
    }
    for path, entry in mirror.indexed().items():
        assert mirror.sha256(path) == entry["sha256"] == mirror.fake.sha256(*path.split("/"))

    def gets(name: str) -> list[Any]:
        return [h for h in mirror.fake.hits if h.route == "cdn" and h.asset == name]

    assert [h.headers.get("Range") is not None for h in gets(reset)] == [False, True]
    assert len(gets(corrupt)) == 1
    assert len(gets(missing)) == 1
    assert len(mirror.sleep.delays) == 1  # only the reset was retried
