"""``upstream.source: astral``: Astral's NDJSON index, its download base and GitHub fallback."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from eras import DIGEST, DIGEST_TAG, LINUX, SUMS, SUMS_TAG
from fake_astral import EXCERPT, FakeAstral
from mirror_harness import Mirror

from mirrorsync.core.names import parse_asset_name
from mirrorsync.errors import UpstreamError
from mirrorsync.net import download as download_module
from mirrorsync.upstream import astral as astral_module
from mirrorsync.upstream.astral import IndexParser, asset_from_artifact

TOKEN = "ghp_" + "b" * 36
SHA = "ab" * 32


@pytest.fixture
async def astral(mirror: Mirror) -> AsyncIterator[FakeAstral]:
    """A fake Astral holding the archives of two releases the fake GitHub also holds."""
    mirror.fake.add_release(SUMS_TAG, SUMS, checksums="sums")
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    async with FakeAstral() as fake:
        fake.copy_from(mirror.fake, [SUMS_TAG, DIGEST_TAG])
        yield fake


def configure(mirror: Mirror, astral: FakeAstral, **upstream: Any) -> None:
    """``mirror`` reads ``astral``'s index; every release, the default selection."""
    doc = {
        "upstream": {
            "source": "astral",
            "index_url": astral.index_url,
            "download_url": astral.download_url,
            **upstream,
        },
        "releases": {"latest": None},
        "target": {"path": "mirror"},
    }
    mirror.config_path.write_text(yaml.safe_dump(doc), encoding="utf-8")


def artifact(url: str, sha256: str = SHA) -> dict[str, str]:
    """An artifact object whose untrusted fields say nonsense."""
    return {"platform": "x", "variant": "y", "url": url, "archive_format": "z", "sha256": sha256}


# -- the index, pure -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "tag", "name"),
    [
        (
            "https://github.com/o/r/releases/download/20260127/cpython-3.13.11%2B20260127-x.tar.gz",
            "20260127",
            "cpython-3.13.11+20260127-x.tar.gz",
        ),
        ("http://h/a/20250101/plain.tar.zst", "20250101", "plain.tar.zst"),
        ("https://h/x/my%20tag/a%2Fb", "my tag", "a/b"),
    ],
)
def test_tag_and_name_come_from_the_url_percent_decoded(url: str, tag: str, name: str) -> None:
    """The tag and file name are the URL's last two segments, decoded; the sha256 its digest,
    the size unknown (the index lists none)."""
    got_tag, asset = asset_from_artifact(artifact(url, SHA.upper()))
    assert (got_tag, asset.name, asset.url, asset.digest, asset.size) == (tag, name, url, SHA, None)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"{not json", "line 2: not JSON"),
        (b"[1, 2]", "line 2: not an object with a version"),
        (b'{"version": "3.13.1+1", "artifacts": {}}', "line 2: 3.13.1+1: artifacts is not a list"),
        (b'{"version": "v", "artifacts": [7]}', "line 2: an artifact is not an object"),
        (b'{"version": "v", "artifacts": [{"sha256": "' + SHA.encode() + b'"}]}', "no url"),
        (
            json.dumps({"version": "v", "artifacts": [artifact("ftp://h/t/n")]}).encode(),
            "line 2: an artifact's url is not an http(s) URL",
        ),
        (
            json.dumps({"version": "v", "artifacts": [artifact("https://h/n")]}).encode(),
            "names no tag and file",
        ),
        (
            json.dumps({"version": "v", "artifacts": [artifact("https://h/t/n", "00")]}).encode(),
            "line 2: n: sha256 is not 64 hex digits",
        ),
    ],
)
def test_a_malformed_line_is_a_listing_failure_naming_its_line(line: bytes, problem: str) -> None:
    """A bad line refuses the whole index with its line number (from 1), never fewer releases."""
    good = json.dumps({"version": "v", "artifacts": [artifact("https://h/1/a")]}).encode()
    parser = IndexParser(origin="idx")
    with pytest.raises(UpstreamError) as info:
        parser.feed(good + b"\n" + line + b"\n" + good + b"\n")
    assert "malformed index idx" in str(info.value)
    assert problem in str(info.value)


def test_any_split_of_the_stream_parses_the_same() -> None:
    """The index is parsed as it arrives: cutting the real excerpt anywhere (even without a final
    newline, with blank lines) gives the same releases as the whole."""
    data = EXCERPT.read_bytes()
    whole = IndexParser(origin="x")
    whole.feed(data)
    expected = whole.finish()
    assert sum(len(r.assets) for r in expected) == 18
    spaced = data.replace(b"\n", b"\n\n").rstrip(b"\n")
    for stream in (data, spaced):
        for cut in range(0, len(stream), 97):
            parser = IndexParser(origin="x")
            parser.feed(stream[:cut])
            parser.feed(stream[cut:])
            assert parser.finish() == expected


def test_names_are_parsed_by_mirrorsyncs_grammar_not_the_index_fields() -> None:
    """The real index files some macOS names under a wrong platform and variant: mirrorsync's
    parser reads the names, and finds each field the index got wrong."""
    wrong = []
    for line in EXCERPT.read_bytes().splitlines():
        for item in json.loads(line)["artifacts"]:
            _, asset = asset_from_artifact(item)
            parsed = parse_asset_name(asset.name, release_tag="20260127")
            if parsed.platform != item["platform"]:
                wrong.append((item["platform"], parsed.platform, parsed.build))
    assert wrong
    assert set(wrong) == {
        ("aarch64-apple-darwin-debug", "aarch64-apple-darwin", "debug"),
        ("x86_64-apple-darwin-debug", "x86_64-apple-darwin", "debug"),
    }


# -- against the fake Astral -----------------------------------------------------------------


def archives(root: Path) -> dict[str, bytes]:
    """Every release file (archives and SHA256SUMS) below ``root``, by path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.glob("[0-9]*/*")
        if p.is_file() and p.name != "index.html"
    }


@pytest.mark.parametrize(
    "select",
    [
        {},
        {"select": {"platforms": ["x86_64-unknown-linux-gnu"]}},
        {"releases": {"latest": 1}, "select": {"flavors": ["install_only_stripped"]}},
    ],
)
async def test_same_selection_same_mirror_as_from_github(
    mirror: Mirror, astral: FakeAstral, tmp_path: Path, select: dict[str, Any]
) -> None:
    """The same selection from the fake GitHub and the fake Astral holding the same releases
    plans the same paths and gives byte-identical archives and SHA256SUMS."""
    mirror.configure(**select)
    github_plan = await mirror.sync(dry_run=True)  # a sync's own plan hands its fetch over
    from_github = await mirror.sync()
    other = Mirror(base=tmp_path / "b", fake=mirror.fake, sleep=mirror.sleep, clock=mirror.clock)
    other.base.mkdir()
    configure(other, astral)
    doc = yaml.safe_load(other.config_path.read_text())
    doc.update({k: v for k, v in select.items() if k != "releases"})
    doc["releases"] = {"latest": None, **select.get("releases", {})}
    other.config_path.write_text(yaml.safe_dump(doc))
    planned = await other.sync(dry_run=True)
    from_astral = await other.sync()
    assert from_github.exit_code == from_astral.exit_code == 0
    assert sorted(a.path for a in planned.plan.fetch) == sorted(
        a.path for a in github_plan.plan.fetch
    )
    assert archives(other.root) == archives(mirror.root)
    assert archives(mirror.root)
    assert {e["path"]: e["sha256"] for e in other.index()["files"]} == {
        e["path"]: e["sha256"] for e in mirror.index()["files"]
    }
    assert all(e["verified"] for e in other.index()["files"])


async def test_idle_run_is_one_request_answered_304(mirror: Mirror, astral: FakeAstral) -> None:
    """A cold run reads the index once and each archive once; an idle run costs exactly one
    request, a 304 (the cached index is parsed from the state directory)."""
    configure(mirror, astral)
    assert await mirror.run() == 0
    cold = list(astral.hits)
    assert [h.status for h in cold if h.path == "/index.ndjson"] == [200]
    assert len(cold) == 1 + len(SUMS) + len(DIGEST)
    astral.hits.clear()
    assert await mirror.run() == 0
    assert [(h.path, h.status) for h in astral.hits] == [("/index.ndjson", 304)]
    assert astral.hits[0].headers["If-None-Match"]
    assert astral.hits[0].headers["If-Modified-Since"]
    assert mirror.fake.downloads() == []


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_damaged_cached_index_is_read_again(
    mirror: Mirror, astral: FakeAstral, concurrency: int
) -> None:
    """A 304 over a cached body whose checksum no longer matches is not trusted: the index is
    read again, whole (the 304's connection released first: one connection is enough)."""
    configure(mirror, astral)
    doc = yaml.safe_load(mirror.config_path.read_text())
    doc["download"] = {"concurrency": concurrency}
    mirror.config_path.write_text(yaml.safe_dump(doc))
    assert await mirror.run() == 0
    cached = mirror.root / ".mirrorsync" / "cache" / "astral" / "index.ndjson"
    cached.write_bytes(cached.read_bytes().replace(b"3.13", b"3.99", 1))
    astral.hits.clear()
    assert await mirror.run() == 0
    assert [h.status for h in astral.index_hits()] == [304, 200]


async def test_malformed_line_is_exit_1_with_its_line_number(
    mirror: Mirror, astral: FakeAstral
) -> None:
    """A malformed line fails the listing (exit 1) naming its line, and nothing is fetched."""
    astral.inserted[3] = b'{"version": "3.9.1", "artifacts": [{"url": 5}]}'
    configure(mirror, astral)
    with pytest.raises(UpstreamError, match=r"line 3: an artifact has no url"):
        await mirror.sync()
    assert await mirror.run() == 1
    assert not any(h.path.startswith("/download/") for h in astral.hits)
    assert mirror.fake.downloads() == []


async def test_a_5xx_is_retried_then_a_listing_failure(mirror: Mirror, astral: FakeAstral) -> None:
    """A 503 of the index is retried; one that persists is exit 1."""
    configure(mirror, astral)
    astral.index_faults += [503]
    assert await mirror.run() == 0
    astral.index_faults += [503] * 20
    assert await mirror.run() == 1
    assert astral.index_faults  # the retries are bounded


async def test_404_at_the_base_falls_back_to_the_artifacts_url(
    mirror: Mirror, astral: FakeAstral, caplog: pytest.LogCaptureFixture
) -> None:
    """With fallback (the default), a file the base answers 404 for is fetched from its own
    ``url`` in the index (here the fake GitHub), logged, and verified the same."""
    astral.missing.add(LINUX)
    configure(mirror, astral)
    with caplog.at_level(logging.INFO):
        assert await mirror.run() == 0
    assert [h.asset for h in mirror.fake.downloads()] == [LINUX]
    assert (mirror.root / DIGEST_TAG / LINUX).read_bytes() == mirror.fake.content(DIGEST_TAG, LINUX)
    assert any("404" in r.getMessage() and LINUX in r.getMessage() for r in caplog.records)


async def test_404_at_the_base_without_fallback_fails_that_file(
    mirror: Mirror, astral: FakeAstral
) -> None:
    """With ``fallback: false`` that file fails (exit 1), the others are published."""
    astral.missing.add(LINUX)
    configure(mirror, astral, fallback=False)
    outcome = await mirror.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [f"{DIGEST_TAG}/{LINUX}"]
    assert mirror.fake.downloads() == []


async def test_no_token_is_sent_anywhere(mirror: Mirror, astral: FakeAstral) -> None:
    """The astral source has no token: neither Astral's hosts nor the GitHub fallback get one."""
    mirror.token = TOKEN
    astral.missing.add(LINUX)
    configure(mirror, astral)
    assert await mirror.run() == 0
    assert astral.hits
    assert not any("Authorization" in h.headers for h in astral.hits)
    assert not any("Authorization" in h.headers for h in mirror.fake.hits)


async def test_null_download_url_fetches_each_artifacts_url(
    mirror: Mirror, astral: FakeAstral
) -> None:
    """``download_url: null`` takes every file from its own ``url`` in the index."""
    configure(mirror, astral, download_url=None)
    assert await mirror.run() == 0
    assert len(mirror.fake.downloads()) == len(SUMS) + len(DIGEST)
    assert not any(h.path.startswith("/download/") for h in astral.hits)


async def test_plan_says_the_size_is_unknown(mirror: Mirror, astral: FakeAstral) -> None:
    """The index lists no sizes: the plan says "size unknown" and never counts them as 0; the
    files recorded once fetched carry their real size."""
    configure(mirror, astral)
    planned = await mirror.sync(dry_run=True)
    assert planned.plan.fetch
    assert all(a.size is None for a in planned.plan.fetch)
    assert await mirror.run() == 0
    for path, entry in mirror.indexed().items():
        data = (mirror.root / path).read_bytes()
        assert (entry["size"], entry["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())


async def test_an_index_over_the_cap_is_refused(
    mirror: Mirror, astral: FakeAstral, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index larger than the cap (after decompression) fails the listing (exit 1), and a
    partial copy never reaches the cache."""
    configure(mirror, astral)
    monkeypatch.setattr(astral_module, "MAX_INDEX_BYTES", len(astral.body()) - 1)
    with pytest.raises(UpstreamError, match="larger than"):
        await mirror.sync()
    cache = mirror.root / ".mirrorsync" / "cache" / "astral"
    assert list(cache.glob("*")) == []
    monkeypatch.setattr(astral_module, "MAX_INDEX_BYTES", len(astral.body()))
    assert await mirror.run() == 0


async def test_a_download_of_unknown_size_is_capped(
    mirror: Mirror, astral: FakeAstral, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose size the index does not give fails once it passes the cap (a host that never
    stops sending cannot fill the target); files under the cap are published."""
    sizes = {
        f"{tag}/{name}": len(mirror.fake.content(tag, name))
        for tag, names in ((SUMS_TAG, SUMS), (DIGEST_TAG, DIGEST))
        for name in names
    }
    cap = sorted(sizes.values())[len(sizes) // 2]
    monkeypatch.setattr(download_module, "MAX_UNKNOWN_SIZE", cap)
    configure(mirror, astral)
    outcome = await mirror.sync()
    too_big = {path for path, size in sizes.items() if size > cap}
    assert too_big
    assert outcome.exit_code == 1
    assert {f.path for f in outcome.report.failed} == too_big
    assert all("no size announced" in f.error for f in outcome.report.failed)
    published = set(archives(mirror.root)) - {f"{t}/SHA256SUMS" for t in (SUMS_TAG, DIGEST_TAG)}
    assert published == set(sizes) - too_big
