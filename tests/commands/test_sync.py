"""``sync`` and ``plan`` against the fake GitHub: tree, indexes, the no-op run, selection."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess

import pytest
from eras import DIGEST as ERA_DIGEST
from eras import DIGEST_TAG, LINUX, NO_SUMS, NO_SUMS_TAG, PRERELEASE, SUMS, SUMS_TAG
from eras import three_eras as publish_three_eras
from fake_github import FakeGitHub
from mirror_harness import Mirror
from pagecache import cached_pages, require_droppable

from mirrorsync.errors import GuardRefused, LockHeld
from mirrorsync.targets.lock import hold_lock

DIGEST = [*ERA_DIGEST, PRERELEASE]


def three_eras(fake: FakeGitHub) -> None:
    publish_three_eras(fake, with_prerelease=True)


async def test_first_sync_publishes_byte_identical_files(mirror: Mirror) -> None:
    """Every selected asset lands at ``<tag>/<name>`` with exactly upstream's bytes."""
    three_eras(mirror.fake)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    # prereleases: false drops the 3.15.0a3 build.
    expected = {f"{NO_SUMS_TAG}/{n}" for n in NO_SUMS} | {f"{SUMS_TAG}/{n}" for n in SUMS}
    expected |= {f"{DIGEST_TAG}/{n}" for n in DIGEST[:4]}
    assert mirror.published() == expected
    for path in expected:
        tag, name = path.split("/")
        assert (mirror.root / path).read_bytes() == mirror.fake.content(tag, name)


async def test_archives_written_into_a_directory_leave_the_page_cache(mirror: Mirror) -> None:
    """A sync into a directory leaves none of the archives it wrote in the page cache, small
    ones fetched in a streak and a large one alike: a cron run does not push out what the
    server keeps cached, and the files are intact on disk."""
    require_droppable(mirror.base)
    tag = "20251217"
    names = [
        f"cpython-3.{minor}.1+{tag}-x86_64-unknown-linux-gnu-install_only.tar.gz"
        for minor in (10, 11, 12, 13)
    ]
    sizes = {**dict.fromkeys(names[:3], 40 << 10), names[3]: 9 << 20}  # over a streak's limit
    mirror.fake.add_release(tag, names, sizes=sizes)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    cached = {path: cached_pages(mirror.root / path) for path in mirror.published()}
    assert set(cached) == {f"{tag}/{name}" for name in names}
    assert not any(cached.values()), cached
    for name in names:
        assert (mirror.root / tag / name).read_bytes() == mirror.fake.content(tag, name)


async def test_index_json_describes_every_file(mirror: Mirror) -> None:
    """index.json lists each file with size, sha256, parsed fields and `verified` per era."""
    three_eras(mirror.fake)
    await mirror.sync()
    index = mirror.index()
    assert index["format"] == 1
    assert index["generator"].startswith("mirrorsync ")
    assert index["upstream"] == {"source": "github", "repo": "astral-sh/python-build-standalone"}
    files = index["files"]
    assert [f["path"] for f in files] == sorted(f["path"] for f in files)
    for f in files:
        assert f["size"] == (mirror.root / f["path"]).stat().st_size
        assert f["sha256"] == mirror.sha256(f["path"])
        assert f["verified"] is (not f["path"].startswith(NO_SUMS_TAG))
    by_path = mirror.indexed()
    windows = by_path[f"{SUMS_TAG}/{SUMS[2]}"]
    assert windows["build"] == ""
    assert windows["flavor"] == "install_only"
    assert windows["platform"] == "x86_64-pc-windows-msvc"
    assert windows["variant"] == "default"
    assert windows["python"] == "3.12.4"


async def test_sha256sums_pass_sha256sum_check(mirror: Mirror) -> None:
    """Each tag's SHA256SUMS is sorted, lists exactly its files, and `sha256sum -c` accepts it."""
    three_eras(mirror.fake)
    await mirror.sync()
    for tag in (NO_SUMS_TAG, SUMS_TAG, DIGEST_TAG):
        sums = (mirror.root / tag / "SHA256SUMS").read_text(encoding="utf-8")
        names = [line.split("  ", 1)[1] for line in sums.splitlines()]
        assert names == sorted(names)
        assert {f"{tag}/{n}" for n in names} == {p for p in mirror.published() if p.startswith(tag)}
        if shutil.which("sha256sum"):
            check = await asyncio.to_thread(
                subprocess.run,
                ["sha256sum", "-c", "--strict", "SHA256SUMS"],
                cwd=mirror.root / tag,
                capture_output=True,
                check=False,
            )
            assert check.returncode == 0, check.stdout + check.stderr


async def test_second_run_downloads_and_rewrites_nothing(mirror: Mirror) -> None:
    """With upstream unchanged, a re-run downloads nothing and leaves every file untouched."""
    three_eras(mirror.fake)
    await mirror.sync()
    before = {p: p.stat().st_mtime_ns for p in mirror.root.rglob("*") if p.is_file()}
    before = {p: m for p, m in before.items() if ".mirrorsync" not in p.parts}
    mirror.fake.reset_hits()
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert outcome.report.fetched == 0
    assert outcome.report.kept == 11
    assert [h.route for h in mirror.fake.hits] == ["listing"]
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before


async def test_unchanged_listing_costs_only_304s(mirror: Mirror) -> None:
    """Listing pages are asked for with If-None-Match and an unchanged one answers 304."""
    three_eras(mirror.fake)
    await mirror.sync()
    await mirror.sync()  # the first run's downloads changed download_count, hence the body
    mirror.fake.reset_hits()
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert [(h.route, h.status) for h in mirror.fake.hits] == [("listing", 304)]
    assert mirror.fake.hits[0].headers.get("If-None-Match")


async def test_listing_is_paginated_and_requested_gzip(mirror: Mirror) -> None:
    """The listing follows Link rel=next with a small per_page, asking for gzip."""
    for day in range(1, 24):
        mirror.fake.add_release(f"202501{day:02d}", [], checksums="none")
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:1])
    await mirror.sync()
    listing = mirror.fake.listing_hits()
    assert len(listing) == 3  # 24 releases, 10 a page
    assert listing[0].query["per_page"] == "10"
    assert all("gzip" in h.headers.get("Accept-Encoding", "") for h in listing)
    assert mirror.published() == {f"{DIGEST_TAG}/{DIGEST[0]}"}


async def test_changed_config_takes_effect_without_force(mirror: Mirror) -> None:
    """Narrowing then widening the selection fetches exactly the newly selected files."""
    three_eras(mirror.fake)
    mirror.configure(select={"platforms": ["x86_64-unknown-linux-gnu"]})
    await mirror.sync()
    assert all("x86_64-unknown-linux-gnu" in p for p in mirror.published())
    mirror.configure(select={"platforms": ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin"]})
    mirror.fake.reset_hits()
    outcome = await mirror.sync()
    fetched = {h.asset for h in mirror.fake.downloads()}
    assert fetched == {NO_SUMS[1], SUMS[1], SUMS[3], DIGEST[1]}
    assert outcome.report.fetched == 4


async def test_deselected_files_stay_listed_until_pruned(mirror: Mirror) -> None:
    """Without prune, files dropped from the selection stay on disk and in the index."""
    three_eras(mirror.fake)
    await mirror.sync()
    mirror.configure(select={"flavors": ["install_only_stripped"]})
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert len(outcome.plan.prune) == 7
    assert len(mirror.indexed()) == 11
    assert len(mirror.published()) == 11


async def test_prune_deletes_only_deselected_files_and_empty_dirs(mirror: Mirror) -> None:
    """With prune, deselected files go, the index and SHA256SUMS follow, empty tags vanish."""
    three_eras(mirror.fake)
    await mirror.sync()
    (mirror.root / NO_SUMS_TAG / "operator-notes.txt").write_text("mine", encoding="utf-8")
    mirror.configure(
        releases={"since": "2024-01-01", "latest": None},
        select={"flavors": ["install_only_stripped"]},
        prune=True,
        prune_max="100%",
    )
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert outcome.report.pruned == 7
    assert mirror.published() == {
        f"{SUMS_TAG}/{SUMS[0]}",
        f"{SUMS_TAG}/{SUMS[1]}",
        f"{DIGEST_TAG}/{DIGEST[0]}",
        f"{DIGEST_TAG}/{DIGEST[1]}",
        f"{NO_SUMS_TAG}/operator-notes.txt",  # never listed by us: never deleted
    }
    assert set(mirror.indexed()) == mirror.published() - {f"{NO_SUMS_TAG}/operator-notes.txt"}
    assert not (mirror.root / NO_SUMS_TAG / "SHA256SUMS").exists()
    sums = (mirror.root / SUMS_TAG / "SHA256SUMS").read_text(encoding="utf-8")
    assert len(sums.splitlines()) == 2


async def test_prune_refuses_to_delete_more_than_prune_max(mirror: Mirror) -> None:
    """A prune over prune_max deletes nothing and exits 2, naming a sample."""
    three_eras(mirror.fake)
    await mirror.sync()
    mirror.configure(select={"platforms": ["riscv64-*"]}, prune=True, prune_max=3)
    outcome = await mirror.sync()
    assert outcome.exit_code == 2
    assert outcome.refused is not None
    assert "prune_max" in outcome.refused
    assert len(mirror.published()) == 11
    assert mirror.status()["status"] == "refused"


async def test_no_prune_after_a_failed_download(mirror: Mirror) -> None:
    """A run with any failure prunes nothing, even with prune on."""
    three_eras(mirror.fake)
    await mirror.sync()
    mirror.fake.set_content(DIGEST_TAG, LINUX, b"new bytes" * 50)
    mirror.fake.corrupt(LINUX)
    mirror.configure(select={"platforms": ["x86_64-unknown-linux-gnu"]}, prune=True)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert outcome.report.pruned == 0
    assert len(mirror.published()) == 11


async def test_plan_is_exactly_sync_dry_run_and_writes_nothing(mirror: Mirror) -> None:
    """plan lists fetch/keep/prune sorted, and creates no file at all."""
    three_eras(mirror.fake)
    outcome = await mirror.sync(dry_run=True)
    assert not mirror.root.exists()
    assert [a.path for a in outcome.plan.fetch] == sorted(a.path for a in outcome.plan.fetch)
    assert len(outcome.plan.fetch) == 11
    assert outcome.plan.keep == ()
    await mirror.sync()
    again = await mirror.sync(dry_run=True)
    assert again.plan.fetch == ()
    assert len(again.plan.keep) == 11


async def test_upstream_change_replaces_the_file(mirror: Mirror) -> None:
    """An asset whose upstream bytes changed is fetched again and replaced after verification."""
    three_eras(mirror.fake)
    await mirror.sync()
    mirror.fake.set_content(DIGEST_TAG, LINUX, b"rebuilt" * 100)
    mirror.fake.reset_hits()
    outcome = await mirror.sync()
    assert outcome.report.fetched == 1
    assert (mirror.root / DIGEST_TAG / LINUX).read_bytes() == b"rebuilt" * 100
    assert (
        mirror.indexed()[f"{DIGEST_TAG}/{LINUX}"]["sha256"]
        == hashlib.sha256(b"rebuilt" * 100).hexdigest()
    )


async def test_unverifiable_era_is_kept_by_upstream_identity(mirror: Mirror) -> None:
    """Assets without any upstream checksum are re-fetched only when their identity changes."""
    mirror.fake.add_release(NO_SUMS_TAG, NO_SUMS, checksums="none")
    await mirror.sync()
    mirror.fake.reset_hits()
    assert (await mirror.sync()).report.fetched == 0
    mirror.fake.set_content(NO_SUMS_TAG, NO_SUMS[0], b"x" * 999)
    outcome = await mirror.sync()
    assert outcome.report.fetched == 1
    assert mirror.indexed()[f"{NO_SUMS_TAG}/{NO_SUMS[0]}"]["verified"] is False


async def test_sums_era_checksum_files_are_cached(mirror: Mirror) -> None:
    """SHA256SUMS is fetched once; a no-op re-run reads it from the state cache."""
    mirror.fake.add_release(SUMS_TAG, SUMS, checksums="sums")
    await mirror.sync()
    sums_reads = [h for h in mirror.fake.hits if h.route == "download" and "SHA256SUMS" in h.path]
    assert len(sums_reads) == 1
    mirror.fake.reset_hits()
    await mirror.sync()
    assert [h for h in mirror.fake.hits if h.route != "listing"] == []


async def test_sidecar_only_release_is_verified(mirror: Mirror) -> None:
    """Without digest or SHA256SUMS, each asset's .sha256 sidecar gives the expected sha256."""
    mirror.fake.add_release(SUMS_TAG, SUMS[:2], checksums="sidecars")
    mirror.fake.corrupt(SUMS[1])
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"{SUMS_TAG}/{SUMS[1]}"]
    assert "sidecar" in outcome.report.failed[0].error
    assert mirror.indexed()[f"{SUMS_TAG}/{SUMS[0]}"]["verified"] is True


async def test_drafts_prereleases_and_open_uploads_are_skipped(mirror: Mirror) -> None:
    """Drafts, GitHub prereleases and assets still uploading never reach the mirror."""
    mirror.fake.add_release(
        "20260101",
        DIGEST[:1] and ["cpython-3.13.12+20260101-x86_64-unknown-linux-gnu-install_only.tar.gz"],
        draft=True,
    )
    mirror.fake.add_release(
        "20260102",
        ["cpython-3.13.12+20260102-x86_64-unknown-linux-gnu-install_only.tar.gz"],
        prerelease=True,
    )
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:2])
    mirror.fake.set_asset_state(DIGEST_TAG, DIGEST[1], "open")
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert mirror.published() == {f"{DIGEST_TAG}/{DIGEST[0]}"}


async def test_latest_means_greatest_tag_not_api_order(mirror: Mirror) -> None:
    """releases.latest picks the greatest tags even when the API lists another one first."""
    mirror.fake.add_release(SUMS_TAG, SUMS[:1], checksums="sums")
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:1])
    mirror.fake.order = [SUMS_TAG, DIGEST_TAG]
    mirror.configure(releases={"latest": 1})
    await mirror.sync()
    assert mirror.published() == {f"{DIGEST_TAG}/{DIGEST[0]}"}


async def test_missing_tag_is_reported_and_the_rest_syncs(mirror: Mirror) -> None:
    """A tag named in releases.tags that upstream lacks gives exit 1; the others sync."""
    three_eras(mirror.fake)
    mirror.configure(releases={"tags": [DIGEST_TAG, "20991231"]})
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert outcome.plan.missing_tags == ("20991231",)
    assert len(mirror.published()) == 4


async def test_hostile_names_are_unparsed_never_fetched(mirror: Mirror) -> None:
    """Hostile or unknown names are reported as unparsed, never fetched, and exit 0."""
    hostile = [
        "../../x.tar.gz",
        "/etc/passwd",
        "cpython-3.12.4+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz\n",
        "x" * 300 + ".tar.gz",
        "cpython-3.13.11+20251217-loongarch64-unknown-linux-gnu-install_only.tar.gz",
    ]
    mirror.fake.add_release(DIGEST_TAG, [*DIGEST[:1], *hostile])
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert set(outcome.plan.unparsed) == set(hostile)
    assert mirror.published() == {f"{DIGEST_TAG}/{DIGEST[0]}"}
    assert {h.asset for h in mirror.fake.downloads()} == {DIGEST[0]}
    assert not (mirror.base / "x.tar.gz").exists()


async def test_unsafe_release_tag_is_skipped(mirror: Mirror) -> None:
    """A release whose tag is not a safe directory name is skipped with a warning."""
    mirror.fake.add_release(
        "..",
        ["cpython-3.13.11-x86_64-unknown-linux-gnu-install_only-20251217T0000.tar.gz"],
        checksums="none",
    )
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:1])
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert outcome.plan.skipped_releases == ("..",)
    assert mirror.published() == {f"{DIGEST_TAG}/{DIGEST[0]}"}


async def test_empty_listing_is_refused(mirror: Mirror) -> None:
    """An empty upstream listing exits 2 and changes nothing, even with prune on."""
    three_eras(mirror.fake)
    await mirror.sync()
    mirror.fake.empty_listing()
    mirror.configure(prune=True, prune_max="100%")
    with pytest.raises(GuardRefused):
        await mirror.sync()
    assert len(mirror.published()) == 11
    assert len(mirror.indexed()) == 11


async def test_second_concurrent_run_exits_3_naming_the_holder(mirror: Mirror) -> None:
    """While the lock is held, a run fails at once with LockHeld naming pid and host."""
    three_eras(mirror.fake)
    await mirror.sync()
    with hold_lock(mirror.root / ".mirrorsync" / "lock"):
        with pytest.raises(LockHeld, match=r"pid \d+, host .+, since "):
            await mirror.sync()
        assert await mirror.run() == 3
    assert (await mirror.sync()).exit_code == 0


async def test_token_goes_to_the_api_host_only(mirror: Mirror) -> None:
    """The token is sent on API requests and never to the CDN host (the fixture checks that)."""
    mirror.token = "ghp_secret"
    three_eras(mirror.fake)
    await mirror.sync()
    api = mirror.fake.api_hits()
    assert api
    assert all(h.headers.get("Authorization") == "Bearer ghp_secret" for h in api)
    assert mirror.fake.auth_violations == []


async def test_status_json_records_the_run(mirror: Mirror) -> None:
    """status.json has the dashboard fields; last_update moves only on success."""
    three_eras(mirror.fake)
    await mirror.sync()
    status = mirror.status()
    for key in ("name", "status", "last_update", "last_started", "last_ended", "upstream", "size"):
        assert key in status
    assert status["status"] == "success"
    assert status["size"] == sum(f["size"] for f in mirror.index()["files"])
    first_update = status["last_update"]
    mirror.clock.advance(3600)
    mirror.fake.set_content(DIGEST_TAG, LINUX, b"changed" * 10)
    mirror.fake.corrupt(LINUX)
    await mirror.sync()
    status = mirror.status()
    assert status["status"] == "partial"
    assert status["last_update"] == first_update
    assert status["last_ended"] != first_update


async def test_diff_file_lists_added_changed_removed(mirror: Mirror) -> None:
    """diff_file gets one block per run with added, changed and removed paths."""
    three_eras(mirror.fake)
    mirror.configure(diff_file="changes.txt")
    await mirror.sync()
    mirror.fake.set_content(DIGEST_TAG, LINUX, b"changed" * 10)
    mirror.configure(
        diff_file="changes.txt",
        select={"platforms": ["x86_64-unknown-linux-gnu"]},
        prune=True,
        prune_max="100%",
    )
    await mirror.sync()
    lines = (mirror.base / "changes.txt").read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("# ") for line in lines) == 2
    assert f"changed\t{DIGEST_TAG}/{LINUX}" in lines
    assert f"removed\t{DIGEST_TAG}/{DIGEST[1]}" in lines
    assert sum(line.startswith("added\t") for line in lines) == 11


async def test_corrupt_index_is_set_aside_and_rebuilt_without_downloads(mirror: Mirror) -> None:
    """A damaged index.json is moved aside and rebuilt by adopting verified files in place."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:3])
    await mirror.sync()
    (mirror.root / "index.json").write_text("{not json", encoding="utf-8")
    mirror.fake.reset_hits()
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert mirror.fake.downloads() == []
    assert len(mirror.indexed()) == 3
    assert list((mirror.root / ".mirrorsync").glob("index.json.corrupt-*"))


async def test_missing_file_on_disk_is_fetched_again(mirror: Mirror) -> None:
    """A file listed in the index but deleted by hand is downloaded again."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:2])
    await mirror.sync()
    (mirror.root / DIGEST_TAG / DIGEST[0]).unlink()
    (mirror.root / DIGEST_TAG / "SHA256SUMS").unlink()
    mirror.fake.reset_hits()
    outcome = await mirror.sync()
    assert outcome.report.fetched == 1
    assert (mirror.root / DIGEST_TAG / DIGEST[0]).exists()
    assert (mirror.root / DIGEST_TAG / "SHA256SUMS").exists()


async def test_index_json_entries_round_trip(mirror: Mirror) -> None:
    """index.json is valid JSON whose file entries carry exactly the contract's keys at least."""
    three_eras(mirror.fake)
    await mirror.sync()
    raw = json.loads((mirror.root / "index.json").read_text(encoding="utf-8"))
    required = {"path", "size", "sha256", "verified", "python", "platform", "flavor", "build"}
    assert all(required | {"variant"} <= set(f) for f in raw["files"])


async def test_a_sync_hands_its_assets_over_once_fetched(mirror: Mirror) -> None:
    """A sync's plan gives its assets to the applier, which drops each once it is fetched: the
    outcome's plan holds none of them, the report counts every one the dry run planned."""
    three_eras(mirror.fake)
    planned = await mirror.sync(dry_run=True)
    outcome = await mirror.sync()
    assert planned.plan.fetch
    assert outcome.plan.fetch == ()
    assert outcome.report.fetched == len(planned.plan.fetch)
    assert mirror.published() == {a.path for a in planned.plan.fetch}
