"""``mirrorsync serve`` over real HTTP on loopback: decoding, Range, headers, listings, safety."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from loopback import serving

from mirrorsync.commands.serve import build_app
from mirrorsync.errors import ConfigError

TAG = "20240713"
ONE_PLUS = "cpython-3.12.4+20240713-x86_64-unknown-linux-gnu-install_only.tar.gz"
TWO_PLUS = "cpython-3.12.4+20240713-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst"
SPACED = ONE_PLUS.replace("+", " ")  # what a server that decodes "+" as a space would find
HOSTILE = "a<script>alert(1)<&\"'>.txt"
SECRET = b"TOP-SECRET-never-served"
ASTRAL = "/github/python-build-standalone/releases/download"
SIZE = 6400

IMMUTABLE = "public, max-age=31536000, immutable"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


def body_of(name: str) -> bytes:
    """Distinct, deterministic bytes per file name."""
    return hashlib.sha256(name.encode()).digest() * (SIZE // 32)


def enc(name: str) -> str:
    """A name as uv sends it: ``+`` as ``%2B``."""
    return quote(name, safe="")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Served:
    root: Path
    base: Path
    port: int

    async def request(
        self, target: str, *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Reply:
        """Send ``target`` byte for byte (no client-side normalisation) and read the reply."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape"))
        try:
            data = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in header_lines)
        return Reply(
            status=int(status_line.split()[1]),
            headers={k.lower(): v for k, v in fields.items()},
            body=body,
        )


def make_tree(base: Path) -> Path:
    """A mirror root beside secrets, with every kind of file and link the server meets."""
    (base / "secret.txt").write_bytes(SECRET)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_bytes(SECRET)
    root = base / "mirror"
    tag = root / TAG
    tag.mkdir(parents=True)
    for name in (ONE_PLUS, TWO_PLUS, SPACED):
        (tag / name).write_bytes(body_of(name))
    # Precompressed siblings: aiohttp would send these, with Content-Encoding, in place of X.
    (tag / f"{ONE_PLUS}.gz").write_bytes(b"sibling-gz")
    (tag / f"{ONE_PLUS}.br").write_bytes(b"sibling-br")
    (tag / "SHA256SUMS").write_text(f"{'0' * 64}  {ONE_PLUS}\n", encoding="utf-8")
    (root / "index.json").write_text('{"files": []}\n', encoding="utf-8")
    (root / "index.json.gz").write_bytes(b"sibling-gz")
    (root / "download-metadata.json").write_text("{}\n", encoding="utf-8")
    for name in ("install.sh", "install.ps1", "notes.txt", HOSTILE):
        (root / name).write_text("text\n", encoding="utf-8")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text("<p>docs</p>\n", encoding="utf-8")
    (root / "flat").mkdir()
    (root / "flat" / ONE_PLUS).write_bytes(body_of(ONE_PLUS))
    (root / ".mirrorsync").mkdir()
    (root / ".mirrorsync" / "lock").write_text("pid 1\n", encoding="utf-8")
    (root / ".hidden").write_text("hidden\n", encoding="utf-8")
    releases = root / "github" / "python-build-standalone" / "releases"
    releases.mkdir(parents=True)
    (releases / "download").symlink_to("../../..")
    (root / "escape").symlink_to("../outside")
    (root / "leak.txt").symlink_to("../secret.txt")
    (root / "state").symlink_to(".mirrorsync")
    (root / "latest").symlink_to(TAG)
    (root / "loop").symlink_to("loop")
    return root


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[int]:
    """Serve ``app`` on 127.0.0.1 with a free port; yields the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """A mirror tree served by ``build_app`` on loopback."""
    root = make_tree(tmp_path)
    async with running(build_app(root)) as port:
        yield Served(root=root, base=tmp_path, port=port)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v is not None]


def links_of(html: bytes) -> list[str]:
    parser = Links()
    parser.feed(html.decode("utf-8"))
    return parser.hrefs


@pytest.mark.parametrize("name", [ONE_PLUS, TWO_PLUS])
async def test_encoded_and_literal_plus_serve_the_plus_file(served: Served, name: str) -> None:
    """``%2B`` and a literal ``+`` (once or twice in a name) both give the ``+`` file's bytes."""
    encoded = await served.request(f"/{TAG}/{enc(name)}")
    literal = await served.request(f"/{TAG}/{name}")
    assert "%2B" in enc(name)
    assert (encoded.status, literal.status) == (200, 200)
    assert encoded.body == literal.body == body_of(name)


async def test_path_is_percent_decoded_exactly_once(served: Served) -> None:
    """``%252B`` names a file called ``%2B``, not ``+``, and ``%20`` finds the space name."""
    twice = await served.request(f"/{TAG}/{ONE_PLUS.replace('+', '%252B')}")
    spaced = await served.request(f"/{TAG}/{enc(SPACED)}")
    assert twice.status == 404
    assert (spaced.status, spaced.body) == (200, body_of(SPACED))


@pytest.mark.parametrize(
    ("range_", "status", "content_range", "expected"),
    [
        ("bytes=0-0", 206, f"bytes 0-0/{SIZE}", slice(0, 1)),
        ("bytes=100-199", 206, f"bytes 100-199/{SIZE}", slice(100, 200)),
        ("bytes=6000-", 206, f"bytes 6000-6399/{SIZE}", slice(6000, None)),
        ("bytes=-10", 206, f"bytes 6390-6399/{SIZE}", slice(-10, None)),
        ("bytes=6300-9999", 206, f"bytes 6300-6399/{SIZE}", slice(6300, None)),
        (f"bytes={SIZE}-", 416, f"bytes */{SIZE}", None),
        ("bytes=7000-8000", 416, f"bytes */{SIZE}", None),
    ],
)
async def test_range_requests(
    served: Served, range_: str, status: int, content_range: str, expected: slice | None
) -> None:
    """``Range`` gives 206 with the exact bytes and Content-Range, or 416 when unsatisfiable."""
    reply = await served.request(f"/{TAG}/{enc(ONE_PLUS)}", headers={"Range": range_})
    assert reply.status == status
    assert reply.headers["content-range"] == content_range
    if expected is not None:
        assert reply.body == body_of(ONE_PLUS)[expected]
        assert reply.headers["content-length"] == str(len(reply.body))


async def test_head_has_content_length_and_no_body(served: Served) -> None:
    """HEAD of an archive announces its full length and ranges, and sends no body."""
    reply = await served.request(f"/{TAG}/{enc(ONE_PLUS)}", method="HEAD")
    assert reply.status == 200
    assert reply.headers["content-length"] == str(SIZE)
    assert reply.headers["accept-ranges"] == "bytes"
    assert reply.body == b""


@pytest.mark.parametrize(
    ("target", "content_type", "cache_control"),
    [
        (f"/{TAG}/{enc(ONE_PLUS)}", "application/gzip", IMMUTABLE),
        (f"/{TAG}/{enc(TWO_PLUS)}", "application/zstd", IMMUTABLE),
        (f"{ASTRAL}/{TAG}/{enc(TWO_PLUS)}", "application/zstd", IMMUTABLE),
        (f"/latest/{enc(ONE_PLUS)}", "application/gzip", "no-cache"),  # the URL is mutable
        (f"/flat/{enc(ONE_PLUS)}", "application/gzip", "no-cache"),  # not under a tag
        (f"/{TAG}/SHA256SUMS", TEXT, "no-cache"),
        ("/index.json", "application/json", "no-cache"),
        ("/download-metadata.json", "application/json", "no-cache"),
        ("/install.sh", TEXT, "no-cache"),
        ("/install.ps1", TEXT, "no-cache"),
        ("/notes.txt", TEXT, "no-cache"),
        ("/docs/index.html", HTML, "no-cache"),
        ("/docs/", HTML, "no-cache"),
        ("/", HTML, "no-cache"),
        (f"/{TAG}/", HTML, "no-cache"),
    ],
)
async def test_content_type_and_cache_control_per_kind(
    served: Served, target: str, content_type: str, cache_control: str
) -> None:
    """Each kind of file gets its fixed Content-Type and Cache-Control, never Content-Encoding."""
    reply = await served.request(target)
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    assert reply.headers["cache-control"] == cache_control
    assert "content-encoding" not in reply.headers


@pytest.mark.parametrize("accept", ["gzip", "br", "gzip, deflate, br", "GZIP;q=1.0", "*"])
@pytest.mark.parametrize(
    ("target", "path"),
    [(f"/{TAG}/{enc(ONE_PLUS)}", f"{TAG}/{ONE_PLUS}"), ("/index.json", "index.json")],
)
async def test_accept_encoding_never_swaps_in_a_compressed_sibling(
    served: Served, accept: str, target: str, path: str
) -> None:
    """With ``X.gz``/``X.br`` beside ``X``, any Accept-Encoding still gets X's bytes, unencoded."""
    reply = await served.request(target, headers={"Accept-Encoding": accept})
    assert reply.status == 200
    assert "content-encoding" not in reply.headers
    assert reply.body == (served.root / path).read_bytes()


async def test_decompressing_client_gets_the_archive_bytes(served: Served) -> None:
    """aiohttp's client, which asks for gzip and unpacks it, receives the archive unchanged."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{served.port}/{TAG}/{enc(ONE_PLUS)}") as resp,
    ):
        assert resp.status == 200
        assert await resp.read() == body_of(ONE_PLUS)


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/../secret.txt", 404),
        ("/%2e%2e/secret.txt", 404),
        ("/%2E%2E/secret.txt", 404),
        ("/.%2e/secret.txt", 404),
        ("/..%2fsecret.txt", 404),
        (f"/{TAG}/..%2f..%2fsecret.txt", 404),
        (f"/{TAG}%2F..%2F..%2Fsecret.txt", 404),
        ("/..\\secret.txt", 404),
        ("/..%5csecret.txt", 404),
        (f"/{TAG}\\..\\..\\secret.txt", 404),
        ("/secret.txt%00", 404),
        ("/%00/../secret.txt", 404),
        ("/..%00/secret.txt", 404),
        ("/../secret.txt\x00", 400),  # a raw NUL never gets past aiohttp's parser
        (f"{ASTRAL}/../secret.txt", 404),
        (f"{ASTRAL}/%2e%2e/secret.txt", 404),
        ("http://127.0.0.1/../secret.txt", 404),
        ("{abs}", 404),
        ("/{abs}", 404),
        ("/%2F{rel}", 404),
        ("/%2f%2f{rel}", 404),
    ],
)
async def test_traversal_never_reads_outside_the_root(
    served: Served, target: str, status: int
) -> None:
    """Dot-dot, encoded dots and slashes, backslashes, NUL and absolute paths never escape."""
    absolute = (served.base / "secret.txt").as_posix()
    target = target.replace("{abs}", absolute).replace("{rel}", absolute.lstrip("/"))
    reply = await served.request(target)
    assert reply.status == status
    assert SECRET not in reply.body


@pytest.mark.parametrize("slash", ["%2F", "%2f"])
async def test_encoded_slash_is_never_a_separator(served: Served, slash: str) -> None:
    """``<tag>%2F<name>`` is one segment naming nothing, not ``<tag>/<name>``."""
    reply = await served.request(f"/{TAG}{slash}{enc(ONE_PLUS)}")
    assert reply.status == 404


@pytest.mark.parametrize(
    "target", ["/escape/secret.txt", "/escape/", "/escape", "/leak.txt", "/loop", "/loop/"]
)
async def test_symlink_leaving_the_root_is_not_found(served: Served, target: str) -> None:
    """A link whose target resolves outside the root (or nowhere) answers 404."""
    reply = await served.request(target)
    assert reply.status == 404
    assert SECRET not in reply.body


async def test_astral_layout_link_serves_the_archive(served: Served) -> None:
    """``<astral prefix>/<tag>/<name>`` serves ``<root>/<tag>/<name>`` through the relative link."""
    reply = await served.request(f"{ASTRAL}/{TAG}/{enc(ONE_PLUS)}")
    assert reply.status == 200
    assert reply.body == body_of(ONE_PLUS)


@pytest.mark.parametrize(
    "target",
    [
        "/.mirrorsync/",
        "/.mirrorsync",
        "/.mirrorsync/lock",
        "/%2Emirrorsync/lock",
        "/.hidden",
        "/state/lock",  # a link into the state directory
        f"{ASTRAL}/.mirrorsync/lock",
    ],
)
async def test_state_directory_and_dot_files_are_not_found(served: Served, target: str) -> None:
    """``.mirrorsync/`` and dot-files answer 404, however they are reached."""
    reply = await served.request(target)
    assert reply.status == 404
    assert b"pid 1" not in reply.body


async def test_listing_hides_dot_entries_and_escaping_links(served: Served) -> None:
    """The root listing shows sorted visible entries only: no state dir, dot-file or bad link."""
    reply = await served.request("/")
    names = [quote(h.rstrip("/"), safe="%") for h in links_of(reply.body)]
    expected = [
        TAG,
        HOSTILE,
        "docs",
        "download-metadata.json",
        "flat",
        "github",
        "index.json",
        "index.json.gz",
        "install.ps1",
        "install.sh",
        "notes.txt",
    ]
    assert names == [enc(n) for n in sorted(expected)]
    assert b"mirrorsync" not in reply.body
    assert b"hidden" not in reply.body


async def test_listing_escapes_hostile_names(served: Served) -> None:
    """A file name holding markup is shown escaped, never as live HTML."""
    reply = await served.request("/")
    assert b"<script>" not in reply.body
    assert b"a&lt;script&gt;alert(1)&lt;&amp;&quot;&#x27;&gt;.txt" in reply.body


@pytest.mark.parametrize("listing", ["/", f"/{TAG}/", f"{ASTRAL}/", f"{ASTRAL}/{TAG}/"])
async def test_every_listing_link_resolves(served: Served, listing: str) -> None:
    """Following each link of a listing answers 200; ``+`` is linked as ``%2B``."""
    reply = await served.request(listing)
    hrefs = links_of(reply.body)
    assert hrefs
    assert not any("+" in h for h in hrefs)
    for href in hrefs:
        followed = await served.request(urljoin(listing, href))
        assert followed.status == 200, href


async def test_tag_listing_names_and_sizes(served: Served) -> None:
    """A tag directory lists its files sorted, each with its size in bytes."""
    reply = await served.request(f"/{TAG}/")
    hrefs = links_of(reply.body)
    names = sorted([ONE_PLUS, f"{ONE_PLUS}.br", f"{ONE_PLUS}.gz", SPACED, TWO_PLUS, "SHA256SUMS"])
    assert hrefs == ["../", *(enc(n) for n in names)]
    assert f"<td>{SIZE}</td>".encode() in reply.body


@pytest.mark.parametrize(
    ("target", "location"),
    [(f"/{TAG}", f"/{TAG}/"), ("/docs?x=1", "/docs/?x=1"), (ASTRAL, f"{ASTRAL}/")],
)
async def test_directory_without_slash_redirects(
    served: Served, target: str, location: str
) -> None:
    """A directory asked for without its trailing slash answers 301 to the slash form."""
    reply = await served.request(target)
    assert reply.status == 301
    assert reply.headers["location"] == location


async def test_directory_index_html_is_served(served: Served) -> None:
    """A directory holding ``index.html`` serves that file instead of a listing."""
    reply = await served.request("/docs/")
    assert reply.body == b"<p>docs</p>\n"


async def test_file_with_trailing_slash_is_not_found(served: Served) -> None:
    """A file asked for as a directory answers 404."""
    reply = await served.request(f"/{TAG}/{enc(ONE_PLUS)}/")
    assert reply.status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_only_get_and_head_are_allowed(served: Served, method: str) -> None:
    """Any method but GET and HEAD answers 405 and names the allowed ones."""
    reply = await served.request("/index.json", method=method)
    assert reply.status == 405
    assert set(reply.headers["allow"].split(",")) == {"GET", "HEAD"}


@pytest.mark.parametrize("access_log", [True, False])
async def test_access_log_line_per_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, *, access_log: bool
) -> None:
    """Each request logs one common-log-format line on the serve logger, unless disabled."""
    root = make_tree(tmp_path)
    caplog.set_level(logging.INFO, logger="mirrorsync.commands.serve")
    async with running(build_app(root, access_log=access_log)) as port:
        served = Served(root=root, base=tmp_path, port=port)
        await served.request(f"/{TAG}/{enc(ONE_PLUS)}")
        await served.request("/missing")
    lines = [r.getMessage() for r in caplog.records if r.name == "mirrorsync.commands.serve"]
    if not access_log:
        assert lines == []
        return
    assert len(lines) == 2
    assert f'"GET /{TAG}/{enc(ONE_PLUS)} HTTP/1.1" 200 {SIZE}' in lines[0]
    assert '"GET /missing HTTP/1.1" 404' in lines[1]


def test_missing_root_is_a_config_error(tmp_path: Path) -> None:
    """Building the app over a root that is not a directory raises ``ConfigError``."""
    with pytest.raises(ConfigError, match="not a directory"):
        build_app(tmp_path / "absent")


async def test_serve_on_port_zero_reports_a_url_that_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``serve(port=0)`` calls ``ready`` with a loopback URL that serves the tree, then logs it."""
    root = make_tree(tmp_path)
    caplog.set_level(logging.INFO, logger="mirrorsync.commands.serve")
    async with (
        serving(root) as url,
        aiohttp.ClientSession() as session,
        session.get(f"{url}{TAG}/{enc(TWO_PLUS)}") as resp,
    ):
        body = await resp.read()
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith(":0/")
    assert body == body_of(TWO_PLUS)
    assert f"serving {root} at {url}" in [r.getMessage() for r in caplog.records]
