"""Turning listed releases into a catalog: each release and file once, each file filed by kind."""

from __future__ import annotations

import pytest
from selection_table import catalog_place

from mirrorsync.core.model import Release, UpstreamAsset
from mirrorsync.core.releases import build_catalog, distinct_releases

TAG = "20240713"
GOOD_C = f"cpython-3.12.4+{TAG}-aarch64-apple-darwin-install_only.tar.gz"
SIDECAR_TAG = "20240726"
SIDECAR = f"cpython-3.12.4+{SIDECAR_TAG}-aarch64-apple-darwin-install_only_stripped.tar.gz.sha256"
IOS = f"cpython-3.12.4+{TAG}-aarch64-apple-ios-install_only.tar.gz"


@pytest.mark.parametrize(
    ("name", "tag", "place"),
    [
        (GOOD_C, TAG, "asset"),  # era C archive
        ("cpython-3.7.3-linux64-20190618T0324.tar.zst", "20190617", "asset"),  # era A archive
        (GOOD_C, SIDECAR_TAG, "unparsed"),  # an era C name under another release's tag
        (SIDECAR, SIDECAR_TAG, "sidecar"),  # sidecar of a valid archive
        ("SHA256SUMS", TAG, "sums"),  # the literal checksum list
        ("sha256sums", TAG, "unparsed"),  # the literal is case-sensitive
        ("SHA256SUMS.sha256", TAG, "unparsed"),  # a sidecar of something that is not an archive
        ("SHA256SUMS.txt", TAG, "unparsed"),
        ("x.tar.gz.sha256", TAG, "unparsed"),  # sidecar of an unparsed name
        (".sha256", TAG, "unparsed"),
        (f"{GOOD_C}.sha256.sha256", TAG, "unparsed"),  # sidecar of a sidecar
        (f"{GOOD_C}.sha512", TAG, "unparsed"),
        (IOS, TAG, "unparsed"),  # a platform upstream never released
        (f"{IOS}.sha256", TAG, "unparsed"),
        ("index.html", TAG, "unparsed"),
        ("../SHA256SUMS", TAG, "unparsed"),
        ("", TAG, "unparsed"),
        ("\0", TAG, "unparsed"),
        ("x" * 10_000 + ".sha256", TAG, "unparsed"),
    ],
)
def test_catalog_files_each_release_file_by_its_kind(name: str, tag: str, place: str) -> None:
    """Archives, SHA256SUMS and sidecars of archives are sorted out; everything else is unparsed."""
    assert catalog_place(name, tag=tag) == place


def test_catalog_keys_sidecars_and_sums_by_what_they_describe() -> None:
    """A sidecar is filed under its archive's path, SHA256SUMS under its release's tag."""
    archive = SIDECAR.removesuffix(".sha256")
    files = [UpstreamAsset(name=n, size=1, link=n) for n in (archive, SIDECAR, "SHA256SUMS")]
    catalog = build_catalog([Release(tag=SIDECAR_TAG, assets=tuple(files))])
    assert [a.path for a in catalog.assets] == [f"{SIDECAR_TAG}/{archive}"]
    assert catalog.sidecars == {f"{SIDECAR_TAG}/{archive}": files[1]}
    assert catalog.sums == {SIDECAR_TAG: files[2]}


def test_catalog_holds_back_files_still_uploading() -> None:
    """A file whose upload is still open is listed as in progress and is neither asset nor sums."""
    files = [
        UpstreamAsset(name=GOOD_C, size=1, link=GOOD_C, state="open"),
        UpstreamAsset(name="SHA256SUMS", size=1, link="s", state="starter"),
    ]
    catalog = build_catalog([Release(tag=TAG, assets=tuple(files))])
    assert catalog.in_progress == (f"{TAG}/SHA256SUMS", f"{TAG}/{GOOD_C}")
    assert (catalog.assets, catalog.sums, catalog.unparsed) == ((), {}, ())


def asset(name: str) -> UpstreamAsset:
    return UpstreamAsset(name=name, size=1, link=f"https://example.invalid/{name}")


def test_a_release_listed_twice_is_kept_once() -> None:
    """The same release id on two pages: the first copy is kept, the repeat is reported."""
    a = Release(tag="20250101", id=1, assets=(asset("x.tar.gz"),))
    b = Release(tag="20250102", id=2)
    kept, repeats = distinct_releases([a, b, a])
    assert kept == [a, b]
    assert repeats == ["20250101"]


def test_a_tag_listed_twice_under_another_id_is_kept_once() -> None:
    """Two release objects with one tag would publish into one directory: the first wins."""
    first = Release(tag="20250101", id=1)
    kept, repeats = distinct_releases([first, Release(tag="20250101", id=9)])
    assert kept == [first]
    assert repeats == ["20250101"]


def test_a_file_listed_twice_in_a_release_is_kept_once() -> None:
    """Two assets of one name in a release: one download, the first asset object."""
    one, again = asset("x.tar.gz"), UpstreamAsset(name="x.tar.gz", size=2, link="u")
    kept, repeats = distinct_releases([Release(tag="20250101", id=1, assets=(one, again))])
    assert kept[0].assets == (one,)
    assert repeats == ["20250101/x.tar.gz"]


def test_distinct_listings_pass_unchanged() -> None:
    """Releases without repeats come back as they are, in order, with nothing reported."""
    releases = [Release(tag=f"2025010{i}", id=i) for i in range(1, 4)]
    assert distinct_releases(releases) == (releases, [])
