"""Static HTML pages for hosts without directory listings (S3, CDNs): the root and each release.

Pure: the pages are rendered from index entries and the last run's outcome; no script, one small
stylesheet inline, readable on a phone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from mirrorsync.model import IndexEntry

MISE_PATTERN = (
    "regex:^https://github\\\\.com/astral-sh/python-build-standalone/releases/download/(.+)"
)
STYLE = """
:root { color-scheme: light dark; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 60rem; padding: 1rem; line-height: 1.5; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
            font-size: .9em; }
pre { background: rgba(127,127,127,.12); padding: .75rem; overflow-x: auto; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid rgba(127,127,127,.3);
         vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.name { word-break: break-all; }
td.sha { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .75em;
         word-break: break-all; }
.status-success { color: #1a7f37; } .status-partial, .status-failed, .status-refused,
.status-interrupted { color: #cf222e; }
.wrap { overflow-x: auto; }
footer { margin-top: 2rem; font-size: .85em; opacity: .8; }
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """The last run as the root page reports it."""

    status: str
    ended: str
    last_update: str | None
    generator: str


def href(name: str) -> str:
    """A relative link: percent-encoded, ``+`` as ``%2B`` (S3 reads a literal ``+`` as a space)."""
    return quote(name, safe="")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":  # noqa: PLR2004 - binary units
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def render_root_page(
    entries: Iterable[IndexEntry],
    *,
    run: RunInfo | None,
    base_url: str | None,
    extras: Iterable[str] = (),
) -> bytes:
    """The root ``index.html``: how to use the mirror, the releases, and the last run."""
    by_tag: dict[str, list[IndexEntry]] = defaultdict(list)
    for e in entries:
        by_tag[e.tag].append(e)
    mirror = escape(base_url.rstrip("/") if base_url else "https://YOUR-MIRROR/PATH")
    rows = "\n".join(
        f'<tr><td><a href="{href(tag)}/">{escape(tag)}</a></td>'
        f'<td class="num">{len(files)}</td>'
        f'<td class="num">{_size(sum(f.size for f in files))}</td></tr>'
        for tag, files in sorted(by_tag.items(), reverse=True)
    )
    total = sum(len(files) for files in by_tag.values())
    total_size = sum(f.size for files in by_tag.values() for f in files)
    status = ""
    if run is not None:
        last_update = escape(run.last_update or "never")
        status = (
            f'<p>Last sync ended {escape(run.ended)}: <strong class="status-{escape(run.status)}">'
            f"{escape(run.status)}</strong>. Last successful update: {last_update}.</p>"
        )
    extra_links = "".join(
        f'<li><a href="{href(name)}">{escape(name)}</a></li>' for name in sorted(extras)
    )
    body = f"""<h1>python-build-standalone mirror</h1>
<p>A mirror of <a href="https://github.com/astral-sh/python-build-standalone">python-build-standalone</a>,
the relocatable CPython builds that uv and other tools install. Every file is byte-identical to the
upstream release and listed with its sha256 in each release's <code>SHA256SUMS</code>.</p>
{status}
<h2>Use it</h2>
<p>uv (environment, or <code>python-install-mirror</code> in <code>uv.toml</code>):</p>
<pre>export UV_PYTHON_INSTALL_MIRROR={mirror}
uv python install 3.13</pre>
<pre># uv.toml
python-install-mirror = "{mirror}"</pre>
<p>pbs-installer and PDM (if this mirror publishes the flat view <code>flat/</code>):</p>
<pre>export PBS_INSTALLER_BASE_URL={mirror}/flat</pre>
<p>mise:</p>
<pre>[settings]
url_replacements = {{ "{MISE_PATTERN}" = "{mirror}/$1" }}</pre>
<p>rules_python (Bazel):</p>
<pre>python.override(base_urls = ["{mirror}"])</pre>
<h2>Releases</h2>
<p>{total} files, {_size(total_size)}.</p>
<div class="wrap"><table>
<thead><tr><th>release</th><th class="num">files</th><th class="num">size</th></tr></thead>
<tbody>
{rows}
</tbody></table></div>
<h2>Indexes</h2>
<ul><li><a href="index.json">index.json</a> (every file with size and sha256)</li>{extra_links}</ul>
<footer>Generated by {escape(run.generator if run else "mirrorsync")}.</footer>"""
    return _page("python-build-standalone mirror", body)


def render_tag_page(tag: str, entries: Iterable[IndexEntry]) -> bytes:
    """A release's ``index.html``: every file with its size and sha256."""
    files = sorted(entries, key=lambda e: e.name)
    rows = "\n".join(
        f'<tr><td class="name"><a href="{href(e.name)}">{escape(e.name)}</a></td>'
        f'<td class="num">{_size(e.size)}</td><td class="sha">{escape(e.sha256)}</td></tr>'
        for e in files
    )
    body = f"""<p><a href="../">← all releases</a></p>
<h1>Release {escape(tag)}</h1>
<p>{len(files)} files. Check a download with <code>sha256sum -c SHA256SUMS</code>
(<a href="SHA256SUMS">SHA256SUMS</a>).</p>
<div class="wrap"><table>
<thead><tr><th>file</th><th class="num">size</th><th>sha256</th></tr></thead>
<tbody>
{rows}
</tbody></table></div>"""
    return _page(f"python-build-standalone {tag}", body)


def run_info_from_status(status: Mapping[str, object] | None) -> RunInfo | None:
    """The root page's view of ``status.json``."""
    if not status:
        return None
    last = status.get("last_update")
    return RunInfo(
        status=str(status.get("status", "unknown")),
        ended=str(status.get("last_ended", "")),
        last_update=None if last is None else str(last),
        generator=str(status.get("generator", "mirrorsync")),
    )
