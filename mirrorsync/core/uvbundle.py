"""uv on the stick (``bundle.uv``): which uv versions and which of their archives a mirror
carries, below ``uv/<version>/`` (pure).

A uv release (GitHub's ``astral-sh/uv``, Astral's ``v1/uv.ndjson``, another mirror's ``uv/``)
arrives as a ``Release`` whose tag is the bare version (``0.9.28``). Of its files only the
archives ``uv-<triple>.tar.gz`` and ``uv-<triple>.zip`` are mirrored, for the triples
``select.platforms`` selects; their ``.sha256`` sidecars are checksum sources, and everything
else (installers, source tarballs, ``sha256.sum``) is ignored. Each archive becomes an ``Asset``
of release directory ``uv/<version>``, so that planning, fetching, ``SHA256SUMS``, pruning and
``verify`` treat it like any other file; ``index.json`` lists it apart (``core.manifest``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from mirrorsync.core.layout import UV_DIR, UV_VERSION, check_relpath
from mirrorsync.core.model import Asset, Release, UpstreamAsset, UvArchive
from mirrorsync.core.names import SIDECAR_SUFFIX
from mirrorsync.core.releases import Catalog
from mirrorsync.errors import UnsafeName

LATEST = "latest"
"""``bundle.uv``'s word for the newest uv release that is not a prerelease."""
_ARCHIVE = re.compile(r"uv-(?P<platform>[a-z0-9_]+(?:-[a-z0-9_]+){1,4})\.(?P<ext>tar\.gz|zip)")
PBS_DOWNLOAD_TAIL = "/python-build-standalone/releases/download"
"""How a download base of the python-build-standalone archives ends when it mirrors GitHub's
layout (Astral's ``releases.astral.sh/github/…``); uv's archives are then beside it."""
UV_DOWNLOAD_TAIL = "/uv/releases/download"
UV_INDEX_NAME = "uv.ndjson"
"""Astral's index of uv releases, beside its index of python-build-standalone releases."""


def parse_uv_archive(name: str, *, version: str) -> UvArchive | None:
    """The archive ``name`` of uv ``version``, or None for any other file of the release."""
    m = _ARCHIVE.fullmatch(name)
    if m is None:
        return None
    ext: Literal["tar.gz", "zip"] = "zip" if m["ext"] == "zip" else "tar.gz"
    return UvArchive(version=version, platform=m["platform"], ext=ext)


def uv_dir(version: str) -> str:
    """The release directory of a uv version: ``uv/<version>``."""
    return f"{UV_DIR}/{version}"


def version_key(version: str) -> tuple[int, ...]:
    """``X.Y.Z`` as numbers, for ordering (``0.10.0`` is newer than ``0.9.30``)."""
    return tuple(int(part) for part in version.split("."))


def check_uv_entry(entry: str) -> str | None:
    """Why ``entry`` is not a ``bundle.uv`` value (an ``X.Y.Z`` version or ``latest``), or None."""
    if entry == LATEST or UV_VERSION.fullmatch(entry):
        return None
    return (
        f"invalid uv version {entry!r}: expected an exact version such as '0.9.28' "
        f"(digits only, major.minor.patch) or {LATEST!r}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class UvChoice:
    """The uv releases ``bundle.uv`` names, as upstream has them."""

    releases: tuple[Release, ...]
    """The chosen releases (tags are bare versions), each once, oldest first."""
    missing: tuple[str, ...]
    """Entries of ``bundle.uv`` upstream lacks, as ``uv/<version>`` (or ``uv/latest``)."""


def choose_versions(wanted: Sequence[str], releases: Iterable[Release]) -> UvChoice:
    """The releases of the versions ``wanted`` names; ``latest`` is the newest by version of
    those that are neither drafts nor prereleases. A tag that is not ``X.Y.Z`` is never chosen
    (it would not be a safe directory name)."""
    available = {r.tag: r for r in releases if not r.draft and UV_VERSION.fullmatch(r.tag)}
    stable = [tag for tag, r in available.items() if not r.prerelease]
    chosen: dict[str, Release] = {}
    missing: list[str] = []
    for entry in wanted:
        tag = max(stable, key=version_key, default=None) if entry == LATEST else entry
        if tag is None or tag not in available:
            missing.append(uv_dir(entry))
            continue
        chosen[tag] = available[tag]
    ordered = sorted(chosen.values(), key=lambda r: version_key(r.tag))
    return UvChoice(releases=tuple(ordered), missing=tuple(sorted(set(missing))))


def uv_catalog(releases: Iterable[Release], *, platforms: Sequence[str]) -> Catalog:
    """The archives of these uv releases for the triples ``platforms`` selects (shell-style
    globs; none: every triple), with their sidecars; every other file is left aside."""
    assets: list[Asset] = []
    sidecars: dict[str, UpstreamAsset] = {}
    in_progress: list[str] = []
    for release in releases:
        where = uv_dir(release.tag)
        for up in release.assets:
            if up.name.endswith(SIDECAR_SUFFIX):
                if up.state == "uploaded":
                    sidecars[f"{where}/{up.name.removesuffix(SIDECAR_SUFFIX)}"] = up
                continue
            parsed = parse_uv_archive(up.name, version=release.tag)
            if parsed is None:
                continue
            if platforms and not any(fnmatchcase(parsed.platform, g) for g in platforms):
                continue
            try:
                check_relpath(f"{where}/{up.name}")
            except UnsafeName:
                continue
            if up.state != "uploaded":
                in_progress.append(f"{where}/{up.name}")
                continue
            assets.append(Asset(tag=where, parsed=parsed, upstream=up))
    return Catalog(
        assets=tuple(sorted(assets, key=lambda a: a.path)),
        unparsed=(),
        sums={},
        sidecars=sidecars,
        in_progress=tuple(sorted(in_progress)),
    )


def unpublished_checksums(assets: Iterable[Asset]) -> dict[str, str]:
    """uv archives for which upstream publishes no sha256, and why: they are never fetched (a
    uv archive on the stick is always verified against upstream's own checksum)."""
    return {
        a.path: f"upstream publishes no sha256 for {a.name} (no digest, no {a.name}"
        f"{SIDECAR_SUFFIX} beside it); not fetched"
        for a in assets
        if a.kind == "uv" and a.sha256 is None
    }


def uv_download_base(python_base: str | None) -> str | None:
    """Where uv's archives come from when the python-build-standalone archives come from
    ``python_base``: beside them when the base mirrors GitHub's layout
    (``…/python-build-standalone/releases/download`` → ``…/uv/releases/download``); else None,
    each archive's own URL."""
    if python_base is None:
        return None
    base = python_base.rstrip("/")
    if not base.endswith(PBS_DOWNLOAD_TAIL):
        return None
    return base.removesuffix(PBS_DOWNLOAD_TAIL) + UV_DOWNLOAD_TAIL


def uv_index_url(python_index_url: str) -> str:
    """Astral's uv index beside its python-build-standalone index: the last path segment
    replaced by ``uv.ndjson`` (a query or fragment is dropped)."""
    head = python_index_url.split("?", 1)[0].split("#", 1)[0]
    return head.rsplit("/", 1)[0] + "/" + UV_INDEX_NAME
