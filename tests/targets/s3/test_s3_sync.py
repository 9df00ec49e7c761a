"""``sync`` into a bucket on real S3 servers: the tree, the manifest and the guarantees."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from mirror_harness import Mirror
from s3_harness import PREFIX, S3Mirror, sha256

from mirrorsync.core.capacity import space_line

TAG = "20251217"
NAMES = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst",
]
ASSETS = {f"{TAG}/{n}" for n in NAMES}
NEXT_TAG = "20260110"
NEXT = ["cpython-3.14.2+20260110-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"]
CLIENT_FILES = {
    "index.json",
    "index.html",
    "download-metadata.json",
    "use-mirror.sh",
    "use-mirror.ps1",
    "README.txt",
}
LOCAL_ONLY = {"github/python-build-standalone/releases/download"}
"""The Astral-layout link exists on disks only: S3 has no symlinks (docs/clients.md §5)."""


def local_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and ".mirrorsync" not in p.parts
    }


def without_times(index: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in index.items() if k != "updated_at"}


async def test_bucket_holds_the_same_tree_as_a_local_mirror(
    s3_mirror: S3Mirror, tmp_path: Path, no_sleep: Any, fake_clock: Any
) -> None:
    """A bucket sync and a directory sync of the same upstream give the same files and bytes."""
    s3_mirror.fake.add_release(TAG, NAMES)
    assert (await s3_mirror.sync()).exit_code == 0
    local = Mirror(base=tmp_path / "local", fake=s3_mirror.fake, sleep=no_sleep, clock=fake_clock)
    local.base.mkdir()
    assert (await local.sync()).exit_code == 0
    files = await s3_mirror.bucket.files()
    assert files == local_files(local.root) - LOCAL_ONLY
    assert ASSETS | {f"{TAG}/SHA256SUMS", f"{TAG}/index.html"} | CLIENT_FILES <= files
    for path in sorted(files - {"index.html"}):
        got = await s3_mirror.bucket.get(path)
        want = (local.root / path).read_bytes()
        if path == "index.json":
            assert without_times(json.loads(got)) == without_times(json.loads(want))
        else:
            assert got == want, path


async def test_link_layouts_are_declined_by_a_bucket(s3_mirror: S3Mirror) -> None:
    """With publish.flat and the Astral layout on, a bucket gets no link objects, and its root
    page offers no flat view (it says how to get one) instead of a base URL that would 404."""
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure(publish={"flat": True, "astral_layout": True})
    assert (await s3_mirror.sync()).exit_code == 0
    files = await s3_mirror.bucket.files()
    assert not {f for f in files if f.startswith(("flat/", "github/"))}
    page = (await s3_mirror.bucket.get("index.html")).decode()
    assert "PBS_INSTALLER_BASE_URL" not in page
    assert "publish.flat" in page


async def test_keys_keep_the_literal_plus_and_travel_as_2b(s3_mirror: S3Mirror) -> None:
    """Keys are PREFIX/<tag>/<name> with '+'; on the wire botocore writes each '+' as %2B."""
    s3_mirror.fake.add_release(TAG, NAMES)
    await s3_mirror.sync()
    keys = await s3_mirror.bucket.keys(f"{PREFIX}/{TAG}/")
    assert {f"{PREFIX}/{a}" for a in ASSETS} <= keys
    uploads = [h.path for h in s3_mirror.proxy.puts() if ".tar." in h.path]
    assert len(uploads) == len(NAMES)
    assert all("%2B" in p and "+" not in p for p in uploads)
    assert (
        f"/{s3_mirror.bucket.name}/{PREFIX}/{TAG}/cpython-3.13.11%2B20251217-x86_64-unknown-linux-gnu-pgo%2Blto-full.tar.zst"
        in uploads
    )


KINDS = [
    # (path, Content-Type, Cache-Control): archives are immutable, everything else revalidates
    (f"{TAG}/{NAMES[0]}", "application/gzip", "public, max-age=31536000, immutable"),
    (f"{TAG}/{NAMES[2]}", "application/zstd", "public, max-age=31536000, immutable"),
    (f"{TAG}/SHA256SUMS", "text/plain; charset=utf-8", "no-cache"),
    ("index.json", "application/json", "no-cache"),
    ("download-metadata.json", "application/json", "no-cache"),
    ("index.html", "text/html; charset=utf-8", "no-cache"),
    (f"{TAG}/index.html", "text/html; charset=utf-8", "no-cache"),
    ("README.txt", "text/plain; charset=utf-8", "no-cache"),
    ("use-mirror.sh", "text/plain; charset=utf-8", "no-cache"),
]


async def test_objects_carry_type_cache_control_and_sha256(s3_mirror: S3Mirror) -> None:
    """Each object has its kind's Content-Type and Cache-Control, its sha256, no encoding."""
    s3_mirror.fake.add_release(TAG, NAMES)
    await s3_mirror.sync()
    for path, content_type, cache in KINDS:
        head = await s3_mirror.bucket.head(path)
        data = await s3_mirror.bucket.get(path)
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache), path
        assert head["Metadata"]["sha256"] == sha256(data), path
        assert "ContentEncoding" not in head, path


async def test_cache_control_can_be_overridden(s3_mirror: S3Mirror) -> None:
    """target.cache_control replaces the Cache-Control of archives and of indexes."""
    s3_mirror.fake.add_release(TAG, NAMES[:1])
    overrides = {"archives": "public, max-age=600", "indexes": "max-age=0, must-revalidate"}
    s3_mirror.configure(target={"cache_control": overrides})
    await s3_mirror.sync()
    assert (await s3_mirror.bucket.head(f"{TAG}/{NAMES[0]}"))["CacheControl"] == overrides[
        "archives"
    ]
    assert (await s3_mirror.bucket.head("index.json"))["CacheControl"] == overrides["indexes"]


@pytest.mark.parametrize(
    ("mode", "header"),
    [("sha256", "x-amz-checksum-sha256"), ("md5", "content-md5"), ("none", None)],
)
async def test_checksum_headers_follow_target_checksum(
    seaweed_mirror: S3Mirror, mode: str, header: str | None
) -> None:
    """Uploads carry exactly the checksum target.checksum names, never botocore's own CRC, and
    the server that checks them accepts them."""
    s3_mirror = seaweed_mirror
    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure(target={"checksum": mode})
    assert (await s3_mirror.sync()).exit_code == 0
    puts = s3_mirror.proxy.puts()
    assert puts
    checksum_headers = {"x-amz-checksum-sha256", "content-md5"}
    for hit in puts:
        sent = {h for h in hit.headers if h.startswith("x-amz-checksum-") or h == "content-md5"}
        if hit.path.endswith("/.mirrorsync/lock"):
            assert not sent & checksum_headers - {"content-md5"}
            continue
        assert sent == ({header} if header else set()), hit.path
        assert "x-amz-sdk-checksum-algorithm" not in hit.headers
    assert (
        await s3_mirror.bucket.get(f"{TAG}/{NAMES[0]}")
        == s3_mirror.fake.release(TAG).assets[NAMES[0]].data
    )


async def test_publishing_order_is_archives_sums_index_then_client_files(
    s3_mirror: S3Mirror,
) -> None:
    """Archives go first, then the release's SHA256SUMS, then index.json, then client files."""
    s3_mirror.fake.add_release(TAG, NAMES)
    await s3_mirror.sync()
    order = [h.path.split(f"/{PREFIX}/", 1)[1] for h in s3_mirror.proxy.puts()]
    order = [p for p in order if not p.startswith(".mirrorsync/")]
    archives = [i for i, p in enumerate(order) if ".tar." in p]
    sums = order.index(f"{TAG}/SHA256SUMS")
    index = order.index("index.json")
    rest = [order.index(p) for p in ("index.html", f"{TAG}/index.html", "download-metadata.json")]
    assert max(archives) < sums < index < min(rest)


async def test_noop_resync_reads_the_index_and_uploads_nothing(s3_mirror: S3Mirror) -> None:
    """A planned run with nothing new (here: no idle proof to take) costs the lock, one listing
    of stale uploads and one GET of index.json: no other listing, no HEAD, no upload (even as
    time moves on)."""
    s3_mirror.fake.add_release(TAG, NAMES)
    assert (await s3_mirror.sync()).exit_code == 0
    (s3_mirror.state_dir / "idle.json").unlink()
    s3_mirror.proxy.clear()
    s3_mirror.clock.advance(3600)
    outcome = await s3_mirror.sync()
    assert outcome.exit_code == 0
    assert outcome.report.kept == len(NAMES)
    assert s3_mirror.proxy.requests() == s3_mirror.quiet_run("GET")


async def test_new_release_uploads_only_what_changed(s3_mirror: S3Mirror) -> None:
    """A new release uploads its archives and the indexes that change; old archives stay put."""
    s3_mirror.fake.add_release(TAG, NAMES)
    await s3_mirror.sync()
    s3_mirror.fake.add_release(NEXT_TAG, NEXT)
    s3_mirror.proxy.clear()
    assert (await s3_mirror.sync()).exit_code == 0
    uploaded = {h.path.split(f"/{PREFIX}/", 1)[1] for h in s3_mirror.proxy.puts()}
    uploaded.discard(".mirrorsync/lock")
    assert uploaded == {
        "20260110/cpython-3.14.2%2B20260110-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
        f"{NEXT_TAG}/SHA256SUMS",
        f"{NEXT_TAG}/index.html",
        "index.json",
        "index.html",
        "download-metadata.json",
    }
    assert not [h for h in s3_mirror.proxy.hits if h.method == "HEAD"]


async def test_a_lost_state_directory_costs_one_listing_and_no_reupload(
    s3_mirror: S3Mirror,
) -> None:
    """Without the local state, a run relearns the small files with one listing and uploads
    nothing that is already right."""
    s3_mirror.fake.add_release(TAG, NAMES)
    await s3_mirror.sync()
    shutil.rmtree(s3_mirror.state_dir)
    s3_mirror.proxy.clear()
    assert (await s3_mirror.sync()).exit_code == 0
    uploaded = [h.path for h in s3_mirror.proxy.puts() if not h.path.endswith("/lock")]
    assert uploaded == []
    listings = [h for h in s3_mirror.proxy.hits if "list-type=2" in h.query]
    assert len(listings) == 1


async def test_plan_reads_the_bucket_and_changes_nothing(s3_mirror: S3Mirror) -> None:
    """A plan of a bucket mirror reads index.json, takes no lock and writes nothing."""
    s3_mirror.fake.add_release(TAG, NAMES)
    await s3_mirror.sync()
    s3_mirror.fake.add_release(NEXT_TAG, NEXT)
    s3_mirror.proxy.clear()
    outcome = await s3_mirror.sync(dry_run=True)
    assert [a.path for a in outcome.plan.fetch] == [f"{NEXT_TAG}/{NEXT[0]}"]
    assert s3_mirror.proxy.requests() == [("GET", f"/{s3_mirror.bucket.name}/{PREFIX}/index.json")]
    space = outcome.plan.space  # a bucket cannot tell its free space: said, never guessed
    assert space is not None
    assert (space.free_bytes, space.fits) == (None, None)
    assert space_line(space).endswith("cannot tell its free space")


async def test_a_bucket_without_prefix_is_the_mirror_root(s3_mirror: S3Mirror) -> None:
    """s3://BUCKET alone puts the tree at the bucket's root."""
    s3_mirror.fake.add_release(TAG, NAMES[:1])
    s3_mirror.configure(target={"url": f"s3://{s3_mirror.bucket.name}"})
    assert (await s3_mirror.sync()).exit_code == 0
    keys = await s3_mirror.bucket.keys()
    assert {f"{TAG}/{NAMES[0]}", "index.json", ".mirrorsync/lock"} & keys == {
        f"{TAG}/{NAMES[0]}",
        "index.json",
    }


async def test_sync_json_through_the_cli(
    s3_mirror: S3Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sync --json` with a bucket target prints the document of docs/interface.md §7, exit 0."""
    from mirrorsync.cli import main  # noqa: PLC0415 - the CLI configures logging on import use

    s3_mirror.fake.add_release(TAG, NAMES)
    s3_mirror.configure()
    argv = ["sync", "--json", "-q", "-c", str(s3_mirror.config_path)]
    assert await asyncio.to_thread(main, argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "success"
    assert doc["fetched"] == len(NAMES)
    assert yaml.safe_load(s3_mirror.config_path.read_text())["target"]["url"].startswith("s3://")
