"""Static HTML pages for hosts without directory listings (S3, CDNs): the root and each release.

Pure: the pages are rendered from index entries and the last run's outcome. No script at all, one
small stylesheet inline, and a layout that fits a 320 px phone: long names wrap at their ``-`` and
``+``, code blocks wrap instead of scrolling, and on a narrow screen a release's file table
becomes a list of cards.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from mirrorsync.core.layout import (
    INDEX_PATH,
    README_TXT,
    SUMS_NAME,
    USE_MIRROR_PS1,
    USE_MIRROR_SH,
    UV_DIR,
    UV_METADATA,
    UV_METADATA_MIRROR,
)
from mirrorsync.core.model import IndexEntry
from mirrorsync.core.units import human_size, parse_timestamp
from mirrorsync.core.uvlist import UPSTREAM_URL

UV_UPSTREAM_URL = "https://github.com/astral-sh/uv"
"""Where a uv version's page links its release notes."""

MISE_PATTERN = (
    "regex:^https://github\\\\.com/astral-sh/python-build-standalone/releases/download/(.+)"
)
"""mise's ``url_replacements`` key, as written inside a TOML basic string."""
PLACEHOLDER_URL = "https://YOUR-MIRROR/PATH"
"""Shown in the instructions when the configuration has no ``publish.base_url``."""
EXTRA_NOTES = {
    UV_METADATA: "uv's list of this mirror's builds (GitHub URLs: use it with the mirror setting)",
    UV_METADATA_MIRROR: (
        "the same list with this mirror's URLs (alone, without UV_PYTHON_INSTALL_MIRROR)"
    ),
    USE_MIRROR_SH: "sets uv's variables to this tree wherever it is mounted (sh)",
    USE_MIRROR_PS1: "the same for PowerShell",
    README_TXT: "how to use a copy of this tree offline",
}
"""What the root's client files are for, by name; other names are listed without a note."""
STATUS_CLASSES = frozenset({"success", "partial", "failed", "refused", "interrupted"})
BREAK_AFTER = re.compile(r"([-+])")

STYLE = """
:root { color-scheme: light dark; --tint: rgba(127,127,127,.12); --line: rgba(127,127,127,.3); }
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5;
       margin: 0 auto; max-width: 64rem; padding: 1rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .5rem 0 .75rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; padding-bottom: .2rem;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.25rem 0 .25rem; }
p { margin: .5rem 0; }
code, pre, .sha { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
                  monospace; }
code, pre { font-size: .875em; }
pre { background: var(--tint); border-radius: 6px; margin: .25rem 0 .75rem; padding: .6rem .75rem;
      white-space: pre-wrap; word-break: break-all; }
.status { background: var(--tint); border-left: 4px solid var(--line); border-radius: 4px;
          padding: .5rem .75rem; }
.status.status-success { border-left-color: #1a7f37; }
.status.status-partial, .status.status-failed, .status.status-refused,
.status.status-interrupted { border-left-color: #cf222e; }
strong.status-success { color: #1a7f37; }
strong.status-partial, strong.status-failed, strong.status-refused,
strong.status-interrupted { color: #cf222e; }
@media (prefers-color-scheme: dark) {
  strong.status-success { color: #3fb950; }
  strong.status-partial, strong.status-failed, strong.status-refused,
  strong.status-interrupted { color: #f85149; }
}
time { white-space: nowrap; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .6rem; text-align: left;
         vertical-align: top; }
th:first-child, td:first-child { padding-left: 0; }
.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
table.releases { min-width: min(100%, 24rem); }
table.files { width: 100%; }
td.name { overflow-wrap: anywhere; }
td.sha { font-size: .8em; overflow-wrap: anywhere; }
ul { padding-left: 1.25rem; }
.note { opacity: .8; font-size: .9em; }
footer { border-top: 1px solid var(--line); font-size: .85em; margin-top: 2.5rem; opacity: .8;
         padding-top: .5rem; }
@media (max-width: 40rem) {
  body { padding: .75rem; }
  h1 { font-size: 1.35rem; }
  table.files, table.files tbody, table.files tr, table.files td { display: block; }
  table.files thead { display: none; }
  table.files tr { border-bottom: 1px solid var(--line); padding: .5rem 0; }
  table.files td { border: 0; padding: .1rem 0; text-align: left; }
  table.files td[data-label]::before { content: attr(data-label) " "; font-family: system-ui,
                                       sans-serif; font-size: .85rem; opacity: .7; }
}
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """The last run as the root page reports it."""

    status: str
    ended: str
    last_update: str | None
    generator: str
    upstream: str = ""
    """Which upstream the mirror is made from, in words (``UpstreamConfig.label``)."""


def href(name: str) -> str:
    """A relative link: percent-encoded, ``+`` as ``%2B`` (S3 reads a literal ``+`` as a space);
    a uv version's directory (``uv/<version>``) keeps its ``/``."""
    if name.startswith(f"{UV_DIR}/"):
        return "/".join(quote(part, safe="") for part in name.split("/"))
    return quote(name, safe="")


def _size_cell(n: int, *, label: bool = False) -> str:
    # The exact count rides along in the title: the shown value is rounded.
    data = ' data-label="size"' if label else ""
    return f'<td class="num" title="{n} bytes"{data}>{human_size(n)}</td>'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _link(name: str) -> str:
    """A link to the file ``name`` beside the page, labelled with its name."""
    return f'<a href="{href(name)}">{escape(name)}</a>'


def _breakable(name: str) -> str:
    """``name`` escaped, with a line-break opportunity after each ``-`` and ``+``."""
    return BREAK_AFTER.sub(r"\1<wbr>", escape(name))


def _time(stamp: str) -> str:
    """An RFC 3339 UTC stamp as a ``<time>`` that reads well; anything else as escaped text."""
    if (moment := parse_timestamp(stamp)) is None:
        return escape(stamp)
    return f'<time datetime="{stamp}">{moment:%Y-%m-%d %H:%M:%S} UTC</time>'


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def _status(run: RunInfo | None) -> str:
    if run is None:
        return ""
    kind = f"status-{run.status}" if run.status in STATUS_CLASSES else "status-other"
    ended = f", ended {_time(run.ended)}" if run.ended else ""
    last_update = _time(run.last_update) if run.last_update else "never"
    made_from = (
        f'<br>\nMade from <span id="upstream">{escape(run.upstream)}</span>.'
        if run.upstream
        else ""
    )
    return (
        f'<p id="last-sync" class="status {kind}">Last sync: '
        f'<strong class="{kind}">{escape(run.status)}</strong>{ended}.<br>\n'
        f"Last successful update: {last_update}.{made_from}</p>"
    )


def _pbs_installer(mirror: str, *, flat: bool) -> str:
    if not flat:
        return (
            "<h3>pbs-installer and PDM</h3>\n<p>They need a flat directory of archives, which "
            "this mirror does not publish (<code>publish.flat</code>).</p>\n"
        )
    return (
        "<h3>pbs-installer and PDM</h3>\n<p>From the flat view <code>flat/</code>:</p>\n"
        f"<pre>export PBS_INSTALLER_BASE_URL={mirror}/flat</pre>\n"
    )


def _usage(mirror: str, *, extras: frozenset[str], flat: bool) -> str:
    """How each consumer points at this mirror (docs/clients.md §1); ``mirror`` is escaped."""
    uv_env = f"export UV_PYTHON_INSTALL_MIRROR={mirror}\n"
    uv_toml = f'python-install-mirror = "{mirror}"\n'
    uv_note = ""
    if UV_METADATA in extras:
        listing = f"{mirror}/{UV_METADATA}"
        uv_env += f"export UV_PYTHON_DOWNLOADS_JSON_URL={listing}\n"
        uv_toml += f'python-downloads-json-url = "{listing}"\n'
        uv_note = (
            '<p class="note">The download list is optional: with it, uv offers exactly the '
            "builds this mirror holds.</p>\n"
        )
    return f"""<h2>Use it</h2>
<h3>uv</h3>
<p>In the environment, or in <code>uv.toml</code>:</p>
<pre>{uv_env}uv python install 3.13</pre>
<pre># uv.toml
{uv_toml.rstrip()}</pre>
{uv_note}{_pbs_installer(mirror, flat=flat)}
<h3>mise</h3>
<pre># ~/.config/mise/config.toml
[settings]
url_replacements = {{ "{MISE_PATTERN}" = "{mirror}/$1" }}</pre>
<h3>rules_python (Bazel)</h3>
<pre># MODULE.bazel
python.override(base_urls = ["{mirror}"])</pre>"""


def render_root_page(
    entries: Iterable[IndexEntry],
    *,
    run: RunInfo | None,
    base_url: str | None,
    extras: Iterable[str] = (),
    flat: bool = False,
) -> bytes:
    """The root ``index.html``: how to use the mirror, the releases, and the last run.

    ``flat``: the mirror publishes the ``flat/`` view that pbs-installer needs.
    """
    by_tag: dict[str, list[IndexEntry]] = defaultdict(list)
    uv: dict[str, list[IndexEntry]] = defaultdict(list)
    for e in entries:
        (uv if e.kind == "uv" else by_tag)[e.tag].append(e)
    extra_names = frozenset(extras)
    mirror = escape(base_url.rstrip("/") if base_url else PLACEHOLDER_URL)
    rows = "\n".join(
        f'<tr><td><a href="{href(tag)}/">{escape(tag)}</a></td>'
        f'<td class="num">{len(files)}</td>{_size_cell(sum(f.size for f in files))}</tr>'
        for tag, files in sorted(by_tag.items(), reverse=True)  # newest release first
    )
    total = sum(len(files) for files in by_tag.values())
    total_size = sum(f.size for files in by_tag.values() for f in files)
    extra_links = "".join(
        f"\n<li>{_link(name)}"
        + (f": {escape(EXTRA_NOTES[name])}" if name in EXTRA_NOTES else "")
        + "</li>"
        for name in sorted(extra_names)
    )
    body = f"""<header>
<h1>python-build-standalone mirror</h1>
<p>A mirror of <a href="{UPSTREAM_URL}">python-build-standalone</a>, the relocatable CPython
builds that uv and other tools install. Every file is byte-identical to the upstream release and
listed with its sha256 in its release's <code>SHA256SUMS</code>.</p>
</header>
{_status(run)}
{_usage(mirror, extras=extra_names, flat=flat)}
<h2>Releases</h2>
<p>{_count(len(by_tag), "release")}, {_count(total, "file")}, {human_size(total_size)}.</p>
<table class="releases">
<thead><tr><th>release</th><th class="num">files</th><th class="num">size</th></tr></thead>
<tbody>
{rows}
</tbody></table>
{_uv_section(uv)}<h2>Indexes</h2>
<ul><li>{_link(INDEX_PATH)}: every file with its size and sha256</li>{extra_links}
</ul>
<footer>Generated by {escape(run.generator if run else "mirrorsync")}.</footer>"""
    return _page("python-build-standalone mirror", body)


def _uv_section(uv: Mapping[str, list[IndexEntry]]) -> str:
    """The root page's list of the uv versions the mirror carries (``bundle.uv``), if any."""
    if not uv:
        return ""
    rows = "\n".join(
        f'<tr><td><a href="{href(tag)}/">{escape(tag.rsplit("/", 1)[-1])}</a></td>'
        f'<td class="num">{len(files)}</td>{_size_cell(sum(f.size for f in files))}</tr>'
        for tag, files in sorted(uv.items(), key=lambda item: _uv_order(item[0]), reverse=True)
    )
    return f"""<h2>uv</h2>
<p>uv itself, for machines without it: {_count(len(uv), "version")}, each with the archives of
the platforms this mirror carries (<code>use-mirror.sh</code> and <code>use-mirror.ps1</code> use
them).</p>
<table class="releases">
<thead><tr><th>version</th><th class="num">files</th><th class="num">size</th></tr></thead>
<tbody>
{rows}
</tbody></table>
"""


def _uv_order(tag: str) -> tuple[int, ...]:
    return tuple(int(p) for p in tag.rsplit("/", 1)[-1].split(".") if p.isdigit())


def render_tag_page(tag: str, entries: Iterable[IndexEntry]) -> bytes:
    """A release's ``index.html`` (or a uv version's): every file with its size and sha256."""
    files = sorted(entries, key=lambda e: e.name)
    rows = "\n".join(
        f'<tr><td class="name"><a href="{href(e.name)}">{_breakable(e.name)}</a></td>'
        f'{_size_cell(e.size, label=True)}<td class="sha" data-label="sha256">{escape(e.sha256)}'
        "</td></tr>"
        for e in files
    )
    total = sum(e.size for e in files)
    if tag.startswith(f"{UV_DIR}/"):
        version = tag.rsplit("/", 1)[-1]
        up, title, notes, heading = "../../", f"uv {version}", UV_UPSTREAM_URL, "the mirror"
    else:
        version, up, title, notes = tag, "../", f"python-build-standalone {tag}", UPSTREAM_URL
        heading = "all releases"
    body = f"""<nav><a href="{up}">← {heading}</a></nav>
<h1>{escape(title if version != tag else f"Release {tag}")}</h1>
<p>{_count(len(files), "file")}, {human_size(total)}. Check downloads with
<code>sha256sum -c {SUMS_NAME}</code> (<a href="{SUMS_NAME}">{SUMS_NAME}</a>).
<a href="{notes}/releases/tag/{href(version)}">Release notes</a> on GitHub.</p>
<table class="files">
<thead><tr><th>file</th><th class="num">size</th><th>sha256</th></tr></thead>
<tbody>
{rows}
</tbody></table>"""
    return _page(title, body)
