"""The asset table of the selection tests: real names from ``data/selection_names.json``.

Importable from unit and property tests alike (``tests/`` is on ``sys.path`` through the root
``conftest.py``); module-level, so Hypothesis tests can use it without fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from mirrorsync.core.model import Asset, Release, UpstreamAsset
from mirrorsync.core.names import parse_asset_name
from mirrorsync.core.releases import build_catalog

TABLE = Path(__file__).resolve().parent / "data" / "selection_names.json"
DOWNLOAD = "https://github.com/astral-sh/python-build-standalone/releases/download"


def make_asset(
    tag: str, name: str, *, size: int | None = 1_000, digest: str | None = None
) -> Asset:
    """An asset of release ``tag``, as the listing and the name parser would describe it."""
    return Asset(
        tag=tag,
        parsed=parse_asset_name(name, release_tag=tag),
        upstream=UpstreamAsset(
            name=name,
            size=size,
            # GitHub writes '+' as %2B in browser_download_url; quote() does the same.
            link=f"{DOWNLOAD}/{tag}/{quote(name)}",
            digest=digest,
        ),
    )


def catalog_place(name: str, *, tag: str) -> str:
    """Where ``build_catalog`` files a release's only file: asset, sums, sidecar or unparsed."""
    up = UpstreamAsset(name=name, size=1, link=f"{DOWNLOAD}/{tag}/{quote(name)}")
    catalog = build_catalog([Release(tag=tag, assets=(up,))])
    places = [
        place
        for place, found in (
            ("asset", [a.upstream for a in catalog.assets]),
            ("sums", list(catalog.sums.values())),
            ("sidecar", list(catalog.sidecars.values())),
            ("unparsed", [name] if name in catalog.unparsed else []),
        )
        if found
    ]
    assert len(places) == 1, f"{name!r} filed in {places}"
    return places[0]


def _load() -> dict[str, tuple[str, ...]]:
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    return {tag: tuple(names) for tag, names in data["releases"].items()}


NAMES_BY_TAG: dict[str, tuple[str, ...]] = _load()
"""Release tag -> the real archive names of the table."""

ASSETS: tuple[Asset, ...] = tuple(
    # Sizes are arbitrary but distinct; nothing asserts on them.
    make_asset(tag, name, size=1_000 + i)
    for i, (tag, name) in enumerate(
        (tag, name) for tag, names in NAMES_BY_TAG.items() for name in names
    )
)
"""Every asset of the table, in file order."""

RELEASES: tuple[Release, ...] = tuple(
    Release(tag=tag, assets=tuple(a.upstream for a in ASSETS if a.tag == tag))
    for tag in NAMES_BY_TAG
)
"""One published release per tag of the table, oldest first."""
