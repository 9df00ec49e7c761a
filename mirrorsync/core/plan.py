"""Diff the selected assets against what the mirror holds (fetch, keep, prune), and the guards
and outcome of acting on that plan."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from mirrorsync.config.records import PruneMax
from mirrorsync.core.manifest import is_current
from mirrorsync.core.model import Asset, IndexEntry, Plan
from mirrorsync.errors import GuardRefused

PRUNE_SAMPLE = 5
"""How many of the files a refused prune would delete its message names."""


def make_plan(
    selected: Iterable[Asset],
    published: Mapping[str, IndexEntry],
    *,
    unparsed: Iterable[str] = (),
    missing_tags: Iterable[str] = (),
    skipped_releases: Iterable[str] = (),
    uv_missing: Iterable[str] = (),
    in_progress: Iterable[str] = (),
) -> Plan:
    """``fetch`` + ``keep`` is exactly the selected set; ``prune`` is what is no longer selected.

    ``published`` holds the entries of the current index whose files are present.
    """
    fetch: list[Asset] = []
    keep: list[IndexEntry] = []
    wanted: set[str] = set()
    for asset in selected:
        path = asset.path
        entry = published.get(path)
        if entry is None:  # not published: nothing to keep or to spare from the prune
            fetch.append(asset)
            continue
        # Only published paths matter to the prune: a cold run holds no set of every path.
        wanted.add(path)
        if is_current(entry, asset):
            keep.append(entry)
        else:
            fetch.append(asset)
    # A file whose upstream asset is being re-uploaded is not "no longer selected".
    busy = set(in_progress)
    prune = [e for path, e in published.items() if path not in wanted and path not in busy]
    return Plan(
        fetch=tuple(sorted(fetch, key=lambda a: a.path)),
        keep=tuple(sorted(keep, key=lambda e: e.path)),
        prune=tuple(sorted(prune, key=lambda e: e.path)),
        unparsed=tuple(sorted(set(unparsed))),
        missing_tags=tuple(sorted(set(missing_tags))),
        skipped_releases=tuple(sorted(set(skipped_releases))),
        uv_missing=tuple(sorted(set(uv_missing))),
    )


def check_listing(releases: Collection[object], *, description: str) -> None:
    """``GuardRefused`` for an empty upstream listing: a mirror never acts on nothing."""
    if not releases:
        raise GuardRefused(
            f"the upstream listing of {description} is empty; refusing to act on it",
            hint="check upstream.repo and upstream.api_url",
        )


def plan_exit(plan: Plan) -> int:
    """The exit code of ``plan``: 1 when a tag named in ``releases.tags`` is missing, else 0."""
    return 1 if plan.missing_tags else 0


def prune_refusal(
    prune: Sequence[IndexEntry], *, total_files: int, prune_max: PruneMax
) -> str | None:
    """Why deleting ``prune`` from a mirror of ``total_files`` is refused, or None when allowed."""
    limit = prune_max.limit(total_files)
    if len(prune) <= limit:
        return None
    sample = ", ".join(e.path for e in prune[:PRUNE_SAMPLE])
    return (
        f"prune refused: it would delete {len(prune)} of {total_files} files, "
        f"more than prune_max allows ({limit}); e.g. {sample}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """How a run that fetched what it could ends: its exit code, its status, what it prunes."""

    exit_code: int
    status: str
    """``success``, ``partial`` (a file failed or a tag is missing) or ``refused`` (the guard)."""
    refused: str | None = None
    """Why the prune guard refused, when it did."""
    prune: tuple[IndexEntry, ...] = ()
    """The files to delete now (none unless the run is otherwise a success)."""


def settle(
    plan: Plan, *, failed: bool, prune: bool, prune_max: PruneMax, total_files: int
) -> Settlement:
    """The end of a run: prune only when nothing failed, nothing is missing and the guard allows.

    ``failed``: some file could not be fetched; ``prune``: the ``prune`` setting;
    ``total_files``: how many files the mirror holds before the prune.
    """
    if failed or plan.missing_tags:
        return Settlement(exit_code=1, status="partial")
    if not (prune and plan.prune):
        return Settlement(exit_code=0, status="success")
    refused = prune_refusal(plan.prune, total_files=total_files, prune_max=prune_max)
    if refused is not None:
        return Settlement(exit_code=GuardRefused.exit_code, status="refused", refused=refused)
    return Settlement(exit_code=0, status="success", prune=plan.prune)
