"""Faults per source: an upstream mirror over HTTP and Astral's index and files.

Each case checks the invariants of the fault suite: nothing corrupt published (every file of a
release is upstream's exact bytes), nothing good lost, ``index.json`` and each ``SHA256SUMS``
consistent with what is on disk; a listing that fails changes nothing, and the run after the
fault completes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from eras import DIGEST, DIGEST_TAG, LINUX, SUMS, SUMS_TAG, three_eras
from fake_astral import FakeAstral
from mirror_harness import Mirror
from mirror_site import MirrorSite

COPY_ALL = {"releases": {"latest": None}, "select": {"prereleases": True}}
NEW_TAG = "20260101"
NEW = [
    "cpython-3.14.2+20260101-x86_64-unknown-linux-gnu-install_only.tar.gz",
    "cpython-3.14.2+20260101-aarch64-apple-darwin-install_only.tar.gz",
]

Upstream = Callable[[str], bytes | None]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` outside the state directory, by path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".mirrorsync" not in p.relative_to(root).parts
    }


def release_files(root: Path) -> dict[str, bytes]:
    """Every archive below ``root`` (no checksum lists, no pages), by path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.glob("[0-9]*/*")
        if p.is_file() and p.name not in ("index.html", "SHA256SUMS")
    }


def check_invariants(root: Path, upstream: Upstream, good: dict[str, bytes]) -> None:
    """Every archive is upstream's exact bytes; each good file is still there and indexed;
    ``index.json`` matches the disk and each ``SHA256SUMS`` says exactly what it implies."""
    files = release_files(root)
    for path, data in files.items():
        assert data == upstream(path), f"{path}: not upstream's bytes"
    for path, data in good.items():
        assert files.get(path) == data, f"{path}: good file lost"
    entries = {e["path"]: e for e in json.loads((root / "index.json").read_bytes())["files"]}
    assert set(entries) == set(files)
    by_tag: dict[str, list[tuple[str, str]]] = {}
    for path, entry in entries.items():
        assert entry["size"] == len(files[path]), path
        assert entry["sha256"] == hashlib.sha256(files[path]).hexdigest(), path
        tag, name = path.split("/", 1)
        by_tag.setdefault(tag, []).append((name, entry["sha256"]))
    for tag, rows in by_tag.items():
        want = "".join(f"{sha}  {name}\n" for name, sha in sorted(rows))
        assert (root / tag / "SHA256SUMS").read_text(encoding="utf-8") == want, tag
    assert {p.parent.name for p in root.glob("[0-9]*/SHA256SUMS")} == set(by_tag)


def write_config(mirror: Mirror, doc: dict[str, Any]) -> None:
    mirror.config_path.write_text(yaml.safe_dump({**doc, "target": {"path": "mirror"}}))


# -- an upstream mirror over HTTP --------------------------------------------------------------


@pytest.fixture
async def site(mirror: Mirror) -> AsyncIterator[MirrorSite]:
    """Mirror A (three eras and a prerelease, from the fake GitHub) served over HTTP."""
    three_eras(mirror.fake, with_prerelease=True)
    assert await mirror.run() == 0
    async with MirrorSite(mirror.root) as served:
        yield served


@pytest.fixture
def b(mirror: Mirror, site: MirrorSite, tmp_path: Path) -> Mirror:
    """Mirror B, copying everything mirror A holds over HTTP."""
    other = Mirror(base=tmp_path / "b", fake=mirror.fake, sleep=mirror.sleep, clock=mirror.clock)
    other.base.mkdir()
    write_config(
        other,
        {"upstream": {"source": "mirror", "url": site.url}, "download": {"retries": 2}} | COPY_ALL,
    )
    return other


def from_a(mirror: Mirror) -> Upstream:
    """What mirror A serves for a path."""
    return lambda path: (
        (mirror.root / path).read_bytes() if (mirror.root / path).is_file() else None
    )


async def a_gains_a_release(mirror: Mirror) -> None:
    mirror.fake.add_release(NEW_TAG, NEW)
    assert await mirror.run() == 0


async def test_mirror_index_5xx_storm_changes_nothing(
    mirror: Mirror, site: MirrorSite, b: Mirror
) -> None:
    """A 5xx storm on the upstream mirror's index.json is retried, then exit 1 with B's tree
    unchanged; the next run, the storm over, completes."""
    assert await b.run() == 0
    before = tree(b.root)
    await a_gains_a_release(mirror)
    site.storm("index.json", 503)
    assert await b.run() == 1
    assert site.count("index.json") > 1  # retried
    assert site.statuses["index.json"]  # the retries are bounded
    assert tree(b.root) == before
    check_invariants(b.root, from_a(mirror), release_files(b.root))
    site.clear_faults()
    assert await b.run() == 0
    assert release_files(b.root) == release_files(mirror.root)
    check_invariants(b.root, from_a(mirror), {})


@pytest.mark.parametrize("fault", ["truncate", "reset"])
async def test_mirror_index_cut_mid_body_changes_nothing(
    mirror: Mirror, site: MirrorSite, b: Mirror, fault: str
) -> None:
    """An index.json cut mid-body (connection closed or reset) fails the listing (exit 1) and
    changes nothing; the next run completes."""
    assert await b.run() == 0
    before = tree(b.root)
    await a_gains_a_release(mirror)
    site.cuts["index.json"] = [fault] * 50
    assert await b.run() == 1
    assert tree(b.root) == before
    check_invariants(b.root, from_a(mirror), release_files(b.root))
    site.clear_faults()
    assert await b.run() == 0
    assert release_files(b.root) == release_files(mirror.root)


async def test_mirror_file_5xx_storm_fails_that_file_alone(
    mirror: Mirror, site: MirrorSite, b: Mirror
) -> None:
    """A 5xx storm on one file fails that file (exit 1), a short burst on another is retried,
    every other file is published; the next run completes."""
    victim, bumpy = sorted(release_files(mirror.root))[:2]
    site.storm(victim, 503)
    site.statuses[bumpy] = [502, 500]
    outcome = await b.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [victim]
    held = release_files(b.root)
    assert set(held) == set(release_files(mirror.root)) - {victim}
    check_invariants(b.root, from_a(mirror), {})
    site.clear_faults()
    assert await b.run() == 0
    assert release_files(b.root) == release_files(mirror.root)
    check_invariants(b.root, from_a(mirror), held)


# -- Astral's index and files ------------------------------------------------------------------


@pytest.fixture
async def astral(mirror: Mirror) -> AsyncIterator[FakeAstral]:
    """A fake Astral holding the archives of two releases the fake GitHub also holds; the
    mirror reads it, with two retries a file."""
    mirror.fake.add_release(SUMS_TAG, SUMS, checksums="sums")
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    async with FakeAstral() as fake:
        fake.copy_from(mirror.fake, [SUMS_TAG, DIGEST_TAG])
        upstream = {"source": "astral", "index_url": fake.index_url}
        upstream["download_url"] = fake.download_url
        write_config(
            mirror,
            {"upstream": upstream, "releases": {"latest": None}, "download": {"retries": 2}},
        )
        yield fake


def from_github(mirror: Mirror) -> Upstream:
    """The fake GitHub's bytes for a path (Astral serves the same)."""

    def content(path: str) -> bytes | None:
        tag, _, name = path.partition("/")
        try:
            return mirror.fake.content(tag, name)
        except KeyError:
            return None

    return content


@pytest.mark.parametrize("fault", ["truncate", "reset"])
async def test_astral_index_cut_mid_line_keeps_the_cache(
    mirror: Mirror, astral: FakeAstral, fault: str
) -> None:
    """An index cut mid-line (connection closed or reset) fails the listing (exit 1): the cached
    index is not replaced and the tree is unchanged; the next run completes."""
    assert await mirror.run() == 0
    cache = mirror.root / ".mirrorsync" / "cache" / "astral"
    cached = {p.name: p.read_bytes() for p in cache.iterdir()}
    before = tree(mirror.root)
    mirror.fake.add_release(NEW_TAG, NEW)
    astral.copy_from(mirror.fake, [NEW_TAG])
    astral.index_cuts += [fault] * 20
    assert await mirror.run() == 1
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == cached
    assert tree(mirror.root) == before
    check_invariants(mirror.root, from_github(mirror), release_files(mirror.root))
    astral.index_cuts.clear()
    assert await mirror.run() == 0
    assert {p for p in release_files(mirror.root) if p.startswith(NEW_TAG)} == {
        f"{NEW_TAG}/{n}" for n in NEW
    }
    check_invariants(mirror.root, from_github(mirror), before_files(before))


def before_files(snapshot: dict[str, bytes]) -> dict[str, bytes]:
    """The archives of a ``tree`` snapshot."""
    return {
        p: d
        for p, d in snapshot.items()
        if p[0].isdigit()
        and p.count("/") == 1
        and p.rsplit("/", 1)[1] not in ("index.html", "SHA256SUMS")
    }


async def test_astral_files_5xx_storm_fails_that_file_alone(
    mirror: Mirror, astral: FakeAstral
) -> None:
    """A 5xx storm on one file at Astral's base fails that file (exit 1, no fallback: only a 404
    falls back), a short burst on another is retried; the next run completes."""
    astral.file_faults[LINUX] = [503] * 50
    astral.file_faults[SUMS[0]] = [500, 502]
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"{DIGEST_TAG}/{LINUX}"]
    assert mirror.fake.downloads() == []
    held = release_files(mirror.root)
    assert len(held) == len(SUMS) + len(DIGEST) - 1
    check_invariants(mirror.root, from_github(mirror), {})
    astral.file_faults.clear()
    assert await mirror.run() == 0
    check_invariants(mirror.root, from_github(mirror), held)
    assert len(release_files(mirror.root)) == len(SUMS) + len(DIGEST)
