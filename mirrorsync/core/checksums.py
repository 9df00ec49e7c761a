"""Checksum sources: ``SHA256SUMS``, ``.sha256`` sidecars and API digests (``docs/upstream.md`` §5).

Pure: no I/O. Everything parsed here is untrusted upstream input, so parsers accept exactly the
published formats and quote (a bounded excerpt of) what they reject.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Final

from mirrorsync.core.layout import SUMS_NAME
from mirrorsync.core.model import Asset
from mirrorsync.core.names import SIDECAR_SUFFIX

SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
"""A sha256 as mirrorsync writes and keeps it: 64 lower-case hex digits."""
# Upstream's files may spell the digits in either case; they are lower-cased once read.
_HEX = re.compile(SHA256_HEX.pattern, re.IGNORECASE | re.ASCII)
# "<hash><first whitespace run>[*]<name>": `*` is sha256sum's binary-mode marker (possessive, so
# that "<hash> *" is an error rather than the name "*").
_SUMS_LINE = re.compile(r"(?P<hash>\S+)\s+\*?+(?P<name>.+)")
# The optional name must be on the hash's line: `.` stops at a line break, blanks are " " or tab.
_SIDECAR = re.compile(rf"(?P<hash>{_HEX.pattern})(?:[ \t]+.*)?", re.IGNORECASE | re.ASCII)
# Control characters never occur in archive names; in a "name" they mean a mangled file (say,
# CR-only line ends) that would otherwise parse into one bogus entry. sha256sum escapes them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXCERPT = 100


def _excerpt(text: str) -> str:
    """``repr`` of an untrusted string, cut short so that an error message stays readable."""
    return repr(text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…")


def parse_sha256sums(text: str) -> dict[str, str]:
    """``{name: lower-case hex}`` from the text of a ``SHA256SUMS`` file.

    Blank lines are ignored; CRLF and trailing whitespace are tolerated. Raises ``ValueError``
    naming the line number on a line that is not ``<64 hex><whitespace>[*]<name>`` (a name holds
    no control characters), and on a name listed twice with two different hashes.
    """
    seen: dict[str, tuple[str, int]] = {}
    # Split on LF only: str.splitlines() would also split inside a name at \x85, \u2028, …
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.rstrip()
        if not line:
            continue
        m = _SUMS_LINE.fullmatch(line)
        if m is None or _HEX.fullmatch(m["hash"]) is None or _CONTROL.search(m["name"]):
            raise ValueError(
                f"SHA256SUMS line {number}: expected '<64 hex digits>  <name>', got {_excerpt(raw)}"
            )
        name, digest = m["name"], m["hash"].lower()
        first_digest, first_number = seen.setdefault(name, (digest, number))
        if first_digest != digest:
            raise ValueError(
                f"SHA256SUMS line {number}: {_excerpt(name)} is listed again with another hash "
                f"(first on line {first_number})"
            )
    return {name: digest for name, (digest, _) in seen.items()}


def render_sha256sums(entries: Iterable[tuple[str, str]]) -> bytes:
    """A ``SHA256SUMS`` file for ``(name, hex)`` pairs: ``"<hex>  <name>\\n"`` sorted by name.

    ``sha256sum -c`` accepts the result and :func:`parse_sha256sums` reads the pairs back. Raises
    ``ValueError`` for a hash that is not 64 hex digits, for a name that would not read back as
    itself, and for one name given two different hashes (the same pair twice is written once).
    """
    sums: dict[str, str] = {}
    for name, digest in entries:
        if _HEX.fullmatch(digest) is None:
            raise ValueError(f"not a sha256 hex digest for {_excerpt(name)}: {_excerpt(digest)}")
        # Names that parse_sha256sums would read differently or refuse: a binary-mode marker,
        # whitespace it strips (which also rules out the empty name), control characters.
        if not name or name.startswith("*") or name != name.strip() or _CONTROL.search(name):
            raise ValueError(f"name cannot be written to SHA256SUMS: {_excerpt(name)}")
        if sums.setdefault(name, digest.lower()) != digest.lower():
            raise ValueError(f"two different sha256 digests given for {_excerpt(name)}")
    return "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)).encode()


def parse_sidecar(text: str) -> str:
    """The lower-case hex of a ``<asset>.sha256`` sidecar.

    A sidecar is 64 hex digits, optionally followed by whitespace and a file name, on one line.
    Raises ``ValueError`` for anything else.
    """
    m = _SIDECAR.fullmatch(text.removeprefix("\ufeff").strip())
    if m is None:
        raise ValueError(f"not a sha256 sidecar (64 hex digits): {_excerpt(text)}")
    return m["hash"].lower()


def parse_digest(value: str | None) -> str | None:
    """The lower-case hex of a GitHub asset ``digest`` (``"sha256:<hex>"``), else None.

    None for no digest, for another algorithm and for a malformed value alike: the caller then
    falls back to the next checksum source.
    """
    algorithm, sep, digest = (value or "").partition(":")
    if not sep or algorithm.lower() != "sha256" or _HEX.fullmatch(digest) is None:
        return None
    return digest.lower()


def resolve_expected(asset: Asset, *, sums: Mapping[str, str] | None, sidecar: str | None) -> Asset:
    """``asset`` with its expected sha256 from the first source that has one.

    Precedence: the listing's digest (``asset.upstream.digest``, hex as :func:`parse_digest`
    returns it), then the release's ``SHA256SUMS`` (``sums``, as :func:`parse_sha256sums` returns
    it), then the asset's sidecar (``sidecar``, as :func:`parse_sidecar` returns it). A value that
    is not 64 hex digits counts as absent. Without any source, ``asset`` is returned unchanged.
    """
    candidates = (
        ("digest", asset.upstream.digest),
        (SUMS_NAME, None if sums is None else sums.get(asset.name)),
        ("sidecar", sidecar),
    )
    for source, value in candidates:
        if value is not None and _HEX.fullmatch(value):
            # Already lower case (as parse_digest returns it): the same string, not a copy.
            digest = value if value.islower() else value.lower()
            return dataclasses.replace(asset, sha256=digest, sha256_source=source)
    return asset


def lists_to_read(assets: Iterable[Asset], *, published: Collection[str]) -> set[str]:
    """The tags whose ``SHA256SUMS`` must be read: those of assets without a listing digest,
    among the releases that publish one (``published``)."""
    return {a.tag for a in assets if a.upstream.digest is None} & set(published)


def sidecars_to_read(
    assets: Iterable[Asset],
    *,
    sums: Mapping[str, Mapping[str, str]],
    published: Collection[str],
) -> list[str]:
    """The paths whose ``.sha256`` sidecar must be read: no listing digest, not in the release's
    ``SHA256SUMS`` as read (``sums``, by tag), and a sidecar published (``published``, by path)."""
    return [
        a.path
        for a in assets
        if a.upstream.digest is None and a.name not in sums.get(a.tag, {}) and a.path in published
    ]


def unverifiable(
    assets: Iterable[Asset],
    *,
    lists: Collection[str],
    lists_read: Collection[str],
    sidecars: Collection[str],
) -> dict[str, str]:
    """Why each asset must not be fetched: a checksum for it exists upstream but was unreadable.

    ``assets`` carry their resolved expected sha256 (:func:`resolve_expected`); ``lists`` are the
    tags of releases that publish a ``SHA256SUMS``, ``lists_read`` those whose list was read and
    parsed, ``sidecars`` the paths that have a ``.sha256`` sidecar upstream. An asset with no
    expected sha256 while such a source exists is never fetched unverified (the next run tries
    again); one with no checksum anywhere upstream is not listed here.
    """
    reasons: dict[str, str] = {}
    for a in assets:
        if a.sha256 is not None:
            continue
        if a.tag in lists and a.tag not in lists_read:
            reasons[a.path] = f"{a.tag}/{SUMS_NAME} could not be read"
        elif a.path in sidecars:
            reasons[a.path] = f"{a.name}{SIDECAR_SUFFIX} could not be read"
    return reasons
