"""Tables of real python-build-standalone names for ``mirrorsync.core.names``."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mirrorsync.core.model import AssetName
from mirrorsync.core.names import (
    KNOWN_TRIPLES,
    LEGACY_PLATFORMS,
    MAX_NAME_LENGTH,
    parse_asset_name,
    sidecar_target,
)
from mirrorsync.errors import InvalidAssetName

EXCERPT = Path(__file__).resolve().parents[2] / "testkit" / "data" / "names_by_era.json"


def _excerpt() -> dict[str, list[str]]:
    data = json.loads(EXCERPT.read_text(encoding="utf-8"))
    releases: dict[str, list[str]] = data["releases"]
    return releases


Fields = tuple[str, str | None, str, str, str | None, str, str, bool, str | None, str]
"""An ``AssetName``'s fields in declaration order, as ``dataclasses.astuple`` gives them."""


X64_LINUX = "x86_64-unknown-linux-gnu"
X64_MUSL = "x86_64-unknown-linux-musl"
X64_MAC = "x86_64-apple-darwin"
ARM_MAC = "aarch64-apple-darwin"
X64_WIN = "x86_64-pc-windows-msvc"
X86_WIN = "i686-pc-windows-msvc"
ZST, GZ = "tar.zst", "tar.gz"

# (name, release tag, variant, fields). Every name is real: testkit/data/names_by_era.json holds it
# under that tag, copied from testkit/data/pbs_assets.json. Fields, in AssetName order: python,
# name_tag, platform, platform_written, linkage, build, flavor, flavor_written, built_at, ext.
# fmt: off
REAL_NAMES: list[tuple[str, str, str, Fields]] = [
    # --- era A: platform words, build stamp, no flavor word (all full .tar.zst archives)
    # linux64 -> x86_64 glibc; stamp is the day after the tag
    ("cpython-3.7.3-linux64-20190618T0324.tar.zst",
     "20190617", "default",
     ("3.7.3", None, X64_LINUX, "linux64", None, "", "full", False, "20190618T0324", ZST)),
    # linux64-musl is one word (two parts): -> x86_64 musl
    ("cpython-3.7.3-linux64-musl-20190618T0400.tar.zst",
     "20190617", "default",
     ("3.7.3", None, X64_MUSL, "linux64-musl", None, "", "full", False, "20190618T0400", ZST)),
    # macos -> x86_64 darwin (there was no Apple silicon then)
    ("cpython-3.7.3-macos-20190618T0523.tar.zst",
     "20190617", "default",
     ("3.7.3", None, X64_MAC, "macos", None, "", "full", False, "20190618T0523", ZST)),
    # windows-x86 -> i686; stamp 22 days after the tag (docs/upstream.md §1)
    ("cpython-3.7.3-windows-x86-20190709T0348.tar.zst",
     "20190617", "default",
     ("3.7.3", None, X86_WIN, "windows-x86", None, "", "full", False, "20190709T0348", ZST)),
    # plain windows-amd64, before the -shared-/-static- infixes (20200216)
    ("cpython-3.7.3-windows-amd64-20190618T0516.tar.zst",
     "20190617", "default",
     ("3.7.3", None, X64_WIN, "windows-amd64", None, "", "full", False, "20190618T0516", ZST)),
    # the word is not "windows-amd64-shared-pgo": linkage shared, build pgo
    ("cpython-3.7.7-windows-amd64-shared-pgo-20200409T0115.tar.zst",
     "20200408", "default",
     ("3.7.7", None, X64_WIN, "windows-amd64",
      "shared", "pgo", "full", False, "20200409T0115", ZST)),
    # -static- on Windows is linkage, and the build is empty
    ("cpython-3.7.7-windows-amd64-static-20200409T0105.tar.zst",
     "20200408", "default",
     ("3.7.7", None, X64_WIN, "windows-amd64", "static", "", "full", False, "20200409T0105", ZST)),
    # --- era B: target triples, build stamp; install_only (.tar.gz) from 20210724
    # stamp 20200823 in release 20200822: the tag comes from the release
    ("cpython-3.7.9-x86_64-unknown-linux-gnu-pgo-20200823T0036.tar.zst",
     "20200822", "default",
     ("3.7.9", None, X64_LINUX, X64_LINUX, None, "pgo", "full", False, "20200823T0036", ZST)),
    # stamp 20211011 in release 20211012 (dated before it); Windows static-noopt
    ("cpython-3.10.0-x86_64-pc-windows-msvc-static-noopt-20211011T1926.tar.zst",
     "20211012", "default",
     ("3.10.0", None, X64_WIN, X64_WIN, "static", "noopt", "full", False, "20211011T1926", ZST)),
    # era B musl, static-only then, yet no "static" word in the name
    ("cpython-3.7.7-x86_64-unknown-linux-musl-noopt-20200418T2251.tar.zst",
     "20200418", "default",
     ("3.7.7", None, X64_MUSL, X64_MUSL, None, "noopt", "full", False, "20200418T2251", ZST)),
    # pgo+lto joined with '+', no flavor word
    ("cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst",
     "20210724", "default",
     ("3.8.11", None, X64_LINUX, X64_LINUX, None, "pgo+lto", "full", False, "20210724T1424", ZST)),
    # i686 Linux (dropped in 2023)
    ("cpython-3.8.8-i686-unknown-linux-gnu-pgo-20210228T1503.tar.zst",
     "20210228", "default",
     ("3.8.8", None, "i686-unknown-linux-gnu", "i686-unknown-linux-gnu",
      None, "pgo", "full", False, "20210228T1503", ZST)),
    # era B debug on macOS: "debug" is the build, not part of the triple
    ("cpython-3.10.2-aarch64-apple-darwin-debug-20220220T1113.tar.zst",
     "20220222", "debug",
     ("3.10.2", None, ARM_MAC, ARM_MAC, None, "debug", "full", False, "20220220T1113", ZST)),
    # era B install_only, first release that had it; Windows shared infix
    ("cpython-3.9.6-x86_64-pc-windows-msvc-shared-install_only-20210724T1424.tar.gz",
     "20210724", "default",
     ("3.9.6", None, X64_WIN, X64_WIN, "shared", "", "install_only", True, "20210724T1424", GZ)),
    # era B install_only on Apple silicon
    ("cpython-3.9.6-aarch64-apple-darwin-install_only-20210724T1424.tar.gz",
     "20210724", "default",
     ("3.9.6", None, ARM_MAC, ARM_MAC, None, "", "install_only", True, "20210724T1424", GZ)),
    # era B install_only on Linux
    ("cpython-3.10.0-x86_64-unknown-linux-gnu-install_only-20211017T1616.tar.gz",
     "20211017", "default",
     ("3.10.0", None, X64_LINUX, X64_LINUX, None, "", "install_only", True, "20211017T1616", GZ)),
    # --- era C: +tag in the name, flavor word required
    # install_only
    ("cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz",
     "20240713", "default",
     ("3.12.4", "20240713", ARM_MAC, ARM_MAC, None, "", "install_only", True, None, GZ)),
    # install_only_stripped, a day after its first release (20240725)
    ("cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz",
     "20240726", "default",
     ("3.12.4", "20240726", ARM_MAC, ARM_MAC, None, "", "install_only_stripped", True, None, GZ)),
    # full, pgo+lto
    ("cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst",
     "20251217", "default",
     ("3.13.11", "20251217", X64_LINUX, X64_LINUX, None, "pgo+lto", "full", True, None, ZST)),
    # pitfall: macOS -debug-full; the triple has three parts and stops at darwin
    ("cpython-3.10.2+20220227-aarch64-apple-darwin-debug-full.tar.zst",
     "20220227", "debug",
     ("3.10.2", "20220227", ARM_MAC, ARM_MAC, None, "debug", "full", True, None, ZST)),
    # pitfall: macOS -pgo-full (uv's old regex read the triple as …-darwin-pgo)
    ("cpython-3.10.2+20220227-x86_64-apple-darwin-pgo-full.tar.zst",
     "20220227", "default",
     ("3.10.2", "20220227", X64_MAC, X64_MAC, None, "pgo", "full", True, None, ZST)),
    # pitfall: -freethreaded-install_only_stripped, hyphen; build freethreaded
    ("cpython-3.13.12+20260320-aarch64-apple-darwin-freethreaded-install_only_stripped.tar.gz",
     "20260320", "freethreaded",
     ("3.13.12", "20260320", ARM_MAC, ARM_MAC,
      None, "freethreaded", "install_only_stripped", True, None, GZ)),
    # -freethreaded-install_only
    ("cpython-3.13.13+20260414-aarch64-apple-darwin-freethreaded-install_only.tar.gz",
     "20260414", "freethreaded",
     ("3.13.13", "20260414", ARM_MAC, ARM_MAC,
      None, "freethreaded", "install_only", True, None, GZ)),
    # Windows -shared-pgo-full: build pgo, linkage shared
    ("cpython-3.12.3+20240415-x86_64-pc-windows-msvc-shared-pgo-full.tar.zst",
     "20240415", "default",
     ("3.12.3", "20240415", X64_WIN, X64_WIN, "shared", "pgo", "full", True, None, ZST)),
    # published twice in 20240415: with -shared- ...
    ("cpython-3.12.3+20240415-x86_64-pc-windows-msvc-shared-install_only.tar.gz",
     "20240415", "default",
     ("3.12.3", "20240415", X64_WIN, X64_WIN, "shared", "", "install_only", True, None, GZ)),
    # ... and without it: same fields but linkage None
    ("cpython-3.12.3+20240415-x86_64-pc-windows-msvc-install_only.tar.gz",
     "20240415", "default",
     ("3.12.3", "20240415", X64_WIN, X64_WIN, None, "", "install_only", True, None, GZ)),
    # Windows -static-noopt-full: linkage static, build noopt
    ("cpython-3.10.2+20220227-i686-pc-windows-msvc-static-noopt-full.tar.zst",
     "20220227", "default",
     ("3.10.2", "20220227", X86_WIN, X86_WIN, "static", "noopt", "full", True, None, ZST)),
    # one of the three -static-install_only names (20220227 only)
    ("cpython-3.10.2+20220227-x86_64-pc-windows-msvc-static-install_only.tar.gz",
     "20220227", "default",
     ("3.10.2", "20220227", X64_WIN, X64_WIN, "static", "", "install_only", True, None, GZ)),
    # rare -shared-freethreaded+pgo-full: shared is the linkage, never part of the build
    ("cpython-3.13.1+20241205-x86_64-pc-windows-msvc-shared-freethreaded+pgo-full.tar.zst",
     "20241205", "freethreaded",
     ("3.13.1", "20241205", X64_WIN, X64_WIN,
      "shared", "freethreaded+pgo", "full", True, None, ZST)),
    # its twin without -shared-
    ("cpython-3.13.1+20241205-x86_64-pc-windows-msvc-freethreaded+pgo-full.tar.zst",
     "20241205", "freethreaded",
     ("3.13.1", "20241205", X64_WIN, X64_WIN, None, "freethreaded+pgo", "full", True, None, ZST)),
    # rare: i686 -shared-install_only_stripped of a 3.14 alpha
    ("cpython-3.14.0a5+20250212-i686-pc-windows-msvc-shared-install_only_stripped.tar.gz",
     "20250212", "default",
     ("3.14.0a5", "20250212", X86_WIN, X86_WIN,
      "shared", "", "install_only_stripped", True, None, GZ)),
    # Windows on ARM
    ("cpython-3.13.5+20250630-aarch64-pc-windows-msvc-freethreaded+pgo-full.tar.zst",
     "20250630", "freethreaded",
     ("3.13.5", "20250630", "aarch64-pc-windows-msvc", "aarch64-pc-windows-msvc",
      None, "freethreaded+pgo", "full", True, None, ZST)),
    # musl lto+static on x86_64_v3: static is a build option here, not linkage
    ("cpython-3.14.2+20251217-x86_64_v3-unknown-linux-musl-lto+static-full.tar.zst",
     "20251217", "default",
     ("3.14.2", "20251217", "x86_64_v3-unknown-linux-musl", "x86_64_v3-unknown-linux-musl",
      None, "lto+static", "full", True, None, ZST)),
    # musl debug+static: variant debug
    ("cpython-3.10.16+20250311-x86_64-unknown-linux-musl-debug+static-full.tar.zst",
     "20250311", "debug",
     ("3.10.16", "20250311", X64_MUSL, X64_MUSL, None, "debug+static", "full", True, None, ZST)),
    # CPython alpha inside a normal release; variant freethreaded+debug
    ("cpython-3.15.0a5+20260127-aarch64-apple-darwin-freethreaded+debug-full.tar.zst",
     "20260127", "freethreaded+debug",
     ("3.15.0a5", "20260127", ARM_MAC, ARM_MAC,
      None, "freethreaded+debug", "full", True, None, ZST)),
    # alpha, freethreaded+pgo+lto: variant freethreaded
    ("cpython-3.15.0a5+20260127-aarch64-apple-darwin-freethreaded+pgo+lto-full.tar.zst",
     "20260127", "freethreaded",
     ("3.15.0a5", "20260127", ARM_MAC, ARM_MAC,
      None, "freethreaded+pgo+lto", "full", True, None, ZST)),
    # CPython beta
    ("cpython-3.14.0b1+20250604-aarch64-apple-darwin-debug-full.tar.zst",
     "20250604", "debug",
     ("3.14.0b1", "20250604", ARM_MAC, ARM_MAC, None, "debug", "full", True, None, ZST)),
    # CPython release candidate, stripped
    ("cpython-3.13.0rc2+20240909-aarch64-apple-darwin-install_only_stripped.tar.gz",
     "20240909", "default",
     ("3.13.0rc2", "20240909", ARM_MAC, ARM_MAC,
      None, "", "install_only_stripped", True, None, GZ)),
    # rc on riscv64 with freethreaded+noopt
    ("cpython-3.14.0rc2+20250828-riscv64-unknown-linux-gnu-freethreaded+noopt-full.tar.zst",
     "20250828", "freethreaded",
     ("3.14.0rc2", "20250828", "riscv64-unknown-linux-gnu", "riscv64-unknown-linux-gnu",
      None, "freethreaded+noopt", "full", True, None, ZST)),
    # armv7 gnueabihf: the longest Linux vendor-os word
    ("cpython-3.12.4+20240725-armv7-unknown-linux-gnueabihf-install_only_stripped.tar.gz",
     "20240725", "default",
     ("3.12.4", "20240725", "armv7-unknown-linux-gnueabihf", "armv7-unknown-linux-gnueabihf",
      None, "", "install_only_stripped", True, None, GZ)),
    # s390x lto
    ("cpython-3.10.12+20230726-s390x-unknown-linux-gnu-lto-full.tar.zst",
     "20230726", "default",
     ("3.10.12", "20230726", "s390x-unknown-linux-gnu", "s390x-unknown-linux-gnu",
      None, "lto", "full", True, None, ZST)),
    # aarch64 musl (from 20250828)
    ("cpython-3.10.18+20250828-aarch64-unknown-linux-musl-install_only.tar.gz",
     "20250828", "default",
     ("3.10.18", "20250828", "aarch64-unknown-linux-musl", "aarch64-unknown-linux-musl",
      None, "", "install_only", True, None, GZ)),
]
# fmt: on


REAL_IDS = [row[0].removeprefix("cpython-") for row in REAL_NAMES]


@pytest.mark.parametrize(("name", "tag", "variant", "fields"), REAL_NAMES, ids=REAL_IDS)
def test_real_name_parses_into_hand_checked_fields(
    name: str, tag: str, variant: str, fields: Fields
) -> None:
    """A real name of any era parses into exactly the hand-checked fields and renders back."""
    parsed = parse_asset_name(name, release_tag=tag)
    assert dataclasses.astuple(parsed) == fields
    assert parsed.variant == variant
    assert parsed.render() == name


def test_table_names_are_real() -> None:
    """Every name in the hand-checked table is in the excerpt of real names, under its tag."""
    excerpt = _excerpt()
    assert [name for name, tag, *_ in REAL_NAMES if name not in excerpt.get(tag, [])] == []


def test_table_covers_every_legacy_word_flavor_linkage_and_variant() -> None:
    """The hand-checked table exercises every era A word, flavor, linkage and variant."""
    parsed = [parse_asset_name(name) for name, *_ in REAL_NAMES]
    assert {a.platform_written for a in parsed} >= set(LEGACY_PLATFORMS)
    assert {(a.flavor, a.flavor_written) for a in parsed} == {
        ("full", False),
        ("full", True),
        ("install_only", True),
        ("install_only_stripped", True),
    }
    assert {a.linkage for a in parsed} == {None, "shared", "static"}
    assert {a.variant for a in parsed} == {"default", "freethreaded", "debug", "freethreaded+debug"}


def test_excerpt_names_all_parse_with_their_tag() -> None:
    """Every name of the excerpt parses with its release's tag and round-trips."""
    for tag, names in _excerpt().items():
        for name in names:
            assert parse_asset_name(name, release_tag=tag).render() == name


def test_excerpt_is_copied_from_the_real_listing(
    pbs_releases: dict[str, list[dict[str, Any]]],
) -> None:
    """The excerpt holds only real names, under the tags the real listing gives."""
    for tag, names in _excerpt().items():
        assert set(names) <= {a["name"] for a in pbs_releases[tag]}


# --- every real name -----------------------------------------------------------------------------


def test_every_real_name_parses_with_its_release_tag_and_round_trips(
    pbs_releases: dict[str, list[dict[str, Any]]],
) -> None:
    """All 22,714 names of pbs_assets.json parse with their release's tag and render back."""
    count = 0
    for tag, assets in pbs_releases.items():
        for asset in assets:
            parsed = parse_asset_name(asset["name"], release_tag=tag)
            assert parsed.render() == asset["name"]
            assert parsed.platform in KNOWN_TRIPLES
            count += 1
    assert count == 22_714


def _all_parsed(
    pbs_releases: dict[str, list[dict[str, Any]]],
) -> list[tuple[str, AssetName]]:
    return [
        (tag, parse_asset_name(a["name"], release_tag=tag))
        for tag, assets in pbs_releases.items()
        for a in assets
    ]


def _era(a: AssetName) -> str:
    if a.name_tag is not None:
        return "C"
    return "A" if a.platform_written in LEGACY_PLATFORMS else "B"


def test_real_names_split_into_eras_as_upstream_md_counts(
    pbs_releases: dict[str, list[dict[str, Any]]],
) -> None:
    """docs/upstream.md §9: 103 tags, 22,714 unique names; era A 35, B 396, C 22,283."""
    parsed = _all_parsed(pbs_releases)
    assert len(pbs_releases) == 103
    assert len({a.render() for _, a in parsed}) == 22_714
    assert Counter(_era(a) for _, a in parsed) == {"A": 35, "B": 396, "C": 22_283}


def test_era_c_flavors_match_upstream_md_counts(
    pbs_releases: dict[str, list[dict[str, Any]]],
) -> None:
    """docs/upstream.md §9: era C holds 13,118 full, 2,367 install_only, 6,798 stripped archives."""
    era_c = Counter(a.flavor for _, a in _all_parsed(pbs_releases) if a.name_tag is not None)
    assert era_c == {"full": 13_118, "install_only": 2_367, "install_only_stripped": 6_798}


def test_build_stamps_often_differ_from_the_tag(
    pbs_releases: dict[str, list[dict[str, Any]]],
) -> None:
    """docs/upstream.md §1: 169 era A/B stamps are dated unlike their tag, 60 of them after it."""
    dates = [(tag, a.built_at[:8]) for tag, a in _all_parsed(pbs_releases) if a.built_at]
    differ = [(tag, date) for tag, date in dates if date != tag]
    assert len(differ) == 169
    assert sum(date > tag for tag, date in differ) == 60


def test_release_20251217_flavors_match_upstream_md(
    pbs_releases: dict[str, list[dict[str, Any]]],
) -> None:
    """docs/upstream.md §4: release 20251217 holds 494 full, 119 install_only, 119 stripped."""
    flavors = Counter(
        parse_asset_name(a["name"], release_tag="20251217").flavor for a in pbs_releases["20251217"]
    )
    assert flavors == {"full": 494, "install_only": 119, "install_only_stripped": 119}


# --- rejections ----------------------------------------------------------------------------------

GOOD_C = "cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz"

# (name, release tag or None, part of the message naming the failed rule)
REJECTED = [
    # hostile text
    pytest.param("", None, "empty", id="empty"),
    pytest.param("../../x.tar.gz", None, "path separator", id="dot-dot"),
    pytest.param(f"../{GOOD_C}", None, "path separator", id="dot-dot-valid-name"),
    pytest.param(f"/tmp/{GOOD_C}", None, "path separator", id="absolute"),  # noqa: S108
    pytest.param(f"C:\\{GOOD_C}", None, "path separator", id="windows-absolute"),
    pytest.param(f"x\\..\\{GOOD_C}", None, "path separator", id="backslash"),
    pytest.param(f"{GOOD_C}\0", None, "control characters", id="nul"),
    pytest.param(f"{GOOD_C}\n", None, "control characters", id="trailing-newline"),
    pytest.param(f"{GOOD_C}\r", None, "control characters", id="trailing-cr"),
    pytest.param(f"\x1b[31m{GOOD_C}", None, "control characters", id="ansi-escape"),
    pytest.param(GOOD_C.replace("3.12.4", "3.12.\u0664"), None, "non-ASCII", id="arabic-digit"),
    pytest.param(GOOD_C.replace("darwin", "d\u0430rwin"), None, "non-ASCII", id="homoglyph"),
    pytest.param("x" * 10_000, None, "longer than 255", id="10k-chars"),
    pytest.param(".", None, "grammar", id="dot"),
    pytest.param("..", None, "grammar", id="dot-dot-alone"),
    pytest.param(f" {GOOD_C}", None, "grammar", id="leading-space"),
    pytest.param(GOOD_C.upper(), None, "grammar", id="upper-case"),
    # not archives
    pytest.param("SHA256SUMS", None, "checksum list", id="SHA256SUMS"),
    pytest.param(f"{GOOD_C}.sha256", None, "sidecar", id="sidecar"),
    pytest.param("index.html", None, "grammar", id="other-file"),
    # unknown vocabulary
    pytest.param(
        "cpython-3.12.4+20240713-loongarch64-unknown-linux-gnu-install_only.tar.gz",
        None,
        "unknown platform 'loongarch64-unknown-linux-gnu'",
        id="loongarch64",  # defined in PBS targets.yml, never released
    ),
    pytest.param(
        "cpython-3.12.4+20240713-mipsel-unknown-linux-gnu-install_only.tar.gz",
        None,
        "unknown platform",
        id="mipsel",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-ios-install_only.tar.gz",
        None,
        "grammar",
        id="ios",  # unknown vendor-os
    ),
    pytest.param(
        "cpython-3.12.4+20240713-x86_64-unknown-freebsd-install_only.tar.gz",
        None,
        "grammar",
        id="freebsd",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-jit-full.tar.zst",
        None,
        "grammar",
        id="unknown-build-option",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-install_only_debug.tar.gz",
        None,
        "grammar",
        id="unknown-flavor",
    ),
    pytest.param("cpython-3.7.3-linux32-20190618T0324.tar.zst", None, "grammar", id="linux32"),
    pytest.param(
        "cpython-3.12+20240713-aarch64-apple-darwin-install_only.tar.gz",
        None,
        "grammar",
        id="two-part-version",
    ),
    pytest.param(
        "cpython-3.15.0dev1+20240713-aarch64-apple-darwin-install_only.tar.gz",
        None,
        "grammar",
        id="dev-version",
    ),
    pytest.param(
        "cpython-3.12.4+2024071-aarch64-apple-darwin-install_only.tar.gz",
        None,
        "grammar",
        id="seven-digit-tag",
    ),
    pytest.param(
        "pypy-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz",
        None,
        "grammar",
        id="not-cpython",
    ),
    # extensions
    pytest.param(GOOD_C.replace(".tar.gz", ".zip"), None, "grammar", id="zip"),
    pytest.param(GOOD_C.replace(".tar.gz", ".tar.xz"), None, "grammar", id="tar.xz"),
    pytest.param(GOOD_C.replace(".tar.gz", ".tar.gz.part"), None, "grammar", id="part"),
    pytest.param(GOOD_C.replace(".tar.gz", ".tar.zst"), None, ".tar.gz", id="install_only-zst"),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-pgo+lto-full.tar.gz",
        None,
        ".tar.zst",
        id="full-gz",
    ),
    pytest.param(
        "cpython-3.7.9-x86_64-unknown-linux-gnu-pgo-20200823T0036.tar.gz",
        None,
        ".tar.zst",
        id="era-B-no-flavor-gz",
    ),
    pytest.param(
        "cpython-3.9.6-aarch64-apple-darwin-install_only-20210724T1424.tar.zst",
        None,
        ".tar.gz",
        id="era-B-install_only-zst",
    ),
    # era markers
    pytest.param(GOOD_C, "20240726", "is not the release's tag '20240726'", id="tag-mismatch"),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-install_only-20240713T1200.tar.gz",
        None,
        "both a release tag",
        id="tag-and-stamp",
    ),
    pytest.param(
        "cpython-3.12.4-aarch64-apple-darwin-install_only.tar.gz",
        None,
        "neither a release tag",
        id="no-tag-no-stamp",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-pgo.tar.zst",
        None,
        "needs a flavor",
        id="era-C-no-flavor",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-full.tar.zst",
        None,
        "must name its build options",
        id="era-C-full-no-build",
    ),
    pytest.param(
        "cpython-3.9.6-aarch64-apple-darwin-install_only_stripped-20210724T1424.tar.gz",
        None,
        "only in era C",
        id="era-B-stripped",
    ),
    pytest.param(
        "cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-full-20210724T1424.tar.zst",
        None,
        "only in era C",
        id="era-B-full-word",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-linux64-install_only.tar.gz",
        None,
        "era A platform word 'linux64'",
        id="era-A-word-with-tag",
    ),
    pytest.param(
        "cpython-3.7.3-macos-install_only-20190618T0523.tar.gz",
        None,
        "era A platform word 'macos'",
        id="era-A-word-with-flavor",
    ),
    # build options and linkage
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-pgo-install_only.tar.gz",
        None,
        "no build options but 'freethreaded'",
        id="install_only-with-pgo",
    ),
    pytest.param(
        "cpython-3.13.1+20241205-aarch64-apple-darwin-freethreaded-full.tar.zst",
        None,
        "joins freethreaded",
        id="full-freethreaded-alone",
    ),
    pytest.param(
        "cpython-3.13.1+20241205-aarch64-apple-darwin-pgo+pgo-full.tar.zst",
        None,
        "repeat",
        id="repeated-option",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-x86_64-unknown-linux-gnu-shared-pgo-full.tar.zst",
        None,
        "only written on Windows",
        id="linkage-on-linux",
    ),
    pytest.param(
        "cpython-3.12.4+20240713-aarch64-apple-darwin-static-install_only.tar.gz",
        None,
        "only written on Windows",
        id="linkage-on-macos",
    ),
    pytest.param(
        "cpython-3.14.2+20251217-x86_64-unknown-linux-musl-static-full.tar.zst",
        None,
        "only written on Windows",
        id="musl-static-alone",  # read as a linkage infix, which musl never has
    ),
    pytest.param(
        "cpython-3.7.3-linux64-shared-pgo-20190618T0324.tar.zst",
        None,
        "only written on Windows",
        id="linkage-on-era-A-linux-word",
    ),
    pytest.param(
        "cpython-3.12.3+20240415-x86_64-pc-windows-msvc-pgo+static-full.tar.zst",
        None,
        "'static' build option exists only on musl",
        id="static-in-windows-build",  # Windows static is linkage, never build
    ),
    pytest.param(
        "cpython-3.14.2+20251217-x86_64-unknown-linux-gnu-lto+static-full.tar.zst",
        None,
        "'static' build option exists only on musl",
        id="static-on-glibc",
    ),
    pytest.param(
        "cpython-3.12.3+20240415-x86_64-pc-windows-msvc-shared-static-pgo-full.tar.zst",
        None,
        "grammar",
        id="two-linkages",
    ),
]


@pytest.mark.parametrize(("name", "release_tag", "rule"), REJECTED)
def test_rejected_name_raises_invalid_asset_name(
    name: str, release_tag: str | None, rule: str
) -> None:
    """A hostile or near-miss name raises InvalidAssetName naming the rule that failed."""
    with pytest.raises(InvalidAssetName, match=re.escape(rule)) as info:
        parse_asset_name(name, release_tag=release_tag)
    if len(name) <= MAX_NAME_LENGTH:
        assert repr(name) in str(info.value)


def test_error_quotes_a_long_name_shortened() -> None:
    """An over-long name is quoted by a repr() of its start and its length, not whole."""
    name = "cpython-" + "9" * 9_000
    with pytest.raises(InvalidAssetName) as info:
        parse_asset_name(name)
    message = str(info.value)
    assert len(message) < 300
    assert repr(name[:64]) in message
    assert "9008 characters" in message


def test_invalid_asset_name_is_a_value_error() -> None:
    """Callers may catch InvalidAssetName as the ValueError it is."""
    with pytest.raises(ValueError, match="not a python-build-standalone archive name"):
        parse_asset_name("README.md")


@pytest.mark.parametrize(
    "name",
    [
        "cpython-3.7.9-x86_64-unknown-linux-gnu-pgo-20200823T0036.tar.zst",
        "cpython-3.7.3-windows-x86-20190709T0348.tar.zst",
    ],
)
def test_release_tag_is_never_compared_with_a_build_stamp(name: str) -> None:
    """An era A/B name parses under any release tag: its stamp is no tag (docs/upstream.md §1)."""
    assert parse_asset_name(name, release_tag="20200822").name_tag is None
    assert parse_asset_name(name, release_tag="19990101").render() == name


def test_era_c_name_parses_without_a_release_tag() -> None:
    """Without release_tag, an era C name keeps the tag it carries in name_tag."""
    assert parse_asset_name(GOOD_C).name_tag == "20240713"


@pytest.mark.timeout(30)  # a hang guard for catastrophic backtracking, not a speed target
def test_hostile_near_limit_names_are_rejected() -> None:
    """Names built to provoke regex backtracking are rejected (and do not hang the parser)."""
    opts = "+".join(["pgo", "lto", "debug", "noopt"] * 60)
    hostile = [
        f"cpython-3.12.4+20240713-x86_64-unknown-linux-gnu-{opts}"[:MAX_NAME_LENGTH],
        "cpython-" + "1." * 123 + "1",
        "cpython-3.12.4-" + "a_" * 118 + "-apple-darwinx",
        "cpython-3.12.4+20240713-" + "x86_64-unknown-linux-gnu-" * 9 + "full.tar.zst",
        "cpython-" * 31,
        "\0" * 100_000,
        "cpython-3.12.4+20240713-" + "-" * 200 + ".tar.gz",
    ]
    for _ in range(100):
        for name in hostile:
            with pytest.raises(InvalidAssetName):
                parse_asset_name(name)


# --- sidecar_target ------------------------------------------------------------------------------

SIDECAR = "cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz.sha256"


@pytest.mark.parametrize(
    ("name", "target"),
    [
        (SIDECAR, SIDECAR.removesuffix(".sha256")),
        (f"{GOOD_C}.sha256", GOOD_C),
        (GOOD_C, None),  # an archive is not a sidecar
        ("SHA256SUMS", None),
        ("x.tar.gz.sha256", None),
        (f"../{GOOD_C}.sha256", None),  # the target must itself be a safe archive name
        (f"{GOOD_C}.SHA256", None),  # the suffix is lower case
        (f"{GOOD_C}.sha256\n", None),
    ],
)
def test_sidecar_target_names_the_archive_a_sidecar_describes(
    name: str, target: str | None
) -> None:
    """sidecar_target() strips .sha256 only when what remains is a valid archive name."""
    assert sidecar_target(name) == target


# --- variant derivation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "variant"),
    [
        ("", "default"),
        ("pgo+lto", "default"),
        ("lto+static", "default"),
        ("noopt", "default"),
        ("debug", "debug"),
        ("debug+static", "debug"),
        ("freethreaded", "freethreaded"),  # -freethreaded-install_only
        ("freethreaded+pgo+lto", "freethreaded"),
        ("freethreaded+debug", "freethreaded+debug"),
    ],
)
def test_variant_is_derived_from_build_options(build: str, variant: str) -> None:
    """The variant keeps only freethreaded and debug from the build options, in that order."""
    flavor = "install_only" if build in {"", "freethreaded"} else "full"
    suffix = "install_only.tar.gz" if flavor == "install_only" else "full.tar.zst"
    parts = ["cpython-3.14.2+20251217-x86_64-unknown-linux-musl", build, suffix]
    parsed = parse_asset_name("-".join(p for p in parts if p))
    assert parsed.build == build
    assert parsed.variant == variant


def test_legacy_words_map_as_the_interface_says() -> None:
    """Era A words map to the canonical triples of docs/interface.md §2.10, all of them known."""
    assert LEGACY_PLATFORMS == {
        "linux64": "x86_64-unknown-linux-gnu",
        "linux64-musl": "x86_64-unknown-linux-musl",
        "macos": "x86_64-apple-darwin",
        "windows-amd64": "x86_64-pc-windows-msvc",
        "windows-x86": "i686-pc-windows-msvc",
    }
    assert set(LEGACY_PLATFORMS.values()) <= KNOWN_TRIPLES
