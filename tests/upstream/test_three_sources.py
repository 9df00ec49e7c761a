"""One selection, three sources: ``github``, ``astral`` and ``mirror`` holding the same releases
plan the same paths and give byte-identical archives and ``SHA256SUMS``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from eras import DIGEST, DIGEST_TAG, PRERELEASE, SUMS, SUMS_TAG
from fake_astral import FakeAstral
from mirror_harness import Mirror
from mirror_site import MirrorSite

NEW_TAG = "20260101"
NEW = [
    "cpython-3.14.2+20260101-x86_64-unknown-linux-gnu-install_only.tar.gz",
    "cpython-3.14.2+20260101-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.12+20260101-aarch64-apple-darwin-install_only_stripped.tar.gz",
]
TAGS = [SUMS_TAG, DIGEST_TAG, NEW_TAG]

SELECTIONS: list[dict[str, Any]] = [
    {},
    {"releases": {"latest": None}},
    {"releases": {"latest": 2}, "select": {"platforms": ["x86_64-unknown-linux-gnu"]}},
    {"releases": {"latest": None}, "select": {"flavors": ["install_only_stripped"]}},
    {"releases": {"tags": [DIGEST_TAG]}, "select": {"prereleases": True}},
    {"releases": {"since": "2025-01-01"}, "select": {"python": ["3.13"]}},
    {"releases": {"latest": None}, "select": {"prereleases": True}},
]
IDS = [
    "default",
    "all",
    "latest-2-linux",
    "stripped",
    "one-tag-prereleases",
    "since-3.13",
    "copy-all",
]


def release_files(root: Path) -> dict[str, bytes]:
    """Every archive and SHA256SUMS below ``root``, by path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.glob("[0-9]*/*")
        if p.is_file() and p.name != "index.html"
    }


async def planned_and_synced(
    mirror: Mirror, upstream: dict[str, Any], selection: dict[str, Any]
) -> tuple[list[str], dict[str, bytes]]:
    """The paths a dry run plans to fetch, and the release files a real run then publishes."""
    doc = {"upstream": upstream, "target": {"path": "mirror"}, **selection}
    mirror.config_path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    planned = await mirror.sync(dry_run=True)
    outcome = await mirror.sync()
    assert outcome.exit_code == 0, outcome.report.failed
    return sorted(a.path for a in planned.plan.fetch), release_files(mirror.root)


@pytest.mark.parametrize("selection", SELECTIONS, ids=IDS)
async def test_same_selection_same_mirror_from_every_source(
    mirror: Mirror, tmp_path: Path, selection: dict[str, Any]
) -> None:
    """The same selection against the fake GitHub, a fake Astral holding the same releases and a
    mirror A copying everything from GitHub plans the same paths and publishes byte-identical
    archives and SHA256SUMS."""
    fake = mirror.fake
    fake.add_release(SUMS_TAG, SUMS, checksums="sums")
    fake.add_release(DIGEST_TAG, [*DIGEST, PRERELEASE])
    fake.add_release(NEW_TAG, NEW)
    mirror.configure(releases={"latest": None}, select={"prereleases": True})
    assert await mirror.run() == 0  # mirror A: everything

    def fresh(name: str) -> Mirror:
        other = Mirror(base=tmp_path / name, fake=fake, sleep=mirror.sleep, clock=mirror.clock)
        other.base.mkdir()
        return other

    async with FakeAstral() as astral, MirrorSite(mirror.root) as site:
        astral.copy_from(fake, TAGS)
        results = {
            "github": await planned_and_synced(
                fresh("from-github"), {"source": "github", "api_url": fake.api_url}, selection
            ),
            "astral": await planned_and_synced(
                fresh("from-astral"),
                {
                    "source": "astral",
                    "index_url": astral.index_url,
                    "download_url": astral.download_url,
                },
                selection,
            ),
            "mirror": await planned_and_synced(
                fresh("from-mirror"), {"source": "mirror", "url": site.url}, selection
            ),
        }
    plan, files = results["github"]
    assert plan
    assert files
    assert any(p.endswith("/SHA256SUMS") for p in files)
    for source in ("astral", "mirror"):
        assert results[source][0] == plan, source
        assert results[source][1] == files, source
