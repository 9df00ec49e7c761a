"""The idle-run shortcut of sync: taken only when nothing changed, and every guarantee kept."""

from __future__ import annotations

import logging

import pytest
from eras import three_eras
from fake_github import FakeGitHub
from mirror_harness import Mirror

PROOF = ".mirrorsync/idle.json"
IDLE = "nothing changed upstream or in the tree since the last run"


async def settled(mirror: Mirror) -> None:
    """Two runs: the second sees the listing's body changed by the first's downloads (their
    download counts), so the third is the first that can find everything unchanged."""
    three_eras(mirror.fake)
    assert await mirror.run() == 0
    assert await mirror.run() == 0
    assert (mirror.root / PROOF).is_file()


async def test_idle_run_does_nothing_but_record_success(
    mirror: Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """With nothing changed, a run asks only the listing (304), touches no file of the tree,
    and records the same figures as a planned run."""
    await settled(mirror)
    status = mirror.status()
    tree = {p: p.stat().st_mtime_ns for p in mirror.root.rglob("*") if p.is_file()}
    tree = {p: m for p, m in tree.items() if ".mirrorsync" not in p.parts}
    mirror.fake.reset_hits()
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        outcome = await mirror.sync()
    assert IDLE in caplog.text
    assert outcome.exit_code == 0
    assert (outcome.report.fetched, outcome.report.kept) == (0, status["kept"])
    assert [(h.route, h.status) for h in mirror.fake.hits] == [("listing", 304)]
    assert {p: p.stat().st_mtime_ns for p in tree} == tree
    after = mirror.status()
    for key in ("status", "files", "size", "kept", "client_files"):
        assert after[key] == status[key], key
    assert (mirror.root / PROOF).is_file()


@pytest.mark.parametrize("damage", ["delete", "truncate", "add"])
async def test_tree_changed_by_hand_is_planned(
    mirror: Mirror, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    """A file deleted or truncated by hand is fetched again, a stray one noticed: the shortcut
    is not taken when the tree differs from what the last run left."""
    await settled(mirror)
    path = next(iter(mirror.indexed()))
    target = mirror.root / path
    if damage == "delete":
        target.unlink()
    elif damage == "truncate":
        target.write_bytes(b"")
    else:
        (target.parent / "stray.txt").write_bytes(b"x")
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        outcome = await mirror.sync()
    assert IDLE not in caplog.text
    assert outcome.report.fetched == (0 if damage == "add" else 1)
    assert mirror.sha256(path) == mirror.indexed()[path]["sha256"]


async def test_new_release_is_fetched(mirror: Mirror, caplog: pytest.LogCaptureFixture) -> None:
    """A listing that changed (a new release) is planned and fetched."""
    await settled(mirror)
    name = "cpython-3.13.1+20300101-x86_64-unknown-linux-gnu-install_only.tar.gz"
    mirror.fake.add_release("20300101", {name: b"new"}, checksums="digest")
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        outcome = await mirror.sync()
    assert IDLE not in caplog.text
    assert outcome.report.fetched == 1


async def test_config_change_is_planned(mirror: Mirror, caplog: pytest.LogCaptureFixture) -> None:
    """Another configuration (here: prune on) never takes the last run's shortcut."""
    await settled(mirror)
    mirror.configure(prune=True)
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        assert await mirror.run() == 0
    assert IDLE not in caplog.text


async def test_run_after_a_failed_one_plans(
    mirror: Mirror, fake_github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    """After a run that did not succeed, the next one plans (and fetches what failed), even
    with the listing and the tree as the last successful run left them."""
    await settled(mirror)
    name = "cpython-3.13.1+20300101-x86_64-unknown-linux-gnu-install_only.tar.gz"
    fake_github.add_release("20300101", {name: b"new"}, checksums="digest")
    fake_github.corrupt(name, times=1)
    assert await mirror.run() == 1
    assert mirror.status()["status"] == "partial"
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        outcome = await mirror.sync()
    assert IDLE not in caplog.text
    assert outcome.report.fetched == 1
    assert mirror.status()["status"] == "success"
