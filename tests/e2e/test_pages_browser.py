"""The static pages in a real headless browser (Debian's ``chromium``): content, links, layout.

A real sync against the fake GitHub builds the tree, mirrorsync's own server publishes it on
loopback, and chromium runs as a plain subprocess (``--dump-dom``, ``--screenshot``), so no
browser-automation package is needed. Without chromium the tests skip, except in CI
(``CI=true``), where a missing browser is a failure: ``scripts/test`` installs it there.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from conftest import FakeClock, NoSleep
from fake_github import FakeGitHub
from mirror_harness import Mirror
from yarl import URL

from mirrorsync.commands.serve import build_app

# Module loop: the shared site's server must run in the loop of every test that reads it.
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

# Real upstream names (testkit/data/pbs_assets.json): an era without "+" and one with it.
OLD_TAG = "20210724"
OLD = {
    "cpython-3.9.6-x86_64-unknown-linux-gnu-install_only-20210724T1424.tar.gz": 700,
    "cpython-3.9.6-aarch64-apple-darwin-install_only-20210724T1424.tar.gz": 1536,
}
NEW_TAG = "20251217"
NEW = {
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz": 2_621_440,
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz": 1_048_576,
    # The longest kind of name, with three "+": it must wrap, not widen the page.
    "cpython-3.13.11+20251217-x86_64_v3-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst": 3000,
}
SIZES = {f"{OLD_TAG}/{n}": s for n, s in OLD.items()} | {
    f"{NEW_TAG}/{n}": s for n, s in NEW.items()
}
# How the pages print those sizes, written out by hand so the formatting is checked, not restated.
SHOWN = {700: "700 B", 1536: "1.5 KiB", 2_621_440: "2.5 MiB", 1_048_576: "1.0 MiB", 3000: "2.9 KiB"}
RELEASE_ROWS = [  # newest first: (tag, files, shown size, exact bytes)
    (NEW_TAG, "3", "3.5 MiB", 3_673_016),
    (OLD_TAG, "2", "2.2 KiB", 2236),
]
LINUX_PLUS = next(iter(NEW))
LINUX_ENCODED = f"/{NEW_TAG}/{quote(LINUX_PLUS, safe='')}"
FAILED_TAG = "20261021"
FAILED = "cpython-3.12.15+20261021-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"

DEVICES = {"phone": (390, 844), "desktop": (1280, 900)}
NARROW = 320
"""The narrowest phone still in use (iPhone SE, 1st generation): nothing may scroll sideways."""
BROWSER_TIMEOUT = 30.0
UPSTREAM = "/astral-sh/python-build-standalone"
GITHUB_DOWNLOAD = f"https://github.com{UPSTREAM}/releases/download/"
KEEP_SCREENSHOTS = "MIRRORSYNC_KEEP_SCREENSHOTS"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- chromium ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary; skips without one, but fails in CI, which must run these tests."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but chromium is missing: scripts/test installs it with apt-get")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return path


def run_chromium(argv: list[str], *, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run chromium to completion; on a timeout kill its whole process group, then raise."""
    with subprocess.Popen(  # noqa: S603 - our own argv: chromium from PATH, fixed flags
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=BROWSER_TIMEOUT)
        except subprocess.TimeoutExpired:
            # Its helper processes hold the pipes open: killing only the browser would hang here.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return proc.returncode, out, err


@dataclass
class Browser:
    """Headless chromium, one fresh profile per run so runs never share (or wait on) a profile."""

    binary: str
    home: Path
    runs: int = 0

    async def _run(self, url: str, *args: str) -> bytes:
        self.runs += 1
        profile = self.home / f"profile-{self.runs}"
        argv = [
            self.binary,
            "--headless",
            "--no-sandbox",  # containers run as root, where the sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",  # Docker's 64 MB /dev/shm crashes renderers
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-proxy-server",  # an http_proxy in the environment must not see loopback
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",  # one CSS pixel per PNG pixel
            f"--user-data-dir={profile}",
            *args,
            url,
        ]
        # A thread, not the loop: the server answering chromium runs in this very loop.
        code, out, err = await asyncio.to_thread(
            run_chromium, argv, env={**os.environ, "HOME": str(self.home)}
        )
        tail = err.decode("utf-8", "replace")[-2000:]
        assert code == 0, f"chromium exited {code} on {url}:\n{tail}"
        return out

    async def dom(self, url: str) -> Node:
        """The document as chromium built it, after parsing and layout."""
        return parse_dom((await self._run(url, "--dump-dom")).decode("utf-8"))

    async def screenshot(self, url: str, png: Path, *, size: tuple[int, int]) -> None:
        await self._run(url, f"--screenshot={png}", f"--window-size={size[0]},{size[1]}")


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Browser:
    """Headless chromium with its profiles and HOME under a temporary directory."""
    return Browser(binary=chromium, home=tmp_path_factory.mktemp("chromium"))


# -- a minimal DOM -------------------------------------------------------------------------------

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """The text content, whitespace collapsed as a reader sees it."""
        raw = "".join(c if isinstance(c, str) else c.text() for c in self.children)
        return " ".join(raw.split())

    def iter(self, tag: str | None = None) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                if tag is None or child.tag == tag:
                    yield child
                yield from child.iter(tag)

    def raw_text(self) -> str:
        """The text content as written (a ``<pre>`` keeps its lines)."""
        return "".join(c if isinstance(c, str) else c.raw_text() for c in self.children)

    def by_id(self, id_: str) -> Node:
        found = [n for n in self.iter() if n.attrs.get("id") == id_]
        assert len(found) == 1, f"expected one element with id {id_!r}, found {len(found)}"
        return found[0]

    def select(self, tag: str, *, cls: str | None = None, id_: str | None = None) -> list[Node]:
        return [
            n
            for n in self.iter(tag)
            if (cls is None or cls in n.attrs.get("class", "").split())
            and (id_ is None or n.attrs.get("id") == id_)
        ]

    def one(self, tag: str, *, cls: str | None = None, id_: str | None = None) -> Node:
        found = self.select(tag, cls=cls, id_=id_)
        assert len(found) == 1, f"expected one <{tag} class={cls} id={id_}>, found {len(found)}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.document = Node("#document", {})
        self.stack = [self.document]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_dom(html: str) -> Node:
    """A tree of chromium's serialised DOM (well formed: the browser closed every element)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.document


def body_rows(table: Node) -> list[list[Node]]:
    return [row.select("td") for tbody in table.select("tbody") for row in tbody.select("tr")]


# -- the site: a synced tree served on loopback --------------------------------------------------


@dataclass
class Site:
    mirror: Mirror
    base: str
    """The served root, without the trailing slash (as ``publish.base_url`` is written)."""
    session: aiohttp.ClientSession
    browser: Browser
    doms: dict[str, Node] = field(default_factory=dict)
    """Each page is rendered once per site: chromium's start-up dominates the run time."""

    def url(self, path: str = "") -> str:
        return f"{self.base}/{path}"

    @property
    def pages(self) -> list[str]:
        """Every page mirrorsync wrote, as URLs: the root and each release."""
        return [self.url(), self.url(f"{NEW_TAG}/"), self.url(f"{OLD_TAG}/")]

    async def dom(self, url: str) -> Node:
        if url not in self.doms:
            self.doms[url] = await self.browser.dom(url)
        return self.doms[url]

    async def doms_of(self, urls: list[str]) -> list[Node]:
        """The DOMs of ``urls``, with chromium runs in parallel."""
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self.dom(url)) for url in urls]
        return [t.result() for t in tasks]

    async def get(self, url: str) -> tuple[int, bytes]:
        """GET exactly ``url`` (no re-quoting, no redirects followed)."""
        async with self.session.get(URL(url, encoded=True), allow_redirects=False) as response:
            return response.status, await response.read()

    def index(self) -> dict[str, dict[str, Any]]:
        return self.mirror.indexed()


@asynccontextmanager
async def synced_site(base: Path, browser: Browser) -> AsyncIterator[Site]:
    """Two releases synced with ``publish.base_url`` and the flat view, served by ``build_app``."""
    clock = FakeClock()
    async with FakeGitHub(now=clock) as fake:
        mirror = Mirror(base=base, fake=fake, sleep=NoSleep(clock=clock), clock=clock)
        mirror.root.mkdir()
        runner = web.AppRunner(build_app(mirror.root, access_log=False), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            served = f"http://127.0.0.1:{runner.addresses[0][1]}"
            fake.add_release(OLD_TAG, list(OLD), checksums="none", sizes=OLD)
            fake.add_release(NEW_TAG, list(NEW), checksums="digest", sizes=NEW)
            mirror.configure(publish={"base_url": served, "flat": True})
            outcome = await mirror.sync()
            assert outcome.exit_code == 0
            async with aiohttp.ClientSession() as session:
                yield Site(mirror=mirror, base=served, session=session, browser=browser)
        finally:
            await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> AsyncIterator[Site]:
    """One synced and served tree, only read by the tests that share it."""
    async with synced_site(tmp_path_factory.mktemp("site"), browser) as shared:
        yield shared


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def assert_serves(site: Site, url: str, path: str) -> None:
    """``url`` answers 200 with exactly the bytes index.json records for ``path``."""
    status, body = await site.get(url)
    assert status == 200, f"{url} answered {status}"
    assert sha256(body) == site.index()[path]["sha256"], url


def pre_texts(dom: Node) -> list[str]:
    return [p.raw_text() for p in dom.iter("pre")]


def pre_with(dom: Node, needle: str) -> str:
    found = [p for p in pre_texts(dom) if needle in p]
    assert len(found) == 1, f"expected one code block with {needle!r}, found {len(found)}"
    return found[0]


# -- the root page -------------------------------------------------------------------------------


async def test_root_page_shows_usage_releases_and_last_sync(site: Site) -> None:
    """The root page gives uv's mirror settings, each release's file count and size, and the run."""
    dom = await site.dom(site.url())
    assert f"export UV_PYTHON_INSTALL_MIRROR={site.base}" in pre_with(
        dom, "UV_PYTHON_INSTALL_MIRROR"
    )
    assert f'python-install-mirror = "{site.base}"' in pre_with(dom, "uv.toml")
    rows = [
        (cells[0].text(), cells[1].text(), cells[2].text(), cells[2].attrs.get("title"))
        for cells in body_rows(dom.one("table", cls="releases"))
    ]
    assert rows == [(tag, n, shown, f"{exact} bytes") for tag, n, shown, exact in RELEASE_ROWS]
    assert "5 files, 3.5 MiB" in dom.text()
    status = site.mirror.status()
    last_sync = dom.by_id("last-sync")
    assert last_sync.one("strong").text() == "success"
    times = [(t.attrs["datetime"], t.text()) for t in last_sync.iter("time")]
    shown = status["last_ended"].replace("T", " ").replace("Z", " UTC")
    assert times == [(status["last_ended"], shown), (status["last_update"], shown)]


async def test_failed_run_shows_how_it_ended_and_the_last_good_update(
    browser: Browser, tmp_path: Path
) -> None:
    """After a partial run the root page says so and keeps the last successful update's time."""
    async with synced_site(tmp_path, browser) as site:  # its own: this test changes the tree
        first = site.mirror.status()
        site.mirror.clock.advance(3600)
        site.mirror.fake.add_release(FAILED_TAG, [FAILED], checksums="digest")
        site.mirror.fake.fail(FAILED, 404)
        outcome = await site.mirror.sync()
        assert outcome.exit_code == 1
        status = site.mirror.status()
        dom = await site.dom(site.url())
    last_sync = dom.by_id("last-sync")
    verdict = last_sync.one("strong")
    assert (verdict.text(), verdict.attrs["class"]) == ("partial", "status-partial")
    times = [t.attrs["datetime"] for t in last_sync.iter("time")]
    assert times == [status["last_ended"], first["last_update"]]
    assert status["last_ended"] != first["last_update"]
    assert [row[0].text() for row in body_rows(dom.one("table", cls="releases"))] == [
        NEW_TAG,
        OLD_TAG,
    ]


async def test_usage_instructions_reach_files_of_this_mirror(site: Site) -> None:
    """Each tool's setting, applied as that tool builds URLs, fetches a real file of this mirror."""
    dom = await site.dom(site.url())
    path = f"{NEW_TAG}/{LINUX_PLUS}"
    # uv: each listed URL's GitHub prefix swapped for the mirror, "+" as %2B (docs/clients.md §2.1).
    uv = re.search(r"UV_PYTHON_INSTALL_MIRROR=(\S+)", pre_with(dom, "UV_PYTHON_INSTALL_MIRROR"))
    listing = re.search(r"UV_PYTHON_DOWNLOADS_JSON_URL=(\S+)", pre_with(dom, "DOWNLOADS_JSON"))
    assert uv is not None
    assert listing is not None
    status, body = await site.get(listing[1])
    assert status == 200
    (listed,) = [e["url"] for e in json.loads(body).values() if e["url"].endswith(LINUX_ENCODED)]
    assert listed.startswith(GITHUB_DOWNLOAD)
    await assert_serves(site, f"{uv[1]}/{listed.removeprefix(GITHUB_DOWNLOAD)}", path)
    uv_toml = tomllib.loads(pre_with(dom, "uv.toml"))
    assert uv_toml == {"python-install-mirror": uv[1], "python-downloads-json-url": listing[1]}
    # pbs-installer: flat {base}/{name} with a literal "+" (docs/clients.md §3).
    pbs = re.search(r"PBS_INSTALLER_BASE_URL=(\S+)", pre_with(dom, "PBS_INSTALLER_BASE_URL"))
    assert pbs is not None
    await assert_serves(site, f"{pbs[1]}/{LINUX_PLUS}", path)
    # mise: its GitHub URL rewritten by the url_replacements regex (a TOML table).
    replacements = tomllib.loads(pre_with(dom, "url_replacements"))["settings"]["url_replacements"]
    ((pattern, replacement),) = replacements.items()
    matched = re.search(pattern.removeprefix("regex:"), f"{GITHUB_DOWNLOAD}{NEW_TAG}/{LINUX_PLUS}")
    assert matched is not None
    await assert_serves(site, replacement.replace("$1", matched[1]), path)
    # rules_python: "/".join([base, "<tag>/<name>"]) with a literal "+".
    bazel = re.search(r'base_urls = \["([^"]+)"\]', pre_with(dom, "python.override"))
    assert bazel is not None
    await assert_serves(site, f"{bazel[1]}/{NEW_TAG}/{LINUX_PLUS}", path)


# -- every page ----------------------------------------------------------------------------------


async def test_every_link_resolves(site: Site) -> None:
    """Every <a href> answers 200 here (files with their indexed bytes) or points at GitHub."""
    index = site.index()
    reached: set[str] = set()
    for page, dom in zip(site.pages, await site.doms_of(site.pages), strict=True):
        anchors = list(dom.iter("a"))
        assert anchors, page
        for a in anchors:
            target = urljoin(page, a.attrs["href"])
            parts = urlsplit(target)
            if parts.netloc != urlsplit(site.base).netloc:
                # Shape only: the tests never leave loopback.
                assert (parts.scheme, parts.netloc) == ("https", "github.com"), target
                assert parts.path.startswith(UPSTREAM), target
                continue
            status, body = await site.get(target)
            assert status == 200, f"{page}: {a.attrs['href']} -> {target} answered {status}"
            path = unquote(parts.path).removeprefix("/")
            if path in index:
                assert sha256(body) == index[path]["sha256"], target
            reached.add(path)
    assert set(index) <= reached
    assert {"", "index.json", f"{NEW_TAG}/", f"{OLD_TAG}/", f"{NEW_TAG}/SHA256SUMS"} <= reached


async def test_tag_pages_list_every_file_with_size_and_sha256(site: Site) -> None:
    """A release page has one row per indexed file: encoded link, size and the index's sha256."""
    index = site.index()
    tags = [NEW_TAG, OLD_TAG]
    doms = await site.doms_of([site.url(f"{tag}/") for tag in tags])
    for tag, dom in zip(tags, doms, strict=True):
        assert dom.one("h1").text() == f"Release {tag}"
        got = [
            (
                cells[0].text(),
                cells[0].one("a").attrs["href"],
                cells[1].text(),
                cells[1].attrs.get("title"),
                cells[2].text(),
            )
            for cells in body_rows(dom.one("table", cls="files"))
        ]
        want = [
            (name, quote(name, safe=""), SHOWN[SIZES[p]], f"{f['size']} bytes", f["sha256"])
            for p, f in sorted(index.items())
            if p.startswith(f"{tag}/") and (name := p.split("/")[1])
        ]
        assert got == want
        if tag == NEW_TAG:  # S3 reads a literal "+" in a path as a space
            assert all("%2B" in href and "+" not in href for _, href, *_ in got)
    assert all(f["size"] == SIZES[p] for p, f in index.items())


async def test_pages_are_static_and_declare_a_viewport(site: Site) -> None:
    """No page carries script of any kind, and each declares a phone viewport and UTF-8."""
    on_disk = sorted(
        p.relative_to(site.mirror.root).as_posix() for p in site.mirror.root.rglob("index.html")
    )
    assert on_disk == [f"{OLD_TAG}/index.html", f"{NEW_TAG}/index.html", "index.html"]
    for rel in on_disk:
        raw = (site.mirror.root / rel).read_text(encoding="utf-8").lower()
        assert "<script" not in raw, rel
        assert "javascript:" not in raw, rel
    for page, dom in zip(site.pages, await site.doms_of(site.pages), strict=True):
        elements = list(dom.iter())
        assert not [e for e in elements if e.tag == "script"], page
        handlers = [(e.tag, k) for e in elements for k in e.attrs if k.startswith("on")]
        assert not handlers, page
        metas = {m.attrs.get("name"): m.attrs.get("content", "") for m in dom.iter("meta")}
        assert "width=device-width" in metas.get("viewport", ""), page
        assert any(m.attrs.get("charset", "").lower() == "utf-8" for m in dom.iter("meta")), page
        async with site.session.get(page) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8", page


# -- how the pages look --------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("page", ["root", "release"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_screenshot(site: Site, tmp_path: Path, page: str, device: str) -> None:
    """Chromium renders each page to a non-trivial PNG of the asked viewport size."""
    size = DEVICES[device]
    url = site.url() if page == "root" else site.url(f"{NEW_TAG}/")
    png = tmp_path / "screenshots" / f"{page}-{device}.png"
    png.parent.mkdir()
    await site.browser.screenshot(url, png, size=size)
    data = png.read_bytes()
    assert png_size(data) == size
    assert len(data) > 5 * 1024, f"{png} is {len(data)} bytes: a blank page?"
    if os.environ.get(KEEP_SCREENSHOTS):
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(png, ARTIFACTS / png.name)


PROBE = """<!doctype html><meta charset="utf-8"><title>layout probe</title>
{frames}
<script>
window.addEventListener("load", () => {{
  const measured = [...document.querySelectorAll("iframe")].map(frame => {{
    const doc = frame.contentDocument;
    const scrollers = [...doc.querySelectorAll("body *")]
      .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
      .map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""));
    return {{
      page: frame.getAttribute("src"),
      viewport: doc.documentElement.clientWidth,
      width: doc.documentElement.scrollWidth,
      scrollers,
    }};
  }});
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(measured);
  document.body.append(out);
}});
</script>
"""
"""A test-only page (not mirrorsync's): it frames pages at a phone's width and measures them."""
FRAME = '<iframe src="{src}" style="width:{width}px;height:600px;border:0"></iframe>'


async def test_nothing_scrolls_sideways_on_a_narrow_phone(site: Site) -> None:
    """At 320 CSS px no page is wider than the screen, and nothing in it scrolls sideways."""
    pages = [urlsplit(page).path for page in site.pages]
    frames = "\n".join(FRAME.format(src=src, width=NARROW) for src in pages)
    # Inside the served root, so the probe has the pages' origin and may measure them.
    probe = site.mirror.root / "layout-probe.html"
    probe.write_text(PROBE.format(frames=frames), encoding="utf-8")
    try:
        dom = await site.browser.dom(site.url(probe.name))
    finally:
        probe.unlink()
    measured = json.loads(dom.by_id("probe").raw_text())
    assert [m["page"] for m in measured] == pages
    for m in measured:
        assert m["viewport"] == NARROW, m
        assert m["width"] <= NARROW, m
        assert m["scrollers"] == [], m
