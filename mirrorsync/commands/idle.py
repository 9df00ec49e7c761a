"""The idle-run shortcut of ``sync`` (the decision and its proof: ``core.idle``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mirrorsync.commands.records import GENERATOR, Ledger
from mirrorsync.config.records import Config
from mirrorsync.core.idle import (
    IdleProof,
    config_fingerprint,
    idle_reason,
    parse_proof,
    render_proof,
)
from mirrorsync.targets.base import Target
from mirrorsync.targets.files import write_atomic
from mirrorsync.upstream.source import ReleaseSource

log = logging.getLogger(__name__)

PROOF_PATH = "idle.json"
"""Below the state directory: the proof the last successful run left (``core.idle``)."""


@dataclass(slots=True)
class IdleCheck:
    """Takes the last run's proof, tells whether this run may skip its work, leaves a new one.

    What the source and the target can prove is theirs to say (``unchanged_listing`` and
    ``cached_listing`` of the ``ReleaseSource``, ``idle_signature`` of the ``Target``): a source
    or a target that cannot tell answers None, and every run plans."""

    cfg: Config
    tree: Target
    source: ReleaseSource

    @property
    def _eligible(self) -> bool:
        """Nothing read from outside the source's listing: no uv download list
        (``select.uv_metadata``), no uv bundle (``bundle.uv``: another listing)."""
        return self.cfg.select.uv_metadata is None and not self.cfg.bundle.uv

    @property
    def _path(self) -> Path:
        return self.tree.state_dir / PROOF_PATH

    def _fingerprint(self) -> str:
        return config_fingerprint(repr(self.cfg), generator=GENERATOR)

    async def take(self, *, last_status: str | None) -> IdleProof | None:
        """The last run's proof when this run may skip its work, else None.

        The proof stays where it is (removing it would change nothing: anything a later run
        changes no longer matches it, and it is replaced after every success). The listing is
        asked before the target: a new release (the common change) costs the target nothing.
        """
        if not self._eligible:
            return None
        try:
            proof = parse_proof(self._path.read_bytes())
        except OSError:
            return None
        config = self._fingerprint()
        listing = tree = None
        if proof is not None and proof.config == config and last_status == "success":
            listing = await self.source.unchanged_listing()
            if listing is not None and listing == proof.listing:
                tree = await self.tree.idle_signature()
        reason = idle_reason(
            proof, last_status=last_status, config=config, listing=listing, tree=tree
        )
        if reason is not None:
            log.debug("planning the run: %s", reason)
            return None
        log.info("nothing changed upstream or in the tree since the last run: nothing to do")
        return proof

    async def leave(self, proof: IdleProof | None = None, *, ledger: Ledger | None = None) -> None:
        """Write ``proof``, or one for the run that just succeeded with ``ledger``; a proof that
        cannot be made or written only costs the next run its shortcut."""
        if not self._eligible:
            return
        if proof is None:
            digest = self.source.cached_listing()
            tree = await self.tree.idle_signature() if digest is not None else None
            if ledger is None or digest is None or tree is None:
                return
            proof = IdleProof(
                config=self._fingerprint(),
                listing=digest,
                tree=tree,
                files=len(ledger.entries),
                size=sum(e.size for e in ledger.entries.values()),
                client_files=ledger.client_fingerprint,
                notes=tuple(ledger.notes),
            )
        try:
            write_atomic(self._path, render_proof(proof))
        except OSError as e:
            log.debug("cannot write %s: %s", PROOF_PATH, e)
