"""The idle-run shortcut of ``sync`` (the decision and its proof: ``core.idle``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
from mirrorsync.targets.local import LocalTree
from mirrorsync.targets.signature import tree_signature
from mirrorsync.upstream.github import DownloadBase, GitHubReleases
from mirrorsync.upstream.source import ReleaseSource

log = logging.getLogger(__name__)

PROOF_PATH = "idle.json"
"""Below the state directory: the proof the last successful run left (``core.idle``)."""


@dataclass(slots=True)
class IdleCheck:
    """Takes the last run's proof, tells whether this run may skip its work, leaves a new one."""

    cfg: Config
    tree: Target
    source: ReleaseSource

    @property
    def _listing(self) -> GitHubReleases | None:
        github = self.source.inner if isinstance(self.source, DownloadBase) else self.source
        return github if isinstance(github, GitHubReleases) else None

    @property
    def _eligible(self) -> bool:
        """A GitHub listing, a local tree, nothing read from outside that listing: no uv
        download list (``select.uv_metadata``), no uv bundle (``bundle.uv``: another listing)."""
        return (
            self._listing is not None
            and isinstance(self.tree, LocalTree)
            and self.cfg.select.uv_metadata is None
            and not self.cfg.bundle.uv
        )

    def _fingerprint(self) -> str:
        return config_fingerprint(repr(self.cfg), generator=GENERATOR)

    async def take(self, *, last_status: str | None) -> IdleProof | None:
        """The last run's proof when this run may skip its work, else None.

        The proof stays where it is (removing it would change nothing: anything a later run
        changes no longer matches it, and it is replaced after every success).
        """
        listing = self._listing
        if not self._eligible or listing is None or not isinstance(self.tree, LocalTree):
            return None
        try:
            proof = parse_proof((self.tree.state_dir / PROOF_PATH).read_bytes())
        except OSError:
            return None
        config = self._fingerprint()
        if proof is None or proof.config != config or last_status != "success":
            reason = idle_reason(
                proof, last_status=last_status, config=config, listing=None, tree=None
            )
        else:
            reason = idle_reason(
                proof,
                last_status=last_status,
                config=config,
                listing=await listing.unchanged_listing(),
                tree=await tree_signature(self.tree.root),
            )
        if reason is not None:
            log.debug("planning the run: %s", reason)
            return None
        log.info("nothing changed upstream or in the tree since the last run: nothing to do")
        return proof

    async def leave(self, proof: IdleProof | None = None, *, ledger: Ledger | None = None) -> None:
        """Write ``proof``, or one for the run that just succeeded with ``ledger``; a proof that
        cannot be made or written only costs the next run its shortcut."""
        listing = self._listing
        if not self._eligible or listing is None or not isinstance(self.tree, LocalTree):
            return
        if proof is None:
            digest, tree = listing.cached_listing(), await tree_signature(self.tree.root)
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
            write_atomic(self.tree.state_dir / PROOF_PATH, render_proof(proof))
        except OSError as e:
            log.debug("cannot write %s: %s", PROOF_PATH, e)
