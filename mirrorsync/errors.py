"""The one exception tree of mirrorsync; each class carries the exit code it maps to.

::

    MirrorsyncError (1)
    ├── ConfigError (2)          the configuration file is missing, malformed or invalid
    ├── GuardRefused (2)         a safety guard refused to act (empty listing, prune too large)
    ├── LockHeld (3)             another run holds the mirror's lock
    ├── UpstreamError (1)        the upstream listing or a checksum file could not be fetched
    ├── TargetError (1)          the mirror tree cannot be written (disk full, permissions)
    ├── StateError (1)           a state file (index.json, status.json) is unreadable
    └── AssetError (1)           one asset failed; recorded in the report, never fatal to the run
        ├── DownloadError        transport failure after retries, or an HTTP error status
        ├── SizeMismatch         the body's size differs from the size upstream announced
        ├── ChecksumMismatch     the body's sha256 differs from the expected one
        └── UnsafeName           the name cannot be written safely inside the mirror root
    Interrupted (130)            SIGINT or SIGTERM; the tree is consistent

``InvalidAssetName`` (a ``ValueError``) is raised by the pure name parser; callers turn it into an
"unparsed" report entry, never into a failure.
"""

from __future__ import annotations

import errno
from typing import ClassVar


class MirrorsyncError(Exception):
    """Base of every error mirrorsync reports to its user."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class ConfigError(MirrorsyncError):
    """The configuration is invalid; ``problems`` lists every problem found, one line each."""

    exit_code = 2

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint=hint)


class GuardRefused(MirrorsyncError):
    """A safety guard refused to act: an empty listing, or a prune that would delete too much."""

    exit_code = 2


class LockHeld(MirrorsyncError):
    """Another run holds the mirror's lock."""

    exit_code = 3


class UpstreamError(MirrorsyncError):
    """The upstream listing (or a checksum file) could not be fetched after retries."""


class TargetError(MirrorsyncError):
    """The mirror tree could not be written."""

    def __init__(self, message: str, *, hint: str | None = None, disk_full: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.disk_full = disk_full
        """No space (or quota) was left: partial downloads may be dropped to make room."""

    @classmethod
    def from_os_error(cls, what: str, e: OSError) -> TargetError:
        """``<what> (<reason>)``, marked ``disk_full`` when it was."""
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        return cls(f"{what} ({describe_os_error(e)})", disk_full=full)


class StateError(MirrorsyncError):
    """A state file of the mirror is unreadable or malformed."""


class AssetError(MirrorsyncError):
    """One asset could not be mirrored; the run records it and goes on."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class DownloadError(AssetError):
    """The download failed after retries, or upstream answered with an error status."""


class SizeMismatch(AssetError):
    """The downloaded size differs from the size upstream announced."""

    def __init__(self, path: str, *, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(path, f"size mismatch: expected {expected} bytes, got {actual}")


class ChecksumMismatch(AssetError):
    """The downloaded bytes' sha256 differs from the expected one."""

    def __init__(self, path: str, *, expected: str, actual: str, source: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            path, f"sha256 mismatch: expected {expected} (from {source}), got {actual}"
        )


class UnsafeName(AssetError):
    """A name that would escape the mirror root or is otherwise unsafe to write."""


class Interrupted(MirrorsyncError):
    """The run was interrupted by SIGINT or SIGTERM."""

    exit_code = 130


class InvalidAssetName(ValueError):
    """Not a python-build-standalone archive name this version understands."""


def describe_os_error(e: OSError) -> str:
    """A short operator-facing reason for a file-system error."""
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    if e.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "read-only file system"
    return e.strerror or str(e)
