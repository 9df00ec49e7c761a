"""``verify --repair``'s middle step: set aside what a sync must rebuild, over the ``Target`` seam.

The whole repair is verify, ``prepare_repair``, a sync, verify again (``cli`` runs the four);
this step is the same for a directory and a bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from mirrorsync.commands.verify import Problem, VerifyReport
from mirrorsync.core.layout import INDEX_PATH, SUMS_NAME
from mirrorsync.core.manifest import parse_index, render_index
from mirrorsync.core.model import Plan
from mirrorsync.core.units import compact_timestamp
from mirrorsync.errors import StateError
from mirrorsync.targets.base import Target

DAMAGE = ("size", "sha256")
"""Problems of a file's bytes (or of its record): what a repair sets aside and fetches again."""
LOST = ("missing", *DAMAGE)


def upstream_records(plan: Plan) -> dict[str, tuple[int, str]]:
    """(size, sha256) upstream publishes for each selected path whose sha256 and size are known
    (a size upstream does not list cannot vouch for a file: such a file is fetched again)."""
    records = {
        a.path: (a.size, a.sha256)
        for a in plan.fetch
        if a.sha256 is not None and a.size is not None
    }
    records |= {e.path: (e.size, e.sha256) for e in plan.keep if e.path not in records}
    return records


async def prepare_repair(
    target: Target,
    report: VerifyReport,
    *,
    now: datetime,
    generator: str,
    upstream: Mapping[str, tuple[int, str]] | None = None,
) -> list[str]:
    """Set aside what a sync must rebuild; returns what was done, one line per action.

    Under the mirror's lock: damaged files (wrong size or sha256) move below
    ``.mirrorsync/quarantine/<stamp>/``, never deleted; wrong ``SHA256SUMS`` go (a sync rewrites
    them from the index); leftovers of killed runs go. Unlisted files stay: they may be the
    operator's. The entries of missing and damaged files leave ``index.json``, so the sync fetches
    them as new files: a bucket trusts its index instead of looking (without this no sync would
    ever fetch them again), and a directory would otherwise have the sync warn that a file the
    repair set aside is "listed in the index but missing". A damaged file is named once, as set
    aside; a missing one by the planning run (a directory's "listed in the index but missing").

    A file whose bytes are what ``upstream`` publishes (path -> size, sha256) is good: only its
    record in ``index.json`` is wrong. It is never quarantined; its entry leaves the index, and
    the sync adopts the file in place with the right record.
    """
    actions: list[str] = []
    stamp = compact_timestamp(now)  # <state>/quarantine/<stamp>/: one directory per repair
    bad = {p.path for p in report.problems if p.kind in LOST}
    records_only: set[str] = set()
    async with target.connect():
        await target.prepare()
        async with target.lock(now=now):
            for problem in report.problems:
                if problem.kind in DAMAGE and problem.path != INDEX_PATH:
                    expected = (upstream or {}).get(problem.path)
                    if expected is not None and await target.hash(problem.path) == expected:
                        records_only.add(problem.path)
                        actions.append(f"kept {problem.path}: it matches upstream; re-recorded")
                        continue
                    moved = await target.quarantine(problem.path, stamp=stamp)
                    if moved is not None:
                        actions.append(
                            f"quarantined {problem.path} as {moved} (damaged: {problem.detail});"
                            " fetching it again"
                        )
                elif problem.kind == "sums":
                    await target.delete(problem.path)
                    actions.append(f"removed {problem.path} (it is rewritten from the index)")
                elif problem.kind == "leftover" and await target.remove_leftover(problem.path):
                    actions.append(f"removed leftover {problem.path}")
            await _forget(target, bad, now=now, generator=generator)  # records_only too
    return actions


async def unrepaired(
    target: Target, report: VerifyReport, *, failed: Mapping[str, str]
) -> list[Problem]:
    """The files the repair set out to restore that the mirror still lacks, as problems.

    A damaged file moved to quarantine whose re-download failed (or that upstream no longer
    has) is gone from the tree and from the new index: verify alone would find nothing wrong,
    and a repair that could not complete must not say "ok".
    """
    wanted = sorted({p.path for p in report.problems if p.kind in LOST} - {INDEX_PATH})
    if not wanted:
        return []
    async with target.connect():
        data = await target.read(INDEX_PATH, fresh=True)
    try:
        listed = parse_index(data) if data is not None else {}
    except StateError:
        listed = {}
    return [
        Problem(
            path=path,
            kind="missing",
            detail="set aside for repair but not fetched again: "
            + failed.get(path, "upstream no longer offers it (or it is no longer selected)"),
        )
        for path in wanted
        if path not in listed
    ]


async def _forget(target: Target, paths: set[str], *, now: datetime, generator: str) -> None:
    """Drop the entries of ``paths`` from ``index.json`` (missing, damaged, or good files with a
    wrong record), and their releases' ``SHA256SUMS``: the sync fetches or adopts them afresh
    and rewrites those lists. Asking the target which it still
    presents would only have a directory warn about files the repair itself set aside."""
    data = await target.read(INDEX_PATH) if paths else None
    if data is None:
        return
    entries = parse_index(data)
    if not paths & entries.keys():
        return
    doc = json.loads(data)
    upstream = doc.get("upstream") if isinstance(doc.get("upstream"), dict) else {}
    kept = [e for e in entries.values() if e.path not in paths]
    index = render_index(kept, generator=generator, now=now, upstream=upstream)
    await target.write(INDEX_PATH, index)
    # Their releases' SHA256SUMS would list files the index no longer does (for good, when a
    # file cannot be fetched again): the sync restores each from the index.
    for tag in sorted({entries[p].tag for p in paths & entries.keys()}):
        await target.delete(f"{tag}/{SUMS_NAME}")
