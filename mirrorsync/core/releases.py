"""Turn selected releases into parsed assets and their checksum sources (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from mirrorsync.core.layout import SUMS_NAME, check_relpath
from mirrorsync.core.model import Asset, IndexEntry, Kind, Release, UpstreamAsset, split_link
from mirrorsync.core.names import SIDECAR_SUFFIX, parse_asset_name, sidecar_target
from mirrorsync.errors import InvalidAssetName, UnsafeName


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """Everything the selected releases offer, sorted out."""

    assets: tuple[Asset, ...]
    """Every archive whose name parses, with the release's tag."""
    unparsed: tuple[str, ...]
    """Names of files that are neither archives we understand nor checksum files."""
    sums: dict[str, UpstreamAsset]
    """The ``SHA256SUMS`` asset of each release that has one, by tag."""
    sidecars: dict[str, UpstreamAsset]
    """``.sha256`` sidecars by the path (``<tag>/<name>``) of the archive they describe."""
    in_progress: tuple[str, ...]
    """Paths of assets still being uploaded (``state`` other than ``uploaded``): not yet usable."""


def distinct_releases(releases: Iterable[Release]) -> tuple[list[Release], list[str]]:
    """Each release once (by id, else by tag) with each file once (by name); and the repeats.

    An offset-paged listing read while upstream publishes shows a release on two pages; a
    second copy must never be fetched, let alone published twice. The first copy wins. The
    repeats are returned as ``tag`` or ``tag/name`` strings, for the log.
    """
    seen_ids: set[int] = set()
    seen_tags: set[str] = set()
    kept: list[Release] = []
    repeats: list[str] = []
    for release in releases:
        if release.tag in seen_tags or (release.id is not None and release.id in seen_ids):
            repeats.append(release.tag)
            continue
        seen_tags.add(release.tag)
        if release.id is not None:
            seen_ids.add(release.id)
        names: set[str] = set()
        assets: list[UpstreamAsset] = []
        for up in release.assets:
            if up.name in names:
                repeats.append(f"{release.tag}/{up.name}")
                continue
            names.add(up.name)
            assets.append(up)
        if len(assets) != len(release.assets):
            release = replace(release, assets=tuple(assets))  # noqa: PLW2901 - the deduplicated one
        kept.append(release)
    return kept, repeats


def build_catalog(releases: Iterable[Release]) -> Catalog:
    """Parse every file of ``releases``; nothing here raises on a hostile or unknown name."""
    assets: list[Asset] = []
    unparsed: list[str] = []
    in_progress: list[str] = []
    sums: dict[str, UpstreamAsset] = {}
    sidecars: dict[str, UpstreamAsset] = {}
    for release in releases:
        for up in release.assets:
            if up.state != "uploaded":
                in_progress.append(f"{release.tag}/{up.name}")
                continue
            if up.name == SUMS_NAME:
                sums[release.tag] = up
                continue
            if up.name.endswith(SIDECAR_SUFFIX):
                target = sidecar_target(up.name)
                if target is not None:
                    sidecars[f"{release.tag}/{target}"] = up
                    continue
            try:
                parsed = parse_asset_name(up.name, release_tag=release.tag)
                check_relpath(f"{release.tag}/{up.name}")
            except (InvalidAssetName, UnsafeName):
                unparsed.append(up.name)
                continue
            assets.append(Asset(tag=release.tag, parsed=parsed, upstream=up))
    return Catalog(
        assets=tuple(sorted(assets, key=lambda a: a.path)),
        unparsed=tuple(sorted(unparsed)),
        sums=sums,
        sidecars=sidecars,
        in_progress=tuple(sorted(in_progress)),
    )


def releases_from_index(
    entries: Mapping[str, IndexEntry],
    *,
    url_of: Callable[[str, str], str],
    local_root: str | None = None,
    kind: Kind = "python",
) -> list[Release]:
    """Another mirror's ``index.json`` entries as releases (its ``source: mirror`` listing).

    Each ``<tag>/<name>`` path gives the release and the file name; the index's sha256 becomes
    the asset's digest, so every file is verified, and an entry the other mirror recorded as
    unverified stays unverified. ``url_of(tag, name)`` says where the file is fetched from;
    with ``local_root`` (a local upstream mirror) each file is copied from
    ``<local_root>/<tag>/<name>`` instead.

    Only the entries of ``kind`` are listed: with ``uv``, the uv archives of the other mirror's
    ``uv/<version>/``, as releases tagged with the bare version (``url_of`` and ``local_root``
    still see the directory, ``uv/<version>``).
    """
    by_tag: dict[str, list[UpstreamAsset]] = {}
    for entry in sorted(entries.values(), key=lambda e: e.path):
        if entry.kind != kind:
            continue
        tag, name = entry.tag, entry.name
        link, is_base = split_link(url_of(tag, name), name)
        by_tag.setdefault(tag, []).append(
            UpstreamAsset(
                name=name,
                size=entry.size,
                link=link,
                link_is_base=is_base,
                local_path=None if local_root is None else f"{local_root}/{tag}/{name}",
                digest=entry.sha256,
                id=entry.upstream_id,
                updated_at=entry.upstream_updated_at,
                verified=entry.verified,
            )
        )
    return [
        Release(tag=tag.rsplit("/", 1)[-1], assets=tuple(assets)) for tag, assets in by_tag.items()
    ]
