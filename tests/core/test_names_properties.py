"""Hypothesis properties of ``mirrorsync.core.names``: valid names round-trip, junk is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from selection_table import catalog_place

from mirrorsync.core.model import FLAVORS, VARIANTS, AssetName, Flavor
from mirrorsync.core.names import (
    BUILD_OPTIONS,
    KNOWN_TRIPLES,
    LEGACY_PLATFORMS,
    MAX_NAME_LENGTH,
    parse_asset_name,
    sidecar_target,
)
from mirrorsync.errors import InvalidAssetName

pytestmark = pytest.mark.property

EXCERPT = Path(__file__).resolve().parents[2] / "testkit" / "data" / "names_by_era.json"
REAL = sorted(
    name
    for names in json.loads(EXCERPT.read_text(encoding="utf-8"))["releases"].values()
    for name in names
)
EXTS: tuple[Literal["tar.zst", "tar.gz"], ...] = ("tar.zst", "tar.gz")

# --- the grammar's vocabularies, as strategies (docs/upstream.md §2-§4) --------------------------

numbers = st.from_regex(r"[0-9]{1,4}", fullmatch=True)
pythons = st.builds(
    lambda major, minor, patch, pre: f"{major}.{minor}.{patch}{pre}",
    numbers,
    numbers,
    numbers,
    st.one_of(st.just(""), st.builds("{}{}".format, st.sampled_from(["a", "b", "rc"]), numbers)),
)
tags = st.from_regex(r"[0-9]{8}", fullmatch=True)
stamps = st.from_regex(r"[0-9]{8}T[0-9]{4}", fullmatch=True)
triples = st.sampled_from(sorted(KNOWN_TRIPLES))
words = st.sampled_from(sorted(LEGACY_PLATFORMS))


def builds(platform: str, flavor: Flavor, *, required: bool) -> st.SearchStrategy[str]:
    """Build options that the consistency rules allow for this platform and flavor."""
    if flavor != "full":
        return st.sampled_from(["", "freethreaded"])
    vocabulary = [o for o in BUILD_OPTIONS if o != "static"]
    if platform.endswith("-unknown-linux-musl"):
        vocabulary.append("static")  # lto+static etc.; on Windows static is the linkage
    options = st.lists(st.sampled_from(vocabulary), unique=True, min_size=int(required), max_size=4)
    return options.filter(lambda o: o not in (["freethreaded"], ["static"])).map("+".join)


@st.composite
def valid_names(draw: st.DrawFn) -> tuple[str, AssetName]:
    """A name the grammar and its rules accept, written out by hand, with the record it means."""
    era = draw(st.sampled_from("ABC"))
    python = draw(pythons)
    written = draw(words) if era == "A" else draw(triples)
    platform = LEGACY_PLATFORMS.get(written, written)
    linkage = None
    if platform.endswith("-pc-windows-msvc"):
        linkage = draw(st.sampled_from([None, "shared", "static"]))
    flavor_word: Flavor | None
    if era == "A":
        flavor_word = None
    elif era == "B":
        flavor_word = draw(st.sampled_from([None, "install_only"]))
    else:
        flavor_word = draw(st.sampled_from(FLAVORS))
    flavor: Flavor = flavor_word or "full"
    build = draw(builds(platform, flavor, required=era == "C" and flavor == "full"))
    name_tag = draw(tags) if era == "C" else None
    built_at = None if era == "C" else draw(stamps)
    ext: Literal["tar.zst", "tar.gz"] = "tar.zst" if flavor == "full" else "tar.gz"
    head = f"cpython-{python}" + (f"+{name_tag}" if name_tag else "")
    parts = [head, written, linkage, build, flavor_word, built_at]
    name = "-".join(p for p in parts if p) + "." + ext
    expected = AssetName(
        python=python,
        name_tag=name_tag,
        platform=platform,
        platform_written=written,
        linkage=linkage,
        build=build,
        flavor=flavor,
        flavor_written=flavor_word is not None,
        built_at=built_at,
        ext=ext,
    )
    return name, expected


def parse_or_none(text: str) -> AssetName | None:
    """Parse ``text``; None on InvalidAssetName, and any other exception fails the test."""
    try:
        parsed = parse_asset_name(text)
    except InvalidAssetName:
        return None
    assert parsed.render() == text
    assert parsed.platform in KNOWN_TRIPLES
    assert parsed.variant in VARIANTS
    return parsed


def check_total(text: str) -> None:
    """Every entry point answers ``text`` without raising anything but InvalidAssetName."""
    parsed = parse_or_none(text)
    target = sidecar_target(text)
    assert parsed is None or target is None
    if target is not None:
        assert target + ".sha256" == text
        assert parse_or_none(target) is not None
    # The catalog files it by the same decisions, and never raises either.
    tag = parsed.name_tag if parsed is not None and parsed.name_tag else "20200101"
    expected = "asset" if parsed is not None else "sidecar" if target is not None else "unparsed"
    assert catalog_place(text, tag=tag) == ("sums" if text == "SHA256SUMS" else expected)


# --- valid names ---------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(valid_names())
def test_generated_name_parses_into_its_fields_and_renders_back(
    case: tuple[str, AssetName],
) -> None:
    """A name built from the grammar's vocabularies parses into the fields it was built from."""
    name, expected = case
    parsed = parse_asset_name(name, release_tag=expected.name_tag)
    assert parsed == expected
    assert parsed.render() == name
    assert parsed.variant in VARIANTS


@settings(deadline=None)
@given(valid_names())
def test_generated_name_is_an_archive_and_its_sidecar_a_sidecar(
    case: tuple[str, AssetName],
) -> None:
    """A valid name is an archive of its release and its .sha256 a sidecar of that archive."""
    name, expected = case
    tag = expected.name_tag or "20200101"
    assert catalog_place(name, tag=tag) == "asset"
    assert catalog_place(f"{name}.sha256", tag=tag) == "sidecar"
    assert sidecar_target(f"{name}.sha256") == name
    assert sidecar_target(name) is None


@settings(deadline=None)
@given(valid_names(), tags)
def test_era_c_name_is_refused_under_another_release_tag(
    case: tuple[str, AssetName], release_tag: str
) -> None:
    """An era C name parses only under its own release tag; A/B names under any tag."""
    name, expected = case
    if expected.name_tag is None or expected.name_tag == release_tag:
        assert parse_asset_name(name, release_tag=release_tag) == expected
    else:
        with pytest.raises(InvalidAssetName, match="is not the release's tag"):
            parse_asset_name(name, release_tag=release_tag)


# --- grammar-shaped names: every slot drawn on its own, valid or not -----------------------------


UNKNOWN_TRIPLES = ["loongarch64-unknown-linux-gnu", "armv7-apple-darwin", "x86-pc-windows-msvc"]


@st.composite
def shaped_names(draw: st.DrawFn) -> tuple[str, AssetName]:
    """A name that matches the grammar, built like a valid one but with slots often drawn freely.

    Each slot is drawn from the whole vocabulary one time in four, else as its era would have it,
    so that both valid names and names breaking one or two rules (docs/upstream.md §2) come up
    often.
    """

    def free() -> bool:
        return draw(st.integers(0, 3)) == 0

    era = draw(st.sampled_from("ABC"))
    if free():
        written = draw(st.one_of(words, triples, st.sampled_from(UNKNOWN_TRIPLES)))
    else:
        written = draw(words if era == "A" else triples)
    platform = LEGACY_PLATFORMS.get(written, written)
    linkage = None
    if platform.endswith("-pc-windows-msvc") or free():
        linkage = draw(st.sampled_from([None, "shared", "static"]))
    flavor_word: Flavor | None = None
    if free():
        flavor_word = draw(st.sampled_from([None, *FLAVORS]))
    elif era == "B":
        flavor_word = draw(st.sampled_from([None, "install_only"]))
    elif era == "C":
        flavor_word = draw(st.sampled_from(FLAVORS))
    flavor: Flavor = flavor_word or "full"
    if free():
        build = "+".join(draw(st.lists(st.sampled_from(BUILD_OPTIONS), max_size=3)))
    else:
        build = draw(builds(platform, flavor, required=era == "C" and flavor == "full"))
    # "-static-" right after the platform always reads as the linkage infix.
    assume(not (linkage is None and build == "static"))
    name_tag = draw(tags) if (era == "C") != free() else None
    built_at = draw(stamps) if (era != "C") != free() else None
    ext: Literal["tar.zst", "tar.gz"] = "tar.zst" if flavor == "full" else "tar.gz"
    if free():
        ext = draw(st.sampled_from(EXTS))
    python = draw(pythons)
    head = f"cpython-{python}" + (f"+{name_tag}" if name_tag else "")
    name = "-".join(p for p in [head, written, linkage, build, flavor_word, built_at] if p)
    fields = AssetName(
        python=python,
        name_tag=name_tag,
        platform=platform,
        platform_written=written,
        linkage=linkage,
        build=build,
        flavor=flavor,
        flavor_written=flavor_word is not None,
        built_at=built_at,
        ext=ext,
    )
    return f"{name}.{ext}", fields


def satisfies_rules(a: AssetName) -> bool:
    """docs/upstream.md §2's consistency rules, restated as one predicate (the test's oracle)."""
    options = a.build.split("+") if a.build else []
    era_c = a.name_tag is not None
    legacy = a.platform_written in LEGACY_PLATFORMS
    full = a.flavor == "full"
    rules = [
        legacy or a.platform in KNOWN_TRIPLES,  # explicit platform vocabulary
        era_c != (a.built_at is not None),  # tag present <=> build stamp absent
        not legacy or not (era_c or a.flavor_written),  # era A: word ... stamp, no flavor
        a.linkage is None or a.platform.endswith("-pc-windows-msvc"),  # linkage: Windows only
        a.flavor_written or not era_c,  # era C: flavor required
        era_c or not a.flavor_written or a.flavor == "install_only",  # A/B: none or install_only
        full == (a.ext == "tar.zst"),  # full <=> .tar.zst, install_only* <=> .tar.gz
        not (full and era_c and not options),  # era C full: build non-empty
        full or a.build in {"", "freethreaded"},  # install_only*: "" or freethreaded
        not (full and a.build == "freethreaded"),  # full builds write freethreaded+{opt}
        len(set(options)) == len(options),  # no option twice
        "static" not in options or a.platform.endswith("-unknown-linux-musl"),  # static: musl
    ]
    return all(rules)


@settings(max_examples=1000, deadline=None)
@given(shaped_names())
def test_grammar_shaped_name_is_accepted_exactly_when_the_rules_hold(
    case: tuple[str, AssetName],
) -> None:
    """A name matching the grammar parses into its slots if it keeps every rule, else raises."""
    name, fields = case
    if satisfies_rules(fields):
        assert parse_asset_name(name) == fields
    else:
        with pytest.raises(InvalidAssetName):
            parse_asset_name(name)


# --- arbitrary text ----------------------------------------------------------------------------

GRAMMAR_ALPHABET = "cpython-0123456789.+_abdefgilmnorstuvwxzT"
HOSTILE = ["/", "\\", "..", "\0", "\n", "\r", "\t", " ", "%2B", "é", "\u0664", "\ufeff", "~"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=MAX_NAME_LENGTH + 10))
def test_arbitrary_text_raises_only_invalid_asset_name(text: str) -> None:
    """Any text parses and renders back, or raises InvalidAssetName; the catalog never raises."""
    check_total(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=GRAMMAR_ALPHABET, max_size=120))
def test_text_over_the_grammar_alphabet_raises_only_invalid_asset_name(text: str) -> None:
    """Text made of the grammar's own characters is still only ever parsed or refused."""
    check_total(text)
    check_total(f"cpython-{text}")
    check_total(f"cpython-{text}.sha256")


@st.composite
def mutated_names(draw: st.DrawFn) -> str:
    """A real or generated valid name with a few characters or hyphen-separated words edited."""
    name = draw(st.one_of(st.sampled_from(REAL), valid_names().map(lambda c: c[0])))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            words = name.split("-")
            i = draw(st.integers(0, len(words) - 1))
            op = draw(st.sampled_from(["drop", "dup", "swap", "replace"]))
            if op == "drop":
                del words[i]
            elif op == "dup":
                words.insert(i, words[i])
            elif op == "swap":
                j = draw(st.integers(0, len(words) - 1))
                words[i], words[j] = words[j], words[i]
            else:
                vocabulary = [*BUILD_OPTIONS, *FLAVORS, "shared", "apple", "darwin", "musl", "ios"]
                words[i] = draw(st.sampled_from(vocabulary))
            name = "-".join(words)
        else:
            i = draw(st.integers(0, len(name)))
            piece = draw(st.one_of(st.sampled_from(HOSTILE), st.text(GRAMMAR_ALPHABET, max_size=3)))
            cut = draw(st.integers(0, 2))
            name = name[:i] + piece + name[i + cut :]
    return name


@settings(max_examples=500, deadline=None)
@given(mutated_names())
def test_mutated_real_names_are_parsed_or_refused_but_never_crash(text: str) -> None:
    """Edits of valid names (hostile characters, dropped or swapped words) never crash a parser."""
    check_total(text)
    check_total(f"{text}.sha256")


@settings(deadline=None)
@given(st.sampled_from(REAL), st.sampled_from(HOSTILE))
def test_a_hostile_character_anywhere_in_a_real_name_is_refused(name: str, bad: str) -> None:
    """A character outside the grammar (separator, control, non-ASCII) invalidates any real name."""
    for i in (0, len(name) // 2, len(name)):
        with pytest.raises(InvalidAssetName):
            parse_asset_name(name[:i] + bad + name[i:])


@settings(deadline=None)
@given(st.text(min_size=MAX_NAME_LENGTH + 1, max_size=20_000))
def test_overlong_text_is_refused_for_its_length(text: str) -> None:
    """Text longer than the cap is refused for its length before any matching."""
    with pytest.raises(InvalidAssetName, match=f"longer than {MAX_NAME_LENGTH}"):
        parse_asset_name(text)
