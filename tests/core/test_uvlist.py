"""uv's download list: written from real names, read in both of uv's formats.

What uv expects of it is in ``docs/clients.md`` §2.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import pytest

from mirrorsync.core.model import IndexEntry
from mirrorsync.core.names import KNOWN_TRIPLES, parse_asset_name
from mirrorsync.core.uvlist import (
    ARCH_FAMILIES,
    GITHUB_DOWNLOAD_PREFIX,
    VENDOR_OS,
    UvList,
    parse_uv_download_list,
    render_uv_metadata,
    uv_download_metadata,
)

GH = GITHUB_DOWNLOAD_PREFIX
KEY = re.compile(
    r"cpython-[0-9]+\.[0-9]+\.[0-9]+(?:(?:a|b|rc)[0-9]+)?"
    r"(?:\+(?:freethreaded|debug|freethreaded\+debug))?"
    r"-(?:linux|darwin|windows)"
    r"-(?:x86_64(?:_v[234])?|aarch64|armv7|i686|powerpc64le|s390x|riscv64)"
    r"-(?:gnu|musl|gnueabi|gnueabihf|none)"
)
"""docs/clients.md §2.2: ``{impl}-{X.Y.Z[pre]}[+{variant}]-{os}-{arch[_vN]}-{libc}``."""

# Written out by hand (not derived from the module) so the mapping is checked, not restated.
# Each triple maps to (os, arch.family, arch.variant, libc).
UV_PLATFORM: dict[str, tuple[str, str, str | None, str]] = {
    "x86_64-unknown-linux-gnu": ("linux", "x86_64", None, "gnu"),
    "x86_64_v2-unknown-linux-gnu": ("linux", "x86_64", "v2", "gnu"),
    "x86_64_v3-unknown-linux-gnu": ("linux", "x86_64", "v3", "gnu"),
    "x86_64_v4-unknown-linux-gnu": ("linux", "x86_64", "v4", "gnu"),
    "x86_64-unknown-linux-musl": ("linux", "x86_64", None, "musl"),
    "x86_64_v2-unknown-linux-musl": ("linux", "x86_64", "v2", "musl"),
    "x86_64_v3-unknown-linux-musl": ("linux", "x86_64", "v3", "musl"),
    "x86_64_v4-unknown-linux-musl": ("linux", "x86_64", "v4", "musl"),
    "aarch64-unknown-linux-gnu": ("linux", "aarch64", None, "gnu"),
    "aarch64-unknown-linux-musl": ("linux", "aarch64", None, "musl"),
    "i686-unknown-linux-gnu": ("linux", "i686", None, "gnu"),
    "armv7-unknown-linux-gnueabi": ("linux", "armv7", None, "gnueabi"),
    "armv7-unknown-linux-gnueabihf": ("linux", "armv7", None, "gnueabihf"),
    "ppc64le-unknown-linux-gnu": ("linux", "powerpc64le", None, "gnu"),
    "s390x-unknown-linux-gnu": ("linux", "s390x", None, "gnu"),
    "riscv64-unknown-linux-gnu": ("linux", "riscv64", None, "gnu"),
    "x86_64-apple-darwin": ("darwin", "x86_64", None, "none"),
    "aarch64-apple-darwin": ("darwin", "aarch64", None, "none"),
    "x86_64-pc-windows-msvc": ("windows", "x86_64", None, "none"),
    "i686-pc-windows-msvc": ("windows", "i686", None, "none"),
    "aarch64-pc-windows-msvc": ("windows", "aarch64", None, "none"),
}


def fake_sha(name: str) -> str:
    """A distinct, well-formed digest per name (tests never hash real archives)."""
    return hashlib.sha256(name.encode()).hexdigest()


def entry(path: str, *, sha256: str | None = None) -> IndexEntry:
    """The index entry of a mirrored ``<tag>/<name>``, its fields parsed from the name."""
    tag, name = path.split("/")
    p = parse_asset_name(name, release_tag=tag)
    return IndexEntry(
        path=path,
        size=1,
        sha256=fake_sha(name) if sha256 is None else sha256,
        verified=True,
        python=p.python,
        platform=p.platform,
        flavor=p.flavor,
        build=p.build,
        variant=p.variant,
        linkage=p.linkage,
    )


def chosen(meta: dict[str, dict[str, Any]]) -> set[str]:
    """``<tag>/<name>`` of every archive the list points at (canonical URLs only)."""
    return {v["url"].removeprefix(GH).replace("%2B", "+") for v in meta.values()}


def meta_of(paths: Iterable[str]) -> dict[str, dict[str, Any]]:
    return uv_download_metadata([entry(p) for p in paths])


# --- keys and fields of single archives ---------------------------------------------------------

# (tag/name, key, os, arch family, arch variant, libc, (major, minor, patch), prerelease, variant)
# Every name is real (testkit/data/pbs_assets.json).
# fmt: off
SINGLE: list[tuple[str, str, str, str, str | None, str, tuple[int, int, int], str, str | None]] = [
    # macOS, install_only_stripped: libc none
    ("20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz",
     "cpython-3.12.4-darwin-aarch64-none", "darwin", "aarch64", None, "none", (3, 12, 4), "", None),
    # x86_64_v3: family x86_64, variant v3, and the key writes x86_64_v3
    ("20251217/cpython-3.13.11+20251217-x86_64_v3-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst",
     "cpython-3.13.11+freethreaded-linux-x86_64_v3-gnu",
     "linux", "x86_64", "v3", "gnu", (3, 13, 11), "", "freethreaded"),
    # ppc64le is uv's powerpc64le
    ("20251217/cpython-3.14.2+20251217-ppc64le-unknown-linux-gnu-install_only_stripped.tar.gz",
     "cpython-3.14.2-linux-powerpc64le-gnu", "linux", "powerpc64le", None, "gnu", (3, 14, 2), "",
     None),
    # armv7 hard-float: libc gnueabihf
    ("20251217/cpython-3.14.2+20251217-armv7-unknown-linux-gnueabihf-debug-full.tar.zst",
     "cpython-3.14.2+debug-linux-armv7-gnueabihf", "linux", "armv7", None, "gnueabihf",
     (3, 14, 2), "", "debug"),
    # armv7 soft-float: libc gnueabi
    ("20251217/cpython-3.14.2+20251217-armv7-unknown-linux-gnueabi-install_only.tar.gz",
     "cpython-3.14.2-linux-armv7-gnueabi", "linux", "armv7", None, "gnueabi", (3, 14, 2), "", None),
    # s390x and riscv64 keep their names
    ("20251217/cpython-3.14.2+20251217-s390x-unknown-linux-gnu-lto-full.tar.zst",
     "cpython-3.14.2-linux-s390x-gnu", "linux", "s390x", None, "gnu", (3, 14, 2), "", None),
    ("20251217/cpython-3.14.2+20251217-riscv64-unknown-linux-gnu-freethreaded+debug-full.tar.zst",
     "cpython-3.14.2+freethreaded+debug-linux-riscv64-gnu", "linux", "riscv64", None, "gnu",
     (3, 14, 2), "", "freethreaded+debug"),
    # musl after 20250311 (dynamic): kept
    ("20251217/cpython-3.14.2+20251217-aarch64-unknown-linux-musl-install_only.tar.gz",
     "cpython-3.14.2-linux-aarch64-musl", "linux", "aarch64", None, "musl", (3, 14, 2), "", None),
    # Windows: libc none; i686 and aarch64
    ("20251217/cpython-3.14.2+20251217-i686-pc-windows-msvc-pgo-full.tar.zst",
     "cpython-3.14.2-windows-i686-none", "windows", "i686", None, "none", (3, 14, 2), "", None),
    ("20251217/cpython-3.14.2+20251217-aarch64-pc-windows-msvc-install_only_stripped.tar.gz",
     "cpython-3.14.2-windows-aarch64-none", "windows", "aarch64", None, "none", (3, 14, 2), "",
     None),
    # a CPython alpha: patch 0, prerelease a2, written into the key
    ("20251202/cpython-3.15.0a2+20251202-aarch64-apple-darwin-pgo+lto-full.tar.zst",
     "cpython-3.15.0a2-darwin-aarch64-none", "darwin", "aarch64", None, "none", (3, 15, 0), "a2",
     None),
    # a beta and a release candidate
    ("20250604/cpython-3.14.0b1+20250604-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
     "cpython-3.14.0b1-linux-x86_64-gnu", "linux", "x86_64", None, "gnu", (3, 14, 0), "b1", None),
    ("20250807/cpython-3.14.0rc1+20250807-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
     "cpython-3.14.0rc1-linux-x86_64-gnu", "linux", "x86_64", None, "gnu", (3, 14, 0), "rc1", None),
    # free-threaded install_only_stripped (hyphen, from 20260320)
    ("20260320/cpython-3.13.12+20260320-aarch64-apple-darwin-freethreaded-install_only_stripped.tar.gz",
     "cpython-3.13.12+freethreaded-darwin-aarch64-none", "darwin", "aarch64", None, "none",
     (3, 13, 12), "", "freethreaded"),
    # era B full archive (no tag in the name; build = the release's tag)
    ("20210724/cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst",
     "cpython-3.8.11-linux-x86_64-gnu", "linux", "x86_64", None, "gnu", (3, 8, 11), "", None),
    # era B debug build, stamp dated before the tag
    ("20220222/cpython-3.10.2-aarch64-apple-darwin-debug-20220220T1113.tar.zst",
     "cpython-3.10.2+debug-darwin-aarch64-none", "darwin", "aarch64", None, "none", (3, 10, 2), "",
     "debug"),
    # era B Windows shared-pgo
    ("20210228/cpython-3.8.8-x86_64-pc-windows-msvc-shared-pgo-20210228T1503.tar.zst",
     "cpython-3.8.8-windows-x86_64-none", "windows", "x86_64", None, "none", (3, 8, 8), "", None),
]
# fmt: on


@pytest.mark.parametrize(
    ("path", "key", "os", "family", "arch_variant", "libc", "version", "pre", "variant"), SINGLE
)
def test_one_archive_gives_uvs_key_and_fields(  # noqa: PLR0917 - one table row
    path: str,
    key: str,
    os: str,
    family: str,
    arch_variant: str | None,
    libc: str,
    version: tuple[int, int, int],
    pre: str,
    variant: str | None,
) -> None:
    """A single archive becomes one entry with uv's key, platform, version and variant fields."""
    tag, name = path.split("/")
    meta = meta_of([path])
    assert meta == {
        key: {
            "name": "cpython",
            "arch": {"family": family, "variant": arch_variant},
            "os": os,
            "libc": libc,
            "major": version[0],
            "minor": version[1],
            "patch": version[2],
            "prerelease": pre,
            "url": GH + tag + "/" + name.replace("+", "%2B"),
            "sha256": fake_sha(name),
            "variant": variant,
            "build": tag,
        }
    }


# --- archives uv never lists (docs/clients.md §2.4) ----------------------------------------------

# fmt: off
SKIPPED = [
    # Python 3.7 (uv drops < 3.8), era A platform word
    "20190617/cpython-3.7.3-linux64-20190618T0324.tar.zst",
    # Python 3.7, era B
    "20200822/cpython-3.7.9-x86_64-unknown-linux-gnu-pgo-20200823T0036.tar.zst",
    # musl before 20250311 was statically linked
    "20250212/cpython-3.12.9+20250212-x86_64-unknown-linux-musl-install_only_stripped.tar.gz",
    "20250212/cpython-3.12.9+20250212-x86_64_v3-unknown-linux-musl-debug-full.tar.zst",
    # Windows -static- linkage (era B)
    "20210228/cpython-3.8.8-x86_64-pc-windows-msvc-static-noopt-20210228T1503.tar.zst",
    # musl +static builds, even after 20250311
    "20251217/cpython-3.14.2+20251217-x86_64-unknown-linux-musl-lto+static-full.tar.zst",
    "20251217/cpython-3.14.2+20251217-x86_64-unknown-linux-musl-debug+static-full.tar.zst",
    # release 20261020, which uv leaves out (PBS PR #1356); no name of it is on record, so this
    # one is 20261021's naming with that tag
    "20261020/cpython-3.14.2+20261020-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
]
# fmt: on


@pytest.mark.parametrize("path", SKIPPED)
def test_archives_uv_cannot_install_get_no_entry(path: str) -> None:
    """Python < 3.8, static builds, musl before 20250311 and release 20261020 are left out."""
    assert meta_of([path]) == {}


def test_static_fallback_is_never_listed_beside_a_dynamic_build() -> None:
    """A musl debug key lists the dynamic debug build, never its +static twin."""
    meta = meta_of(
        [
            "20251217/cpython-3.14.2+20251217-x86_64-unknown-linux-musl-debug+static-full.tar.zst",
            "20251217/cpython-3.14.2+20251217-x86_64-unknown-linux-musl-debug-full.tar.zst",
        ]
    )
    assert chosen(meta) == {
        "20251217/cpython-3.14.2+20251217-x86_64-unknown-linux-musl-debug-full.tar.zst"
    }


def test_every_released_triple_maps_to_a_uv_platform() -> None:
    """Each triple upstream has released has a uv (os, arch, libc), as the table above states."""
    assert set(UV_PLATFORM) == KNOWN_TRIPLES
    for triple, (os, family, level, libc) in UV_PLATFORM.items():
        arch, _, vendor_os = triple.partition("-")
        assert ARCH_FAMILIES[arch] == (family, level), triple
        assert VENDOR_OS[vendor_os] == (os, libc), triple


# --- which archive wins for one key -------------------------------------------------------------

# (the archives of one key, all real and from one release unless said, the one uv lists)
# fmt: off
PREFERENCE: list[tuple[list[str], str]] = [
    # default: install_only_stripped over install_only over full
    (["20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-pgo+lto-full.tar.zst",
      "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only.tar.gz",
      "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz"],
     "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz"),
    # before stripped builds (20240713): install_only over full
    (["20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-pgo+lto-full.tar.zst",
      "20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz"],
     "20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz"),
    # full builds only: pgo+lto over pgo
    (["20210724/cpython-3.8.11-x86_64-unknown-linux-gnu-pgo-20210724T1424.tar.zst",
      "20210724/cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst"],
     "20210724/cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst"),
    # full builds only: lto over noopt
    (["20251217/cpython-3.14.2+20251217-s390x-unknown-linux-gnu-noopt-full.tar.zst",
      "20251217/cpython-3.14.2+20251217-s390x-unknown-linux-gnu-lto-full.tar.zst"],
     "20251217/cpython-3.14.2+20251217-s390x-unknown-linux-gnu-lto-full.tar.zst"),
    # era B Windows: shared-pgo over static-noopt (static is never listed)
    (["20210724/cpython-3.9.6-i686-pc-windows-msvc-static-noopt-20210724T1424.tar.zst",
      "20210724/cpython-3.9.6-i686-pc-windows-msvc-shared-pgo-20210724T1424.tar.zst"],
     "20210724/cpython-3.9.6-i686-pc-windows-msvc-shared-pgo-20210724T1424.tar.zst"),
    # era B Windows: shared-install_only over the full builds
    (["20210724/cpython-3.9.6-x86_64-pc-windows-msvc-shared-pgo-20210724T1424.tar.zst",
      "20210724/cpython-3.9.6-x86_64-pc-windows-msvc-static-noopt-20210724T1424.tar.zst",
      "20210724/cpython-3.9.6-x86_64-pc-windows-msvc-shared-install_only-20210724T1424.tar.gz"],
     "20210724/cpython-3.9.6-x86_64-pc-windows-msvc-shared-install_only-20210724T1424.tar.gz"),
    # Windows published twice (20240415 … 20250212): the name without -shared- wins
    (["20240415/cpython-3.12.3+20240415-x86_64-pc-windows-msvc-shared-install_only.tar.gz",
      "20240415/cpython-3.12.3+20240415-x86_64-pc-windows-msvc-install_only.tar.gz",
      "20240415/cpython-3.12.3+20240415-x86_64-pc-windows-msvc-shared-pgo-full.tar.zst"],
     "20240415/cpython-3.12.3+20240415-x86_64-pc-windows-msvc-install_only.tar.gz"),
    # ... also for the free-threaded full build
    (["20241205/cpython-3.13.1+20241205-x86_64-pc-windows-msvc-shared-freethreaded+pgo-full.tar.zst",
      "20241205/cpython-3.13.1+20241205-x86_64-pc-windows-msvc-freethreaded+pgo-full.tar.zst"],
     "20241205/cpython-3.13.1+20241205-x86_64-pc-windows-msvc-freethreaded+pgo-full.tar.zst"),
    # freethreaded: install_only_stripped over freethreaded+pgo+lto full (from 20260320)
    (["20260320/cpython-3.13.12+20260320-aarch64-apple-darwin-freethreaded+pgo+lto-full.tar.zst",
      "20260320/cpython-3.13.12+20260320-aarch64-apple-darwin-freethreaded-install_only_stripped.tar.gz"],
     "20260320/cpython-3.13.12+20260320-aarch64-apple-darwin-freethreaded-install_only_stripped.tar.gz"),
    # freethreaded: freethreaded+lto over freethreaded+noopt
    (["20251217/cpython-3.14.2+20251217-ppc64le-unknown-linux-gnu-freethreaded+noopt-full.tar.zst",
      "20251217/cpython-3.14.2+20251217-ppc64le-unknown-linux-gnu-freethreaded+lto-full.tar.zst"],
     "20251217/cpython-3.14.2+20251217-ppc64le-unknown-linux-gnu-freethreaded+lto-full.tar.zst"),
    # the same Python in two releases: the newer release wins, whatever its flavors
    (["20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz",
      "20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz"],
     "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz"),
    (["20240713/cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz",
      "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-pgo+lto-full.tar.zst"],
     "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-pgo+lto-full.tar.zst"),
]
# fmt: on


@pytest.mark.parametrize(("paths", "winner"), PREFERENCE)
def test_uv_lists_its_preferred_archive_per_key(paths: list[str], winner: str) -> None:
    """Of several archives for one key, the list points at the one uv's list builder picks."""
    for order in (paths, paths[::-1]):
        meta = meta_of(order)
        assert len(meta) == 1
        assert chosen(meta) == {winner}


def test_optimisation_order_among_full_builds() -> None:
    """Among full builds of one key: pgo+lto, then pgo, then lto, then noopt."""
    # Synthesized names: upstream never published pgo and lto builds of one key, so this pins
    # the order docs/clients.md §2.4 asks for rather than one seen in the data.
    stem = "20251217/cpython-3.14.2+20251217-x86_64-unknown-linux-gnu"
    ranked = [f"{stem}-{opts}-full.tar.zst" for opts in ("pgo+lto", "pgo", "lto", "noopt")]
    for i, winner in enumerate(ranked):
        assert chosen(meta_of(ranked[i:][::-1])) == {winner}


def test_variants_of_one_version_get_separate_keys() -> None:
    """Default, debug, freethreaded and freethreaded+debug builds of one Python are four keys."""
    tag = "20251202"
    meta = meta_of(
        f"{tag}/cpython-3.15.0a2+{tag}-aarch64-apple-darwin-{rest}"
        for rest in (
            "debug-full.tar.zst",
            "freethreaded+debug-full.tar.zst",
            "freethreaded+pgo+lto-full.tar.zst",
            "install_only.tar.gz",
            "install_only_stripped.tar.gz",
            "pgo+lto-full.tar.zst",
        )
    )
    assert {k: v["url"].rsplit("-", 2)[-2:] for k, v in meta.items()} == {
        "cpython-3.15.0a2-darwin-aarch64-none": ["darwin", "install_only_stripped.tar.gz"],
        "cpython-3.15.0a2+debug-darwin-aarch64-none": ["debug", "full.tar.zst"],
        "cpython-3.15.0a2+freethreaded-darwin-aarch64-none": [
            "freethreaded%2Bpgo%2Blto",
            "full.tar.zst",
        ],
        "cpython-3.15.0a2+freethreaded+debug-darwin-aarch64-none": [
            "freethreaded%2Bdebug",
            "full.tar.zst",
        ],
    }


# --- URLs and digests ---------------------------------------------------------------------------

STRIPPED = "20240726/cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        # the default: canonical GitHub URLs, for use with UV_PYTHON_INSTALL_MIRROR
        (GH, GH),
        # a mirror's own base URL, with or without the final slash; path parts are kept
        ("https://mirror.example/pbs", "https://mirror.example/pbs/"),
        ("https://mirror.example/pbs/", "https://mirror.example/pbs/"),
        # an absolute file:// URL (uv percent-decodes it to the '+' name)
        ("file:///srv/mirror", "file:///srv/mirror/"),
    ],
)
def test_url_is_base_tag_and_encoded_name(base_url: str, expected: str) -> None:
    """The URL is the base, the tag and the name with each '+' written as %2B."""
    (value,) = uv_download_metadata([entry(STRIPPED)], base_url=base_url).values()
    assert value["url"] == (
        expected
        + "20240726/cpython-3.12.4%2B20240726-aarch64-apple-darwin-install_only_stripped.tar.gz"
    )


@pytest.mark.parametrize(
    "base_url", ["", "mirror/pbs", "/srv/mirror", "file:relative", "ftp://h/x"]
)
def test_relative_or_unsupported_base_url_is_refused(base_url: str) -> None:
    """uv needs absolute http(s):// or file:// URLs, so anything else is a ValueError."""
    with pytest.raises(ValueError, match="not an absolute"):
        uv_download_metadata([entry(STRIPPED)], base_url=base_url)


def test_sha256_is_written_in_lower_case() -> None:
    """An upper-case digest from the index is written as 64 lower-case hex digits."""
    sha = fake_sha("x").upper()
    (value,) = uv_download_metadata([entry(STRIPPED, sha256=sha)]).values()
    assert value["sha256"] == sha.lower()


@pytest.mark.parametrize("sha256", ["0" * 8, "g" * 64, "0" * 65, ""])
def test_malformed_sha256_is_refused(sha256: str) -> None:
    """A digest uv would reject (failing the whole list) raises instead of being written."""
    with pytest.raises(ValueError, match="64 hexadecimal"):
        uv_download_metadata([entry(STRIPPED, sha256=sha256)])


def test_malformed_sha256_of_a_skipped_archive_is_harmless() -> None:
    """Only archives that reach the list need a digest; a skipped one is not checked."""
    assert uv_download_metadata([entry(SKIPPED[0], sha256="bad")]) == {}


def test_entries_that_are_not_archives_are_skipped() -> None:
    """An index path whose name is no PBS archive name gives no entry and no error."""
    odd = IndexEntry(
        path="20240726/index.html",
        size=1,
        sha256=fake_sha("x"),
        verified=True,
        python="3.12.4",
        platform="aarch64-apple-darwin",
        flavor="install_only",
        build="",
        variant="default",
    )
    assert uv_download_metadata([odd]) == {}


# --- rendering ----------------------------------------------------------------------------------


def test_render_is_deterministic_sorted_json_with_final_newline() -> None:
    """The bytes are an object with sorted keys and a final newline, equal for equal input."""
    meta = meta_of(p for paths, _ in PREFERENCE for p in paths)
    data = render_uv_metadata(meta)
    assert data.endswith(b"}\n")
    assert data == render_uv_metadata(dict(reversed(meta.items())))
    doc = json.loads(data)
    assert isinstance(doc, dict)
    assert list(doc) == sorted(doc)
    assert doc == meta


def test_render_refuses_a_top_level_version_key() -> None:
    """A top-level "version" key makes uv fail as too old, so it is refused."""
    with pytest.raises(ValueError, match="'version'"):
        render_uv_metadata({"version": 1})


def test_render_of_nothing_is_an_empty_object() -> None:
    """An empty mirror gives ``{}``, which uv reads as a list without downloads."""
    assert render_uv_metadata({}) == b"{}\n"


# --- the complete releases ----------------------------------------------------------------------

COMPLETE = ("20250828", "20260127")
"""pbs_assets.json lists every archive of the releases in this range (docs/upstream.md §9)."""


@pytest.fixture(scope="module")
def complete(pbs_releases: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    releases = {t: a for t, a in pbs_releases.items() if COMPLETE[0] <= t <= COMPLETE[1]}
    assert len(releases) == 12
    return releases


@pytest.fixture(scope="module")
def complete_meta(complete: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return uv_download_metadata(
        entry(f"{tag}/{a['name']}", sha256=a["sha256"])
        for tag, assets in complete.items()
        for a in assets
    )


def expected_key(name: str) -> str | None:
    """The uv key of an archive uv can install, from the hand-written platform table."""
    p = parse_asset_name(name)
    if "static" in p.build.split("+"):
        return None
    os, family, level, libc = UV_PLATFORM[p.platform]
    arch = f"{family}_{level}" if level else family
    variant = "" if p.variant == "default" else f"+{p.variant}"
    return f"cpython-{p.python}{variant}-{os}-{arch}-{libc}"


def test_complete_releases_give_one_entry_per_version_platform_variant(
    complete: dict[str, list[dict[str, Any]]], complete_meta: dict[str, dict[str, Any]]
) -> None:
    """Every installable (version, platform, variant) of the complete releases has one entry."""
    expected = {
        key for assets in complete.values() for a in assets if (key := expected_key(a["name"]))
    }
    assert set(complete_meta) == expected
    assert len(expected) > 1000


def test_complete_releases_entries_obey_uvs_format(
    complete: dict[str, list[dict[str, Any]]], complete_meta: dict[str, dict[str, Any]]
) -> None:
    """Keys follow uv's grammar, URLs are absolute with %2B, sha256 is the archive's own."""
    recorded = {f"{t}/{a['name']}": a["sha256"] for t, assets in complete.items() for a in assets}
    for key, value in complete_meta.items():
        assert KEY.fullmatch(key), key
        url = value["url"]
        assert urlsplit(url).scheme == "https"
        assert "%2B" in url
        assert "+" not in url
        path = url.removeprefix(GH).replace("%2B", "+")
        assert value["build"] == path.split("/")[0]
        assert re.fullmatch(r"[0-9a-f]{64}", value["sha256"])
        assert value["sha256"] == recorded[path]
        level = value["arch"]["variant"]
        arch = value["arch"]["family"] + (f"_{level}" if level else "")
        version = f"{value['major']}.{value['minor']}.{value['patch']}{value['prerelease']}"
        variant = f"+{value['variant']}" if value["variant"] else ""
        assert key == f"cpython-{version}{variant}-{value['os']}-{arch}-{value['libc']}"


def test_complete_releases_list_stripped_builds_for_the_default_variant(
    complete_meta: dict[str, dict[str, Any]],
) -> None:
    """Releases of 2025-2026 all have stripped builds, so every default entry points at one."""
    defaults = [v["url"] for v in complete_meta.values() if v["variant"] is None]
    assert defaults
    assert all(url.endswith("-install_only_stripped.tar.gz") for url in defaults)


def test_complete_releases_list_the_best_free_threaded_full_build(
    complete_meta: dict[str, dict[str, Any]],
) -> None:
    """Before free-threaded install_only builds, the free-threaded entry is pgo+lto, pgo or lto."""
    builds = {
        v["url"].rsplit("-", 2)[-2]
        for v in complete_meta.values()
        if v["variant"] == "freethreaded"
    }
    assert builds == {"freethreaded%2Bpgo%2Blto", "freethreaded%2Bpgo", "freethreaded%2Blto"}


def test_complete_releases_round_trip_through_the_parser(
    complete_meta: dict[str, dict[str, Any]],
) -> None:
    """Reading the rendered list back gives exactly the archives it points at."""
    parsed = parse_uv_download_list(render_uv_metadata(complete_meta))
    assert parsed.unmapped == ()
    assert {f"{t}/{n}" for t, n in parsed.url_names} == chosen(complete_meta)


def test_same_python_in_several_releases_comes_from_the_newest(
    complete: dict[str, list[dict[str, Any]]], complete_meta: dict[str, dict[str, Any]]
) -> None:
    """Python 3.9.23 ships in several complete releases; its entry is from the newest one."""
    tags = {
        t
        for t, assets in complete.items()
        for a in assets
        if a["name"].startswith("cpython-3.9.23+")
    }
    assert len(tags) > 1
    key = "cpython-3.9.23-linux-x86_64-gnu"
    assert complete_meta[key]["build"] == max(tags)


# --- reading uv's lists -------------------------------------------------------------------------

# A download-metadata.json excerpt, shaped like uv's own (crates/uv-python/download-metadata.json).
DOWNLOAD_METADATA = {
    "cpython-3.13.1+freethreaded-linux-x86_64-gnu": {
        "name": "cpython",
        "arch": {"family": "x86_64", "variant": None},
        "os": "linux",
        "libc": "gnu",
        "major": 3,
        "minor": 13,
        "patch": 1,
        "prerelease": "",
        "url": GH + "20241205/cpython-3.13.1%2B20241205-x86_64-unknown-linux-gnu-"
        "freethreaded%2Bpgo%2Blto-full.tar.zst",
        "sha256": fake_sha("a"),
        "variant": "freethreaded",
    },
    "cpython-3.8.11-linux-x86_64-gnu": {
        "name": "cpython",
        "arch": {"family": "x86_64", "variant": None},
        "os": "linux",
        "libc": "gnu",
        "major": 3,
        "minor": 8,
        "patch": 11,
        "prerelease": "",
        # the legacy owner, era B: no '+' at all
        "url": "https://github.com/indygreg/python-build-standalone/releases/download/20210724/"
        "cpython-3.8.11-x86_64-unknown-linux-gnu-pgo%2Blto-20210724T1424.tar.zst",
        "sha256": None,
        "variant": None,
    },
    "pypy-3.10.14-linux-x86_64-gnu": {
        "name": "pypy",
        "arch": {"family": "x86_64", "variant": None},
        "os": "linux",
        "libc": "gnu",
        "major": 3,
        "minor": 10,
        "patch": 14,
        "prerelease": "",
        "url": "https://downloads.python.org/pypy/pypy3.10-v7.3.17-linux64.tar.bz2",
        "sha256": fake_sha("p"),
        "variant": None,
    },
    "graalpy-3.11.7-linux-aarch64-gnu": {
        "name": "graalpy",
        "arch": {"family": "aarch64", "variant": None},
        "os": "linux",
        "libc": "gnu",
        "major": 3,
        "minor": 11,
        "patch": 7,
        "prerelease": "",
        "url": "https://github.com/oracle/graalpython/releases/download/graal-24.1.1/"
        "graalpy-24.1.1-linux-aarch64.tar.gz",
        "sha256": None,
        "variant": None,
    },
}


def test_download_metadata_format_gives_the_pbs_archives() -> None:
    """uv's object format yields (tag, name) of its CPython URLs, '+' decoded, others ignored."""
    parsed = parse_uv_download_list(json.dumps(DOWNLOAD_METADATA).encode())
    assert parsed == UvList(
        url_names=frozenset(
            {
                (
                    "20241205",
                    "cpython-3.13.1+20241205-x86_64-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst",
                ),
                (
                    "20210724",
                    "cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst",
                ),
            }
        ),
        unmapped=(),
        ignored=2,
    )
    assert parsed.references(
        "20210724", "cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst"
    )
    assert not parsed.references(
        "20210724", "cpython-3.8.11-x86_64-unknown-linux-gnu-pgo-20210724T1424.tar.zst"
    )


# What `uv python list --only-downloads --all-versions --all-platforms --all-arches
# --output-format json` prints (fields as in astral-sh/uv#10596), here with a mirror set, so
# URLs are rewritten to it; plus an installed interpreter (url null), as plain `uv python list`
# shows it.
PYTHON_LIST = [
    {
        "key": "cpython-3.12.4-macos-aarch64-none",
        "version": "3.12.4",
        "version_parts": {"major": 3, "minor": 12, "patch": 4},
        "path": None,
        "symlink": None,
        "url": "http://127.0.0.1:8000/pbs/20240726/"
        "cpython-3.12.4%2B20240726-aarch64-apple-darwin-install_only_stripped.tar.gz",
        "os": "macos",
        "variant": "default",
        "implementation": "cpython",
        "arch": "aarch64",
        "libc": "none",
    },
    {
        "key": "cpython-3.15.0a2-linux-x86_64_v3-gnu",
        "version": "3.15.0a2",
        "version_parts": {"major": 3, "minor": 15, "patch": 0},
        "path": None,
        "symlink": None,
        # a file:// mirror, and a literal '+' (stays '+', never a space)
        "url": "file:///srv/mirror/20251202/"
        "cpython-3.15.0a2+20251202-x86_64_v3-unknown-linux-gnu-install_only_stripped.tar.gz",
        "os": "linux",
        "variant": "default",
        "implementation": "cpython",
        "arch": "x86_64_v3",
        "libc": "gnu",
    },
    {
        "key": "cpython-3.11.9-linux-x86_64-gnu",
        "version": "3.11.9",
        "version_parts": {"major": 3, "minor": 11, "patch": 9},
        "path": "/home/u/.local/share/uv/python/cpython-3.11.9-linux-x86_64-gnu/bin/python3.11",
        "symlink": None,
        "url": None,
        "os": "linux",
        "variant": "default",
        "implementation": "cpython",
        "arch": "x86_64",
        "libc": "gnu",
    },
    {
        "key": "cpython-3.14.2-linux-x86_64-gnu",
        "version": "3.14.2",
        "version_parts": {"major": 3, "minor": 14, "patch": 2},
        "path": None,
        "symlink": None,
        "url": None,
        "os": "linux",
        "variant": "default",
        "implementation": "cpython",
        "arch": "x86_64",
        "libc": "gnu",
    },
    {
        "key": "cpython-3.13.0-linux-x86_64-gnu",
        "version": "3.13.0",
        "version_parts": {"major": 3, "minor": 13, "patch": 0},
        "path": None,
        "symlink": None,
        "url": "https://example.org/python/3.13.0/Python-3.13.0.tgz",
        "os": "linux",
        "variant": "default",
        "implementation": "cpython",
        "arch": "x86_64",
        "libc": "gnu",
    },
    {
        "key": "pypy-3.10.14-linux-x86_64-gnu",
        "version": "3.10.14",
        "version_parts": {"major": 3, "minor": 10, "patch": 14},
        "path": None,
        "symlink": None,
        "url": "https://downloads.python.org/pypy/pypy3.10-v7.3.17-linux64.tar.bz2",
        "os": "linux",
        "variant": "default",
        "implementation": "pypy",
        "arch": "x86_64",
        "libc": "gnu",
    },
]


def test_python_list_format_gives_the_pbs_archives_and_reports_the_rest() -> None:
    """uv's array format yields mirror URLs' archives; a CPython URL mapping to none is reported."""
    parsed = parse_uv_download_list(json.dumps(PYTHON_LIST).encode())
    assert parsed.url_names == {
        ("20240726", "cpython-3.12.4+20240726-aarch64-apple-darwin-install_only_stripped.tar.gz"),
        (
            "20251202",
            "cpython-3.15.0a2+20251202-x86_64_v3-unknown-linux-gnu-install_only_stripped.tar.gz",
        ),
    }
    assert parsed.ignored == 1
    assert [u.split(":")[0] for u in parsed.unmapped] == [
        "cpython-3.13.0-linux-x86_64-gnu",  # a URL that is no PBS archive
        "cpython-3.14.2-linux-x86_64-gnu",  # a null URL and no installed path
    ]
    assert parsed.unmapped[1] == "cpython-3.14.2-linux-x86_64-gnu: no download URL"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # the tag directory differs from the tag in the name
        (
            GH + "20240714/cpython-3.12.4%2B20240713-aarch64-apple-darwin-install_only.tar.gz",
            "not the release's tag",
        ),
        # no YYYYMMDD directory before the name
        (
            "https://h/latest/cpython-3.12.4%2B20240713-aarch64-apple-darwin-install_only.tar.gz",
            "release tag",
        ),
        # an encoded slash never becomes a path
        (
            GH + "20240713/..%2Fcpython-3.12.4%2B20240713-aarch64-apple-darwin-install_only.tar.gz",
            "path separator",
        ),
        # a checksum sidecar is no archive
        (
            GH
            + "20240713/cpython-3.12.4%2B20240713-aarch64-apple-darwin-install_only.tar.gz.sha256",
            ".sha256",
        ),
        # a bare name without any directory
        ("cpython-3.12.4%2B20240713-aarch64-apple-darwin-install_only.tar.gz", "<tag>/<name>"),
    ],
)
def test_cpython_url_naming_no_pbs_archive_is_reported(url: str, reason: str) -> None:
    """A CPython URL that names no PBS archive is listed in unmapped with its reason, not fatal."""
    doc = {"cpython-3.12.4-darwin-aarch64-none": {"name": "cpython", "url": url}}
    parsed = parse_uv_download_list(json.dumps(doc).encode())
    assert parsed.url_names == frozenset()
    (line,) = parsed.unmapped
    assert line.startswith("cpython-3.12.4-darwin-aarch64-none: ")
    assert reason in line


def test_implementation_falls_back_to_the_key() -> None:
    """Without a name or implementation field, the key's first word says whether it is CPython."""
    url = GH + "20240713/cpython-3.12.4%2B20240713-aarch64-apple-darwin-install_only.tar.gz"
    doc = {"cpython-3.12.4-darwin-aarch64-none": {"url": url}, "pypy-3.10.14-x": {"url": url}}
    parsed = parse_uv_download_list(json.dumps(doc).encode())
    assert parsed.url_names == {
        ("20240713", "cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz")
    }
    assert parsed.ignored == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON"),
        (b'"a string"', "expected an object"),
        (b"42", "expected an object"),
        (b"null", "expected an object"),
        (
            b'{"cpython-3.12.4-linux-x86_64-gnu": 3}',
            "'cpython-3.12.4-linux-x86_64-gnu' is not an object",
        ),
        (b"[1, 2]", "'[0]' is not an object"),
        (b'[{"key": "k", "url": 5}]', "'k' has a non-string url 5"),
        (b'{"k": {"url": ["x"]}}', "non-string url"),
    ],
)
def test_malformed_list_raises_a_clear_value_error(data: bytes, message: str) -> None:
    """Data that is not JSON of either uv shape raises ValueError naming the problem."""
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_uv_download_list(data)


def test_empty_lists_reference_nothing() -> None:
    """An empty object and an empty array are valid lists without archives."""
    assert parse_uv_download_list(b"{}") == UvList(url_names=frozenset())
    assert parse_uv_download_list(b"[]") == UvList(url_names=frozenset())
