"""Selection of releases and assets (``docs/interface.md`` §2.4, §2.9).

Asset tests run against ``selection_table.ASSETS``: 107 real names of 13 releases (eras A, B, C).
Expectations are written out, or derived from the names by a regular expression, never by the
code under test.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from packaging.version import Version
from selection_table import ASSETS, NAMES_BY_TAG, RELEASES, make_asset

from mirrorsync.config.records import ReleasesConfig, SelectConfig
from mirrorsync.core.model import Asset, AssetName, Release
from mirrorsync.core.selection import (
    ReleaseSelection,
    compile_python_spec,
    is_safe_tag,
    select_assets,
    select_releases,
)

PRERELEASE = re.compile(r"^cpython-\d+\.\d+\.\d+(?:a|b|rc)\d+")


def select(assets: tuple[Asset, ...] = ASSETS, **cfg: Any) -> list[str]:
    """The paths ``select_assets`` keeps under ``SelectConfig(**cfg)``."""
    return [a.path for a in select_assets(assets, SelectConfig(**cfg))]


def paths_where(pattern: str, *, prereleases: bool = False) -> list[str]:
    """The sorted table paths whose name matches ``pattern`` (finals only unless asked)."""
    return sorted(
        a.path
        for a in ASSETS
        if re.search(pattern, a.name) and (prereleases or not PRERELEASE.match(a.name))
    )


def tags(selection: ReleaseSelection) -> list[str]:
    return [r.tag for r in selection.releases]


# --- releases -------------------------------------------------------------------------------


DRAFT = Release(tag="20260408", draft=True)
GH_PRERELEASE = Release(tag="20260414", prerelease=True)
LISTING = (*RELEASES, DRAFT, GH_PRERELEASE)
"""The table's 13 releases plus a newer draft and a newer GitHub prerelease (staging)."""


def test_default_selects_the_newest_release() -> None:
    """`latest: 1` (the default) picks the greatest tag, skipping newer drafts and prereleases."""
    assert tags(select_releases(LISTING, ReleasesConfig())) == ["20260320"]


def test_latest_n_is_the_n_greatest_tags_newest_first() -> None:
    """`latest: 3` gives the three greatest tags, sorted descending."""
    selection = select_releases(LISTING, ReleasesConfig(latest=3))
    assert tags(selection) == ["20260320", "20260203", "20260127"]


def test_latest_none_means_no_limit() -> None:
    """`latest: null` selects every published release."""
    selection = select_releases(LISTING, ReleasesConfig(latest=None))
    assert tags(selection) == sorted(NAMES_BY_TAG, reverse=True)


def test_newest_is_the_greatest_tag_not_api_order_or_publication_date() -> None:
    """Tags order as strings: neither listing order nor `published_at` decides what is newest."""
    listing = [
        Release(tag="20240726", published_at="2024-07-26T00:00:00Z"),
        Release(tag="20240725", published_at="2099-01-01T00:00:00Z"),  # republished later
        Release(tag="20240813", published_at="2024-08-13T00:00:00Z"),
    ]
    selection = select_releases(reversed(listing), ReleasesConfig(latest=2))
    assert tags(selection) == ["20240813", "20240726"]


def test_since_keeps_tags_on_or_after_it() -> None:
    """`since` is inclusive; with `latest: null` every later release is selected."""
    selection = select_releases(LISTING, ReleasesConfig(latest=None, since="20251217"))
    assert tags(selection) == ["20260320", "20260203", "20260127", "20251217"]


def test_latest_caps_since_to_the_newest_n() -> None:
    """With `since`, an explicit `latest` keeps the newest N of the releases on or after it."""
    selection = select_releases(LISTING, ReleasesConfig(latest=2, since="20240101"))
    assert tags(selection) == ["20260320", "20260203"]


def test_since_after_every_tag_selects_nothing() -> None:
    """A `since` newer than every release selects nothing (and reports nothing missing)."""
    selection = select_releases(LISTING, ReleasesConfig(latest=None, since="20990101"))
    assert selection == ReleaseSelection(releases=(), missing_tags=(), unsafe_tags=())


def test_tags_select_exactly_those_ignoring_latest_and_since() -> None:
    """With `tags`, exactly the named releases are selected, newest first; latest/since ignored."""
    cfg = ReleasesConfig(latest=1, since="20250101", tags=("20200408", "20240713"))
    selection = select_releases(LISTING, cfg)
    assert tags(selection) == ["20240713", "20200408"]
    assert selection.missing_tags == ()


def test_missing_tags_include_absent_draft_and_prerelease_tags() -> None:
    """A named tag that upstream lacks, or has only as a draft or GitHub prerelease, is missing."""
    cfg = ReleasesConfig(tags=("20260414", "20181218", "20240713", "20260408"))
    selection = select_releases(LISTING, cfg)
    assert tags(selection) == ["20240713"]
    assert selection.missing_tags == ("20181218", "20260408", "20260414")


def test_drafts_and_prereleases_are_never_selected() -> None:
    """Drafts and GitHub prereleases stay out even when they are the only releases."""
    listing = [DRAFT, GH_PRERELEASE, Release(tag="20260409", draft=True, prerelease=True)]
    for cfg in (ReleasesConfig(), ReleasesConfig(latest=None, since="20000101")):
        assert select_releases(listing, cfg).releases == ()


def test_selection_keeps_the_release_records() -> None:
    """The selected releases are the listing's own records, assets included."""
    (newest,) = select_releases(LISTING, ReleasesConfig()).releases
    assert newest is RELEASES[-1]
    assert len(newest.assets) == len(NAMES_BY_TAG["20260320"])


@pytest.mark.parametrize(
    "tag",
    [
        "20240713",
        "v1.2.3",
        "release_2024-07-13",  # letters, digits, '.', '_' and '-' only
        "flat2",  # only the exact reserved names are refused
    ],
)
def test_safe_tags(tag: str) -> None:
    """A tag of [A-Za-z0-9._-], not a dot-name nor a reserved root name, is a safe component."""
    assert is_safe_tag(tag)


@pytest.mark.parametrize(
    "tag",
    [
        "",
        ".",
        "..",
        "../20240713",  # escapes the mirror root
        "2024/07/13",  # several components
        "a\\b",  # a separator on Windows
        "/etc",
        "20240713\n",  # `$` would accept the trailing newline; fullmatch does not
        "2024 07 13",
        "20240713\x00",
        "\uff12\uff10\uff12\uff14",  # full-width digits are not ASCII
        "...",  # a dot-name: hidden, and near enough to '..'
        ".mirrorsync",  # the state directory
        "flat",  # the flat view of pbs-installer
        "github",  # the Astral-layout link
        "index.html",  # a file mirrorsync writes at the root
    ],
)
def test_unsafe_tags(tag: str) -> None:
    """Anything else is unsafe: separators, dot components, whitespace, control or non-ASCII."""
    assert not is_safe_tag(tag)


def test_unsafe_releases_are_skipped_and_reported() -> None:
    """Releases with unsafe tags are skipped, reported sorted, and never take a `latest` slot."""
    hostile = [Release(tag="zzz/../../etc"), Release(tag=".."), Release(tag="20990101/x")]
    selection = select_releases([*hostile, *RELEASES], ReleasesConfig(latest=1))
    assert tags(selection) == ["20260320"]
    assert selection.unsafe_tags == ("..", "20990101/x", "zzz/../../etc")


def test_unsafe_drafts_are_skipped_silently() -> None:
    """A draft or prerelease with an unsafe tag is skipped as a draft, not reported as unsafe."""
    listing = [Release(tag="../x", draft=True), Release(tag="../y", prerelease=True), *RELEASES]
    assert select_releases(listing, ReleasesConfig()).unsafe_tags == ()


def test_unsafe_tag_outside_since_is_not_reported() -> None:
    """Only releases that the config would otherwise consider are reported as unsafe."""
    listing = [Release(tag="../old"), *RELEASES]  # '.' sorts before digits: before `since`
    selection = select_releases(listing, ReleasesConfig(latest=None, since="20260101"))
    assert selection.unsafe_tags == ()


# --- python versions ------------------------------------------------------------------------


def test_no_python_entries_and_no_prereleases_excludes_every_prerelease() -> None:
    """`prereleases: false` excludes alphas, betas and rcs even when `python` is empty."""
    assert select() == paths_where(r".")
    assert len(select()) == len(ASSETS) - 24  # 24 names of the table are CPython prereleases


def test_prereleases_true_with_no_python_entries_selects_everything() -> None:
    """With `prereleases: true` and nothing else, every asset is selected."""
    assert select(prereleases=True) == sorted(a.path for a in ASSETS)


def test_minor_entry_matches_every_patch_of_that_minor() -> None:
    """ "3.12" selects 3.12.2 … 3.12.12 (a prefix match on release components)."""
    assert select(python=("3.12",)) == paths_where(r"^cpython-3\.12\.")
    assert len(select(python=("3.12",))) == 28


def test_minor_entry_does_not_match_a_longer_minor() -> None:
    """ "3.12" does not match 3.120.1, which a string prefix would."""
    template = ASSETS[0]
    assert isinstance(template.parsed, AssetName)
    other = dataclasses.replace(
        template, parsed=dataclasses.replace(template.parsed, python="3.120.1")
    )
    assert select((other,), python=("3.12",)) == []
    assert select((other,), python=("3.120",)) == [other.path]


def test_exact_entry_matches_one_version() -> None:
    """ "3.12.4" selects that version only, in every release that carries it."""
    assert select(python=("3.12.4",)) == [
        "20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz",
        "20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-pgo+lto-full.tar.zst",
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-debug-full.tar.zst",
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only.tar.gz",
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz",
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-pgo+lto-full.tar.zst",
    ]


def test_specifier_set_entry() -> None:
    """Any other entry is a PEP 440 specifier set: ">=3.13,<3.14" selects the 3.13 finals."""
    assert select(python=(">=3.13,<3.14",)) == paths_where(r"^cpython-3\.13\.")


def test_python_entries_are_alternatives() -> None:
    """An asset passes `python` when any one entry matches it."""
    assert select(python=("3.7", "3.9.6")) == paths_where(r"^cpython-3\.(7\.|9\.6-)")


def test_minor_entry_excludes_its_prereleases_by_default() -> None:
    """ "3.15" selects nothing while every 3.15 of the table is an alpha."""
    assert select(python=("3.15",)) == []


def test_minor_entry_with_prereleases_true_matches_alphas() -> None:
    """With `prereleases: true`, "3.15" selects 3.15.0a3 and 3.15.0a5."""
    assert select(python=("3.15",), prereleases=True) == paths_where(
        r"^cpython-3\.15\.", prereleases=True
    )
    assert len(select(python=("3.15",), prereleases=True)) == 17


@pytest.mark.parametrize("entry", ["==3.15.0a5", "3.15.0a5"])
def test_entry_naming_a_prerelease_admits_it(entry: str) -> None:
    """An entry naming a prerelease (specifier or bare) admits it with `prereleases: false`."""
    assert select(python=(entry,)) == paths_where(r"^cpython-3\.15\.0a5\+", prereleases=True)
    assert len(select(python=(entry,))) == 10  # 6 in 20260127, 4 in 20260203


def test_lower_bound_naming_a_prerelease_admits_the_prereleases_it_matches() -> None:
    """ ">=3.15.0a1" admits 3.15.0a3 and 3.15.0a5, but not 3.14.0a3 or 3.14.0a5 (below it)."""
    assert select(python=(">=3.15.0a1",)) == paths_where(r"^cpython-3\.15\.", prereleases=True)


def test_admitting_entry_does_not_admit_prereleases_for_other_entries() -> None:
    """Only the entry that names a prerelease admits prereleases; "3.14" next to it does not."""
    selected = select(python=("==3.15.0a5", "3.14"))
    assert selected == sorted(
        paths_where(r"^cpython-3\.15\.0a5\+", prereleases=True) + paths_where(r"^cpython-3\.14\.")
    )


def test_open_specifier_does_not_admit_prereleases() -> None:
    """ ">=3.14" excludes 3.15.0a5: packaging's contains() would admit it unless told not to."""
    assert select(python=(">=3.14",)) == paths_where(r"^cpython-3\.14\.2\+")


def test_exclusion_naming_a_prerelease_admits_nothing() -> None:
    """ "!=3.15.0a5" names a prerelease only to exclude it, so every prerelease stays out."""
    assert select(python=("!=3.15.0a5",)) == select()


def test_upper_bound_excludes_prereleases_of_that_version() -> None:
    """With `prereleases: true`, "<3.14" still excludes 3.14.0a3 (PEP 440 exclusive ordering)."""
    selected = select(python=(">=3.13,<3.14",), prereleases=True)
    assert selected == paths_where(r"^cpython-3\.13\.")


@pytest.mark.parametrize(
    ("entry", "names_prerelease"),
    [
        ("3.12", False),
        ("3.12.4", False),
        ("3.15.0a5", True),
        ("3.15.0rc1", True),
        ("==3.15.0a5", True),
        (">=3.15.0a1", True),
        ("~=3.15.0b1", True),
        (">=3.10,<3.15.0a1", True),  # one specifier naming a prerelease is enough
        ("!=3.15.0a5", False),  # exclusion only
        (">=3.10,<3.14", False),
        ("===3.15.0a5", True),
        ("===foo", False),  # arbitrary equality: not a version at all
    ],
)
def test_which_entries_name_a_prerelease(entry: str, *, names_prerelease: bool) -> None:
    """Entries name a prerelease through any specifier but `!=`, whatever packaging's version."""
    assert compile_python_spec(entry).names_prerelease is names_prerelease


@pytest.mark.parametrize(
    ("entry", "version", "prereleases", "expected"),
    [
        ("3.12", "3.12.0", False, True),
        ("3.12", "3.12.12", False, True),
        ("3.12", "3.12.0rc1", False, False),
        ("3.12", "3.12.0rc1", True, True),
        ("3.12", "3.13.0", False, False),
        ("3.12.4", "3.12.4", False, True),
        ("3.12.4", "3.12.40", False, False),
        ("3.15.0a5", "3.15.0a5", False, True),
        ("3.15.0a5", "3.15.0a6", False, False),
        (" 3.12 ", "3.12.1", False, True),  # surrounding blanks are ignored
        (">=3.10, <3.14", "3.13.2", False, True),
    ],
)
def test_spec_matches(entry: str, version: str, *, prereleases: bool, expected: bool) -> None:
    """PythonSpec.matches for prefix, exact and specifier entries, with and without prereleases."""
    spec = compile_python_spec(entry)
    assert spec.matches(Version(version), prereleases=prereleases) is expected


@pytest.mark.parametrize(
    "entry",
    ["", " ", ",", "3", "3.12.*", "3.x", "latest", "python3.12", ">=3.10;<3.14", "3.12.4.post1 b"],
)
def test_invalid_python_entries_raise_value_error_quoting_them(entry: str) -> None:
    """An entry that is no version and no specifier set raises ValueError quoting the entry."""
    with pytest.raises(ValueError, match="invalid python entry") as info:
        compile_python_spec(entry)
    assert repr(entry) in str(info.value)


def test_invalid_python_entry_fails_selection() -> None:
    """select_assets raises the same ValueError rather than selecting everything."""
    with pytest.raises(ValueError, match=r"'3\.x'"):
        select(python=("3.x",))


# --- platforms, flavors, variants, builds ---------------------------------------------------


def test_platform_glob_over_canonical_triples_includes_legacy_words() -> None:
    """ "*-apple-darwin" matches triples and era A's `macos` (mapped to x86_64-apple-darwin)."""
    selected = select(platforms=("*-apple-darwin",))
    assert "20200408/cpython-3.7.7-macos-20200409T0412.tar.zst" in selected
    assert selected == paths_where(r"-apple-darwin-|-macos-")


def test_exact_platform_matches_every_era() -> None:
    """ "x86_64-pc-windows-msvc" matches `windows-amd64` (era A) and the triple (eras B, C)."""
    assert select(platforms=("x86_64-pc-windows-msvc",)) == paths_where(
        r"-x86_64-pc-windows-msvc-|-windows-amd64-"
    )


def test_platform_globs_are_alternatives_and_case_sensitive() -> None:
    """Several globs are OR'd; matching is case-sensitive (fnmatchcase on every OS)."""
    assert select(platforms=("*-APPLE-DARWIN",)) == []
    assert select(platforms=("aarch64-pc-windows-msvc", "x86_64-unknown-linux-*")) == paths_where(
        r"-aarch64-pc-windows-msvc-|-x86_64-unknown-linux-|-linux64-"
    )


def test_flavors_are_exact() -> None:
    """`flavors: [install_only]` does not select install_only_stripped."""
    assert select(flavors=("install_only",)) == paths_where(r"-install_only[-.]")


def test_full_flavor_includes_archives_without_a_flavor_word() -> None:
    """Era A/B `.tar.zst` archives have no flavor word and are `full`."""
    assert select(flavors=("full",)) == paths_where(r"\.tar\.zst$")
    assert "20200408/cpython-3.7.7-linux64-20200409T0045.tar.zst" in select(flavors=("full",))


@pytest.mark.parametrize(
    ("variant", "pattern"),
    [
        # freethreaded: free-threaded builds that are not debug builds, hyphen or plus form.
        ("freethreaded", r"-freethreaded(\+pgo|\+lto|-install)"),
        ("debug", r"-debug-"),
        ("freethreaded+debug", r"-freethreaded\+debug-"),
        ("default", r"^(?!.*(freethreaded|debug))"),
    ],
)
def test_variants_are_exact(variant: str, pattern: str) -> None:
    """A variant selects its own builds only: `debug` excludes `freethreaded+debug`."""
    assert select(variants=(variant,), prereleases=True) == paths_where(pattern, prereleases=True)


def test_build_glob_without_wildcard_is_exact() -> None:
    """`builds: [pgo+lto]` does not select `freethreaded+pgo+lto`."""
    assert select(builds=("pgo+lto",)) == paths_where(r"-pgo\+lto-")


def test_build_glob_with_wildcard() -> None:
    """ "freethreaded+*" selects full free-threaded builds, not `-freethreaded-install_only`."""
    assert select(builds=("freethreaded+*",)) == paths_where(r"-freethreaded\+")


def test_linkage_is_not_part_of_build() -> None:
    """`builds: [pgo]` matches `-shared-pgo-` names of every era: linkage is separate."""
    assert select(builds=("pgo",)) == [
        "20200408/cpython-3.7.7-windows-amd64-shared-pgo-20200409T0115.tar.zst",
        "20200408/cpython-3.7.7-windows-x86-shared-pgo-20200409T0157.tar.zst",
        "20210724/cpython-3.9.6-aarch64-apple-darwin-pgo-20210724T1424.tar.zst",
        "20210724/cpython-3.9.6-x86_64-pc-windows-msvc-shared-pgo-20210724T1424.tar.zst",
        "20240224/cpython-3.12.2+20240224-x86_64-pc-windows-msvc-shared-pgo-full.tar.zst",
        "20240415/cpython-3.12.3+20240415-x86_64-pc-windows-msvc-shared-pgo-full.tar.zst",
        "20250212/cpython-3.12.9+20250212-x86_64-pc-windows-msvc-shared-pgo-full.tar.zst",
        "20251217/cpython-3.13.11+20251217-x86_64-pc-windows-msvc-pgo-full.tar.zst",
        "20251217/cpython-3.14.2+20251217-aarch64-pc-windows-msvc-pgo-full.tar.zst",
    ]


def test_windows_static_linkage_is_not_the_static_build_option() -> None:
    """`builds: [static]` misses Windows `-static-`; musl `lto+static` needs its own glob."""
    assert select(builds=("static",)) == []
    assert select(builds=("*static",)) == paths_where(r"-lto\+static-")


def test_build_less_names_match_only_a_glob_that_matches_the_empty_string() -> None:
    """A name without build options has build "": "*" matches it, "?*" does not."""
    assert select(builds=("*",)) == select()
    build_less = paths_where(
        r"(?<!freethreaded)-install_only|-(linux64|linux64-musl|macos)-\d|-static-\d"
    )
    assert sorted(set(select()) - set(select(builds=("?*",)))) == build_less


def test_every_non_empty_list_must_pass() -> None:
    """Lists combine with AND: python, platform, flavor, variant and build together."""
    selected = select(
        python=("3.13", "3.14"),
        platforms=("aarch64-apple-darwin",),
        flavors=("full",),
        variants=("freethreaded",),
        builds=("*lto",),
    )
    assert selected == [
        "20250106/cpython-3.13.1+20250106-aarch64-apple-darwin-freethreaded+pgo+lto-full.tar.zst",
        "20251217/cpython-3.13.11+20251217-aarch64-apple-darwin-freethreaded+pgo+lto-full.tar.zst",
        "20251217/cpython-3.14.2+20251217-aarch64-apple-darwin-freethreaded+pgo+lto-full.tar.zst",
        "20260320/cpython-3.13.12+20260320-aarch64-apple-darwin-freethreaded+pgo+lto-full.tar.zst",
    ]


# --- latest_patch ---------------------------------------------------------------------------


def test_latest_patch_keeps_the_newest_version_per_group() -> None:
    """Per (minor, platform, flavor, build, linkage), only the greatest python version stays."""
    selected = select(
        latest_patch=True, platforms=("aarch64-apple-darwin",), flavors=("install_only_stripped",)
    )
    assert selected == [
        "20251217/cpython-3.14.2+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
        "20260203/cpython-3.12.12+20260203-aarch64-apple-darwin-install_only_stripped.tar.gz",
        "20260320/cpython-3.13.12+20260320-aarch64-apple-darwin-freethreaded-install_only_stripped.tar.gz",
        "20260320/cpython-3.13.12+20260320-aarch64-apple-darwin-install_only_stripped.tar.gz",
    ]


def test_latest_patch_tie_on_version_goes_to_the_newest_tag() -> None:
    """3.12.4 is in 20240713 and 20240726: latest_patch keeps the 20240726 copies only."""
    assert select(python=("3.12.4",), latest_patch=True) == [
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-debug-full.tar.zst",
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only.tar.gz",
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz",
        "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-pgo+lto-full.tar.zst",
    ]


def test_latest_patch_runs_after_the_other_filters() -> None:
    """latest_patch chooses among assets that passed `python`, so 3.12.12 cannot displace 3.12.4."""
    selected = select(python=("3.12.4",), latest_patch=True, flavors=("install_only",))
    assert selected == ["20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only.tar.gz"]


def test_latest_patch_groups_by_linkage() -> None:
    """Windows `-shared-install_only` and `-install_only` are separate groups; both newest stay."""
    selected = select(
        latest_patch=True,
        python=("3.12",),
        platforms=("x86_64-pc-windows-msvc",),
        flavors=("install_only",),
    )
    assert selected == [
        "20240415/cpython-3.12.3+20240415-x86_64-pc-windows-msvc-install_only.tar.gz",
        "20240415/cpython-3.12.3+20240415-x86_64-pc-windows-msvc-shared-install_only.tar.gz",
    ]


def test_latest_patch_orders_prereleases_as_versions() -> None:
    """3.15.0a5 beats 3.15.0a3, and 20260203 beats 20260127 where both carry the same build."""
    selected = select(python=("3.15",), prereleases=True, latest_patch=True)
    assert selected == [
        # musl lto+static is only 3.15.0a3 in the table: the newest of its own group.
        "20251217/cpython-3.15.0a3+20251217-x86_64-unknown-linux-musl-lto+static-full.tar.zst",
        "20260127/cpython-3.15.0a5+20260127-aarch64-apple-darwin-install_only.tar.gz",
        "20260127/cpython-3.15.0a5+20260127-aarch64-apple-darwin-pgo+lto-full.tar.zst",
        "20260203/cpython-3.15.0a5+20260203-aarch64-apple-darwin-debug-full.tar.zst",
        "20260203/cpython-3.15.0a5+20260203-aarch64-apple-darwin-freethreaded+debug-full.tar.zst",
        "20260203/cpython-3.15.0a5+20260203-aarch64-apple-darwin-freethreaded+pgo+lto-full.tar.zst",
        "20260203/cpython-3.15.0a5+20260203-aarch64-apple-darwin-install_only_stripped.tar.gz",
    ]


def test_latest_patch_runs_before_exclude() -> None:
    """Excluding the newest patch leaves its group empty; the older copy does not come back."""
    newest = "*+20240726-*"
    assert select(python=("3.12.4",), latest_patch=True, exclude=(newest,)) == []
    assert select(python=("3.12.4",), exclude=(newest,)) == [
        "20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz",
        "20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-pgo+lto-full.tar.zst",
    ]


# --- exclude and output ---------------------------------------------------------------------


def test_exclude_removes_by_file_name() -> None:
    """`exclude: ["*-shared-*"]` drops the Windows shared copies and nothing else."""
    selected = select(exclude=("*-shared-*",))
    assert selected == [p for p in select() if "-shared-" not in p]
    assert len(select()) - len(selected) == 11


def test_exclude_globs_match_the_name_not_the_path() -> None:
    """A glob over `<tag>/<name>` excludes nothing: exclude sees the file name only."""
    assert select(exclude=("20240415/*",)) == select()
    assert select(exclude=("*+20240415-*",)) == [p for p in select() if "20240415/" not in p]


def test_output_is_sorted_by_path_whatever_the_input_order() -> None:
    """select_assets returns the same tuple, sorted by path, for reversed input."""
    forward = select_assets(ASSETS, SelectConfig(prereleases=True))
    backward = select_assets(reversed(ASSETS), SelectConfig(prereleases=True))
    assert forward == backward
    assert [a.path for a in forward] == sorted(a.path for a in ASSETS)


def test_selected_assets_are_the_input_records() -> None:
    """Selection neither copies nor changes the records it keeps (checksums stay attached)."""
    asset = make_asset("20240713", NAMES_BY_TAG["20240713"][0], digest="ab" * 32)
    (kept,) = select_assets([asset], SelectConfig())
    assert kept is asset


def test_empty_input_selects_nothing() -> None:
    """No assets in, none out, for any config."""
    assert select_assets([], SelectConfig(latest_patch=True, python=("3.12",))) == ()
