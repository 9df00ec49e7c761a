"""Deterministic asset bodies of any size, generated block by block, never held whole.

A body is a sequence of 1 MiB blocks. Every block is the same pseudo-random 1 MiB base block with
its first 16 bytes replaced by (an 8-byte key derived from the asset name, the block number), so
no two blocks of any two assets are equal, yet producing a block costs one memory copy. The
sha256 of a body is computed once, by streaming it, when the upstream is populated.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

BLOCK = 1 << 20
HEADER = 16
_SEED = b"mirrorsync-benchmark-content"


@functools.cache
def base_block() -> bytes:
    """The shared 1 MiB of pseudo-random bytes that every block is made from."""
    return hashlib.shake_256(_SEED).digest(BLOCK)


def _key(name: str) -> bytes:
    return hashlib.sha256(name.encode("utf-8")).digest()[:8]


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedBody:
    """The body of one generated asset: ``size`` bytes determined by ``name``."""

    name: str
    size: int

    def block(self, index: int) -> bytes:
        """Block ``index`` (the last one is cut to the body's size)."""
        header = _key(self.name) + index.to_bytes(8, "big")
        length = min(BLOCK, self.size - index * BLOCK)
        if length <= HEADER:
            return header[:length]
        return header + base_block()[HEADER:length]

    def chunks(self, start: int, stop: int, *, chunk: int = BLOCK) -> Iterator[bytes]:
        """The bytes ``[start, stop)`` in pieces of at most ``chunk`` bytes."""
        stop = min(stop, self.size)
        position = start
        while position < stop:
            index, offset = divmod(position, BLOCK)
            data = self.block(index)
            end = min(len(data), offset + chunk, stop - index * BLOCK)
            yield data if offset == 0 and end == len(data) else data[offset:end]
            position += end - offset

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for index in range(-(-self.size // BLOCK)):
            digest.update(self.block(index))
        return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredBody:
    """A body held in memory (``SHA256SUMS``, or a fixture's bytes), served the same way."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self, start: int, stop: int, *, chunk: int = BLOCK) -> Iterator[bytes]:
        stop = min(stop, len(self.data))
        for position in range(start, stop, chunk):
            yield self.data[position : min(position + chunk, stop)]


Body = GeneratedBody | StoredBody
