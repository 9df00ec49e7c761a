"""``releases_from_index``: another mirror's ``index.json`` entries as releases (pure)."""

from __future__ import annotations

from mirrorsync.core.model import IndexEntry
from mirrorsync.core.releases import releases_from_index

SHA_A = "a" * 64
SHA_B = "b" * 64
NAME_1 = "cpython-3.12.4+20240713-x86_64-unknown-linux-gnu-install_only.tar.gz"
NAME_2 = "cpython-3.8.1-x86_64-unknown-linux-gnu-pgo-20200118T0014.tar.zst"


def entry(path: str, sha: str, *, verified: bool = True, uid: int | None = None) -> IndexEntry:
    return IndexEntry(
        path=path,
        size=len(path),
        sha256=sha,
        verified=verified,
        python="3",
        platform="x",
        flavor="full",
        build="",
        variant="default",
        linkage=None,
        upstream_id=uid,
        upstream_updated_at="2024-07-13T21:34:01Z" if uid else None,
    )


def test_entries_become_releases_by_tag_with_digests_and_urls() -> None:
    """Each ``<tag>/<name>`` is an asset of release ``tag``: its sha256 the digest, its
    verified flag and upstream identity carried over, its URL from ``url_of``."""
    entries = {
        e.path: e
        for e in (
            entry(f"20240713/{NAME_1}", SHA_A, uid=7),
            entry(f"20200118/{NAME_2}", SHA_B, verified=False),
        )
    }
    releases = releases_from_index(entries, url_of=lambda t, n: f"U/{t}/{n}")
    assert [r.tag for r in releases] == ["20200118", "20240713"]
    old, new = releases
    (a,) = new.assets
    assert (a.name, a.digest, a.size, a.url, a.verified, a.id) == (
        NAME_1,
        SHA_A,
        len(f"20240713/{NAME_1}"),
        f"U/20240713/{NAME_1}",
        True,
        7,
    )
    (b,) = old.assets
    assert (b.digest, b.verified, b.id, b.updated_at) == (SHA_B, False, None, None)
    assert not new.draft
    assert not new.prerelease
    assert a.local_path is None


def test_a_local_root_makes_files_to_copy() -> None:
    """With ``local_root`` each asset names the file to copy below it (a local upstream)."""
    entries = {f"20240713/{NAME_1}": entry(f"20240713/{NAME_1}", SHA_A)}
    (release,) = releases_from_index(entries, url_of="U/{}/{}".format, local_root="/media/d")
    assert release.assets[0].local_path == f"/media/d/20240713/{NAME_1}"


def test_an_empty_index_lists_nothing() -> None:
    """An index without files gives no releases (the planner refuses an empty listing)."""
    assert releases_from_index({}, url_of="{}/{}".format) == []
