"""The seam for where the release listing comes from (``upstream.source``: GitHub, or another
mirrorsync mirror)."""

from __future__ import annotations

from typing import Protocol

from mirrorsync.core.model import Release, UpstreamAsset


class ReleaseSource(Protocol):
    """Enumerates upstream releases and reads their small files (checksum lists, sidecars)."""

    description: str
    """A short human description for logs and the manifest, e.g. ``github:owner/repo``."""

    async def list_releases(self) -> list[Release]:
        """Every release upstream has, in any order; raises ``UpstreamError`` on failure."""
        ...

    async def read_small(self, asset: UpstreamAsset, *, limit: int) -> bytes:
        """The whole body of a small file (at most ``limit`` bytes); ``UpstreamError`` else."""
        ...
