"""What a mirror file is served as: its ``Content-Type`` and its cache class (pure).

One table for every way a mirror reaches clients: ``serve`` and the S3 uploads both ask it. An
explicit table, because ``mimetypes`` varies with the host's files; and never a type that implies
a ``Content-Encoding``: a client would unpack a ``.tar.gz`` on the fly and its sha256 would no
longer match.

Two cache classes: ``<tag>/<archive>`` (and ``uv/<version>/<archive>``) is immutable (upstream
never changes a published name's bytes); everything else revalidates, because uv reuses an
uncached JSON list without asking (docs/clients.md §2.2). S3 lets the configuration replace both
headers (``target.cache_control``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from mirrorsync.core.layout import SUMS_NAME, UV_DIR, release_dir

TEXT: Final = "text/plain; charset=utf-8"
HTML: Final = "text/html; charset=utf-8"
FALLBACK_TYPE: Final = "application/octet-stream"
CONTENT_TYPES: Final = {
    ".gz": "application/gzip",
    ".zst": "application/zstd",
    ".zip": "application/zip",
    ".json": "application/json",
    ".html": HTML,
    ".htm": HTML,
    ".txt": TEXT,
    ".sh": TEXT,
    ".ps1": TEXT,
    ".sha256": TEXT,
}
"""By the name's last suffix, case-insensitive (``.tar.gz`` is ``.gz``: a gzip file)."""
NAMED_TYPES: Final = {SUMS_NAME: TEXT}
"""Whole names that have no suffix to go by."""
ARCHIVE_SUFFIXES: Final = (".tar.gz", ".tar.zst")
UV_SUFFIXES: Final = (".tar.gz", ".zip")
"""uv's archives (``bundle.uv``), below ``uv/<version>/``."""


class CacheClass(StrEnum):
    """How long a client or a CDN may keep a file without asking again."""

    IMMUTABLE = "immutable"
    """A release's archive: ``<tag>/<archive>``."""
    REVALIDATE = "revalidate"
    """Everything else: indexes, checksum lists, pages, client files."""


CACHE_CONTROL: Final = {
    CacheClass.IMMUTABLE: "public, max-age=31536000, immutable",
    CacheClass.REVALIDATE: "no-cache",
}
"""The default ``Cache-Control`` of each class."""


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _suffix(name: str) -> str:
    """The last suffix, as ``PurePath.suffix`` has it: none for ``.hidden`` or ``name.``."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return ""
    return name[dot:]


def content_type(path: str) -> str:
    """The ``Content-Type`` of a file (a ``/``-path or a bare name)."""
    name = _name(path)
    if name in NAMED_TYPES:
        return NAMED_TYPES[name]
    return CONTENT_TYPES.get(_suffix(name).lower(), FALLBACK_TYPE)


def is_archive(name: str) -> bool:
    """Whether a file name is a release archive's (``.tar.gz``, ``.tar.zst``)."""
    return name.endswith(ARCHIVE_SUFFIXES)


def cache_class(path: str) -> CacheClass:
    """``IMMUTABLE`` for ``<tag>/<archive>``, ``REVALIDATE`` for every other ``/``-path.

    Whether the first part is a release's tag is the caller's to know (``serve`` also sees
    directories of its operator's; the S3 target writes only releases there).
    """
    parts = path.split("/")
    if len(parts) == 2 and is_archive(parts[1]):  # noqa: PLR2004 - <tag>/<name>
        return CacheClass.IMMUTABLE
    if (release_dir(path) or "").startswith(f"{UV_DIR}/") and parts[-1].endswith(UV_SUFFIXES):
        return CacheClass.IMMUTABLE  # uv/<version>/<archive>: upstream never changes it either
    return CacheClass.REVALIDATE
