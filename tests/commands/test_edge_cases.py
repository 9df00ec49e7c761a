"""Edge cases found in review: each pins a way the tree could have gone wrong."""

from __future__ import annotations

from pathlib import Path

from mirror_harness import Mirror

from mirrorsync.targets.files import temp_path_for, write_atomic

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
]
OLD_TAG = "20210724"
OLD = "cpython-3.9.6-x86_64-unknown-linux-gnu-install_only-20210724T1424.tar.gz"


async def test_unreadable_sidecar_never_lets_wrong_bytes_through(mirror: Mirror) -> None:
    """When a release's only checksum (a sidecar) cannot be read, its asset is not published."""
    mirror.fake.add_release(TAG, NAMES[:1], checksums="sidecars")
    mirror.configure(download={"retries": 0})
    mirror.fake.fail(NAMES[0] + ".sha256", 500)
    mirror.fake.corrupt(NAMES[0])
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert "could not be read" in outcome.report.failed[0].error
    assert not (mirror.root / TAG / NAMES[0]).exists()


async def test_stale_partial_of_an_unverifiable_asset_is_not_resumed(mirror: Mirror) -> None:
    """A partial file of another upstream version is discarded when there is no checksum."""
    mirror.fake.add_release(OLD_TAG, {OLD: b"N" * 4000}, checksums="none")
    part = mirror.root / ".mirrorsync" / "staging" / OLD_TAG / (OLD + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"O" * 2000)  # the first half of an older version of the same size
    assert (await mirror.sync()).exit_code == 0
    assert (mirror.root / OLD_TAG / OLD).read_bytes() == b"N" * 4000


async def test_sums_follow_a_file_found_missing_even_if_its_refetch_fails(mirror: Mirror) -> None:
    """A file deleted by hand and failing to come back leaves index and SHA256SUMS agreeing."""
    mirror.fake.add_release(TAG, NAMES)
    await mirror.sync()
    (mirror.root / TAG / NAMES[0]).unlink()
    mirror.configure(download={"retries": 0})
    mirror.fake.fail(NAMES[0], 404)
    assert (await mirror.sync()).exit_code == 1
    sums = (mirror.root / TAG / "SHA256SUMS").read_text(encoding="utf-8")
    assert [line.split("  ")[1] for line in sums.splitlines()] == [NAMES[1]]
    assert set(mirror.indexed()) == {f"{TAG}/{NAMES[1]}"}


async def test_name_too_long_for_a_staging_file_is_unparsed(mirror: Mirror) -> None:
    """A name that parses but leaves no room for the staging suffix is skipped, not a crash."""
    long_name = f"cpython-3.12.{'0' * 185}4+{TAG}-x86_64-unknown-linux-gnu-install_only.tar.gz"
    assert 250 < len(long_name) <= 255
    mirror.fake.add_release(TAG, [NAMES[0], long_name])
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert long_name in outcome.plan.unparsed
    assert mirror.published() == {f"{TAG}/{NAMES[0]}"}


async def test_release_named_like_a_root_file_is_skipped(mirror: Mirror) -> None:
    """Releases tagged flat, github or .mirrorsync never collide with what mirrorsync writes."""
    for tag in ("flat", "github", ".mirrorsync"):
        mirror.fake.add_release(tag, [], checksums="none")
    mirror.fake.add_release(TAG, NAMES[:1])
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert set(outcome.plan.skipped_releases) == {"flat", "github", ".mirrorsync"}
    assert mirror.published() == {f"{TAG}/{NAMES[0]}"}


async def test_prune_spares_a_file_being_reuploaded(mirror: Mirror) -> None:
    """An asset whose upstream upload is in progress is not pruned as "no longer selected"."""
    mirror.fake.add_release(TAG, NAMES)
    await mirror.sync()
    mirror.fake.set_asset_state(TAG, NAMES[0], "open")
    mirror.configure(prune=True, prune_max="100%")
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert outcome.report.pruned == 0
    assert (mirror.root / TAG / NAMES[0]).exists()


def test_atomic_writes_use_a_new_temporary_file_each_time(tmp_path: Path) -> None:
    """Two writes of one path never share a temporary file (a late thread cannot clobber it)."""
    target = tmp_path / "index.json"
    first, second = temp_path_for(target), temp_path_for(target)
    assert first != second
    assert first.parent == second.parent == tmp_path
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]
