"""Parse python-build-standalone release file names into ``AssetName`` records (pure).

The grammar and its consistency rules are those of ``docs/upstream.md`` §2, for all three naming
eras:

- A (… 20200408): ``cpython-3.7.3-linux64-20190618T0324.tar.zst`` (platform words, build stamp)
- B (20200418 … 20220222): ``cpython-3.8.11-x86_64-unknown-linux-gnu-pgo+lto-20210724T1424.tar.zst``
- C (20220227 …): ``cpython-3.12.4+20240713-aarch64-apple-darwin-install_only.tar.gz`` (tag in name)

Names are untrusted input. ``parse_asset_name`` is total over ``str``: it returns a record or raises
``InvalidAssetName`` whose message quotes the input with ``repr()`` and names the rule that failed.
The vocabularies (platform words, vendor-os, target triples, build options, flavors) are explicit on
purpose: a name outside them is *unparsed*, to be reported and skipped, never guessed at. Extend
them deliberately when upstream adds a platform or an option.
"""

from __future__ import annotations

import re
import sys
from typing import Final, Literal

from mirrorsync.core.layout import SUMS_NAME
from mirrorsync.core.model import AssetName, Flavor
from mirrorsync.errors import InvalidAssetName

__all__ = [
    "BUILD_OPTIONS",
    "KNOWN_TRIPLES",
    "LEGACY_PLATFORMS",
    "MAX_NAME_LENGTH",
    "PYTHON_VERSION",
    "RELEASE_TAG",
    "SIDECAR_SUFFIX",
    "TAG_DATE_FORMAT",
    "parse_asset_name",
    "sidecar_target",
]

MAX_NAME_LENGTH: Final = 255
"""Longer names are rejected before any matching (the longest real name has 98 characters)."""

RELEASE_TAG: Final = re.compile(r"[0-9]{8}", re.ASCII)
"""A release tag as upstream writes it, ``YYYYMMDD`` (also the ``+{tag}`` of era C names)."""
TAG_DATE_FORMAT: Final = "%Y%m%d"
"""The day a tag names, as ``strftime`` writes it (``releases.since`` compares tags to it)."""
PYTHON_VERSION: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:(?:a|b|rc)[0-9]+)?", re.ASCII)
"""A CPython version as names write it: ``3.12.4``, ``3.14.0a5``, ``3.15.0rc1``."""

SIDECAR_SUFFIX: Final = ".sha256"
"""``{archive}.sha256`` holds the archive's sha256 (releases 20220227 … ~20250702)."""

LEGACY_PLATFORMS: Final[dict[str, str]] = {
    # Era A platform words and the canonical triples they stand for (docs/interface.md §2.10).
    "linux64": "x86_64-unknown-linux-gnu",
    "linux64-musl": "x86_64-unknown-linux-musl",
    "macos": "x86_64-apple-darwin",
    "windows-amd64": "x86_64-pc-windows-msvc",
    "windows-x86": "i686-pc-windows-msvc",
}

KNOWN_TRIPLES: Final[frozenset[str]] = frozenset(
    # Every target triple upstream has released (docs/upstream.md §3). Triples that PBS defines but
    # never released (loongarch64, mips, mipsel, iOS/tvOS/watchOS) stay out until they ship.
    [
        *(
            f"{arch}-unknown-linux-{libc}"
            for arch in ("x86_64", "x86_64_v2", "x86_64_v3", "x86_64_v4")
            for libc in ("gnu", "musl")
        ),
        "aarch64-unknown-linux-gnu",
        "aarch64-unknown-linux-musl",
        "i686-unknown-linux-gnu",
        "armv7-unknown-linux-gnueabi",
        "armv7-unknown-linux-gnueabihf",
        "ppc64le-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "riscv64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
        "i686-pc-windows-msvc",
        "aarch64-pc-windows-msvc",
    ]
)

BUILD_OPTIONS: Final = ("freethreaded", "debug", "pgo", "lto", "noopt", "static")
"""The words that may appear, joined by ``+``, in a name's build options."""

# docs/upstream.md §2, with three hardenings that change nothing for real names:
# - ``[0-9]`` instead of ``\d`` (and re.ASCII), since ``\d`` would accept any Unicode digit;
# - ``fullmatch`` and no ``$``, since ``$`` also matches before a trailing newline;
# - the vendor-os alternatives stay explicit: Apple triples have three parts, Linux and Windows
#   four, and a generic "three or four words" pattern swallows the next word (``…-darwin-debug``).
# Every repetition is over a class or a word that cannot overlap its neighbour, so matching is
# linear; names are also length-capped before matching.
_OPT = f"(?:{'|'.join(BUILD_OPTIONS)})"
_PBS_NAME: Final = re.compile(
    rf"""
    cpython-
    (?P<python>{PYTHON_VERSION.pattern})                     # 3.12.4, 3.14.0a5, 3.15.0rc1
    (?:\+(?P<tag>{RELEASE_TAG.pattern}))?                   # era C only
    -(?P<platform>
        [a-z0-9_]+-(?:apple-darwin|pc-windows-msvc|unknown-linux-(?:gnu|gnueabi|gnueabihf|musl))
      | linux64(?:-musl)? | macos | windows-(?:amd64|x86)    # era A words
    )
    (?:-(?P<linkage>shared|static))?                        # Windows only
    (?:-(?P<build>{_OPT}(?:\+{_OPT})*))?
    (?:-(?P<flavor>full|install_only|install_only_stripped))?
    (?:-(?P<built_at>[0-9]{{8}}T[0-9]{{4}}))?               # eras A/B only
    \.(?P<ext>tar\.zst|tar\.gz)
    """,
    re.VERBOSE | re.ASCII,
)

_FLAVORS: Final[dict[str, Flavor]] = {
    "full": "full",
    "install_only": "install_only",
    "install_only_stripped": "install_only_stripped",
}
_EXTS: Final[dict[str, Literal["tar.zst", "tar.gz"]]] = {"tar.zst": "tar.zst", "tar.gz": "tar.gz"}
_QUOTE_LIMIT: Final = 64
_WINDOWS: Final = "-pc-windows-msvc"
_MUSL: Final = "-unknown-linux-musl"


def _quote(name: str) -> str:
    """``repr(name)``, shortened for names too long to be worth echoing whole."""
    if len(name) <= MAX_NAME_LENGTH:
        return repr(name)
    return f"{name[:_QUOTE_LIMIT]!r}… ({len(name)} characters)"


def _invalid(name: str, rule: str) -> InvalidAssetName:
    return InvalidAssetName(f"{_quote(name)} is not a python-build-standalone archive name: {rule}")


def _check_text(name: str) -> None:
    """Reject what no archive name can be before the grammar sees it (cheap, and clearer)."""
    if not name:
        raise _invalid(name, "it is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise _invalid(name, f"it is longer than {MAX_NAME_LENGTH} characters")
    if not name.isascii():
        raise _invalid(name, "it contains non-ASCII characters")
    if not name.isprintable():
        raise _invalid(name, "it contains control characters")
    if "/" in name or "\\" in name:
        raise _invalid(name, "it contains a path separator")


def _grammar_hint(name: str) -> str:
    if name == SUMS_NAME:
        return "it is the release's checksum list"
    if name.endswith(SIDECAR_SUFFIX):
        return "it ends in .sha256 (a checksum sidecar, not an archive)"
    return "it does not match the grammar of python-build-standalone names"


def _check_platform(a: AssetName) -> str | None:
    if a.platform_written not in LEGACY_PLATFORMS and a.platform not in KNOWN_TRIPLES:
        return f"unknown platform {a.platform!r}"
    return None


def _check_era(a: AssetName) -> str | None:
    # The release tag in the name (era C) and a build stamp (eras A/B) exclude each other.
    if a.name_tag is not None and a.built_at is not None:
        return "it carries both a release tag (+YYYYMMDD) and a build stamp (YYYYMMDDTHHMM)"
    if a.name_tag is None and a.built_at is None:
        return "it carries neither a release tag (+YYYYMMDD) nor a build stamp (YYYYMMDDTHHMM)"
    if a.platform_written in LEGACY_PLATFORMS and (a.name_tag is not None or a.flavor_written):
        # Era A: cpython-{ver}-{word}[-shared-pgo|-static]-{stamp}.tar.zst (docs/upstream.md §1).
        return f"era A platform word {a.platform_written!r} with a release tag or a flavor"
    return None


def _check_linkage(a: AssetName) -> str | None:
    if a.linkage is not None and not a.platform.endswith(_WINDOWS):
        return f"the -{a.linkage} linkage infix is only written on Windows platforms"
    return None


def _check_flavor(a: AssetName) -> str | None:
    if a.name_tag is not None and not a.flavor_written:
        return "an era C name needs a flavor (-full, -install_only, -install_only_stripped)"
    if a.name_tag is None and a.flavor in {"full", "install_only_stripped"} and a.flavor_written:
        return f"-{a.flavor} is written only in era C names (with +YYYYMMDD)"
    if a.flavor == "full" and a.ext != "tar.zst":
        return "a full archive must be .tar.zst"
    if a.flavor != "full" and a.ext != "tar.gz":
        return f"an {a.flavor} archive must be .tar.gz"
    return None


def _check_build(a: AssetName) -> str | None:
    options = a.build.split("+") if a.build else []
    if a.flavor == "full" and a.name_tag is not None and not options:
        return "an era C full archive must name its build options"
    if a.flavor != "full" and a.build not in {"", "freethreaded"}:
        return f"an {a.flavor} archive takes no build options but 'freethreaded', got {a.build!r}"
    if a.flavor == "full" and a.build == "freethreaded":
        return "a full build joins freethreaded to its options with '+' (freethreaded+pgo)"
    if len(set(options)) != len(options):
        return f"build options {a.build!r} repeat an option"
    if "static" in options and not a.platform.endswith(_MUSL):
        # On Windows -static- is the linkage infix, never a build option (docs/interface.md §2.9).
        return f"the 'static' build option exists only on musl, not on {a.platform!r}"
    return None


_RULES: Final = (_check_platform, _check_era, _check_linkage, _check_flavor, _check_build)
"""The consistency rules of docs/upstream.md §2, checked in order after the grammar matched."""


_shared = sys.intern


def _shared_or_none(text: str | None) -> str | None:
    return None if text is None else sys.intern(text)


def parse_asset_name(name: str, *, release_tag: str | None = None) -> AssetName:
    """Parse an archive name of any era; ``render()`` of the result gives ``name`` back.

    With ``release_tag``, an era C name must carry that tag (``+{release_tag}``). Era A/B build
    stamps are never compared with it: they often differ from the tag, in both directions.
    Raises ``InvalidAssetName`` for anything else, quoting the name and the rule that failed.
    """
    _check_text(name)
    m = _PBS_NAME.fullmatch(name)
    if m is None:
        raise _invalid(name, _grammar_hint(name))
    flavor = m["flavor"]
    # The fields repeat across thousands of names (a few dozen versions, platforms, builds):
    # interned, each distinct value is held once, not once per archive of a whole history.
    platform = _shared(m["platform"])
    parsed = AssetName(
        python=_shared(m["python"]),
        name_tag=_shared_or_none(m["tag"]),
        platform=LEGACY_PLATFORMS.get(platform, platform),
        platform_written=platform,
        linkage=_shared_or_none(m["linkage"]),
        build=_shared(m["build"] or ""),
        flavor=_FLAVORS[flavor] if flavor is not None else "full",
        flavor_written=flavor is not None,
        built_at=_shared_or_none(m["built_at"]),
        ext=_EXTS[m["ext"]],
    )
    for rule in _RULES:
        if (problem := rule(parsed)) is not None:
            raise _invalid(name, problem)
    if release_tag is not None and parsed.name_tag not in {None, release_tag}:
        raise _invalid(
            name, f"its tag {parsed.name_tag!r} is not the release's tag {release_tag!r}"
        )
    return parsed


def _is_archive(name: str) -> bool:
    try:
        parse_asset_name(name)
    except InvalidAssetName:
        return False
    return True


def sidecar_target(name: str) -> str | None:
    """The archive a ``.sha256`` sidecar describes (``X.tar.gz.sha256`` -> ``X.tar.gz``), else None.

    None also when ``X`` is not a valid archive name: such a sidecar describes nothing we mirror.
    """
    if not name.endswith(SIDECAR_SUFFIX):
        return None
    target = name.removesuffix(SIDECAR_SUFFIX)
    return target if _is_archive(target) else None
