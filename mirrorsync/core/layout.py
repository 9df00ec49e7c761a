"""Where things live below a mirror root, and which paths from upstream may go there (pure)."""

from __future__ import annotations

import re

from mirrorsync.errors import UnsafeName

STATE_DIR = ".mirrorsync"
"""Below the root: the state of mirrorsync itself (lock, staging, caches, status), never for
clients."""
LOCK_PATH = f"{STATE_DIR}/lock"
"""The lock a run holds for its whole length (a file on disk, an object in a bucket)."""
STAGING_DIR = "staging"
"""Below the state directory: partial downloads until they are verified."""
QUARANTINE_DIR = "quarantine"
"""Below the state directory: files ``verify --repair`` moved aside, one directory per repair."""
PART_SUFFIX = ".part"
"""What a partial download in the staging area is named: ``<name>.part``."""
MAX_COMPONENT = 255 - len(PART_SUFFIX)
"""A path part must leave room for the staging suffix within the usual 255-byte file-name limit."""


_CONTROL = re.compile("[\x00-\x1f\x7f]")
"""ASCII control characters (one regular-expression scan, for a path ``_PLAIN`` did not take)."""
_PART = rf"(?!\.\.?(?:/|\Z))[^\x00-\x1f\x7f\\/]{{1,{MAX_COMPONENT}}}"
_PLAIN = re.compile(rf"(?!.:)(?!{re.escape(STATE_DIR)}(?:/|\Z)){_PART}(?:/{_PART})*", re.DOTALL)
"""An ASCII path ``check_relpath`` accepts, in one match: parts of 1 to ``MAX_COMPONENT``
characters (bytes, in ASCII) with no control character, backslash or slash, none ``.`` or
``..``, no drive letter, not below the state directory."""


def check_relpath(path: str) -> None:
    """Accept only ``part/part`` paths that stay inside the root; raise ``UnsafeName`` else."""
    if path.isascii() and _PLAIN.fullmatch(path) is not None:
        return  # the common case, a few times per file of a whole-history verify: one match
    check_relpath_slowly(path)


def check_relpath_slowly(path: str) -> None:
    """``check_relpath`` rule by rule, each failure with its own sentence."""
    if not path:
        raise UnsafeName(path, "empty path")
    if _CONTROL.search(path) is not None:
        raise UnsafeName(path, f"control character in {path!r}")
    if "\\" in path:
        raise UnsafeName(path, f"backslash in {path!r}")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UnsafeName(path, f"absolute path {path!r}")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise UnsafeName(path, f"path part {part!r} in {path!r}")
        if len(part.encode("utf-8")) > MAX_COMPONENT:
            raise UnsafeName(path, f"a part of {path!r} is longer than {MAX_COMPONENT} bytes")
    if path.split("/", 1)[0] == STATE_DIR:
        raise UnsafeName(path, f"{path!r} is inside the state directory")


INDEX_PATH = "index.json"
"""The manifest at the root: every file mirrorsync manages."""
SUMS_NAME = "SHA256SUMS"
"""The checksum list of a release: ``<tag>/SHA256SUMS`` upstream and in the mirror alike."""
PAGE_NAME = "index.html"
"""The HTML page of the root and of each release directory."""
UV_METADATA = "download-metadata.json"
UV_METADATA_MIRROR = "download-metadata.mirror.json"
USE_MIRROR_SH = "use-mirror.sh"
USE_MIRROR_PS1 = "use-mirror.ps1"
README_TXT = "README.txt"
FLAT_DIR = "flat"
ASTRAL_DIR = "github"
"""The top of ``github/python-build-standalone/releases/download``, the Astral-layout link."""
UV_DIR = "uv"
"""Below the root: the uv archives of ``bundle.uv``, ``uv/<version>/<archive>``."""
ASTRAL_LINK = f"{ASTRAL_DIR}/python-build-standalone/releases/download"
"""The Astral-layout link itself (to ``../../..``, the root), for ``UV_ASTRAL_MIRROR_URL``."""
VERIFY_MIRROR_SH = "verify-mirror.sh"
VERIFY_MIRROR_PS1 = "verify-mirror.ps1"

CLIENT_ROOT_FILES = frozenset(
    {
        PAGE_NAME,
        UV_METADATA,
        UV_METADATA_MIRROR,
        USE_MIRROR_SH,
        USE_MIRROR_PS1,
        VERIFY_MIRROR_SH,
        VERIFY_MIRROR_PS1,
        README_TXT,
    }
)
"""Files for clients that mirrorsync may write at the root."""
CLIENT_LAYOUTS = frozenset({FLAT_DIR, ASTRAL_DIR})
"""Root directories made of links into the releases (never walked: ``github/`` loops)."""
RESERVED_ROOT_NAMES = frozenset(
    {STATE_DIR, INDEX_PATH, UV_DIR, *CLIENT_ROOT_FILES, *CLIENT_LAYOUTS}
)
"""Names at the root that mirrorsync itself writes: never a release's directory."""


UV_VERSION = re.compile(r"(?:0|[1-9][0-9]{0,5})(?:\.(?:0|[1-9][0-9]{0,5})){2}")
"""A uv version as ``bundle.uv`` names it and as its directory is named: ``X.Y.Z`` (digits only,
no leading zeros): a safe directory name by construction."""


def release_dir(path: str) -> str | None:
    """The release directory of a file path the mirror manages, or None when the path has
    neither shape: ``<tag>/<name>`` (a python-build-standalone release) or
    ``uv/<version>/<name>`` (a uv version of ``bundle.uv``)."""
    parts = path.split("/")
    if len(parts) == 2:  # noqa: PLR2004 - <tag>/<name>
        return parts[0] if parts[0] != UV_DIR else None
    if len(parts) == 3 and parts[0] == UV_DIR and UV_VERSION.fullmatch(parts[1]):  # noqa: PLR2004
        return f"{parts[0]}/{parts[1]}"
    return None
