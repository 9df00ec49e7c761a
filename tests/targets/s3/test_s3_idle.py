"""The idle-run shortcut on a bucket: one HEAD of index.json after a success, a plan whenever
the index, this machine's knowledge of the bucket, the last run or the configuration changed."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
from s3_harness import PREFIX, S3Mirror

from mirrorsync.commands import verify as verifying
from mirrorsync.config.load import load_config
from mirrorsync.targets.open import open_target

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
]
LINUX = f"{TAG}/{NAMES[0]}"
NEW = "cpython-3.13.12+20300101-x86_64-unknown-linux-gnu-install_only.tar.gz"
IDLE = "nothing changed upstream or in the tree since the last run"


async def settled(mirror: S3Mirror) -> None:
    """Two runs: the second sees the listing's body changed by the first's downloads (their
    download counts), so the third is the first that can find everything unchanged."""
    mirror.fake.add_release(TAG, NAMES)
    assert (await mirror.sync()).exit_code == 0
    assert (await mirror.sync()).exit_code == 0
    assert (mirror.state_dir / "idle.json").is_file()
    mirror.proxy.clear()


def index_reads(mirror: S3Mirror) -> list[str]:
    """The methods of the requests for index.json this run made."""
    return [m for m, p in mirror.proxy.requests() if p.endswith(f"/{PREFIX}/index.json")]


async def test_idle_run_costs_one_head_of_the_index(
    s3_mirror: S3Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """With nothing changed, a run costs the lock, the listing of stale uploads and one HEAD of
    index.json (no GET, no listing, no upload), asks upstream only for the listing (304), and
    records the same figures as the planned run before it."""
    await settled(s3_mirror)
    status = json.loads((s3_mirror.state_dir / "status.json").read_bytes())
    s3_mirror.fake.reset_hits()
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        outcome = await s3_mirror.sync()
    assert IDLE in caplog.text
    assert (outcome.exit_code, outcome.report.fetched) == (0, 0)
    assert outcome.report.kept == len(NAMES)
    assert s3_mirror.proxy.requests() == s3_mirror.quiet_run("HEAD")
    assert [(h.route, h.status) for h in s3_mirror.fake.hits] == [("listing", 304)]
    after = json.loads((s3_mirror.state_dir / "status.json").read_bytes())
    for key in ("status", "files", "size", "kept", "client_files"):
        assert after[key] == status[key], key


async def test_an_index_changed_in_the_bucket_is_planned(
    s3_mirror: S3Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """An index.json rewritten behind this machine's back (another ETag) is read and planned
    from: the file it no longer lists is put back into it."""
    await settled(s3_mirror)
    index = await s3_mirror.index()
    index["files"] = [f for f in index["files"] if f["path"] != LINUX]
    await s3_mirror.bucket.put("index.json", json.dumps(index).encode())
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        assert (await s3_mirror.sync()).exit_code == 0
    assert IDLE not in caplog.text
    assert "GET" in index_reads(s3_mirror)
    assert LINUX in await s3_mirror.indexed()


async def test_lost_knowledge_of_the_small_files_is_planned(
    s3_mirror: S3Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """This machine's copies of the small files are part of the proof: with them gone, the
    run plans (and relearns them with one listing) instead of trusting the proof."""
    await settled(s3_mirror)
    shutil.rmtree(s3_mirror.state_dir / "published")
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        assert (await s3_mirror.sync()).exit_code == 0
    assert IDLE not in caplog.text
    assert "GET" in index_reads(s3_mirror)


async def test_a_deleted_archive_is_left_to_verify_as_by_a_planned_run(
    s3_mirror: S3Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """A plan trusts the bucket's index for the archives (no listing, no HEAD per object), so
    an archive deleted by hand is noticed by neither a planned nor an idle run, but by verify."""
    await settled(s3_mirror)
    bucket = s3_mirror.bucket
    await bucket.client.delete_object(Bucket=bucket.name, Key=bucket.key(LINUX))
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        assert (await s3_mirror.sync()).exit_code == 0
    assert IDLE in caplog.text
    (s3_mirror.state_dir / "idle.json").unlink()  # the planned run, for comparison
    caplog.clear()
    with caplog.at_level(logging.INFO):
        outcome = await s3_mirror.sync()
    assert IDLE not in caplog.text
    assert outcome.report.fetched == 0
    report = await verifying.verify(open_target(load_config(s3_mirror.config_path)))
    assert [(p.path, p.kind) for p in report.problems] == [(LINUX, "missing")]


async def test_run_after_a_failed_one_plans(
    s3_mirror: S3Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """After a run that did not succeed, the next one plans and fetches what failed, with the
    listing and the bucket as that run left them."""
    await settled(s3_mirror)
    s3_mirror.fake.add_release("20300101", {NEW: b"new"}, checksums="digest")
    s3_mirror.fake.corrupt(NEW, times=1)
    assert await s3_mirror.run() == 1
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        outcome = await s3_mirror.sync()
    assert IDLE not in caplog.text
    assert outcome.report.fetched == 1
    assert f"20300101/{NEW}" in await s3_mirror.indexed()


async def test_config_change_is_planned(
    s3_mirror: S3Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """Another configuration (here: prune on) never takes the last run's shortcut, and asks
    nothing of the bucket to find that out."""
    await settled(s3_mirror)
    s3_mirror.configure(prune=True)
    caplog.clear()  # the runs before may have logged at INFO already
    with caplog.at_level(logging.INFO):
        assert (await s3_mirror.sync()).exit_code == 0
    assert IDLE not in caplog.text
    assert index_reads(s3_mirror)[0] == "GET"
