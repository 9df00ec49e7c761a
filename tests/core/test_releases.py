"""``distinct_releases``: each release and each file once, however often a listing shows them."""

from __future__ import annotations

from mirrorsync.core.model import Release, UpstreamAsset
from mirrorsync.core.releases import distinct_releases


def asset(name: str) -> UpstreamAsset:
    return UpstreamAsset(name=name, size=1, url=f"https://example.invalid/{name}")


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
    one, again = asset("x.tar.gz"), UpstreamAsset(name="x.tar.gz", size=2, url="u")
    kept, repeats = distinct_releases([Release(tag="20250101", id=1, assets=(one, again))])
    assert kept[0].assets == (one,)
    assert repeats == ["20250101/x.tar.gz"]


def test_distinct_listings_pass_unchanged() -> None:
    """Releases without repeats come back as they are, in order, with nothing reported."""
    releases = [Release(tag=f"2025010{i}", id=i) for i in range(1, 4)]
    assert distinct_releases(releases) == (releases, [])
