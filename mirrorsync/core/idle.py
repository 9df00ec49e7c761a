"""When a run may skip its work: the proof a successful run leaves, and the decision (pure).

A run that would find nothing to do still lists upstream, parses every release and asset name,
reads the whole ``index.json``, stats every file and diffs them: for a whole history that is
seconds and a hundred megabytes, spent to learn that nothing changed. A run that ends with
``success`` therefore leaves an ``IdleProof`` in the (local) state directory: a digest of the
listing it planned from (every page's URL, ETag and the fields read of it), a signature of the
target as the run left it, and a fingerprint of the configuration and the program. The next
``sync``, when the last run recorded ``success`` and the configuration is the same, asks
upstream for every page conditionally without parsing it, then (the listing unchanged) takes the
target's signature, and when all three match (``idle_reason`` gives None) it records a
successful run with the same figures and does nothing else.

Who proves what is a capability of each seam, answered by each kind, never asked by kind: the
``ReleaseSource``'s ``unchanged_listing``/``cached_listing`` (the GitHub API's pages; a download
base delegates to its GitHub listing; an NDJSON index or another mirror's ``index.json`` cannot
be confirmed without reading it, and says None) and the ``Target``'s ``idle_signature``:

- a directory: ``tree_digest`` of path, size, mtime and inode of every file and link below the
  root, ``.mirrorsync/`` excepted but for its staging area (``index.json``, the ``SHA256SUMS``,
  the archives, the client files, partial downloads);
- a bucket: ``bucket_digest`` of its ``index.json``'s ETag (one HEAD) and the ``tree_digest`` of
  what the state directory keeps of the bucket (the copies of its small files and their record,
  ``targets.s3.known``, and the staging area). That is all a plan reads of a bucket: it trusts
  ``index.json`` for the archives (no listing, no HEAD per object) and this machine's copies of
  the small files while ``index.json`` keeps the ETag they were kept with. A HEAD that shows
  another ETag than the one this machine knows gives None (the plan would relearn the small
  files). After a run, the ETag is the one the bucket gave that run for its GET or PUT of
  ``index.json`` (the lock held meanwhile: no other run wrote it); one changed by hand since
  only costs the next run its shortcut.

Why every guarantee holds: the plan is a function of the listing's fields read, the checksum
files (tied to the listing by their asset's id, update time and size), the configuration and
what it reads of the target (a directory: the index and the size of each file; a bucket: the
index and the copies of its small files). With all of them unchanged since a run that ended
``success`` (nothing failed, nothing unverifiable skipped, no prune refused), the plan fetches
nothing, prunes nothing it did not prune then, and writes no index: exactly what skipping it
does. In a directory, a file deleted, truncated, replaced or added by hand changes its size,
mtime or inode, or its directory's listing: the digest differs and the run plans as usual. In a
bucket, another ``index.json`` (another machine's run, a hand edit) changes its ETag, and lost
or edited local copies change their stat; an object deleted or replaced in the bucket by hand
(an archive, or a small file this machine keeps a copy of) is noticed by neither the shortcut
nor a planned run (both trust the index and the copies: ``verify`` finds a missing or damaged
archive or ``SHA256SUMS``, ``verify --repair`` restores it). A run that stopped or failed in
between recorded another status (the shortcut needs ``success``), and whatever it changed (pages
cached, files or partial downloads written) no longer matches the proof; a run that succeeded
wrote a new one. What is not covered disables the shortcut: a uv download list
(``select.uv_metadata``) or a uv bundle (``bundle.uv``: another listing), sources that cannot
confirm their listing unread. ``plan`` never takes it: it prints every file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleProof:
    """What a successful run leaves for the next one: digests, and the figures it recorded."""

    config: str
    """``config_fingerprint`` of the run's configuration and program."""
    listing: str
    """``listing_digest`` of the pages it planned from."""
    tree: str
    """``tree_digest`` of the tree as it left it."""
    files: int
    """Files the mirror holds (status.json's ``files``)."""
    size: int
    """Their bytes (status.json's ``size``)."""
    client_files: str | None = None
    """The client files' fingerprint recorded in status.json."""
    notes: tuple[str, ...] = ()
    """status.json's ``notes``: what the run leaves out on this target and why."""


def config_fingerprint(config: str, *, generator: str) -> str:
    """A digest of the configuration's ``repr`` and the program that runs it."""
    return hashlib.sha256(f"{config}\n{generator}".encode()).hexdigest()


def listing_digest(pages: Iterable[tuple[str, str, str]]) -> str:
    """A digest of a listing read page by page: (URL, ETag, sha256 of the fields read)."""
    digest = hashlib.sha256()
    for url, etag, body in pages:
        digest.update(f"{url}\n{etag}\n{body}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def tree_digest(rows: Iterable[tuple[str, int, int, int]]) -> str:
    """A digest of (path, size, mtime in ns, inode) of every file and link of a tree, given in
    a fixed order (the walk's: consumed as it goes, never held)."""
    digest = hashlib.sha256()
    for path, size, mtime_ns, inode in rows:
        digest.update(f"{path}\0{size}\0{mtime_ns}\0{inode}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def bucket_digest(index_etag: str | None, state: str) -> str:
    """The signature of a mirror in a bucket: the ETag of its ``index.json`` (None: absent)
    and the ``tree_digest`` of what this machine keeps of the bucket."""
    index = "absent" if index_etag is None else f"etag {index_etag}"
    return hashlib.sha256(f"bucket\n{index}\n{state}\n".encode()).hexdigest()


def idle_reason(
    proof: IdleProof | None,
    *,
    last_status: str | None,
    config: str,
    listing: str | None,
    tree: str | None,
) -> str | None:
    """None when the run may skip its work; else why not (for the debug log).

    ``last_status`` is the status the last run recorded (the client pages show it: a run after
    one that did not succeed must plan, and refresh them); ``listing`` is None when a page
    changed (or could not be confirmed without parsing it), ``tree`` None when the target cannot
    tell.
    """
    if proof is None:
        return "no proof of an idle mirror from the last run"
    checks = (
        (last_status != "success", "the last run did not succeed"),
        (proof.config != config, "the configuration or the program changed"),
        (listing is None, "the upstream listing changed"),
        (listing != proof.listing, "the upstream listing is not the one the last run planned"),
        (tree is None, "the target cannot tell whether its tree changed"),
        (tree != proof.tree, "the tree changed since the last run"),
    )
    return next((reason for failed, reason in checks if failed), None)


def render_proof(proof: IdleProof) -> bytes:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "config": proof.config,
        "listing": proof.listing,
        "tree": proof.tree,
        "files": proof.files,
        "size": proof.size,
        "client_files": proof.client_files,
        "notes": list(proof.notes),
    }
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_proof(data: bytes) -> IdleProof | None:
    """The proof in ``data``; None when it is not one (a damaged proof only costs the shortcut)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None
    config, listing, tree = (doc.get(k) for k in ("config", "listing", "tree"))
    files, size = _count(doc.get("files")), _count(doc.get("size"))
    client, notes = doc.get("client_files"), doc.get("notes")
    valid = (
        isinstance(config, str)
        and isinstance(listing, str)
        and isinstance(tree, str)
        and files is not None
        and size is not None
        and (client is None or isinstance(client, str))
        and isinstance(notes, list)
        and all(isinstance(n, str) for n in notes)
    )
    if not valid:
        return None
    return IdleProof(
        config=str(config),
        listing=str(listing),
        tree=str(tree),
        files=files or 0,
        size=size or 0,
        client_files=client,
        notes=tuple(str(n) for n in notes or ()),
    )
