"""uv's Python download list: write one for the mirror, read one to learn what uv needs (pure).

Writing (``docs/clients.md`` §2.2, §2.4): ``uv_download_metadata`` picks, per (Python version,
platform, variant), the one archive uv itself would list, and ``render_uv_metadata`` gives the
bytes of a ``download-metadata.json`` for ``UV_PYTHON_DOWNLOADS_JSON_URL``. The choice follows
uv's list builder:

- skipped: Python < 3.8, musl before 20250311 (static musl cannot load extension modules), static
  builds (Windows ``-static-`` linkage and musl ``+static``: uv calls them unsupported), and
  release 20261020, which uv's own list leaves out (PBS PR #1356);
- the newest release tag holding the (version, platform, variant) wins;
- within that tag: flavor (``install_only_stripped`` > ``install_only`` > ``full``), then Windows
  linkage (no infix > ``-shared-``; 20240415 … 20250212 publish both, and uv keeps the one without,
  its URL sorting first on a tie), then optimisation (``pgo+lto`` > ``pgo`` > ``lto`` > none >
  ``noopt``). Era B Windows full builds thus give ``shared-pgo`` > ``shared-noopt``, as in uv.

Reading: ``parse_uv_download_list`` accepts uv's ``download-metadata.json`` (an object, key ->
entry) and the JSON array that ``uv python list --output-format json`` prints, and returns the
``(tag, name)`` of every python-build-standalone archive the list references.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from packaging.version import Version

from mirrorsync.core.checksums import SHA256_HEX
from mirrorsync.core.model import AssetName, IndexEntry
from mirrorsync.core.names import RELEASE_TAG, parse_asset_name
from mirrorsync.errors import InvalidAssetName

__all__ = [
    "ARCH_FAMILIES",
    "FLAVOR_RANK",
    "GITHUB_DOWNLOAD_PREFIX",
    "LINKAGE_RANK",
    "OPTIMIZATION_RANK",
    "UPSTREAM_URL",
    "UV_SKIPPED_TAGS",
    "VENDOR_OS",
    "UvList",
    "parse_uv_download_list",
    "render_uv_metadata",
    "uv_download_metadata",
]

UPSTREAM_URL: Final = "https://github.com/astral-sh/python-build-standalone"
"""python-build-standalone's home on GitHub, which every canonical archive URL starts with."""
GITHUB_DOWNLOAD_PREFIX: Final = f"{UPSTREAM_URL}/releases/download/"
"""The prefix of every canonical PBS URL; uv swaps exactly this for ``UV_PYTHON_INSTALL_MIRROR``."""

# --- platform mapping (docs/clients.md §2.2) ------------------------------------------------------

ARCH_FAMILIES: Final[Mapping[str, tuple[str, str | None]]] = {
    # The triple's first part -> uv's (arch.family, arch.variant).
    "x86_64": ("x86_64", None),
    "x86_64_v2": ("x86_64", "v2"),
    "x86_64_v3": ("x86_64", "v3"),
    "x86_64_v4": ("x86_64", "v4"),
    "aarch64": ("aarch64", None),
    "armv7": ("armv7", None),
    "i686": ("i686", None),
    "ppc64le": ("powerpc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}

VENDOR_OS: Final[Mapping[str, tuple[str, str]]] = {
    # The triple's vendor-os part -> uv's (os, libc).
    "apple-darwin": ("darwin", "none"),
    "pc-windows-msvc": ("windows", "none"),
    "unknown-linux-gnu": ("linux", "gnu"),
    "unknown-linux-musl": ("linux", "musl"),
    "unknown-linux-gnueabi": ("linux", "gnueabi"),
    "unknown-linux-gnueabihf": ("linux", "gnueabihf"),
}

# --- which archive uv lists (docs/clients.md §2.4), as data ---------------------------------------

FLAVOR_RANK: Final[Mapping[str, int]] = {"install_only_stripped": 0, "install_only": 1, "full": 2}
LINKAGE_RANK: Final[Mapping[str | None, int]] = {None: 0, "shared": 1}
"""Windows linkage; ``static`` is absent on purpose: uv never lists static builds."""
OPTIMIZATION_RANK: Final[Mapping[str, int]] = {"pgo+lto": 0, "pgo": 1, "lto": 2, "": 3, "noopt": 4}
"""The build options other than ``freethreaded`` / ``debug`` (which name the variant)."""

UV_SKIPPED_TAGS: Final = frozenset({"20261020"})
"""Releases uv's own list leaves out (20261020: PBS PR #1356, docs/clients.md §2.4)."""

_MIN_PYTHON: Final = (3, 8)
_MUSL_DYNAMIC_SINCE: Final = "20250311"
"""The first release whose musl builds are dynamically linked (PBS ``2e0477b6``)."""
_VARIANT_OPTIONS: Final = frozenset({"freethreaded", "debug"})


@dataclass(frozen=True, slots=True, kw_only=True)
class _Candidate:
    """One mirrored archive that uv can install, with the fields of its uv entry."""

    tag: str
    name: str
    sha256: str
    parsed: AssetName
    version: tuple[int, int, int, str]
    arch: tuple[str, str | None]
    os: str
    libc: str

    @property
    def variant(self) -> str | None:
        return None if self.parsed.variant == "default" else self.parsed.variant

    @property
    def key(self) -> str:
        """uv's key: ``{impl}-{X.Y.Z[pre]}[+{variant}]-{os}-{arch[_vN]}-{libc}``."""
        family, level = self.arch
        arch = f"{family}_{level}" if level else family
        variant = f"+{self.variant}" if self.variant else ""
        return f"cpython-{self.parsed.python}{variant}-{self.os}-{arch}-{self.libc}"

    @property
    def rank(self) -> tuple[int, int, int, str]:
        """Smaller is preferred; the name only makes the order total."""
        p = self.parsed
        options = "+".join(o for o in p.build.split("+") if o and o not in _VARIANT_OPTIONS)
        return (
            FLAVOR_RANK[p.flavor],
            LINKAGE_RANK[p.linkage],
            OPTIMIZATION_RANK.get(options, len(OPTIMIZATION_RANK)),
            self.name,
        )

    def to_json(self, *, url: str) -> dict[str, Any]:
        major, minor, patch, prerelease = self.version
        family, level = self.arch
        return {
            "name": "cpython",
            "arch": {"family": family, "variant": level},
            "os": self.os,
            "libc": self.libc,
            "major": major,
            "minor": minor,
            "patch": patch,
            "prerelease": prerelease,
            "url": url,
            "sha256": self.sha256,
            "variant": self.variant,
            "build": self.tag,
        }


def _version(python: str) -> tuple[int, int, int, str]:
    """``3.15.0a5`` -> ``(3, 15, 0, "a5")``; the name grammar guarantees X.Y.Z[pre]."""
    v = Version(python)
    major, minor, patch = v.release
    return major, minor, patch, "".join(map(str, v.pre or ()))


def _uv_skips(p: AssetName, *, tag: str, version: tuple[int, int, int, str]) -> bool:
    """Whether uv's list builder leaves this archive out (see the module docstring)."""
    return (
        version[:2] < _MIN_PYTHON
        or tag in UV_SKIPPED_TAGS
        or p.linkage not in LINKAGE_RANK
        or "static" in p.build.split("+")
        or (p.platform.endswith("-musl") and tag < _MUSL_DYNAMIC_SINCE)
    )


def _candidate(entry: IndexEntry) -> _Candidate | None:
    """The uv view of one mirrored file, or None when uv cannot install it."""
    if entry.kind != "python":  # uv itself (bundle.uv) is never a Python to install
        return None
    tag, name = entry.tag, entry.name
    try:
        p = parse_asset_name(name, release_tag=tag)
    except InvalidAssetName:
        return None
    arch, _, vendor_os = p.platform.partition("-")
    version = _version(p.python)
    # A triple that naming learns before these tables do is left out, never guessed at.
    if (
        arch not in ARCH_FAMILIES
        or vendor_os not in VENDOR_OS
        or _uv_skips(p, tag=tag, version=version)
    ):
        return None
    sha256 = entry.sha256.lower()
    if SHA256_HEX.fullmatch(sha256) is None:
        # uv rejects the whole file for one bad digest (docs/clients.md §2.2): never write one.
        raise ValueError(f"{entry.path}: sha256 {entry.sha256!r} is not 64 hexadecimal digits")
    os_name, libc = VENDOR_OS[vendor_os]
    return _Candidate(
        tag=tag,
        name=name,
        sha256=sha256,
        parsed=p,
        version=version,
        arch=ARCH_FAMILIES[arch],
        os=os_name,
        libc=libc,
    )


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    absolute = (parts.scheme in {"http", "https"} and parts.netloc) or (
        parts.scheme == "file" and parts.path.startswith("/")
    )
    if not absolute:
        # uv fails such entries only at download time (`relative URL without a base`).
        raise ValueError(f"base URL {base_url!r} is not an absolute http(s):// or file:// URL")
    return base_url.rstrip("/") + "/"


def uv_download_metadata(
    entries: Iterable[IndexEntry], *, base_url: str = GITHUB_DOWNLOAD_PREFIX
) -> dict[str, dict[str, Any]]:
    """uv's download list over these mirrored files: one entry per installable key, sorted by key.

    ``url`` is ``base_url + tag + "/" + name`` with the name percent-encoded (``+`` -> ``%2B``),
    as uv's own list writes it. Keep the default (canonical GitHub URLs) for a list that is used
    together with ``UV_PYTHON_INSTALL_MIRROR``; a mirror's own base URL gives a list that must be
    used without it (docs/clients.md §2.2). Raises ``ValueError`` for a relative ``base_url`` or a
    malformed sha256.
    """
    prefix = _check_base_url(base_url)
    # Only the best candidate of each key is kept as the entries go by (the newest tag, then the
    # smallest rank, the first of equals): not one parsed candidate per mirrored file.
    by_key: dict[str, _Candidate] = {}
    for entry in entries:
        if (c := _candidate(entry)) is None:
            continue
        key = c.key
        held = by_key.get(key)
        if held is None or c.tag > held.tag or (c.tag == held.tag and c.rank < held.rank):
            by_key[key] = c
    result: dict[str, dict[str, Any]] = {}
    for key in sorted(by_key):
        best = by_key[key]
        url = prefix + quote(best.tag, safe="") + "/" + quote(best.name, safe="")
        result[key] = best.to_json(url=url)
    return result


def render_uv_metadata(meta: Mapping[str, Any]) -> bytes:
    """``download-metadata.json``: a JSON object, sorted keys, two-space indent, final newline.

    Raises ``ValueError`` for a top-level ``version`` key, which uv reads as a newer list format
    (``This version of uv is too old …``).
    """
    if "version" in meta:
        raise ValueError("a uv download list must not have a top-level 'version' key")
    # json.dumps's text, written piece by piece: with an indent, dumps collects every piece in
    # one list first (for a whole history's list, ~10 MB of small strings at the end of a run).
    encoder = json.JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False)
    out = io.StringIO()
    for piece in encoder.iterencode(dict(meta)):
        out.write(piece)
    out.write("\n")
    return out.getvalue().encode()


# --- reading a uv download list -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UvList:
    """The python-build-standalone archives a uv download list references."""

    url_names: frozenset[tuple[str, str]]
    """``(tag, name)`` pairs, the name with a literal ``+``: the mirror paths ``<tag>/<name>``."""
    unmapped: tuple[str, ...] = ()
    """CPython entries whose URL names no PBS archive, as ``"<key or index>: <reason>"``, sorted."""
    ignored: int = 0
    """Entries of other implementations (PyPy, GraalPy, …), skipped silently."""

    def references(self, tag: str, name: str) -> bool:
        """Whether the list downloads ``<tag>/<name>``."""
        return (tag, name) in self.url_names


def _url_target(url: str) -> tuple[str, str] | str:
    """``(tag, name)`` of a PBS archive URL (GitHub, either owner, or a mirror), else why not."""
    segments = urlsplit(url).path.split("/")
    if len(segments) < 2:  # noqa: PLR2004 - <tag>/<name>
        return f"URL {url!r} has no <tag>/<name> path"
    tag, name = unquote(segments[-2]), unquote(segments[-1])
    if RELEASE_TAG.fullmatch(tag) is None:
        return f"URL {url!r} has no release tag (YYYYMMDD) before the file name"
    try:
        parse_asset_name(name, release_tag=tag)
    except InvalidAssetName as e:
        return str(e)
    return tag, name


def _implementation(key: str, raw: Mapping[str, Any]) -> str:
    named = raw.get("name", raw.get("implementation"))
    if isinstance(named, str):
        return named.lower()
    return key.partition("-")[0].lower()


def _entries(doc: object) -> list[tuple[str, Mapping[str, Any]]]:
    """``(label, entry)`` pairs of either list format; ``ValueError`` for any other shape."""
    if isinstance(doc, dict):
        pairs = [(str(key), raw) for key, raw in doc.items()]
    elif isinstance(doc, list):
        pairs = [
            (str(raw.get("key") or f"[{i}]") if isinstance(raw, dict) else f"[{i}]", raw)
            for i, raw in enumerate(doc)
        ]
    else:
        # ValueError, not TypeError: the input is malformed data, reported like broken JSON.
        raise ValueError(  # noqa: TRY004
            "uv download list: expected an object (download-metadata.json) or an array "
            f"(uv python list --output-format json), got {type(doc).__name__}"
        )
    for label, raw in pairs:
        if not isinstance(raw, dict):
            raise ValueError(f"uv download list: entry {label!r} is not an object")  # noqa: TRY004
        url = raw.get("url")
        if url is not None and not isinstance(url, str):
            raise ValueError(f"uv download list: entry {label!r} has a non-string url {url!r}")
    return pairs


def parse_uv_download_list(data: bytes) -> UvList:
    """The PBS archives referenced by a uv download list, in either of its two JSON formats.

    Entries of other implementations are counted in ``ignored``. A CPython entry without a URL is
    skipped silently when it has a ``path`` (``uv python list`` shows installed interpreters
    so), else reported in ``unmapped`` with every CPython URL that names no PBS archive. Raises
    ``ValueError`` when the data is not JSON of either shape.
    """
    try:
        doc = json.loads(data)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError alike
        raise ValueError(f"uv download list: not valid JSON ({e})") from e
    names: set[tuple[str, str]] = set()
    unmapped: list[str] = []
    ignored = 0
    for label, raw in _entries(doc):
        if _implementation(label, raw) != "cpython":
            ignored += 1
            continue
        url = raw.get("url")
        if url is None:
            if raw.get("path") is None:
                unmapped.append(f"{label}: no download URL")
            continue
        target = _url_target(url)
        if isinstance(target, str):
            unmapped.append(f"{label}: {target}")
        else:
            names.add(target)
    return UvList(url_names=frozenset(names), unmapped=tuple(sorted(unmapped)), ignored=ignored)
