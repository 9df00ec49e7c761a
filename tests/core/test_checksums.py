"""Checksum sources: SHA256SUMS, sidecars, API digests, and which one wins.

The rules are those of ``docs/upstream.md`` §5.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest
from selection_table import make_asset

from mirrorsync.core.checksums import (
    lists_to_read,
    parse_digest,
    parse_sha256sums,
    parse_sidecar,
    render_sha256sums,
    resolve_expected,
    sidecars_to_read,
    unverifiable,
)
from mirrorsync.core.model import Asset

H1 = hashlib.sha256(b"one").hexdigest()
H2 = hashlib.sha256(b"two").hexdigest()
H3 = hashlib.sha256(b"three").hexdigest()
NAME = "cpython-3.12.4+20240726-aarch64-apple-darwin-install_only.tar.gz"
OTHER = "cpython-3.12.4+20240726-aarch64-apple-darwin-pgo+lto-full.tar.zst"


# --- the real file --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sums_20251217(real_data: Path) -> bytes:
    return (real_data / "SHA256SUMS.20251217").read_bytes()


def test_real_sha256sums_parses(sums_20251217: bytes) -> None:
    """The 20251217 SHA256SUMS parses into 732 archive names with lower-case hex digests."""
    sums = parse_sha256sums(sums_20251217.decode())
    assert len(sums) == 732
    assert all(len(h) == 64 and h == h.lower() for h in sums.values())
    assert sums["cpython-3.10.19+20251217-aarch64-apple-darwin-debug-full.tar.zst"] == (
        "ca8f0ba14dbcf474fe3b9cd5d8839a48eb08b00f6e90244546e761a2ba956ee0"
    )


def test_real_sha256sums_agrees_with_the_recorded_digests(
    sums_20251217: bytes, pbs_releases: dict[str, list[dict[str, Any]]]
) -> None:
    """Every name and digest matches what pbs_assets.json records for release 20251217."""
    recorded = {a["name"]: a["sha256"] for a in pbs_releases["20251217"]}
    assert parse_sha256sums(sums_20251217.decode()) == recorded


def test_real_sha256sums_renders_back_byte_for_byte(sums_20251217: bytes) -> None:
    """Rendering the parsed 20251217 file gives back the identical bytes."""
    sums = parse_sha256sums(sums_20251217.decode())
    assert render_sha256sums(sums.items()) == sums_20251217


# --- parse_sha256sums -----------------------------------------------------------------------


def test_binary_mode_marker_is_accepted() -> None:
    """`<hex> *<name>` (sha256sum --binary) gives the name without the `*`."""
    assert parse_sha256sums(f"{H1} *{NAME}\n") == {NAME: H1}


@pytest.mark.parametrize("separator", [" ", "  ", "\t", " \t "])
def test_name_follows_the_first_whitespace_run(separator: str) -> None:
    """Any run of blanks separates the hash from the name."""
    assert parse_sha256sums(f"{H1}{separator}{NAME}\n") == {NAME: H1}


def test_name_keeps_inner_spaces() -> None:
    """Only the first whitespace run separates: the rest of the line is the name."""
    assert parse_sha256sums(f"{H1}  odd  name.tar.gz\n") == {"odd  name.tar.gz": H1}


def test_crlf_blank_lines_and_missing_final_newline_are_tolerated() -> None:
    """CRLF endings, blank (or blank-looking) lines and no final newline parse the same."""
    text = f"\r\n{H1}  {NAME}\r\n   \r\n\n{H2}  {OTHER}"
    assert parse_sha256sums(text) == {NAME: H1, OTHER: H2}


def test_upper_case_hex_is_lowered() -> None:
    """Digests come back lower-case whatever the file uses."""
    assert parse_sha256sums(f"{H1.upper()}  {NAME}\n") == {NAME: H1}


def test_byte_order_mark_is_ignored() -> None:
    """A UTF-8 byte order mark before the first line does not spoil its hash."""
    assert parse_sha256sums(f"\ufeff{H1}  {NAME}\n") == {NAME: H1}


def test_empty_file_has_no_entries() -> None:
    """An empty (or all-blank) SHA256SUMS yields an empty mapping."""
    assert parse_sha256sums("") == {}
    assert parse_sha256sums("\n\n") == {}


def test_repeated_identical_line_is_harmless() -> None:
    """The same name with the same hash twice is accepted once."""
    assert parse_sha256sums(f"{H1}  {NAME}\n{H1.upper()}  {NAME}\n") == {NAME: H1}


def test_name_with_two_different_hashes_is_an_error() -> None:
    """A name listed again with another hash raises, naming both lines."""
    text = f"{H1}  {NAME}\n{H3}  {OTHER}\n\n{H2}  {NAME}\n"
    with pytest.raises(ValueError, match=r"line 4: .* listed again .*first on line 1"):
        parse_sha256sums(text)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(f"{H1[:-1]}  {NAME}", id="63-hex"),
        pytest.param(f"{H1}0  {NAME}", id="65-hex"),
        pytest.param(f"{H1[:-1]}g  {NAME}", id="non-hex"),
        pytest.param(f"{chr(0x0660) * 64}  {NAME}", id="arabic-indic-digits"),
        pytest.param(f"sha256:{H1}  {NAME}", id="algorithm-prefix"),
        pytest.param(H1, id="no-name"),
        pytest.param(f"{H1}  ", id="blank-name"),
        pytest.param(f"{H1} *", id="star-only"),
        pytest.param(f" {H1}  {NAME}", id="leading-blank"),
        pytest.param(f"\\{H1}  {NAME}", id="gnu-escaped"),
        pytest.param(f"SHA256 ({NAME}) = {H1}", id="bsd-style"),
        pytest.param(f"{NAME}  {H1}", id="swapped"),
        pytest.param(f"{H1}  a\x00b", id="nul-in-name"),
        pytest.param(f"{H1}  a\tb", id="tab-in-name"),
    ],
)
def test_malformed_line_is_rejected_with_its_number(line: str) -> None:
    """A line that is not `<64 hex> <name>` raises ValueError naming its line number."""
    text = f"{H2}  {OTHER}\n\n{line}\n"
    with pytest.raises(ValueError, match=r"^SHA256SUMS line 3: expected"):
        parse_sha256sums(text)


def test_error_quotes_a_bounded_excerpt_of_a_huge_line() -> None:
    """A hostile multi-kilobyte line is quoted, but cut short."""
    with pytest.raises(ValueError, match="line 1") as info:
        parse_sha256sums("x" * 100_000)
    assert len(str(info.value)) < 300


def test_names_are_split_on_line_feeds_only() -> None:
    """A Unicode line or paragraph separator inside a name does not start a new line."""
    text = f"{H1}  a\x85b\u2028c\u2029d\n"
    assert parse_sha256sums(text) == {"a\x85b\u2028c\u2029d": H1}


def test_carriage_return_only_line_ends_are_rejected() -> None:
    """A file with CR-only line ends is an error, not one entry with a bogus name."""
    with pytest.raises(ValueError, match="line 1"):
        parse_sha256sums(f"{H1}  {NAME}\r{H2}  {OTHER}\r")


# --- render_sha256sums ----------------------------------------------------------------------


def test_render_sorts_by_name_with_two_spaces() -> None:
    """Lines are `<hex>  <name>\\n`, sorted by name (byte order), whatever the input order."""
    rendered = render_sha256sums([(OTHER, H2), (NAME, H1), ("Z-first.tar.gz", H3)])
    assert rendered == (f"{H3}  Z-first.tar.gz\n{H1}  {NAME}\n{H2}  {OTHER}\n".encode())


def test_render_is_utf8_and_lowers_hex() -> None:
    """Non-ASCII names are written as UTF-8; digests are written lower-case."""
    assert render_sha256sums([("é.tar.gz", H1.upper())]) == f"{H1}  é.tar.gz\n".encode()


def test_render_of_nothing_is_empty() -> None:
    """No entries, no bytes."""
    assert render_sha256sums([]) == b""


def test_render_writes_a_repeated_pair_once() -> None:
    """The same (name, hash) twice is one line."""
    assert render_sha256sums([(NAME, H1), (NAME, H1)]) == f"{H1}  {NAME}\n".encode()


def test_render_refuses_one_name_with_two_hashes() -> None:
    """Two different hashes for one name raise instead of picking one."""
    with pytest.raises(ValueError, match="two different"):
        render_sha256sums([(NAME, H1), (NAME, H2)])


@pytest.mark.parametrize("digest", ["", H1[:-1], H1 + "0", "z" * 64, f"sha256:{H1}"])
def test_render_refuses_a_bad_digest(digest: str) -> None:
    """A digest that is not 64 hex digits raises."""
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        render_sha256sums([(NAME, digest)])


@pytest.mark.parametrize(
    "name", ["", "*x.tar.gz", " x.tar.gz", "x.tar.gz ", "a\nb", "x\r", "a\rb", "a\x00b", "\x7f"]
)
def test_render_refuses_a_name_that_would_not_read_back(name: str) -> None:
    """A name that parse_sha256sums would read differently (or as another line) raises."""
    with pytest.raises(ValueError, match="cannot be written"):
        render_sha256sums([(name, H1)])


# --- parse_sidecar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"{H1}\n",  # the real 65-byte form
        H1,
        f"{H1.upper()}\n",
        f"{H1}\r\n",
        f"{H1}  {NAME}\n",  # sha256sum output saved as a sidecar
        f"{H1} *{NAME}\n",
        f"\n{H1}\n\n",
    ],
)
def test_sidecar_forms(text: str) -> None:
    """A sidecar is 64 hex digits, optionally followed by whitespace and a name."""
    assert parse_sidecar(text) == H1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        H1[:-1],
        H1 + "0",
        f"sha256:{H1}",
        f"{H1}\n{H2}\n",  # a second line
        f"{H1}  {NAME}\nmore\n",
        "<html>Not Found</html>",
    ],
)
def test_malformed_sidecar_is_rejected(text: str) -> None:
    """Anything else raises ValueError quoting the text."""
    with pytest.raises(ValueError, match="not a sha256 sidecar"):
        parse_sidecar(text)


# --- parse_digest ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"sha256:{H1}", H1),
        (f"sha256:{H1.upper()}", H1),
        (f"SHA256:{H1}", H1),
        (None, None),  # assets uploaded before mid-2025
        ("", None),
        (f"sha512:{'a' * 128}", None),  # another algorithm: not usable, not an error
        ("md5:d41d8cd98f00b204e9800998ecf8427e", None),
        (H1, None),  # no algorithm
        ("sha256:", None),
        (f"sha256:{H1[:-1]}", None),
        (f"sha256:{H1}0", None),
        (f"sha256: {H1}", None),
        (f"sha256:{H1}\n", None),
    ],
)
def test_digest_forms(value: str | None, expected: str | None) -> None:
    """Only `sha256:<64 hex>` yields a digest; absent, other or malformed values give None."""
    assert parse_digest(value) == expected


# --- resolve_expected -----------------------------------------------------------------------


def test_digest_wins_over_sha256sums_and_sidecar() -> None:
    """The listing's digest is used even when SHA256SUMS and a sidecar disagree with it."""
    asset = make_asset("20240726", NAME, digest=H1)
    resolved = resolve_expected(asset, sums={NAME: H2}, sidecar=H3)
    assert (resolved.sha256, resolved.sha256_source) == (H1, "digest")


def test_sha256sums_wins_over_the_sidecar() -> None:
    """Without a digest, the release's SHA256SUMS entry comes before the sidecar."""
    asset = make_asset("20240726", NAME)
    resolved = resolve_expected(asset, sums={NAME: H2}, sidecar=H3)
    assert (resolved.sha256, resolved.sha256_source) == (H2, "SHA256SUMS")


def test_sidecar_is_the_last_resort() -> None:
    """Without a digest and without a SHA256SUMS entry for the name, the sidecar is used."""
    asset = make_asset("20240726", NAME)
    for sums in (None, {}, {OTHER: H2}):
        resolved = resolve_expected(asset, sums=sums, sidecar=H3)
        assert (resolved.sha256, resolved.sha256_source) == (H3, "sidecar")


def test_no_source_leaves_the_asset_unchanged() -> None:
    """With no checksum anywhere (releases before 2022), the asset comes back as it was."""
    asset = make_asset("20210724", "cpython-3.9.6-aarch64-apple-darwin-pgo-20210724T1424.tar.zst")
    resolved = resolve_expected(asset, sums=None, sidecar=None)
    assert resolved == asset
    assert resolved.sha256 is None
    assert resolved.sha256_source is None


def test_resolution_changes_only_the_checksum_fields() -> None:
    """The resolved asset is the same record with sha256 and its source filled in."""
    asset = make_asset("20240726", NAME, size=17_299_450)
    resolved = resolve_expected(asset, sums={NAME: H2.upper()}, sidecar=None)
    assert resolved.sha256 == H2  # lower-cased
    assert (resolved.tag, resolved.parsed, resolved.upstream) == (
        asset.tag,
        asset.parsed,
        asset.upstream,
    )


@pytest.mark.parametrize("bad", ["", "sha256:" + H1, H1[:-1], "z" * 64])
def test_malformed_source_counts_as_absent(bad: str) -> None:
    """A source whose value is not 64 hex digits is skipped in favour of the next one."""
    asset = make_asset("20240726", NAME, digest=bad)
    resolved = resolve_expected(asset, sums={NAME: bad}, sidecar=H3)
    assert (resolved.sha256, resolved.sha256_source) == (H3, "sidecar")


# --- which checksum files a run reads, and what it then refuses to fetch -------------------------

SUMS_TAG = "20240726"


def asset(name: str, *, digest: str | None = None, sha256: str | None = None) -> Asset:
    return dataclasses.replace(make_asset(SUMS_TAG, name, digest=digest), sha256=sha256)


def test_lists_to_read_skips_releases_whose_assets_all_have_digests() -> None:
    """A release's SHA256SUMS is read only for assets without a listing digest, if it has one."""
    assets = [asset(NAME, digest=H1), make_asset("20241016", OTHER.replace("20240726", "20241016"))]
    assert lists_to_read(assets, published={SUMS_TAG, "20241016"}) == {"20241016"}
    assert lists_to_read(assets, published={SUMS_TAG}) == set()
    assert lists_to_read([asset(NAME)], published={SUMS_TAG}) == {SUMS_TAG}


@pytest.mark.parametrize(
    ("digest", "in_sums", "sidecar", "read"),
    [
        (None, False, True, True),  # nothing else: the sidecar is read
        (H1, False, True, False),  # the listing digest is enough
        (None, True, True, False),  # SHA256SUMS lists it
        (None, False, False, False),  # no sidecar upstream
    ],
)
def test_sidecars_to_read(*, digest: str | None, in_sums: bool, sidecar: bool, read: bool) -> None:
    """A sidecar is read only when neither the digest nor SHA256SUMS gave the asset a checksum."""
    a = asset(NAME, digest=digest)
    sums = {SUMS_TAG: {NAME: H2}} if in_sums else {SUMS_TAG: {OTHER: H2}}
    published = {a.path} if sidecar else set()
    assert sidecars_to_read([a], sums=sums, published=published) == ([a.path] if read else [])


@pytest.mark.parametrize(
    ("sha256", "list_upstream", "list_read", "sidecar_upstream", "reason"),
    [
        (H1, True, False, True, None),  # a checksum came from somewhere: fetch it
        (None, False, False, False, None),  # no checksum anywhere upstream: fetched unverified
        (None, True, False, False, f"{SUMS_TAG}/SHA256SUMS could not be read"),
        (None, True, False, True, f"{SUMS_TAG}/SHA256SUMS could not be read"),
        (None, True, True, True, f"{NAME}.sha256 could not be read"),  # not in the list
        (None, False, False, True, f"{NAME}.sha256 could not be read"),
        (None, True, True, False, None),  # the list was read and does not name it
    ],
)
def test_unverifiable(
    *,
    sha256: str | None,
    list_upstream: bool,
    list_read: bool,
    sidecar_upstream: bool,
    reason: str | None,
) -> None:
    """An asset whose checksum exists upstream but was unreadable is never fetched unverified."""
    a = asset(NAME, sha256=sha256)
    got = unverifiable(
        [a],
        lists={SUMS_TAG} if list_upstream else set(),
        lists_read={SUMS_TAG} if list_read else set(),
        sidecars={a.path} if sidecar_upstream else set(),
    )
    assert got == ({a.path: reason} if reason else {})
