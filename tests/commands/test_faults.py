"""Upstream faults during sync: nothing corrupt is published, no good file is lost."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import NoSleep
from fake_github import FakeGitHub
from mirror_harness import Mirror

from mirrorsync.core.model import Asset, UpstreamAsset
from mirrorsync.core.names import parse_asset_name
from mirrorsync.errors import SizeMismatch, UpstreamError
from mirrorsync.net.client import open_client
from mirrorsync.net.download import fetch_asset
from mirrorsync.net.retry import RetryPolicy

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-x86_64-pc-windows-msvc-install_only.tar.gz",
]
NAME = NAMES[0]
PATH = f"{TAG}/{NAME}"
BIG = 64 * 1024


def release(fake: FakeGitHub) -> None:
    # Bodies large enough to be cut in the middle.
    fake.add_release(TAG, NAMES, sizes=dict.fromkeys(NAMES, BIG))


def assert_consistent(mirror: Mirror) -> None:
    """Every indexed file is present with its recorded size and sha256, and nothing else is."""
    indexed = mirror.indexed()
    assert set(indexed) == mirror.published()
    for path, entry in indexed.items():
        assert (mirror.root / path).stat().st_size == entry["size"]
        assert mirror.sha256(path) == entry["sha256"]
        tag, name = path.split("/")
        assert entry["sha256"] == mirror.fake.sha256(tag, name)


async def test_5xx_burst_is_retried_with_backoff(mirror: Mirror) -> None:
    """A run of 502/503/500 answers is retried with growing waits, then succeeds."""
    release(mirror.fake)
    mirror.fake.fail(NAME, 502, 503, 500)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)
    assert len(mirror.sleep.delays) == 3
    assert all(0 < d <= 60 for d in mirror.sleep.delays)


async def test_persistent_5xx_fails_only_that_asset(mirror: Mirror) -> None:
    """An asset failing past its retries is reported; the others are mirrored; exit 1."""
    release(mirror.fake)
    mirror.configure(download={"retries": 2})
    mirror.fake.fail(NAME, 502, 502, 502)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [PATH]
    assert "502" in outcome.report.failed[0].error
    assert mirror.published() == {f"{TAG}/{n}" for n in NAMES[1:]}
    assert_consistent(mirror)


async def test_client_error_is_not_retried(mirror: Mirror) -> None:
    """A 404 on a download fails that asset at once, without retries."""
    release(mirror.fake)
    mirror.fake.fail(NAME, 404)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert mirror.sleep.delays == []
    assert len([h for h in mirror.fake.hits if h.route == "cdn" and h.asset == NAME]) == 1


async def test_reset_mid_body_resumes_with_range(mirror: Mirror) -> None:
    """After a connection reset mid-body, the retry asks only for the missing bytes."""
    release(mirror.fake)
    mirror.fake.reset_mid_body(NAME)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)
    gets = [h for h in mirror.fake.hits if h.route == "cdn" and h.asset == NAME]
    assert len(gets) == 2
    assert "Range" not in gets[0].headers
    assert gets[1].headers["Range"].startswith("bytes=")
    assert gets[1].status == 206


async def test_truncated_body_is_retried_never_published(mirror: Mirror) -> None:
    """A body shorter than its Content-Length is never published; the retry completes it."""
    release(mirror.fake)
    mirror.fake.truncate(NAME)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)


async def test_truncation_with_no_retries_leaves_a_resumable_part(mirror: Mirror) -> None:
    """An interrupted download is not published; the next run resumes it with Range."""
    release(mirror.fake)
    mirror.configure(download={"retries": 0})
    mirror.fake.truncate(NAME)
    first = await mirror.sync()
    assert first.exit_code == 1
    assert NAME not in {p.split("/")[1] for p in mirror.published()}
    parts = list((mirror.root / ".mirrorsync" / "staging").rglob("*.part"))
    assert len(parts) == 1
    assert 0 < parts[0].stat().st_size < BIG
    mirror.fake.reset_hits()
    second = await mirror.sync()
    assert second.exit_code == 0
    assert_consistent(mirror)
    (get,) = mirror.fake.downloads(NAME)
    assert get.status == 206
    assert second.report.bytes_downloaded < BIG
    assert not list((mirror.root / ".mirrorsync" / "staging").rglob("*.part"))


async def test_server_ignoring_range_restarts_from_zero(mirror: Mirror) -> None:
    """When the server answers a Range request with 200, the download restarts cleanly."""
    release(mirror.fake)
    mirror.fake.ignore_range(NAME)
    mirror.fake.reset_mid_body(NAME)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)


async def test_stale_partial_file_is_discarded_after_a_mismatch(mirror: Mirror) -> None:
    """A staging file left from older upstream bytes is detected and the asset refetched whole."""
    release(mirror.fake)
    part = mirror.root / ".mirrorsync" / "staging" / TAG / (NAME + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1000)  # not a prefix of the real bytes
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)


async def test_wrong_bytes_are_never_published(mirror: Mirror) -> None:
    """A body whose sha256 differs from the digest never appears under its final name."""
    release(mirror.fake)
    mirror.fake.corrupt(NAME)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert not (mirror.root / PATH).exists()
    (failure,) = outcome.report.failed
    assert failure.path == PATH
    assert "sha256 mismatch" in failure.error
    assert "digest" in failure.error
    assert mirror.sleep.delays == []  # a mismatch is not retried
    assert not list((mirror.root / ".mirrorsync" / "staging").rglob("*.part"))
    assert_consistent(mirror)


async def test_failed_replacement_keeps_the_good_copy(mirror: Mirror) -> None:
    """When a changed asset's new download is corrupt, the old verified copy stays in place."""
    release(mirror.fake)
    await mirror.sync()
    old = (mirror.root / PATH).read_bytes()
    old_entry = mirror.indexed()[PATH]
    mirror.fake.set_content(TAG, NAME, b"rebuilt" * 1000)
    mirror.fake.corrupt(NAME)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert (mirror.root / PATH).read_bytes() == old
    assert mirror.indexed()[PATH] == old_entry
    sums = (mirror.root / TAG / "SHA256SUMS").read_text(encoding="utf-8")
    assert f"{hashlib.sha256(old).hexdigest()}  {NAME}\n" in sums


async def test_body_longer_than_announced_is_a_size_mismatch(
    fake_github: FakeGitHub, tmp_path: Path, no_sleep: NoSleep
) -> None:
    """A body longer than the listing's size is cut off, reported, and leaves no staging file."""
    fake_github.add_release(TAG, {NAME: b"x" * 100}, checksums="none")
    up = UpstreamAsset(name=NAME, size=50, link=fake_github.browser_download_url(TAG, NAME))
    asset = Asset(tag=TAG, parsed=parse_asset_name(NAME), upstream=up)
    staged = tmp_path / "staging" / "x.part"
    async with open_client(
        concurrency=1, stall_timeout=5, token=None, api_url=fake_github.api_url
    ) as http:
        with pytest.raises(SizeMismatch, match="expected 50 bytes"):
            await fetch_asset(http, asset, staged=staged, retry=RetryPolicy(sleep=no_sleep))
    assert not staged.exists()


@pytest.mark.timeout(30)
async def test_stalled_connection_times_out_and_is_retried(mirror: Mirror) -> None:
    """A connection that stops sending data hits the stall timeout and the retry succeeds."""
    release(mirror.fake)
    mirror.configure(download={"timeout": 0.3})
    mirror.fake.stall(NAME)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)


async def test_primary_rate_limit_waits_until_reset(mirror: Mirror) -> None:
    """A 403 with x-ratelimit-remaining 0 waits exactly until x-ratelimit-reset, then goes on."""
    release(mirror.fake)
    reset_at = int(mirror.clock() + 120)
    mirror.fake.rate_limit(status=403, reset_in=120)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert mirror.sleep.delays == [pytest.approx(reset_at - 1_765_000_000.0)]


async def test_429_with_retry_after_is_honoured(mirror: Mirror) -> None:
    """A 429 with retry-after waits that many seconds."""
    release(mirror.fake)
    mirror.fake.rate_limit(status=429, reset_in=None, retry_after=7)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert mirror.sleep.delays == [7.0]


async def test_expired_signed_url_restarts_from_the_download_url(mirror: Mirror) -> None:
    """A 403 from the storage host (expired signed URL) is retried through browser_download_url."""
    release(mirror.fake)
    mirror.fake.expire_redirect(NAME)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)
    redirects = [h for h in mirror.fake.hits if h.route == "download" and NAME in h.path]
    assert len(redirects) == 2


async def test_expired_signed_url_of_a_checksum_list_is_retried_alike(mirror: Mirror) -> None:
    """The listing's client reads an expired 403 as the download threads do: asked again at once
    from browser_download_url, and the checksum list still verifies the release."""
    mirror.fake.add_release(TAG, NAMES, sizes=dict.fromkeys(NAMES, BIG), checksums="sums")
    mirror.fake.expire_redirect("SHA256SUMS")
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert_consistent(mirror)
    redirects = [h for h in mirror.fake.hits if h.route == "download" and "SHA256SUMS" in h.path]
    assert len(redirects) == 2
    assert mirror.sleep.delays == [0.0]  # no backoff: a fresh redirect is all it takes


async def test_listing_failure_on_a_later_page_changes_nothing(mirror: Mirror) -> None:
    """A listing that keeps failing on page 3 raises UpstreamError and leaves the tree as it was."""
    for day in range(1, 40):
        mirror.fake.add_release(f"202501{day:02d}"[:8], [], checksums="none") if day < 32 else None
    release(mirror.fake)
    await mirror.sync()
    before = mirror.index()
    mirror.configure(
        download={"retries": 1},
        prune=True,
        prune_max="100%",
        upstream={"full_listing_hours": 0},  # ask for every page, so page 3 is reached
    )
    mirror.fake.fail_listing(502, 502, page=3)
    with pytest.raises(UpstreamError, match="502"):
        await mirror.sync()
    assert mirror.index() == before
    assert_consistent(mirror)
    assert mirror.status()["status"] == "failed"


async def test_transient_listing_failure_is_retried(mirror: Mirror) -> None:
    """A listing page answering 500 once is retried and the run succeeds."""
    release(mirror.fake)
    mirror.fake.fail_listing(500)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert len(mirror.sleep.delays) == 1


async def test_unreadable_sha256sums_never_lets_assets_through_unverified(mirror: Mirror) -> None:
    """If a release's SHA256SUMS cannot be read, its digest-less assets fail instead of passing."""
    mirror.fake.add_release(TAG, NAMES[:1], checksums="sums")
    mirror.fake.remove_asset(TAG, NAME + ".sha256")
    mirror.configure(download={"retries": 0})
    mirror.fake.fail("SHA256SUMS", 500)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [PATH]
    assert "SHA256SUMS" in outcome.report.failed[0].error
    assert not (mirror.root / PATH).exists()


async def test_adopts_files_a_killed_run_published_but_never_indexed(mirror: Mirror) -> None:
    """Files renamed into place before a crash (no index entry) are verified and adopted."""
    release(mirror.fake)
    for name in NAMES:
        target = mirror.root / TAG / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(mirror.fake.content(TAG, name))
    (mirror.root / TAG / NAMES[1]).write_bytes(b"\0" * BIG)  # same size, wrong bytes
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    assert {h.asset for h in mirror.fake.downloads()} == {NAMES[1]}
    assert_consistent(mirror)


async def test_unchanged_first_page_vouches_for_the_cached_rest(mirror: Mirror) -> None:
    """Within full_listing_hours, an unchanged first page (304) is the only listing request."""
    for day in range(1, 26):
        mirror.fake.add_release(f"202501{day:02d}", [], checksums="none")
    release(mirror.fake)
    await mirror.sync()
    mirror.fake.reset_hits()
    assert (await mirror.sync()).exit_code == 0
    assert [(h.route, h.status) for h in mirror.fake.hits] == [("listing", 304)]
    mirror.clock.advance(25 * 3600)  # past the default 24 hours: every page is checked again
    mirror.fake.reset_hits()
    assert (await mirror.sync()).exit_code == 0
    assert [h.status for h in mirror.fake.listing_hits()] == [304, 304, 304]


async def test_a_new_release_on_the_first_page_triggers_a_full_check(mirror: Mirror) -> None:
    """When the first page changed, every later page is asked for again (conditionally)."""
    for day in range(1, 26):
        mirror.fake.add_release(f"202501{day:02d}", [], checksums="none")
    await mirror.sync()
    release(mirror.fake)
    mirror.fake.reset_hits()
    assert (await mirror.sync()).exit_code == 0
    assert len(mirror.fake.listing_hits()) == 3
    assert mirror.published() == {f"{TAG}/{n}" for n in NAMES}
