"""uv on the stick (``bundle.uv``): uv's archives for the selected platforms below
``uv/<version>/``, verified against upstream's sha256, from each upstream source, pruned,
verified and repaired like any other file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tarfile
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from eras import DIGEST, DIGEST_TAG
from fake_astral import FakeAstral
from mirror_harness import Mirror
from mirror_site import MirrorSite
from uv_fixture import archive_name, build_uv_archive, publish_uv_release, uv_repo

from mirrorsync.cli import main
from mirrorsync.commands.verify import verify
from mirrorsync.core.manifest import parse_index
from mirrorsync.errors import UpstreamError
from mirrorsync.targets.local import LocalTree

LINUX = "x86_64-unknown-linux-gnu"
LINUX_ARCHIVE = f"uv-{LINUX}.tar.gz"
WINDOWS_ARCHIVE = "uv-x86_64-pc-windows-msvc.zip"
PLATFORMS = ["x86_64-*-linux-gnu", "x86_64-pc-windows-*"]
"""Python and uv archives alike: one Linux and one Windows triple."""


def uv_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root/uv`` but the pages, by path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in (root / "uv").rglob("*")
        if p.is_file() and p.name != "index.html"
    }


def setup_upstream(mirror: Mirror, *versions: str) -> None:
    """One python-build-standalone release and these uv releases on the fake GitHub."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    for version in versions:
        publish_uv_release(mirror.fake, version)


def configure(mirror: Mirror, uv: list[str], **settings: Any) -> None:
    mirror.configure(select={"platforms": PLATFORMS}, bundle={"uv": uv}, **settings)


def uv_downloads(mirror: Mirror) -> list[str]:
    return sorted(
        h.asset or "" for h in mirror.fake.downloads() if (h.asset or "").startswith("uv-")
    )


async def test_the_archives_of_the_selected_platforms_go_below_uv_version(mirror: Mirror) -> None:
    """Each uv version gets the archives of the triples select.platforms selects (never the
    sidecars, installers or source tarballs) and a sorted SHA256SUMS in sha256sum's format."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"])
    assert await mirror.run() == 0
    tree = uv_tree(mirror.root)
    assert sorted(tree) == [
        "uv/0.9.27/SHA256SUMS",
        f"uv/0.9.27/{WINDOWS_ARCHIVE}",
        f"uv/0.9.27/{LINUX_ARCHIVE}",
    ]
    upstream = uv_repo(mirror.fake)
    for name in (LINUX_ARCHIVE, WINDOWS_ARCHIVE):
        assert tree[f"uv/0.9.27/{name}"] == upstream.content("0.9.27", name)
    sums = tree["uv/0.9.27/SHA256SUMS"].decode()
    assert sums == "".join(
        f"{hashlib.sha256(tree[f'uv/0.9.27/{n}']).hexdigest()}  {n}\n"
        for n in sorted((LINUX_ARCHIVE, WINDOWS_ARCHIVE))
    )


async def test_an_idle_rerun_downloads_nothing_and_rewrites_nothing(mirror: Mirror) -> None:
    """A second run with nothing new upstream downloads no archive, asks uv's listing once
    (answered 304) and leaves index.json as is."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"])
    assert await mirror.run() == 0
    index = (mirror.root / "index.json").read_bytes()
    mirror.fake.reset_hits()
    assert await mirror.run() == 0
    assert mirror.fake.downloads() == []
    assert (mirror.root / "index.json").read_bytes() == index
    uv_pages = [h for h in mirror.fake.listing_hits() if "/astral-sh/uv/" in h.path]
    assert [h.status for h in uv_pages] == [304]  # one conditional request, unchanged


async def test_latest_is_the_newest_release_by_version_that_is_no_prerelease(
    mirror: Mirror,
) -> None:
    """``latest`` picks 0.10.0 over 0.9.30 (by version, not by text or listing order), never a
    prerelease; naming a version twice fetches it once."""
    setup_upstream(mirror, "0.10.0", "0.9.30")
    publish_uv_release(mirror.fake, "0.11.0", prerelease=True)
    configure(mirror, ["latest", "0.10.0"])
    assert await mirror.run() == 0
    assert sorted({p.split("/")[1] for p in uv_tree(mirror.root)}) == ["0.10.0"]


async def test_a_version_upstream_lacks_is_named_and_the_run_is_partial(
    mirror: Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """A bundle.uv version that upstream does not have: exit 1, named in the log; the rest is
    mirrored."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27", "0.1.0"])
    with caplog.at_level(logging.ERROR):
        assert await mirror.run() == 1
    assert "uv/0.1.0: not found upstream" in caplog.text
    assert f"uv/0.9.27/{LINUX_ARCHIVE}" in uv_tree(mirror.root)


async def test_an_archive_whose_sha256_differs_from_upstreams_is_refused(
    mirror: Mirror, caplog: pytest.LogCaptureFixture
) -> None:
    """A sidecar that does not match the archive: that archive is not published, the run exits 1
    naming it; the other archive of the version is mirrored and listed."""
    setup_upstream(mirror, "0.9.27")
    upstream = uv_repo(mirror.fake)
    upstream.set_content(
        "0.9.27", f"{LINUX_ARCHIVE}.sha256", f"{'0' * 64} *{LINUX_ARCHIVE}\n".encode()
    )
    configure(mirror, ["0.9.27"])
    with caplog.at_level(logging.ERROR):
        outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"uv/0.9.27/{LINUX_ARCHIVE}"]
    assert "sha256" in outcome.report.failed[0].error
    assert f"uv/0.9.27/{LINUX_ARCHIVE}: " in caplog.text
    assert not (mirror.root / "uv/0.9.27" / LINUX_ARCHIVE).exists()
    assert (mirror.root / "uv/0.9.27" / WINDOWS_ARCHIVE).exists()
    assert [e["path"] for e in mirror.index()["uv"]] == [f"uv/0.9.27/{WINDOWS_ARCHIVE}"]


async def test_an_archive_without_a_published_sha256_is_never_fetched(mirror: Mirror) -> None:
    """No digest and no sidecar: the archive is not downloaded and the failure says why."""
    setup_upstream(mirror, "0.9.27")
    uv_repo(mirror.fake).remove_asset("0.9.27", f"{LINUX_ARCHIVE}.sha256")
    configure(mirror, ["0.9.27"])
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    (failure,) = outcome.report.failed
    assert failure.path == f"uv/0.9.27/{LINUX_ARCHIVE}"
    assert f"no {LINUX_ARCHIVE}.sha256" in failure.error
    assert LINUX_ARCHIVE not in uv_downloads(mirror)


async def test_the_api_digest_verifies_without_reading_the_sidecars(mirror: Mirror) -> None:
    """With the API's digest on each asset, no sidecar is read and the archives are verified."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    publish_uv_release(mirror.fake, "0.9.27", digest=True)
    configure(mirror, ["0.9.27"])
    assert await mirror.run() == 0
    assert not [h for h in mirror.fake.hits if (h.asset or "").endswith(".sha256")]
    assert all(e["verified"] for e in mirror.index()["uv"])


async def test_dropping_a_version_from_bundle_uv_prunes_it(mirror: Mirror) -> None:
    """With prune on, a version no longer in bundle.uv goes with its SHA256SUMS and page."""
    setup_upstream(mirror, "0.9.26", "0.9.27")
    configure(mirror, ["0.9.26", "0.9.27"], prune=True, prune_max=10)
    assert await mirror.run() == 0
    configure(mirror, ["0.9.27"], prune=True, prune_max=10)
    assert await mirror.run() == 0
    assert not (mirror.root / "uv/0.9.26").exists() or not any(
        (mirror.root / "uv/0.9.26").iterdir()
    )
    assert {p.split("/")[1] for p in uv_tree(mirror.root)} == {"0.9.27"}
    assert {e["path"].split("/")[1] for e in mirror.index()["uv"]} == {"0.9.27"}


async def test_the_prune_guard_counts_uv_archives_like_any_file(mirror: Mirror) -> None:
    """Emptying bundle.uv would delete more files than prune_max allows: refused, nothing goes."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"], prune=True, prune_max=1)
    assert await mirror.run() == 0
    configure(mirror, [], prune=True, prune_max=1)
    assert await mirror.run() == 2
    assert len([p for p in uv_tree(mirror.root) if not p.endswith("SHA256SUMS")]) == 2


async def test_verify_finds_a_flipped_byte_and_repair_fetches_the_archive_again(
    mirror: Mirror,
) -> None:
    """verify --full names a uv archive with a flipped byte; a repair fetches it again."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"])
    assert await mirror.run() == 0
    target = mirror.root / "uv/0.9.27" / LINUX_ARCHIVE
    good = target.read_bytes()
    data = bytearray(good)
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    clean = await verify(LocalTree(mirror.root))
    assert clean.ok, clean.problems  # the fast check sees the right size
    report = await verify(LocalTree(mirror.root), full=True)
    assert [(p.path, p.kind) for p in report.problems] == [(f"uv/0.9.27/{LINUX_ARCHIVE}", "sha256")]
    code = await asyncio.to_thread(
        main, ["verify", "--full", "--repair", "-c", str(mirror.config_path)], environ={}
    )
    assert code == 0
    assert target.read_bytes() == good
    assert (await verify(LocalTree(mirror.root), full=True)).ok


async def test_verify_accounts_for_every_uv_file(mirror: Mirror) -> None:
    """A clean tree with uv verifies clean; a stray file in uv/<version>/ is unlisted and a
    SHA256SUMS of a version the index does not list is named."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"])
    assert await mirror.run() == 0
    assert (await verify(LocalTree(mirror.root), full=True)).ok
    (mirror.root / "uv/0.9.27/stray.tar.gz").write_bytes(b"x")
    (mirror.root / "uv/0.1.0").mkdir()
    (mirror.root / "uv/0.1.0/SHA256SUMS").write_bytes(b"")
    report = await verify(LocalTree(mirror.root))
    assert sorted((p.path, p.kind) for p in report.problems) == [
        ("uv/0.1.0/SHA256SUMS", "sums"),
        ("uv/0.9.27/stray.tar.gz", "unlisted"),
    ]


async def test_plan_lists_the_uv_archives_and_counts_them_in_the_space(mirror: Mirror) -> None:
    """plan lists the uv archives to fetch and counts their bytes in the space it needs."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"])
    planned = await mirror.sync(dry_run=True)
    uv_paths = [a.path for a in planned.plan.fetch if a.kind == "uv"]
    assert uv_paths == [f"uv/0.9.27/{WINDOWS_ARCHIVE}", f"uv/0.9.27/{LINUX_ARCHIVE}"]
    upstream = uv_repo(mirror.fake)
    uv_bytes = sum(len(upstream.content("0.9.27", p.rsplit("/", 1)[1])) for p in uv_paths)
    python_bytes = sum(a.size or 0 for a in planned.plan.fetch if a.kind == "python")
    assert planned.plan.space is not None
    assert planned.plan.space.needed_bytes == python_bytes + uv_bytes
    assert not (mirror.root / "uv").exists()


async def test_index_uv_list_and_pages_keep_uv_apart_from_the_pythons(mirror: Mirror) -> None:
    """index.json lists uv archives under ``uv`` only (``files`` stays Pythons, for old
    readers); uv's download list never offers uv as a Python; the root page has a uv section
    and each version a page."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"])
    assert await mirror.run() == 0
    index = mirror.index()
    assert all(not f["path"].startswith("uv/") for f in index["files"])
    assert index["files"]
    entry = next(e for e in index["uv"] if e["path"].endswith(LINUX_ARCHIVE))
    assert entry["kind"] == "uv"
    assert entry["version"] == "0.9.27"
    assert entry["platform"] == LINUX
    assert entry["sha256"] == mirror.sha256(entry["path"])
    parsed = parse_index((mirror.root / "index.json").read_bytes())
    assert parsed[entry["path"]].kind == "uv"
    metadata = json.loads((mirror.root / "download-metadata.json").read_bytes())
    assert metadata
    assert not [k for k, v in metadata.items() if "/uv/" in v["url"] or "uv-" in k]
    root_page = (mirror.root / "index.html").read_text()
    assert "<h2>uv</h2>" in root_page
    assert 'href="uv/0.9.27/"' in root_page
    page = (mirror.root / "uv/0.9.27/index.html").read_text()
    assert LINUX_ARCHIVE in page
    assert "uv 0.9.27" in page


async def test_without_bundle_uv_nothing_of_uv_is_listed_or_asked(mirror: Mirror) -> None:
    """No bundle.uv: uv's repository is never asked and index.json has no uv list."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, [])
    assert await mirror.run() == 0
    assert "uv" not in mirror.index()
    assert not [h for h in mirror.fake.hits if "astral-sh/uv" in h.path]


async def test_each_source_gives_the_same_uv_tree(mirror: Mirror, tmp_path: Path) -> None:
    """The same bundle.uv from GitHub, from Astral's uv.ndjson (downloads from the uv
    counterpart of the download base) and from a mirror of the first gives the same tree."""
    setup_upstream(mirror, "0.9.26", "0.9.27")
    configure(mirror, ["0.9.26", "latest"])
    assert await mirror.run() == 0
    expected = uv_tree(mirror.root)
    assert {p.split("/")[1] for p in expected} == {"0.9.26", "0.9.27"}

    async def synced(name: str, upstream: dict[str, Any]) -> dict[str, bytes]:
        other = Mirror(
            base=tmp_path / f"from-{name}", fake=mirror.fake, sleep=mirror.sleep, clock=mirror.clock
        )
        other.base.mkdir()
        doc = {
            "upstream": upstream,
            "releases": {"latest": None},
            "target": {"path": "mirror"},
            "select": {"platforms": PLATFORMS},
            "bundle": {"uv": ["0.9.26", "latest"]},
        }
        other.config_path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        outcome = await other.sync()
        assert outcome.exit_code == 0, outcome.report.failed
        assert (await verify(LocalTree(other.root), full=True)).ok
        return uv_tree(other.root)

    async with FakeAstral() as astral, MirrorSite(mirror.root) as site:
        astral.copy_from(mirror.fake, [DIGEST_TAG])
        astral.copy_uv_from(uv_repo(mirror.fake), ["0.9.26", "0.9.27"])
        from_astral = await synced(
            "astral",
            {
                "source": "astral",
                "index_url": astral.index_url,
                "download_url": astral.github_layout_url,
            },
        )
        assert any(h.path.startswith("/github/uv/releases/download/") for h in astral.hits)
        assert [h.path for h in astral.hits if h.path == "/uv.ndjson"] == ["/uv.ndjson"]
        from_mirror = await synced("mirror", {"source": "mirror", "url": site.url})
        from_local = await synced("local", {"source": "mirror", "url": str(mirror.root)})
    assert from_astral == expected
    assert from_mirror == expected
    assert from_local == expected


async def test_astral_refuses_an_archive_whose_listed_sha256_is_wrong(mirror: Mirror) -> None:
    """Astral's uv index stating another sha256 than the archive's: not published, exit 1."""
    setup_upstream(mirror, "0.9.27")
    async with FakeAstral() as astral:
        astral.copy_from(mirror.fake, [DIGEST_TAG])
        astral.copy_uv_from(uv_repo(mirror.fake), ["0.9.27"])
        astral.uv_sha256["0.9.27", LINUX_ARCHIVE] = "1" * 64
        mirror.configure(
            upstream={
                "source": "astral",
                "index_url": astral.index_url,
                "download_url": astral.github_layout_url,
            },
            select={"platforms": PLATFORMS},
            bundle={"uv": ["0.9.27"]},
        )
        del mirror.settings["upstream"]["api_url"]
        mirror.config_path.write_text(yaml.safe_dump(mirror.settings), encoding="utf-8")
        outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"uv/0.9.27/{LINUX_ARCHIVE}"]
    assert not (mirror.root / "uv/0.9.27" / LINUX_ARCHIVE).exists()


def test_the_uv_fixture_lays_archives_out_like_the_official_ones(tmp_path: Path) -> None:
    """A tar.gz holds uv-<triple>/uv and uvx, executable; a Windows zip holds uv.exe at its top;
    the same input gives the same bytes."""
    binary = tmp_path / "uv"
    binary.write_bytes(b"\x7fELF fake uv")
    data = build_uv_archive(LINUX, binary)
    assert data == build_uv_archive(LINUX, b"\x7fELF fake uv")
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {f"uv-{LINUX}", f"uv-{LINUX}/uv", f"uv-{LINUX}/uvx"}
        assert members[f"uv-{LINUX}/uv"].mode == 0o755
        extracted = tar.extractfile(f"uv-{LINUX}/uv")
        assert extracted is not None
        assert extracted.read() == b"\x7fELF fake uv"
    with zipfile.ZipFile(BytesIO(build_uv_archive("x86_64-pc-windows-msvc", b"MZ"))) as z:
        assert {"uv.exe", "uvx.exe"} <= set(z.namelist())
        assert z.read("uv.exe") == b"MZ"
    assert archive_name("aarch64-pc-windows-msvc") == "uv-aarch64-pc-windows-msvc.zip"


async def test_flat_copies_are_made_of_the_pythons_only(mirror: Mirror) -> None:
    """publish.flat: copy gives pbs-installer's flat/ the Pythons only, and the space check
    counts copies of those alone."""
    setup_upstream(mirror, "0.9.27")
    configure(mirror, ["0.9.27"], publish={"flat": "copy"})
    planned = await mirror.sync(dry_run=True)
    python_bytes = sum(a.size or 0 for a in planned.plan.fetch if a.kind == "python")
    uv_bytes = sum(a.size or 0 for a in planned.plan.fetch if a.kind == "uv")
    assert uv_bytes
    assert planned.plan.space is not None
    assert planned.plan.space.needed_bytes == 2 * python_bytes + uv_bytes
    assert await mirror.run() == 0
    flat = sorted(p.name for p in (mirror.root / "flat").iterdir())
    assert flat
    assert not [n for n in flat if n.startswith("uv-")]


async def test_uv_releases_are_listed_across_pages_with_the_token_at_the_api_only(
    mirror: Mirror,
) -> None:
    """uv's listing follows rel="next" (latest on the last page), sends the token to the API
    and never past the redirect to the CDN (the fixture fails the test otherwise)."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    for patch in range(1, 6):
        publish_uv_release(mirror.fake, f"0.8.{patch}", [LINUX])
    uv_repo(mirror.fake).max_per_page = 2
    mirror.token = "t0ken"
    configure(mirror, ["latest", "0.8.1"])
    assert await mirror.run() == 0
    assert sorted({p.split("/")[1] for p in uv_tree(mirror.root)}) == ["0.8.1", "0.8.5"]
    pages = [h for h in mirror.fake.listing_hits() if h.query.get("per_page") == "100"]
    assert len(pages) == 3
    assert all(h.headers.get("Authorization") == "Bearer t0ken" for h in pages)
    cdn = [h for h in mirror.fake.hits if h.route == "cdn" and (h.asset or "").startswith("uv-")]
    assert cdn


async def test_a_uv_repository_the_api_lacks_is_named(mirror: Mirror) -> None:
    """upstream.uv_repo that the API answers 404 for: the run fails (exit 1) naming bundle.uv
    and pointing at upstream.uv_repo; nothing of uv is written."""
    setup_upstream(mirror)
    configure(mirror, ["latest"], upstream={"uv_repo": "nobody/nothing"})
    with pytest.raises(UpstreamError) as info:
        await mirror.sync()
    assert info.value.exit_code == 1
    assert "bundle.uv: uv's releases (github:nobody/nothing)" in str(info.value)
    assert "upstream.uv_repo" in str(info.value)
    assert not (mirror.root / "uv").exists()


async def test_a_mirror_upstream_without_uv_lacks_the_versions(
    mirror: Mirror, tmp_path: Path
) -> None:
    """source: mirror over a mirror that carries no uv: each bundle.uv version is missing
    (exit 1), the Pythons are mirrored."""
    setup_upstream(mirror)
    mirror.configure(select={"platforms": PLATFORMS})
    assert await mirror.run() == 0
    other = Mirror(base=tmp_path / "b", fake=mirror.fake, sleep=mirror.sleep, clock=mirror.clock)
    other.base.mkdir()
    doc = {
        "upstream": {"source": "mirror", "url": str(mirror.root)},
        "releases": {"latest": None},
        "target": {"path": "mirror"},
        "bundle": {"uv": ["0.9.27"]},
    }
    other.config_path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    outcome = await other.sync()
    assert outcome.exit_code == 1
    assert outcome.plan.missing_tags == ("uv/0.9.27",)
    assert other.index()["files"]
