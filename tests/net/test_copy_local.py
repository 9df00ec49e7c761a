"""``copy_local``: a local upstream mirror's file copied into staging, verified like a download."""

from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

import pytest
from pagecache import cached_pages, require_droppable

from mirrorsync.core.model import Asset, UpstreamAsset
from mirrorsync.core.names import parse_asset_name
from mirrorsync.errors import ChecksumMismatch, DownloadError, SizeMismatch
from mirrorsync.net.download import copy_local
from mirrorsync.net.threads import Cancel, Cancelled

NAME = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz"
BODY = bytes(range(256)) * 1000


def asset_from(path: Path, *, body: bytes = BODY) -> Asset:
    upstream = UpstreamAsset(name=NAME, size=len(body), link=path.as_uri(), local_path=str(path))
    return Asset(
        tag="20251217",
        parsed=parse_asset_name(NAME),
        upstream=upstream,
        sha256=hashlib.sha256(body).hexdigest(),
        sha256_source="digest",
    )


def test_a_good_file_is_staged_with_its_sha256(tmp_path: Path) -> None:
    """The copy holds the bytes, and its sha256 and size are reported; progress sees them all."""
    source = tmp_path / "disk" / NAME
    source.parent.mkdir()
    source.write_bytes(BODY)
    seen: list[int] = []
    staged = tmp_path / "staging" / NAME
    got = copy_local(asset_from(source), staged=staged, on_bytes=seen.append)
    assert staged.read_bytes() == BODY
    assert (got.sha256, got.size, sum(seen)) == (
        hashlib.sha256(BODY).hexdigest(),
        len(BODY),
        len(BODY),
    )


@pytest.mark.parametrize("drop", ["drop", "keep"])
def test_drop_cached_leaves_the_copy_out_of_the_page_cache(tmp_path: Path, drop: str) -> None:
    """With drop_cached the staged copy is on disk and none of its pages stay cached; without
    it they all do (the file is read back: a bucket uploads it)."""
    require_droppable(tmp_path)
    source = tmp_path / "disk" / NAME
    source.parent.mkdir()
    source.write_bytes(BODY)
    staged = tmp_path / "staging" / NAME
    copy_local(asset_from(source), staged=staged, drop_cached=drop == "drop")
    pages = -(-len(BODY) // mmap.PAGESIZE)
    assert cached_pages(staged) == (0 if drop == "drop" else pages)
    assert staged.read_bytes() == BODY


@pytest.mark.parametrize(
    ("on_disk", "error"),
    [(b"X" + BODY[1:], ChecksumMismatch), (BODY[:-1], SizeMismatch), (BODY + b"!", SizeMismatch)],
)
def test_a_wrong_file_is_refused_and_leaves_nothing(
    tmp_path: Path, on_disk: bytes, error: type[Exception]
) -> None:
    """A corrupt, short or long file raises the mismatch and leaves no staging file behind."""
    source = tmp_path / NAME
    source.write_bytes(on_disk)
    staged = tmp_path / "staging" / NAME
    with pytest.raises(error):
        copy_local(asset_from(source), staged=staged)
    assert not staged.exists()


def test_a_missing_file_is_a_download_error_naming_it(tmp_path: Path) -> None:
    """A listed file absent from the disk fails that asset, naming the file."""
    source = tmp_path / NAME
    with pytest.raises(DownloadError, match=str(tmp_path)):
        copy_local(asset_from(source), staged=tmp_path / "staging" / NAME)


def test_a_cancelled_copy_stops(tmp_path: Path) -> None:
    """A copy whose cancel is set (Ctrl-C) stops after the block in hand."""
    source = tmp_path / NAME
    source.write_bytes(BODY)
    cancel = Cancel()
    cancel.set()
    with pytest.raises(Cancelled):
        copy_local(asset_from(source), staged=tmp_path / "staging" / NAME, cancel=cancel)
