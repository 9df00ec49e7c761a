"""The static pages as rendered bytes: escaping, link encoding, sizes, sorting, the last run."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirrorsync.core.model import IndexEntry
from mirrorsync.publish.pages import (
    PLACEHOLDER_URL,
    RunInfo,
    href,
    render_root_page,
    render_tag_page,
)

TAG = "20251217"
OLD_TAG = "20210724"
LINUX = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
MAC = "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz"
FULL = "cpython-3.13.11+20251217-x86_64_v3-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst"
OLD = "cpython-3.9.6-x86_64-unknown-linux-gnu-install_only-20210724T1424.tar.gz"
SUCCESS = RunInfo(
    status="success",
    ended="2025-12-06T05:46:40Z",
    last_update="2025-12-06T05:46:40Z",
    generator="mirrorsync 0.1.0",
)
PAGE_TAGS = frozenset(
    {"html", "head", "meta", "title", "style", "body", "header", "nav", "footer", "h1", "h2"}
    | {"h3", "p", "br", "strong", "time", "code", "pre", "ul", "li", "a", "wbr"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)
"""Every element the pages use: a hostile name must never add one."""
EXTRAS = ("download-metadata.json", "download-metadata.mirror.json", "use-mirror.sh")


def entry(path: str, *, size: int = 1000, sha256: str = "ab" * 32) -> IndexEntry:
    return IndexEntry(
        path=path,
        size=size,
        sha256=sha256,
        verified=True,
        python="3.13.11",
        platform="x86_64-unknown-linux-gnu",
        flavor="install_only_stripped",
        build="",
        variant="default",
    )


@dataclass
class Parsed:
    """What a browser would see of a page: elements, links with their text, and table rows."""

    elements: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    rows: list[list[tuple[dict[str, str], str]]] = field(default_factory=list)
    text: str = ""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Parsed()
        self._link: list[str] | None = None
        self._cell: tuple[dict[str, str], list[str]] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        self.page.elements.append((tag, named))
        if tag == "body":
            self._in_body = True
        elif tag == "a":
            self._link = [named.get("href", ""), ""]
        elif tag == "tr":
            self.page.rows.append([])
        elif tag == "td":
            self._cell = (named, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.page.links.append((self._link[0], self._link[1]))
            self._link = None
        elif tag == "td" and self._cell is not None:
            self.page.rows[-1].append((self._cell[0], "".join(self._cell[1])))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link[1] += data
        if self._cell is not None:
            self._cell[1].append(data)
        if self._in_body:
            self.page.text += data


def parse(page: bytes) -> Parsed:
    reader = _Reader()
    reader.feed(page.decode("utf-8"))
    reader.close()
    return reader.page


def pre_blocks(page: bytes) -> list[str]:
    return [unescape(b) for b in re.findall(r"<pre>(.*?)</pre>", page.decode(), flags=re.DOTALL)]


# -- href ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # uv sends %2B and S3 decodes a literal "+" to a space (docs/clients.md §4).
        (LINUX, LINUX.replace("+", "%2B")),
        (FULL, FULL.replace("+", "%2B")),
        (OLD, OLD),  # 2021 names carry no "+": unchanged
        (TAG, TAG),
        ("SHA256SUMS", "SHA256SUMS"),
        ("a b", "a%20b"),
        ("a/b", "a%2Fb"),  # one path segment, never two
        ("100%", "100%25"),
        ("a?b#c", "a%3Fb%23c"),
        ("javascript:alert(1)", "javascript%3Aalert%281%29"),  # no scheme survives
        ("\"<>&'", "%22%3C%3E%26%27"),
        ("é", "%C3%A9"),
        ("A-Z_a.z~0", "A-Z_a.z~0"),
    ],
)
def test_href_percent_encodes_one_path_segment(name: str, expected: str) -> None:
    """``href`` encodes everything but unreserved characters, so ``+`` is always ``%2B``."""
    assert href(name) == expected
    assert unquote(href(name)) == name


# -- escaping ------------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>.tar.gz",
    '"><img src=x onerror=alert(1)>.tar.gz',
    "x' onmouseover='alert(1).tar.gz",
    "a&amp;b&lt;-+.tar.gz",
    "javascript:alert(1)",
    "</td></tr></table><h1>owned</h1>",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_name_is_shown_as_text_and_linked_by_its_bytes(name: str) -> None:
    """A hostile name adds no element or attribute and its link leads back to exactly that name."""
    page = render_tag_page(TAG, [entry(f"{TAG}/{name}")])
    parsed = parse(page)
    assert {tag for tag, _ in parsed.elements} <= PAGE_TAGS
    assert not [a for _, attrs in parsed.elements for a in attrs if a.startswith("on")]
    file_links = [(h, text) for h, text in parsed.links if text == name]
    assert len(file_links) == 1
    target = file_links[0][0]
    assert unquote(target) == name
    assert urlsplit(target).scheme == ""
    assert b"<script" not in page.lower()


def test_hostile_run_base_url_and_extras_are_escaped() -> None:
    """Status, times, generator, base URL and extra names reach the root page only as text."""
    run = RunInfo(
        status='<b onclick="x">',
        ended="<i>then</i>",
        last_update="</p><script>alert(1)</script>",
        generator="<script>gen</script>",
    )
    page = render_root_page(
        [entry(f"{TAG}/{LINUX}")],
        run=run,
        base_url='https://h.example/"><script>x</script>',
        extras=["<script>.json"],
    )
    parsed = parse(page)
    assert b"<script" not in page.lower()
    assert {tag for tag, _ in parsed.elements} <= PAGE_TAGS
    assert not [a for _, attrs in parsed.elements for a in attrs if a.startswith("on")]
    classes = [attrs["class"] for tag, attrs in parsed.elements if tag == "strong"]
    assert classes == ["status-other"]  # an unknown status never becomes a class name
    assert '<b onclick="x">' in parsed.text
    assert "<script>gen</script>" in parsed.text


@pytest.mark.property
@given(
    name=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
)
def test_any_name_round_trips_through_the_tag_page(name: str) -> None:
    """Whatever the name, the page shows it verbatim and links to it, with no markup of its own."""
    parsed = parse(render_tag_page(TAG, [entry(f"{TAG}/{name}")]))
    assert {tag for tag, _ in parsed.elements} <= PAGE_TAGS
    ((attrs, text), *_) = parsed.rows[-1]
    assert attrs == {"class": "name"}
    assert text == name
    assert (href(name), name) in parsed.links
    assert unquote(href(name)) == name


# -- sizes and sorting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        # The whole table of human_size is in tests/core/test_units.py; these show the page uses it.
        (1023, "1023 B"),
        (1_048_575, "1.0 MiB"),  # rounds up to the next unit, never "1024.0 KiB"
        (31_457_280, "30.0 MiB"),  # a typical install_only archive
    ],
)
def test_sizes_read_in_binary_units_with_exact_bytes_in_the_title(size: int, shown: str) -> None:
    """A size reads as B/KiB/MiB/GiB/TiB with one decimal; the exact count is in the title."""
    parsed = parse(render_tag_page(TAG, [entry(f"{TAG}/{LINUX}", size=size)]))
    (_, (attrs, text), _) = parsed.rows[-1]
    assert text == shown
    assert attrs["title"] == f"{size} bytes"


def test_root_page_counts_and_sums_each_release_newest_first() -> None:
    """Releases are listed newest first with their file count and total size, plus a grand total."""
    entries = [
        entry(f"{OLD_TAG}/{OLD}", size=700),
        entry(f"{TAG}/{MAC}", size=1_048_576),
        entry(f"{TAG}/{LINUX}", size=2_621_440),
        entry(f"{TAG}/{FULL}", size=3000),
    ]
    parsed = parse(render_root_page(entries, run=SUCCESS, base_url=None))
    releases = [
        [text for _, text in row] + [row[2][0]["title"]] for row in parsed.rows if len(row) == 3
    ]
    assert releases == [
        [TAG, "3", "3.5 MiB", "3673016 bytes"],
        [OLD_TAG, "1", "700 B", "700 bytes"],
    ]
    assert "2 releases, 4 files, 3.5 MiB." in parsed.text
    assert (f"{TAG}/", TAG) in parsed.links


def test_tag_page_lists_files_by_name_with_size_and_sha256() -> None:
    """A release page lists its files sorted by name, whatever the order they came in."""
    entries = [
        entry(f"{TAG}/{LINUX}", size=2, sha256="2" * 64),
        entry(f"{TAG}/{FULL}", size=3, sha256="3" * 64),
        entry(f"{TAG}/{MAC}", size=1, sha256="1" * 64),
    ]
    parsed = parse(render_tag_page(TAG, entries))
    rows = [[text for _, text in row] for row in parsed.rows if row]
    assert rows == [
        [MAC, "1 B", "1" * 64],
        [LINUX, "2 B", "2" * 64],
        [FULL, "3 B", "3" * 64],
    ]
    assert "3 files, 6 B." in parsed.text
    assert ("../", "← all releases") in parsed.links
    assert ("SHA256SUMS", "SHA256SUMS") in parsed.links
    github = f"https://github.com/astral-sh/python-build-standalone/releases/tag/{TAG}"
    assert (github, "Release notes") in parsed.links


def test_one_file_is_not_plural() -> None:
    """Counts read "1 file" and "1 release", not "1 files"."""
    parsed = parse(render_root_page([entry(f"{TAG}/{LINUX}")], run=None, base_url=None))
    assert "1 release, 1 file," in parsed.text


def test_long_names_may_break_after_dash_and_plus_only() -> None:
    """A name offers line breaks after each ``-`` and ``+``, so a phone wraps it between words."""
    page = render_tag_page(TAG, [entry(f"{TAG}/{FULL}")]).decode()
    shown = FULL.replace("-", "-<wbr>").replace("+", "+<wbr>")
    assert f">{shown}</a>" in page


# -- usage and the last run ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "mirror"),
    [
        ("https://m.example/pbs/", "https://m.example/pbs"),  # uv adds the "/" itself
        ("https://m.example/pbs", "https://m.example/pbs"),
        (None, PLACEHOLDER_URL),
    ],
)
def test_instructions_name_the_mirror_for_each_tool(base_url: str | None, mirror: str) -> None:
    """uv (variable, uv.toml), pbs-installer, mise and rules_python each get a working setting."""
    page = render_root_page([entry(f"{TAG}/{LINUX}")], run=None, base_url=base_url, flat=True)
    blocks = pre_blocks(page)
    assert f"export UV_PYTHON_INSTALL_MIRROR={mirror}\n" in blocks[0]
    (uv_toml,) = (tomllib.loads(b) for b in blocks if "# uv.toml" in b)
    assert uv_toml == {"python-install-mirror": mirror}
    assert any(f"export PBS_INSTALLER_BASE_URL={mirror}/flat" in b for b in blocks)
    (mise,) = (tomllib.loads(b) for b in blocks if "url_replacements" in b)
    ((pattern, replacement),) = mise["settings"]["url_replacements"].items()
    github = f"https://github.com/astral-sh/python-build-standalone/releases/download/{TAG}/{LINUX}"
    rewritten = re.sub(pattern.removeprefix("regex:"), replacement.replace("$1", r"\1"), github)
    assert rewritten == f"{mirror}/{TAG}/{LINUX}"
    assert any(f'python.override(base_urls = ["{mirror}"])' in b for b in blocks)


@pytest.mark.parametrize(
    ("extras", "offered"), [(EXTRAS, True), (EXTRAS[1:], False), ((), False)], ids=str
)
def test_uv_download_list_is_offered_only_when_published(
    extras: tuple[str, ...], *, offered: bool
) -> None:
    """The root page points uv at download-metadata.json only if the mirror writes that file."""
    page = render_root_page(
        [entry(f"{TAG}/{LINUX}")], run=None, base_url="https://m.example", extras=extras
    )
    blocks = pre_blocks(page)
    listing = "https://m.example/download-metadata.json"
    assert any(f"export UV_PYTHON_DOWNLOADS_JSON_URL={listing}\n" in b for b in blocks) is offered
    uv_toml = next(tomllib.loads(b) for b in blocks if "# uv.toml" in b)
    assert (uv_toml.get("python-downloads-json-url") == listing) is offered


def test_extras_are_linked_sorted_with_their_purpose() -> None:
    """Each published root file is linked (sorted, encoded) beside index.json, with a note."""
    page = render_root_page(
        [entry(f"{TAG}/{LINUX}")], run=None, base_url=None, extras=["use-mirror.sh", "a+b.txt"]
    )
    parsed = parse(page)
    linked = [(h, t) for h, t in parsed.links if not h.endswith("/") and "://" not in h]
    assert linked == [
        ("index.json", "index.json"),
        ("a%2Bb.txt", "a+b.txt"),
        ("use-mirror.sh", "use-mirror.sh"),
    ]
    assert "use-mirror.sh: sets uv's variables" in parsed.text


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            SUCCESS,
            (
                'Last sync: <strong class="status-success">success</strong>, ended '
                '<time datetime="2025-12-06T05:46:40Z">2025-12-06 05:46:40 UTC</time>.<br>\n'
                'Last successful update: <time datetime="2025-12-06T05:46:40Z">'
                "2025-12-06 05:46:40 UTC</time>."
            ),
        ),
        (
            RunInfo(status="partial", ended="2025-12-07T00:00:00Z", last_update=None, generator=""),
            (
                'Last sync: <strong class="status-partial">partial</strong>, ended '
                '<time datetime="2025-12-07T00:00:00Z">2025-12-07 00:00:00 UTC</time>.<br>\n'
                "Last successful update: never."
            ),
        ),
        (  # a stamp of another shape is shown as it is, never as a machine-readable <time>
            RunInfo(status="failed", ended="yesterday", last_update="", generator=""),
            (
                'Last sync: <strong class="status-failed">failed</strong>, ended yesterday.<br>\n'
                "Last successful update: never."
            ),
        ),
        (
            RunInfo(status="interrupted", ended="", last_update=None, generator=""),
            (
                'Last sync: <strong class="status-interrupted">interrupted</strong>.<br>\n'
                "Last successful update: never."
            ),
        ),
    ],
)
def test_last_sync_reports_how_it_ended_and_the_last_success(run: RunInfo, expected: str) -> None:
    """The root page states the last run's outcome and end, and when an update last succeeded."""
    page = render_root_page([entry(f"{TAG}/{LINUX}")], run=run, base_url=None).decode()
    kind = f"status-{run.status}"
    assert f'<p id="last-sync" class="status {kind}">{expected}</p>' in page


def test_no_run_means_no_status_line() -> None:
    """Without a recorded run the page states nothing about one."""
    page = render_root_page([entry(f"{TAG}/{LINUX}")], run=None, base_url=None)
    assert b"last-sync" not in page
    assert "Generated by mirrorsync." in parse(page).text


# -- static and phone-ready ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        render_root_page([entry(f"{TAG}/{LINUX}")], run=SUCCESS, base_url=None, extras=EXTRAS),
        render_tag_page(TAG, [entry(f"{TAG}/{LINUX}")]),
    ],
    ids=["root", "release"],
)
def test_pages_are_static_utf8_and_declare_a_phone_viewport(page: bytes) -> None:
    """No script, no event handler, UTF-8 declared, and a device-width viewport."""
    parsed = parse(page)
    assert b"<script" not in page.lower()
    assert not [a for _, attrs in parsed.elements for a in attrs if a.startswith("on")]
    metas = [attrs for tag, attrs in parsed.elements if tag == "meta"]
    assert {"charset": "utf-8"} in metas
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in metas
    assert page.startswith(b"<!doctype html>\n")


def test_pbs_installer_is_told_when_there_is_no_flat_view() -> None:
    """Without the flat view, the page says so instead of giving a base URL that would 404."""
    page = render_root_page([entry(f"{TAG}/{LINUX}")], run=None, base_url=None).decode()
    assert "PBS_INSTALLER_BASE_URL" not in page
    assert "publish.flat" in page


def test_root_page_names_the_upstream_escaped() -> None:
    """The root page says which upstream the mirror was made from, HTML-escaped."""
    run = RunInfo(
        status="success",
        ended="2025-12-07T00:00:00Z",
        last_update=None,
        generator="",
        upstream="the mirrorsync mirror at http://a/<b>",
    )
    page = render_root_page([], run=run, base_url=None).decode()
    assert (
        'Made from <span id="upstream">the mirrorsync mirror at http://a/&lt;b&gt;</span>' in page
    )
    plain = RunInfo(status="success", ended="", last_update=None, generator="")
    assert "Made from" not in render_root_page([], run=plain, base_url=None).decode()
