"""core.uvbundle: uv archive names, the versions bundle.uv chooses, the archives it selects by
triple, and where uv's index and downloads are relative to the Pythons'."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirrorsync.core.layout import release_dir
from mirrorsync.core.model import Release, UpstreamAsset, UvArchive
from mirrorsync.core.uvbundle import (
    check_uv_entry,
    choose_versions,
    parse_uv_archive,
    unpublished_checksums,
    uv_catalog,
    uv_download_base,
    uv_index_url,
)
from mirrorsync.upstream.astral import artifacts_of_line

EXCERPT = Path(__file__).parents[2] / "testkit" / "data" / "astral-uv-excerpt.ndjson"
H = "a" * 64


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("uv-x86_64-unknown-linux-gnu.tar.gz", ("x86_64-unknown-linux-gnu", "tar.gz")),
        ("uv-aarch64-unknown-linux-musl.tar.gz", ("aarch64-unknown-linux-musl", "tar.gz")),
        ("uv-x86_64-pc-windows-msvc.zip", ("x86_64-pc-windows-msvc", "zip")),
        ("uv-armv7-unknown-linux-musleabihf.tar.gz", ("armv7-unknown-linux-musleabihf", "tar.gz")),
        ("uv-riscv64gc-unknown-linux-gnu.tar.gz", ("riscv64gc-unknown-linux-gnu", "tar.gz")),
        ("uv-x86_64-unknown-linux-gnu.tar.gz.sha256", None),
        ("uv-installer.sh", None),
        ("uv-installer.ps1", None),
        ("source.tar.gz", None),
        ("sha256.sum", None),
        ("dist-manifest.json", None),
        ("uv-x86_64-pc-windows-msvc.tar.gz.zip", None),
        ("uv-../../etc.tar.gz", None),
        ("uv-X86_64-unknown-linux-gnu.tar.gz", None),
        ("uv.tar.gz", None),
    ],
)
def test_only_uv_archives_parse(name: str, expected: tuple[str, str] | None) -> None:
    """``uv-<triple>.tar.gz`` and ``.zip`` parse into triple and format; nothing else does."""
    parsed = parse_uv_archive(name, version="0.9.28")
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed.platform, parsed.ext) == expected
        assert parsed.render() == name


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        ("0.9.28", True),
        ("0.10.0", True),
        ("latest", True),
        ("1.0.0", True),
        ("0.9", False),
        ("0.9.28.1", False),
        ("v0.9.28", False),
        ("0.9.28rc1", False),
        ("01.2.3", False),
        ("../0.1.0", False),
        ("Latest", False),
        ("0.9.28 ", False),
    ],
)
def test_bundle_uv_entries(entry: str, *, ok: bool) -> None:
    """Only an exact ``X.Y.Z`` (a safe directory name) or ``latest`` is a bundle.uv entry."""
    problem = check_uv_entry(entry)
    assert (problem is None) == ok
    if not ok:
        assert problem is not None
        assert repr(entry) in problem


def rel(tag: str, *, prerelease: bool = False, draft: bool = False) -> Release:
    return Release(tag=tag, prerelease=prerelease, draft=draft)


LISTING = [
    rel("0.9.30"),
    rel("0.10.0"),
    rel("0.11.0", prerelease=True),
    rel("0.12.0", draft=True),
    rel("0.9.4"),
    rel("not-a-version"),
    rel("0.13.0a1"),
]


@pytest.mark.parametrize(
    ("wanted", "chosen", "missing"),
    [
        (["latest"], ["0.10.0"], []),
        (["0.9.4", "latest"], ["0.9.4", "0.10.0"], []),
        (["0.10.0", "latest"], ["0.10.0"], []),
        (["0.11.0"], ["0.11.0"], []),  # named exactly: a prerelease too
        (["0.12.0"], [], ["uv/0.12.0"]),  # a draft never
        (["0.1.0", "0.9.30"], ["0.9.30"], ["uv/0.1.0"]),
        ([], [], []),
    ],
)
def test_choose_versions(wanted: list[str], chosen: list[str], missing: list[str]) -> None:
    """``latest`` is the newest by version of the non-prereleases (0.10.0 > 0.9.30); exact
    versions are taken as named; what upstream lacks is reported, each once, oldest first."""
    choice = choose_versions(wanted, LISTING)
    assert [r.tag for r in choice.releases] == chosen
    assert list(choice.missing) == missing


def test_latest_of_a_listing_without_a_stable_release_is_missing() -> None:
    """No release that is not a prerelease: ``latest`` is missing, never a prerelease."""
    assert choose_versions(["latest"], [rel("0.2.0", prerelease=True)]).missing == ("uv/latest",)


def up(name: str, *, digest: str | None = None, state: str = "uploaded") -> UpstreamAsset:
    return UpstreamAsset(name=name, size=10, link=f"https://x/{name}", digest=digest, state=state)


RELEASE = Release(
    tag="0.9.28",
    assets=(
        up("uv-x86_64-unknown-linux-gnu.tar.gz"),
        up("uv-x86_64-unknown-linux-gnu.tar.gz.sha256"),
        up("uv-x86_64-unknown-linux-musl.tar.gz", digest=H),
        up("uv-x86_64-pc-windows-msvc.zip"),
        up("uv-x86_64-pc-windows-msvc.zip.sha256"),
        up("uv-aarch64-apple-darwin.tar.gz", state="open"),
        up("uv-installer.sh"),
        up("source.tar.gz"),
    ),
)


BUSY = ["uv/0.9.28/uv-aarch64-apple-darwin.tar.gz"]


@pytest.mark.parametrize(
    ("platforms", "paths", "busy"),
    [
        (
            [],
            [
                "uv/0.9.28/uv-x86_64-pc-windows-msvc.zip",
                "uv/0.9.28/uv-x86_64-unknown-linux-gnu.tar.gz",
                "uv/0.9.28/uv-x86_64-unknown-linux-musl.tar.gz",
            ],
            BUSY,
        ),
        (["*-linux-gnu"], ["uv/0.9.28/uv-x86_64-unknown-linux-gnu.tar.gz"], []),
        (["x86_64-pc-windows-*"], ["uv/0.9.28/uv-x86_64-pc-windows-msvc.zip"], []),
        (["aarch64-*"], [], BUSY),
    ],
)
def test_uv_catalog_selects_archives_by_triple(
    platforms: list[str], paths: list[str], busy: list[str]
) -> None:
    """The archives of the triples the globs select (none: all), below ``uv/<version>``; never a
    sidecar, installer or source tarball; an archive still uploading is in progress."""
    catalog = uv_catalog([RELEASE], platforms=platforms)
    assert [a.path for a in catalog.assets] == paths
    assert all(isinstance(a.parsed, UvArchive) and a.kind == "uv" for a in catalog.assets)
    assert all(release_dir(p) == "uv/0.9.28" for p in paths)
    assert sorted(catalog.sidecars) == [
        "uv/0.9.28/uv-x86_64-pc-windows-msvc.zip",
        "uv/0.9.28/uv-x86_64-unknown-linux-gnu.tar.gz",
    ]
    assert list(catalog.in_progress) == busy


def test_an_archive_without_any_sha256_is_named_and_never_fetched() -> None:
    """A uv archive whose checksum could not be resolved is refused with a reason naming it."""
    catalog = uv_catalog([RELEASE], platforms=[])
    reasons = unpublished_checksums(catalog.assets)
    assert sorted(reasons) == [
        "uv/0.9.28/uv-x86_64-pc-windows-msvc.zip",
        "uv/0.9.28/uv-x86_64-unknown-linux-gnu.tar.gz",
        "uv/0.9.28/uv-x86_64-unknown-linux-musl.tar.gz",
    ]
    assert (
        "uv-x86_64-pc-windows-msvc.zip.sha256" in reasons["uv/0.9.28/uv-x86_64-pc-windows-msvc.zip"]
    )


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (None, None),
        (
            "https://releases.astral.sh/github/python-build-standalone/releases/download",
            "https://releases.astral.sh/github/uv/releases/download",
        ),
        (
            "https://cdn.example/github/python-build-standalone/releases/download/",
            "https://cdn.example/github/uv/releases/download",
        ),
        ("https://pbs.campus.example/mirror", None),
    ],
)
def test_uv_download_base(base: str | None, expected: str | None) -> None:
    """uv's archives come from beside the Pythons' base when it has GitHub's layout; else from
    their own URLs."""
    assert uv_download_base(base) == expected


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (
            "https://releases.astral.sh/github/versions/main/v1/python-build-standalone.ndjson",
            "https://releases.astral.sh/github/versions/main/v1/uv.ndjson",
        ),
        ("http://127.0.0.1:8080/index.ndjson?x=1", "http://127.0.0.1:8080/uv.ndjson"),
    ],
)
def test_uv_index_url_is_beside_the_python_index(index: str, expected: str) -> None:
    """Astral's uv index is the Python index's sibling ``uv.ndjson``."""
    assert uv_index_url(index) == expected


def test_the_real_uv_index_excerpt_reads_into_versions_and_archives() -> None:
    """Each line of Astral's real uv.ndjson gives release tag = the version and archive names
    that parse, with the listed sha256 as digest."""
    lines = EXCERPT.read_bytes().splitlines()
    assert len(lines) == 3
    releases: dict[str, list[UpstreamAsset]] = {}
    for line in lines:
        for tag, asset in artifacts_of_line(line):
            releases.setdefault(tag, []).append(asset)
    assert sorted(releases) == ["0.5.25", "0.9.27", "0.9.28"]
    catalog = uv_catalog(
        [Release(tag=t, assets=tuple(a)) for t, a in releases.items()], platforms=[]
    )
    assert len(catalog.assets) == 12
    assert all(a.upstream.digest for a in catalog.assets)
    assert "uv/0.9.28/uv-x86_64-pc-windows-msvc.zip" in {a.path for a in catalog.assets}
