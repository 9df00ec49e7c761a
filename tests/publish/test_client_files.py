"""Client files beside the tree: uv metadata, layouts for other clients, offline scripts."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from eras import DIGEST, DIGEST_TAG, SUMS, SUMS_TAG
from mirror_harness import Mirror

ASTRAL = Path("github", "python-build-standalone", "releases", "download")


async def test_default_publishes_metadata_pages_scripts_and_astral_link(mirror: Mirror) -> None:
    """A default sync writes download-metadata.json, pages, offline scripts and the Astral link."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    await mirror.sync()
    root = mirror.root
    for name in ("download-metadata.json", "index.html", "use-mirror.sh", "use-mirror.ps1"):
        assert (root / name).is_file(), name
    assert (root / DIGEST_TAG / "index.html").is_file()
    assert not (root / "download-metadata.mirror.json").exists()  # no base_url configured
    assert os.access(root / "use-mirror.sh", os.X_OK)
    link = root / ASTRAL
    assert link.is_symlink()
    assert str(link.readlink()) == "../../.."
    assert (link / DIGEST_TAG / DIGEST[0]).read_bytes() == mirror.fake.content(
        DIGEST_TAG, DIGEST[0]
    )
    assert not (root / "flat").exists()  # opt-in


async def test_download_metadata_uses_canonical_urls_and_real_hashes(mirror: Mirror) -> None:
    """download-metadata.json points at GitHub URLs with %2B and carries the mirrored sha256."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    await mirror.sync()
    meta = json.loads((mirror.root / "download-metadata.json").read_bytes())
    assert meta, "uv can install some of these"
    sha_by_name = {e["path"].split("/")[1]: e["sha256"] for e in mirror.index()["files"]}
    for entry in meta.values():
        url = entry["url"]
        assert url.startswith(
            "https://github.com/astral-sh/python-build-standalone/releases/download/20251217/"
        )
        assert "%2B" in url
        assert "+" not in url
        name = url.rsplit("/", 1)[1].replace("%2B", "+")
        assert entry["sha256"] == sha_by_name[name]


async def test_base_url_adds_a_mirror_metadata_file(mirror: Mirror) -> None:
    """With publish.base_url, download-metadata.mirror.json lists absolute mirror URLs."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure(publish={"base_url": "https://mirror.example.org/pbs/"})
    await mirror.sync()
    meta = json.loads((mirror.root / "download-metadata.mirror.json").read_bytes())
    urls = [e["url"] for e in meta.values()]
    assert urls
    assert all(u.startswith("https://mirror.example.org/pbs/20251217/") for u in urls)
    page = (mirror.root / "index.html").read_text(encoding="utf-8")
    assert "https://mirror.example.org/pbs" in page


async def test_flat_view_links_every_archive_and_follows_changes(mirror: Mirror) -> None:
    """publish.flat hard-links each archive into flat/; removed files leave it; off removes it."""
    mirror.fake.add_release(SUMS_TAG, SUMS, checksums="sums")
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure(publish={"flat": True})
    await mirror.sync()
    flat = mirror.root / "flat"
    assert {p.name for p in flat.iterdir()} == set(SUMS) | set(DIGEST)
    for name in DIGEST:
        assert (flat / name).samefile(mirror.root / DIGEST_TAG / name)
    # an upstream change replaces the file: the flat link must follow the new bytes
    mirror.fake.set_content(DIGEST_TAG, DIGEST[0], b"rebuilt" * 50)
    mirror.configure(
        publish={"flat": True},
        releases={"tags": [DIGEST_TAG]},
        prune=True,
        prune_max="100%",
    )
    await mirror.sync()
    assert {p.name for p in flat.iterdir()} == set(DIGEST)
    assert (flat / DIGEST[0]).read_bytes() == b"rebuilt" * 50
    mirror.configure(releases={"tags": [DIGEST_TAG]})
    await mirror.sync()
    assert not flat.exists()


async def test_features_turned_off_remove_their_files(mirror: Mirror) -> None:
    """Disabling html, metadata, scripts and the Astral layout removes what they had written."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    await mirror.sync()
    mirror.configure(
        publish={
            "html": False,
            "download_metadata": False,
            "offline_scripts": False,
            "astral_layout": False,
        }
    )
    await mirror.sync()
    root = mirror.root
    for name in ("download-metadata.json", "use-mirror.sh", "use-mirror.ps1", "README.txt"):
        assert not (root / name).exists(), name
    assert not (root / "github").exists()
    assert not (root / "index.html").exists()
    assert not (root / DIGEST_TAG / "index.html").exists()
    assert (root / "index.json").is_file()
    assert (root / DIGEST_TAG / "SHA256SUMS").is_file()


async def test_no_op_run_rewrites_no_file_at_all(mirror: Mirror) -> None:
    """A run with nothing new leaves indexes, metadata, scripts and every page untouched."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    await mirror.sync()
    names = ["download-metadata.json", "use-mirror.sh", "README.txt", f"{DIGEST_TAG}/index.html"]
    names += ["index.html", "index.json", f"{DIGEST_TAG}/SHA256SUMS"]

    def identity(name: str) -> tuple[int, int]:
        st = (mirror.root / name).stat()
        return st.st_ino, st.st_mtime_ns  # an atomic rewrite is a new inode

    before = {n: identity(n) for n in names}
    mirror.clock.advance(3600)
    await mirror.sync()
    assert {n: identity(n) for n in names} == before


async def test_use_mirror_sh_prints_file_urls_of_its_own_location(
    mirror: Mirror, tmp_path: Path
) -> None:
    """use-mirror.sh, run from a copy, exports file:// URLs of the copy (spaces encoded)."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:1])
    await mirror.sync()
    copy = tmp_path / "usb stick" / "pbs"
    copy.parent.mkdir()
    proc = await asyncio.create_subprocess_exec("cp", "-a", str(mirror.root), str(copy))
    assert await proc.wait() == 0
    proc = await asyncio.create_subprocess_exec(
        "sh", str(copy / "use-mirror.sh"), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    encoded = str(copy.resolve()).replace(" ", "%20")
    assert out.decode().splitlines() == [
        f"export UV_PYTHON_INSTALL_MIRROR='file://{encoded}'",
        f"export UV_PYTHON_DOWNLOADS_JSON_URL='file://{encoded}/download-metadata.json'",
    ]


async def test_root_page_follows_the_outcome(mirror: Mirror) -> None:
    """A failed run shows on the root page, and the next successful run shows success again."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    await mirror.sync()
    mirror.fake.set_content(DIGEST_TAG, DIGEST[0], b"rebuilt" * 40)
    mirror.fake.corrupt(DIGEST[0])
    assert (await mirror.sync()).exit_code == 1
    page = (mirror.root / "index.html").read_text(encoding="utf-8")
    assert 'id="last-sync" class="status status-partial"' in page
    assert (await mirror.sync()).exit_code == 0
    page = (mirror.root / "index.html").read_text(encoding="utf-8")
    assert 'id="last-sync" class="status status-success"' in page


async def test_deleted_client_file_is_restored_by_an_idle_run(mirror: Mirror) -> None:
    """A client file deleted by hand comes back on the next run even when nothing changed."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    await mirror.sync()
    (mirror.root / "download-metadata.json").unlink()
    await mirror.sync()
    assert (mirror.root / "download-metadata.json").is_file()
