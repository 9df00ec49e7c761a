"""``verify --repair``'s middle step: set aside what a sync must rebuild, over the ``Target`` seam.

The whole repair is verify, ``prepare_repair``, a sync, verify again (``cli`` runs the four);
this step is the same for a directory and a bucket.
"""

from __future__ import annotations

import json
from datetime import datetime

from mirrorsync.commands.verify import VerifyReport
from mirrorsync.core.layout import INDEX_PATH
from mirrorsync.core.manifest import parse_index, render_index
from mirrorsync.core.units import compact_timestamp
from mirrorsync.targets.base import Target


async def prepare_repair(
    target: Target, report: VerifyReport, *, now: datetime, generator: str
) -> list[str]:
    """Set aside what a sync must rebuild; returns what was done, one line per action.

    Under the mirror's lock: damaged files (wrong size or sha256) move below
    ``.mirrorsync/quarantine/<stamp>/``, never deleted; wrong ``SHA256SUMS`` go (a sync rewrites
    them from the index); leftovers of killed runs go. Unlisted files stay: they may be the
    operator's. A sync refetches what its target no longer presents; where a target trusts its
    index instead of looking (a bucket), the entries of missing and damaged files also leave
    ``index.json``, or no sync would ever fetch them again.
    """
    actions: list[str] = []
    stamp = compact_timestamp(now)  # <state>/quarantine/<stamp>/: one directory per repair
    bad = {p.path for p in report.problems if p.kind in ("missing", "size", "sha256")}
    async with target.connect():
        await target.prepare()
        async with target.lock(now=now):
            for problem in report.problems:
                if problem.kind in ("size", "sha256") and problem.path != INDEX_PATH:
                    moved = await target.quarantine(problem.path, stamp=stamp)
                    if moved is not None:
                        actions.append(f"quarantined {problem.path} as {moved}")
                elif problem.kind == "sums":
                    await target.delete(problem.path)
                    actions.append(f"removed {problem.path} (it is rewritten from the index)")
                elif problem.kind == "leftover" and await target.remove_leftover(problem.path):
                    actions.append(f"removed leftover {problem.path}")
            if dropped := await _forget_trusted(target, bad, now=now, generator=generator):
                actions.append(f"dropped {dropped} entr(ies) from index.json to fetch them again")
    return actions


async def _forget_trusted(target: Target, bad: set[str], *, now: datetime, generator: str) -> int:
    """Drop from ``index.json`` the bad entries the target would still present; how many."""
    data = await target.read(INDEX_PATH) if bad else None
    if data is None:
        return 0
    entries = parse_index(data)
    trusted = await target.present({p: e for p, e in entries.items() if p in bad})
    if not trusted:
        return 0
    doc = json.loads(data)
    upstream = doc.get("upstream") if isinstance(doc.get("upstream"), dict) else {}
    kept = [e for e in entries.values() if e.path not in trusted]
    index = render_index(kept, generator=generator, now=now, upstream=upstream)
    await target.write(INDEX_PATH, index)
    return len(trusted)
