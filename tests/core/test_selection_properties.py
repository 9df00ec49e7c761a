"""Properties of selection and of SHA256SUMS: idempotence, order independence, round trips."""

from __future__ import annotations

import contextlib
import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from selection_table import ASSETS

from mirrorsync.config.records import ReleasesConfig, SelectConfig
from mirrorsync.core.checksums import parse_sha256sums, render_sha256sums
from mirrorsync.core.model import Asset, Release
from mirrorsync.core.selection import is_safe_tag, select_assets, select_releases

pytestmark = pytest.mark.property


def _subset(pool: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(pool), max_size=3, unique=True).map(tuple)


select_configs = st.builds(
    SelectConfig,
    python=_subset(
        ["3.12", "3.13.11", "3.15", "3.15.0a5", ">=3.14", ">=3.15.0a1", "!=3.12.4", ">=3.9,<3.13"]
    ),
    prereleases=st.booleans(),
    latest_patch=st.booleans(),
    platforms=_subset(["*-apple-darwin", "x86_64-pc-windows-msvc", "*linux*", "aarch64-*"]),
    flavors=_subset(["install_only", "install_only_stripped", "full"]),
    variants=_subset(["default", "freethreaded", "debug", "freethreaded+debug"]),
    builds=_subset(["*", "pgo+lto", "freethreaded+*", "*static", "pgo", "?*"]),
    exclude=_subset(["*-shared-*", "*+20260127-*", "*.tar.zst", "cpython-3.9.*"]),
)
asset_sets = st.lists(st.sampled_from(ASSETS), unique_by=lambda a: a.path)


@given(assets=asset_sets, cfg=select_configs)
def test_select_assets_is_idempotent(assets: list[Asset], cfg: SelectConfig) -> None:
    """Selecting from a selection changes nothing."""
    once = select_assets(assets, cfg)
    assert select_assets(once, cfg) == once


@given(data=st.data(), assets=asset_sets, cfg=select_configs)
def test_select_assets_ignores_input_order(
    data: st.DataObject, assets: list[Asset], cfg: SelectConfig
) -> None:
    """Any permutation of the input gives the same output, sorted by path, drawn from the input."""
    shuffled = data.draw(st.permutations(assets))
    selected = select_assets(assets, cfg)
    assert select_assets(shuffled, cfg) == selected
    assert [a.path for a in selected] == sorted(a.path for a in selected)
    assert all(any(a is b for b in assets) for a in selected)


# Mostly date tags, with a few odd but safe ones and some that must never reach the file system.
tag_strategy = st.one_of(
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
    st.sampled_from(["..", ".", "", "../etc", "a/b", "20240713\n", "v1.0", "x y"]),
    st.text(alphabet=string.printable, max_size=10),
)
release_lists = st.lists(
    st.builds(Release, tag=tag_strategy, draft=st.booleans(), prerelease=st.booleans()),
    unique_by=lambda r: r.tag,  # GitHub tags are unique within a repository
)
release_configs = st.builds(
    ReleasesConfig,
    latest=st.none() | st.integers(min_value=0, max_value=5),
    since=st.none() | st.dates().map(lambda d: d.strftime("%Y%m%d")),
    tags=st.lists(tag_strategy, max_size=4, unique=True).map(tuple),
)


@given(releases=release_lists, cfg=release_configs)
def test_select_releases_picks_safe_published_releases_from_its_input(
    releases: list[Release], cfg: ReleasesConfig
) -> None:
    """Output ⊆ input, never a draft, GitHub prerelease or unsafe tag, newest first."""
    selection = select_releases(releases, cfg)
    chosen = selection.releases
    assert all(any(r is s for s in releases) for r in chosen)
    assert not any(r.draft or r.prerelease for r in chosen)
    assert all(is_safe_tag(r.tag) for r in chosen)
    assert [r.tag for r in chosen] == sorted((r.tag for r in chosen), reverse=True)
    if cfg.tags:
        assert {r.tag for r in chosen} | set(selection.missing_tags) == set(cfg.tags)
    else:
        assert selection.missing_tags == ()
        if cfg.latest is not None:
            assert len(chosen) <= cfg.latest


@given(data=st.data(), releases=release_lists, cfg=release_configs)
def test_select_releases_ignores_input_order(
    data: st.DataObject, releases: list[Release], cfg: ReleasesConfig
) -> None:
    """Any permutation of the listing gives the same selection."""
    shuffled = data.draw(st.permutations(releases))
    assert select_releases(shuffled, cfg) == select_releases(releases, cfg)


hex_digests = st.binary(max_size=8).map(lambda b: hashlib.sha256(b).hexdigest())
archive_names = st.from_regex(
    r"cpython-3\.1[0-5]\.[0-9]{1,2}\+2025[0-9]{4}-[a-z0-9_+-]{1,30}\.tar\.(gz|zst)", fullmatch=True
)


@given(entries=st.dictionaries(archive_names, hex_digests))
def test_sha256sums_round_trip(entries: dict[str, str]) -> None:
    """parse(render(entries)) gives the entries back, and rendering again the same bytes."""
    rendered = render_sha256sums(entries.items())
    assert parse_sha256sums(rendered.decode()) == entries
    assert render_sha256sums(parse_sha256sums(rendered.decode()).items()) == rendered


@given(entries=st.dictionaries(st.text(min_size=1), hex_digests, max_size=5))
def test_sha256sums_renders_arbitrary_names_faithfully_or_refuses(
    entries: dict[str, str],
) -> None:
    """Any name either reads back as itself or is refused by render with ValueError."""
    try:
        rendered = render_sha256sums(entries.items())
    except ValueError:
        return
    assert parse_sha256sums(rendered.decode()) == entries


@given(text=st.text())
def test_parse_sha256sums_raises_only_value_error(text: str) -> None:
    """Arbitrary (hostile) text parses or raises ValueError; nothing else escapes."""
    with contextlib.suppress(ValueError):
        parse_sha256sums(text)
