"""Selection: which releases, and which of their assets, a run mirrors.

The rules are those of ``docs/interface.md`` §2.3, §2.4 and §2.9.

Pure: no I/O. Both selectors are deterministic and independent of input order.

Releases
    Drafts and GitHub prereleases are always skipped, and so is a release whose tag is not a safe
    single path component (reported in ``unsafe_tags``). Tags order as strings (``YYYYMMDD``);
    "newest" is the greatest tag. With ``tags``, exactly those (``latest``/``since`` ignored, absent
    ones reported in ``missing_tags``); otherwise the tags on or after ``since``, capped to the
    newest ``latest`` (``None`` = no cap).

Assets
    An asset is selected when it passes every non-empty list: ``python`` (see
    :func:`compile_python_spec`), ``platforms`` (globs over the canonical triple), ``flavors`` and
    ``variants`` (exact), ``builds`` (globs over the build options as written). Then
    ``latest_patch`` keeps the newest of each group, then ``exclude`` (globs over the file name)
    removes last. Globs are :func:`fnmatch.fnmatchcase` patterns. A name without build options has
    build ``""``, which only a glob such as ``*`` matches (config rejects empty globs).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from mirrorsync.config.records import ReleasesConfig, SelectConfig
from mirrorsync.core.layout import RESERVED_ROOT_NAMES
from mirrorsync.core.model import Asset, AssetName, Release
from mirrorsync.core.names import PYTHON_VERSION

_SAFE_TAG = re.compile(r"[A-Za-z0-9._-]+")
# [0-9], not \d: \d also matches non-ASCII digits.
_MINOR = re.compile(r"[0-9]+\.[0-9]+")


def is_safe_tag(tag: str) -> bool:
    """Whether ``tag`` can be used as one directory name below the mirror root.

    Besides the character rules: no dot-names, and none of the names mirrorsync writes at the
    root itself (``flat``, ``github``, ``index.html``…), which a release would collide with.
    """
    return (
        _SAFE_TAG.fullmatch(tag) is not None
        and not tag.startswith(".")
        and tag not in RESERVED_ROOT_NAMES
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseSelection:
    """What :func:`select_releases` chose, and what it has to report."""

    releases: tuple[Release, ...]
    """The selected releases, sorted by tag, newest first."""
    missing_tags: tuple[str, ...]
    """Tags named in ``tags`` that no selected release carries: absent upstream, drafts or
    GitHub prereleases (or unsafe, which ``unsafe_tags`` lists too). Sorted."""
    unsafe_tags: tuple[str, ...]
    """Tags of releases that would have been considered but are not a safe path component."""


def select_releases(releases: Iterable[Release], cfg: ReleasesConfig) -> ReleaseSelection:
    """The releases ``cfg`` selects among those upstream lists."""
    published = [r for r in releases if not r.draft and not r.prerelease]
    if cfg.tags:
        wanted = set(cfg.tags)
        candidates = [r for r in published if r.tag in wanted]
    elif cfg.since is not None:
        since = cfg.since
        candidates = [r for r in published if r.tag >= since]
    else:
        candidates = published
    # Unsafe tags are dropped before the `latest` cap, so a hostile tag never takes a slot.
    unsafe = sorted({r.tag for r in candidates if not is_safe_tag(r.tag)})
    chosen = sorted(
        (r for r in candidates if is_safe_tag(r.tag)), key=lambda r: r.tag, reverse=True
    )
    if not cfg.tags and cfg.latest is not None:
        chosen = chosen[: max(cfg.latest, 0)]
    present = {r.tag for r in chosen}
    return ReleaseSelection(
        releases=tuple(chosen),
        missing_tags=tuple(sorted(set(cfg.tags) - present)),
        unsafe_tags=tuple(unsafe),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonSpec:
    """One compiled ``select.python`` entry."""

    entry: str
    """The entry as the user wrote it."""
    specifiers: SpecifierSet
    names_prerelease: bool
    """Whether the entry itself names a prerelease (``==3.15.0a5``, ``>=3.15.0a1``); such an entry
    admits the prereleases it matches even with ``prereleases: false``."""

    def matches(self, version: Version, *, prereleases: bool) -> bool:
        """Whether ``version`` satisfies this entry; ``prereleases`` is ``select.prereleases``."""
        # Always pass prereleases= explicitly: recent packaging admits prereleases when it is None.
        return self.specifiers.contains(version, prereleases=prereleases or self.names_prerelease)


def compile_python_spec(entry: str) -> PythonSpec:
    """Compile ``"3.12"`` (any 3.12.x), ``"3.12.4"`` (exactly) or a PEP 440 specifier set.

    Raises ``ValueError`` quoting the entry when it is none of these.
    """
    text = entry.strip()
    if _MINOR.fullmatch(text):
        # "==3.12.*" compares release components, so 3.120.1 does not match.
        spec = f"=={text}.*"
    elif PYTHON_VERSION.fullmatch(text):
        spec = f"=={text}"
    else:
        spec = text
    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier as e:
        raise ValueError(_bad_python_entry(entry)) from e
    if not len(specifiers):  # "" and "," parse as an empty set, which would match everything
        raise ValueError(_bad_python_entry(entry))
    return PythonSpec(
        entry=entry,
        specifiers=specifiers,
        # Decided here rather than by Specifier.prereleases, whose answer (for `<` and `>`) has
        # changed between packaging releases. `!=` only ever excludes, so it admits nothing.
        names_prerelease=any(
            s.operator != "!=" and _is_prerelease(s.version.removesuffix(".*")) for s in specifiers
        ),
    )


def _bad_python_entry(entry: str) -> str:
    return (
        f"invalid python entry {entry!r}: expected a minor version such as '3.12', "
        "an exact version such as '3.12.4' or '3.15.0a5', "
        "or a PEP 440 specifier set such as '>=3.10,<3.14'"
    )


def _is_prerelease(text: str) -> bool:
    try:
        return Version(text).is_prerelease
    except InvalidVersion:  # `===` compares arbitrary strings
        return False


def select_assets(assets: Iterable[Asset], cfg: SelectConfig) -> tuple[Asset, ...]:
    """The python-build-standalone assets ``cfg`` selects, sorted by path (a uv archive is
    selected by ``core.uvbundle``, never here)."""
    specs = [compile_python_spec(e) for e in cfg.python]
    # A few hundred versions among a whole history's assets: one Version each, not one per asset.
    versions: dict[str, Version] = {}
    passed = [
        a
        for a in assets
        if isinstance(a.parsed, AssetName)
        and _passes(a.parsed, _version(a.parsed.python, versions), specs, cfg)
    ]
    if cfg.latest_patch:
        passed = _latest_patch(passed, versions)
    kept = (a for a in passed if not any(fnmatchcase(a.name, glob) for glob in cfg.exclude))
    return tuple(sorted(kept, key=lambda a: a.path))


def _version(python: str, versions: dict[str, Version]) -> Version:
    version = versions.get(python)
    if version is None:
        version = versions[python] = Version(python)
    return version


def _passes(
    parsed: AssetName, version: Version, specs: list[PythonSpec], cfg: SelectConfig
) -> bool:
    if specs:
        if not any(s.matches(version, prereleases=cfg.prereleases) for s in specs):
            return False
    elif version.is_prerelease and not cfg.prereleases:
        return False
    return (
        (not cfg.platforms or any(fnmatchcase(parsed.platform, g) for g in cfg.platforms))
        and (not cfg.flavors or parsed.flavor in cfg.flavors)
        and (not cfg.variants or parsed.variant in cfg.variants)
        and (not cfg.builds or any(fnmatchcase(parsed.build, g) for g in cfg.builds))
    )


def _latest_patch(passed: list[Asset], versions: dict[str, Version]) -> list[Asset]:
    """Per (major.minor, platform, flavor, build, linkage), the greatest (version, tag)."""
    groups: defaultdict[tuple[object, ...], list[tuple[Asset, Version]]] = defaultdict(list)
    for asset in passed:
        p = asset.parsed
        if not isinstance(p, AssetName):
            continue
        version = _version(p.python, versions)
        groups[version.release[:2], p.platform, p.flavor, p.build, p.linkage].append(
            (asset, version)
        )
    # The path breaks the (theoretical) remaining ties, keeping the result order-independent.
    return [
        max(group, key=lambda av: (av[1], av[0].tag, av[0].path))[0] for group in groups.values()
    ]
