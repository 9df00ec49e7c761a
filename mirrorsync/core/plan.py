"""Diff the selected assets against what the mirror holds: fetch, keep, prune."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mirrorsync.core.manifest import is_current
from mirrorsync.core.model import Asset, IndexEntry, Plan


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
        wanted.add(asset.path)
        entry = published.get(asset.path)
        if entry is not None and is_current(entry, asset):
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
