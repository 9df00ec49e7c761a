"""``upstream.source: mirror``: a mirror chained from another one, over HTTP and from a disk."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from conftest import FakeClock, NoSleep
from eras import NO_SUMS_TAG
from eras import three_eras as publish_three_eras
from loopback import running, serving
from mirror_harness import Mirror, exit_code_of, fake_time_runtime

from mirrorsync.commands.sync import Outcome, run_sync
from mirrorsync.config.load import load_config
from mirrorsync.errors import ConfigError, UpstreamError

SERVE_LOG = "mirrorsync.commands.serve"
COPY_ALL = {"releases": {"latest": None}, "select": {"prereleases": True}}


@asynccontextmanager
async def static_site(
    routes: dict[str, tuple[int, bytes, str]], *, authorized: list[str] | None = None
) -> AsyncIterator[str]:
    """A loopback server answering each path with (status, body, content type); 404 else.
    Paths asked with an ``Authorization`` header are appended to ``authorized``."""

    async def handle(request: web.Request) -> web.Response:
        if authorized is not None and "Authorization" in request.headers:
            authorized.append(request.path)
        status, body, kind = routes.get(request.path, (404, b"not found", "text/plain"))
        return web.Response(status=status, body=body, content_type=kind)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    async with running(app) as url:
        yield url


class Downstream:
    """Mirror B: a root and config below ``base`` that syncs from an upstream mirror."""

    def __init__(self, base: Path, *, sleep: NoSleep, clock: FakeClock) -> None:
        self.base = base
        self.sleep = sleep
        self.clock = clock
        base.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self.base / "mirror"

    def configure(self, url: str, **extra: Any) -> None:
        doc: dict[str, Any] = {
            "upstream": {"source": "mirror", "url": url},
            "target": {"path": "mirror"},
        }
        doc.update(COPY_ALL)
        doc.update(extra)
        (self.base / "mirror.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")

    async def sync(self) -> Outcome:
        cfg = load_config(self.base / "mirror.yaml")
        runtime = fake_time_runtime(sleep=self.sleep, clock=self.clock, token="ghp_secret")
        return await run_sync(cfg, runtime=runtime)

    async def run(self) -> int:
        return await exit_code_of(self.sync())

    def index(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.root / "index.json").read_bytes())
        return doc


@pytest.fixture
def downstream(tmp_path: Path, no_sleep: NoSleep, fake_clock: FakeClock) -> Downstream:
    """An empty mirror B beside the harness's mirror A."""
    return Downstream(tmp_path / "b", sleep=no_sleep, clock=fake_clock)


def archives(root: Path) -> dict[str, bytes]:
    """Every release file (archives and SHA256SUMS) below ``root``, by path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.glob("[0-9]*/*")
        if p.is_file() and p.name != "index.html"
    }


def served_gets(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The access-log lines of the requests ``serve`` answered."""
    return [
        r.getMessage() for r in caplog.records if r.name == SERVE_LOG and '"GET ' in r.getMessage()
    ]


async def test_chain_copies_byte_identical_and_idles_on_one_304(
    mirror: Mirror, downstream: Downstream, caplog: pytest.LogCaptureFixture
) -> None:
    """B from A (served over HTTP) holds A's exact archives and SHA256SUMS; an idle run of B
    costs one request, answered 304."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    assert await mirror.run() == 0
    caplog.set_level(logging.INFO, logger=SERVE_LOG)
    async with serving(mirror.root) as served:
        url = served.rstrip("/")
        downstream.configure(url)
        assert await downstream.run() == 0
        assert archives(downstream.root) == archives(mirror.root)
        a_index = {f["path"]: f for f in mirror.index()["files"]}
        b_index = {f["path"]: f for f in downstream.index()["files"]}
        assert {p: (f["sha256"], f["verified"]) for p, f in b_index.items()} == {
            p: (f["sha256"], f["verified"]) for p, f in a_index.items()
        }
        assert any(not f["verified"] for f in b_index.values())  # carried over, era A
        assert downstream.index()["upstream"] == {"source": "mirror", "url": url}
        page = (downstream.root / "index.html").read_text(encoding="utf-8")
        assert f'Made from <span id="upstream">the mirrorsync mirror at {url}</span>' in page
        caplog.clear()
        outcome = await downstream.sync()
        assert outcome.exit_code == 0
        assert outcome.report.fetched == 0
        gets = served_gets(caplog)
        assert len(gets) == 1, gets
        assert '/index.json HTTP/1.1" 304' in gets[0]


async def test_chain_reaches_b_after_a_syncs_a_new_release(
    mirror: Mirror, downstream: Downstream
) -> None:
    """A release new on GitHub reaches B on B's next run after A mirrored it."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    await mirror.run()
    async with serving(mirror.root) as served:
        url = served.rstrip("/")
        downstream.configure(url)
        assert await downstream.run() == 0
        mirror.fake.add_release(
            "20260101", ["cpython-3.14.2+20260101-x86_64-unknown-linux-gnu-install_only.tar.gz"]
        )
        assert await mirror.run() == 0
        outcome = await downstream.sync()
        assert outcome.exit_code == 0
        assert outcome.report.fetched == 1
        assert archives(downstream.root) == archives(mirror.root)
        status = json.loads((downstream.root / ".mirrorsync" / "status.json").read_bytes())
        assert status["upstream"] == url


async def test_air_gap_import_refuses_a_corrupt_file_then_completes(
    mirror: Mirror, downstream: Downstream, tmp_path: Path
) -> None:
    """An import from a disk with one corrupt file fails that file only (exit 1, named); once
    the disk is fixed the next run completes, copying only that file."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    await mirror.run()
    stick = tmp_path / "stick"
    shutil.copytree(mirror.root, stick, symlinks=True)
    victim = sorted(archives(stick))[1]
    good = (stick / victim).read_bytes()
    (stick / victim).write_bytes(b"X" + good[1:])
    downstream.configure("../stick")
    outcome = await downstream.sync()
    assert outcome.exit_code == 1
    assert [f.path for f in outcome.report.failed] == [victim]
    assert "sha256" in outcome.report.failed[0].error.lower()
    assert not (downstream.root / victim).exists()
    # Everything else is published, byte for byte (the victim's SHA256SUMS lists one less).
    held = archives(downstream.root)
    for path, data in archives(mirror.root).items():
        if path != victim and not path.endswith("SHA256SUMS"):
            assert held[path] == data, path
    (stick / victim).write_bytes(good)
    outcome = await downstream.sync()
    assert outcome.exit_code == 0
    assert outcome.report.fetched == 1
    assert archives(downstream.root) == archives(mirror.root)


async def test_file_url_reads_the_disk_as_a_path_does(
    mirror: Mirror, downstream: Downstream
) -> None:
    """``file:///…`` names a local upstream mirror exactly as a path does."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    await mirror.run()
    downstream.configure(mirror.root.as_uri())
    assert await downstream.run() == 0
    assert archives(downstream.root) == archives(mirror.root)
    assert downstream.index()["upstream"] == {"source": "mirror", "url": str(mirror.root)}


async def test_missing_directory_is_a_config_error(downstream: Downstream, tmp_path: Path) -> None:
    """A local upstream that does not exist is a configuration error naming it (exit 2)."""
    downstream.configure(str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="absent: no such directory"):
        await downstream.sync()


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (200, b"<!doctype html><title>hi</title>", "text/html", "not valid JSON"),
        (404, b"not here", "text/plain", "answered 404"),
        (200, b'{"format": 2, "files": []}', "application/json", "not a mirrorsync index"),
    ],
)
async def test_an_url_without_a_mirrorsync_index_is_a_clear_error(
    downstream: Downstream, status: int, body: bytes, kind: str, message: str
) -> None:
    """An upstream URL serving HTML, a 404 or another index format fails the listing (exit 1),
    naming the URL."""
    async with static_site({"/m/index.json": (status, body, kind)}) as site:
        downstream.configure(f"{site}/m")
        with pytest.raises(UpstreamError, match=message) as caught:
            await downstream.sync()
        assert f"{site}/m/index.json" in str(caught.value)
        assert caught.value.exit_code == 1


async def test_a_listed_file_that_404s_fails_alone(
    mirror: Mirror, downstream: Downstream, tmp_path: Path
) -> None:
    """An upstream caught mid-update (a listed file answers 404) fails that file only; the
    next run, once it is there, completes."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    await mirror.run()
    victim = min(p for p in archives(mirror.root) if not p.endswith("SHA256SUMS"))
    aside = tmp_path / "aside"
    (mirror.root / victim).rename(aside)
    async with serving(mirror.root) as served:
        url = served.rstrip("/")
        downstream.configure(url)
        outcome = await downstream.sync()
        assert outcome.exit_code == 1
        assert [f.path for f in outcome.report.failed] == [victim]
        assert "404" in outcome.report.failed[0].error
        assert len(downstream.index()["files"]) == len(mirror.index()["files"]) - 1
        aside.rename(mirror.root / victim)
        assert await downstream.run() == 0
        assert archives(downstream.root) == archives(mirror.root)


async def test_plus_is_percent_encoded_on_the_wire(
    mirror: Mirror, downstream: Downstream, caplog: pytest.LogCaptureFixture
) -> None:
    """Files are asked for with ``+`` written ``%2B`` (a literal ``+`` on disk)."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    await mirror.run()
    caplog.set_level(logging.INFO, logger=SERVE_LOG)
    async with serving(mirror.root) as served:
        url = served.rstrip("/")
        downstream.configure(url)
        assert await downstream.run() == 0
    plus = [line for line in served_gets(caplog) if "%2B" in line]
    assert plus
    assert not [line for line in served_gets(caplog) if "+" in line.split('"')[1]]
    assert any("+" in p for p in archives(downstream.root))


async def test_unverified_upstream_files_stay_unverified(
    mirror: Mirror, downstream: Downstream
) -> None:
    """Files the upstream mirror recorded as unverified are recorded so downstream."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    await mirror.run()
    downstream.configure(str(mirror.root))
    await downstream.run()
    verified = {f["path"]: f["verified"] for f in downstream.index()["files"]}
    assert {p for p, v in verified.items() if not v} == {
        p for p in verified if p.startswith(NO_SUMS_TAG)
    }


async def test_no_token_is_sent_to_an_upstream_mirror(
    mirror: Mirror, downstream: Downstream
) -> None:
    """With a GitHub token in the environment, an upstream mirror never receives it, on the
    index or on the files."""
    publish_three_eras(mirror.fake, with_prerelease=True)
    await mirror.run()
    routes = {
        f"/m/{path}": (200, data, "application/octet-stream")
        for path, data in archives(mirror.root).items()
    }
    routes["/m/index.json"] = (200, (mirror.root / "index.json").read_bytes(), "application/json")
    authorized: list[str] = []
    async with static_site(routes, authorized=authorized) as site:
        downstream.configure(f"{site}/m")
        assert await downstream.run() == 0  # Downstream's runtime carries a token
    assert archives(downstream.root) == archives(mirror.root)
    assert authorized == []


async def test_a_directory_without_an_index_is_a_config_error(
    downstream: Downstream, tmp_path: Path
) -> None:
    """A local upstream directory holding no index.json is a configuration error (exit 2)."""
    (tmp_path / "empty").mkdir()
    downstream.configure(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match=r"holds no index\.json") as caught:
        await downstream.sync()
    assert caught.value.exit_code == 2


async def test_a_local_index_of_another_format_fails_the_listing(
    downstream: Downstream, tmp_path: Path
) -> None:
    """A local index.json that is not format 1 fails the listing (exit 1), naming the file."""
    disk = tmp_path / "disk #1"
    disk.mkdir()
    (disk / "index.json").write_text('{"format": 2, "files": []}', encoding="utf-8")
    downstream.configure(str(disk))
    with pytest.raises(UpstreamError, match="not a mirrorsync index") as caught:
        await downstream.sync()
    assert str(disk / "index.json") in str(caught.value)
    assert caught.value.exit_code == 1
