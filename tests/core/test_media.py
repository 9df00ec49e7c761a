"""The one table of content types and cache classes that ``serve`` and the S3 uploads share."""

from __future__ import annotations

import pytest

from mirrorsync.core.media import CACHE_CONTROL, CacheClass, cache_class, content_type

GZ = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz"
ZST = "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (f"20251217/{GZ}", "application/gzip"),
        (f"20251217/{ZST}", "application/zstd"),
        (GZ, "application/gzip"),  # a bare name: serve asks by name
        ("flat/archive.TAR.GZ", "application/gzip"),  # suffixes are case-insensitive
        ("bundle.zip", "application/zip"),
        ("20251217/SHA256SUMS", TEXT),
        ("SHA256SUMS", TEXT),
        (f"20251217/{GZ}.sha256", TEXT),
        ("index.json", "application/json"),
        ("download-metadata.mirror.json", "application/json"),
        ("20251217/index.html", HTML),
        ("docs/page.htm", HTML),
        ("README.txt", TEXT),
        ("use-mirror.sh", TEXT),
        ("use-mirror.ps1", TEXT),
        ("sha256sums", "application/octet-stream"),  # only the exact name is the checksum list
        (".json", "application/octet-stream"),  # a dot-file has no suffix
        ("archive.tar", "application/octet-stream"),
        ("name.", "application/octet-stream"),
        ("no-suffix", "application/octet-stream"),
    ],
)
def test_content_type(path: str, kind: str) -> None:
    """Every mirror file gets its fixed media type, never one implying a Content-Encoding."""
    assert content_type(path) == kind


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (f"20251217/{GZ}", CacheClass.IMMUTABLE),
        (f"20251217/{ZST}", CacheClass.IMMUTABLE),
        ("20251217/SHA256SUMS", CacheClass.REVALIDATE),
        ("20251217/index.html", CacheClass.REVALIDATE),
        (f"20251217/{GZ}.sha256", CacheClass.REVALIDATE),
        (GZ, CacheClass.REVALIDATE),  # not below a release
        (f"latest/20251217/{GZ}", CacheClass.REVALIDATE),  # deeper: not <tag>/<archive>
        ("uv/0.9.28/uv-x86_64-unknown-linux-gnu.tar.gz", CacheClass.IMMUTABLE),  # bundle.uv
        ("uv/0.9.28/uv-x86_64-pc-windows-msvc.zip", CacheClass.IMMUTABLE),
        ("uv/0.9.28/SHA256SUMS", CacheClass.REVALIDATE),
        ("uv/0.9.28/index.html", CacheClass.REVALIDATE),
        ("uv/latest/uv-x86_64-pc-windows-msvc.zip", CacheClass.REVALIDATE),  # not a version
        ("20251217/uv-x86_64-pc-windows-msvc.zip", CacheClass.REVALIDATE),
        ("index.json", CacheClass.REVALIDATE),
        ("download-metadata.json", CacheClass.REVALIDATE),
        ("use-mirror.sh", CacheClass.REVALIDATE),
    ],
)
def test_cache_class(path: str, kind: CacheClass) -> None:
    """Only <tag>/<archive> is immutable; indexes, sums, pages and client files revalidate."""
    assert cache_class(path) is kind


def test_cache_control_defaults() -> None:
    """Archives are cached for a year and never revalidated; everything else is revalidated."""
    assert CACHE_CONTROL == {
        CacheClass.IMMUTABLE: "public, max-age=31536000, immutable",
        CacheClass.REVALIDATE: "no-cache",
    }
