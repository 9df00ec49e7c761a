"""Frozen records that flow through mirrorsync: upstream releases, parsed names, plans, reports."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

Flavor = Literal["install_only", "install_only_stripped", "full"]
FLAVORS: tuple[Flavor, ...] = ("install_only", "install_only_stripped", "full")
VARIANTS = ("default", "freethreaded", "debug", "freethreaded+debug")


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetName:
    """A python-build-standalone archive name, parsed into the fields the filters see.

    ``render()`` gives back the exact name it was parsed from.
    """

    python: str
    """The CPython version, e.g. ``3.12.4`` or ``3.15.0a5``."""
    name_tag: str | None
    """The release tag written in the name (era C, ``+20240713``), else None."""
    platform: str
    """Canonical target triple; legacy words are mapped (``linux64`` -> ``x86_64-…-linux-gnu``)."""
    platform_written: str
    """The platform exactly as written in the name (a triple or an era A word)."""
    linkage: str | None
    """Windows ``shared`` / ``static`` infix, else None."""
    build: str
    """Build options as written (``pgo+lto``, ``freethreaded+debug``), ``""`` when absent."""
    flavor: Flavor
    """``install_only``, ``install_only_stripped`` or ``full`` (every ``.tar.zst``)."""
    flavor_written: bool
    """Whether the flavor word appears in the name (era A/B full archives have none)."""
    built_at: str | None
    """Era A/B build stamp ``YYYYMMDDTHHMM``, else None."""
    ext: Literal["tar.zst", "tar.gz"]

    @property
    def variant(self) -> str:
        """``default``, ``freethreaded``, ``debug`` or ``freethreaded+debug`` (from build)."""
        opts = set(self.build.split("+")) if self.build else set()
        parts = [v for v in ("freethreaded", "debug") if v in opts]
        return "+".join(parts) or "default"

    def render(self) -> str:
        """The file name these fields describe."""
        parts = [f"cpython-{self.python}"]
        if self.name_tag is not None:
            parts[0] += f"+{self.name_tag}"
        parts.append(self.platform_written)
        if self.linkage:
            parts.append(self.linkage)
        if self.build:
            parts.append(self.build)
        if self.flavor_written:
            parts.append(self.flavor)
        if self.built_at:
            parts.append(self.built_at)
        return "-".join(parts) + "." + self.ext


@dataclass(frozen=True, slots=True, kw_only=True)
class UvArchive:
    """A uv release archive name (``uv-<triple>.tar.gz`` or ``.zip``), parsed."""

    version: str
    """The uv version it belongs to (its release's tag), e.g. ``0.9.28``."""
    platform: str
    """The target triple, e.g. ``x86_64-unknown-linux-gnu``."""
    ext: Literal["tar.gz", "zip"]

    def render(self) -> str:
        """The file name these fields describe."""
        return f"uv-{self.platform}.{self.ext}"


Kind = Literal["python", "uv"]
"""What a mirrored file is: a python-build-standalone archive or a uv archive."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamAsset:
    """One file attached to an upstream release, as the listing describes it."""

    name: str
    size: int | None
    """Bytes; None when the listing does not say (Astral's index): learned from the download."""
    link: str
    """Where to download it as held: the URL verbatim, or with ``link_is_base`` the part of it
    before the name, one string shared by the assets of a release (``split_link``). Read
    ``url``."""
    link_is_base: bool = False
    digest: str | None = None
    """Lower-case sha256 hex from the listing (GitHub's ``digest``), when published."""
    id: int | None = None
    updated_at: str | None = None
    state: str = "uploaded"
    fallback_url: str | None = None
    """Where to download it when ``url`` answers 404 (a download base's fallback), else None."""
    local_path: str | None = None
    """A file to copy rather than a URL to download: set only by a source whose configured root
    is a local directory (``upstream.source: mirror``), never from what a listing says: a
    ``file://`` URL from upstream is refused like any URL that is not http(s)."""
    verified: bool = True
    """False when the sha256 is not upstream's own (another mirror computed it while copying an
    asset published without a checksum): the mirror records it as unverified too."""

    @property
    def url(self) -> str:
        """Where to download it (GitHub: ``browser_download_url``, exactly as listed)."""
        return self.link + quote(self.name, safe="") if self.link_is_base else self.link


def release_link(base: str, tag: str) -> str:
    """The ``link`` (with ``link_is_base``) of the assets of release ``tag`` below a download
    base: ``<base>/<tag>/``, the tag percent-encoded; interned, one string per release."""
    return sys.intern(f"{base}/{quote(tag, safe='')}/")


def split_link(url: str, name: str) -> tuple[str, bool]:
    """``(link, link_is_base)`` of an asset ``name`` downloaded from ``url``.

    When ``url`` is a directory followed by the percent-encoded name (GitHub's
    ``browser_download_url``: ``…/releases/download/<tag>/`` then the name with ``+`` written
    ``%2B``), only the directory is kept, interned: every asset of a release shares it, and a
    whole history holds one string per release rather than ~200 bytes per asset. Any other URL
    is kept verbatim, so ``UpstreamAsset.url`` always gives back exactly ``url``.
    """
    tail = quote(name, safe="")
    if url.endswith(tail) and url[: -len(tail)].endswith("/"):
        return sys.intern(url[: -len(tail)]), True
    return url, False


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """One upstream release."""

    tag: str
    id: int | None = None
    draft: bool = False
    prerelease: bool = False
    published_at: str | None = None
    assets: tuple[UpstreamAsset, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """A parsed archive of a release: what selection, planning and fetching work on."""

    tag: str
    """The release's directory, always (never a date found in the name): the tag of a
    python-build-standalone release, ``uv/<version>`` for a uv archive."""
    parsed: AssetName | UvArchive
    upstream: UpstreamAsset
    sha256: str | None = None
    """The expected sha256 once checksums are resolved; None when upstream publishes none."""
    sha256_source: str | None = None
    """Where ``sha256`` came from: ``digest``, ``SHA256SUMS`` or ``sidecar``."""

    @property
    def name(self) -> str:
        return self.upstream.name

    @property
    def kind(self) -> Kind:
        return "uv" if isinstance(self.parsed, UvArchive) else "python"

    @property
    def path(self) -> str:
        """The path below the mirror root: ``<tag>/<name>``."""
        return f"{self.tag}/{self.upstream.name}"

    @property
    def size(self) -> int | None:
        """Bytes, or None when upstream's listing does not say (known once downloaded)."""
        return self.upstream.size


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexEntry:
    """One file of the mirror as ``index.json`` records it."""

    path: str
    size: int
    sha256: str
    verified: bool
    python: str
    platform: str
    flavor: str
    build: str
    variant: str
    linkage: str | None = None
    upstream_id: int | None = None
    upstream_updated_at: str | None = None
    kind: Kind = "python"
    """``uv``: a uv archive of ``bundle.uv`` (``python``, ``flavor``, ``build`` and ``variant``
    are then empty; ``platform`` is its triple)."""

    @property
    def tag(self) -> str:
        """The release directory: ``<tag>``, or ``uv/<version>`` for a uv archive."""
        if self.kind == "uv":
            return self.path.rsplit("/", 1)[0]
        return self.path.split("/", 1)[0]

    @property
    def name(self) -> str:
        if self.kind == "uv":
            return self.path.rsplit("/", 1)[1]
        return self.path.split("/", 1)[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Filesystem:
    """What the target's file system can do, as the target found out (once per run)."""

    place: str
    """The path whose file system was asked (or the bucket), for messages."""
    free_bytes: int | None = None
    """Bytes free for this user; None where the target cannot tell (a bucket)."""
    symlinks: bool = True
    """False only where a file system refuses symbolic links (FAT, exFAT); a bucket needs none."""
    hard_links: bool = True
    """False only where a file system refuses hard links."""
    max_file_size: int | None = None
    """The largest file it holds when a probe found a limit below the files asked for; None when
    none was found (or none was looked for)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Space:
    """The space a run needs on its target against the space there is (``plan`` shows it)."""

    place: str
    needed_bytes: int
    """The bytes to fetch (twice those with ``publish.flat: copy``)."""
    margin_bytes: int
    free_bytes: int | None
    """None: the target cannot tell (a bucket)."""
    too_large: tuple[str, ...] = ()
    """Paths of files to fetch that the file system cannot hold."""
    max_file_size: int | None = None
    unknown_files: int = 0
    """Files to fetch whose size upstream does not list (not in ``needed_bytes``)."""

    @property
    def fits(self) -> bool | None:
        """Whether the run fits; None when the target cannot tell, or when files of unknown
        size are to be fetched and the known ones fit (an unknown size is never 0 bytes)."""
        if self.too_large:
            return False
        if self.free_bytes is None:
            return None
        if self.needed_bytes + self.margin_bytes > self.free_bytes:
            return False
        return None if self.unknown_files else True


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What a run will do: fetch + keep is exactly the selected set; prune is what may go."""

    fetch: tuple[Asset, ...]
    keep: tuple[IndexEntry, ...]
    prune: tuple[IndexEntry, ...]
    unparsed: tuple[str, ...] = ()
    missing_tags: tuple[str, ...] = ()
    """Tags named in ``releases.tags`` that upstream lacks (or only has as draft/prerelease)."""
    skipped_releases: tuple[str, ...] = ()
    """Releases skipped because their tag is not a safe path component."""
    uv_missing: tuple[str, ...] = ()
    """``<tag>/<name>`` the ``select.uv_metadata`` list references but upstream does not have."""
    space: Space | None = None
    """The space the fetch needs on the target against the space there is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One path that could not be mirrored, and why."""

    path: str
    error: str


@dataclass(slots=True, kw_only=True)
class SyncReport:
    """The outcome of one run; filled in as the run progresses."""

    fetched: int = 0
    kept: int = 0
    pruned: int = 0
    bytes_downloaded: int = 0
    failed: list[Failure] = field(default_factory=list)
    unparsed: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "partial" if self.failed else "success"
