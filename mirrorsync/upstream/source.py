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

    # -- the idle-run proof (``core.idle``): None where the source cannot tell -------------------

    async def unchanged_listing(self) -> str | None:
        """The listing's ``core.idle.listing_digest`` when upstream confirms, without anything
        being parsed, that the listing is the one the state directory's cache holds; None as
        soon as a part of it changed, or where the source cannot confirm it cheaply."""
        ...

    def cached_listing(self) -> str | None:
        """The ``listing_digest`` of the listing as the cache holds it now (after a run that
        read it all): what ``unchanged_listing`` compares with; None where there is none."""
        ...


class UnprovenListing:
    """The idle-run capability of a source whose listing cannot be confirmed unchanged without
    reading it whole (an NDJSON index, another mirror's ``index.json``): every run plans."""

    async def unchanged_listing(self) -> str | None:
        return None

    def cached_listing(self) -> str | None:
        return None
