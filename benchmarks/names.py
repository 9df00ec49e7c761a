"""Real asset names for N releases x M assets, from ``testkit/data/pbs_assets.json``.

Real tags with enough names are used as they are, newest first. When a scenario needs more
releases than the data holds, further releases re-use a real release's names with its tag
replaced by an invented one (``+20300101-``), so every name still parses and carries its
release's tag, as upstream's do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from benchmarks import REPO

PBS_ASSETS = REPO / "testkit" / "data" / "pbs_assets.json"
COMPLETE = 600
"""Releases listed with at least this many names are complete lists (docs/upstream.md §9)."""
FIRST_INVENTED = date(2030, 1, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseNames:
    tag: str
    names: tuple[str, ...]


def load_pool(path: Path = PBS_ASSETS) -> dict[str, tuple[str, ...]]:
    """Era C names (those that carry their tag) by tag, each list sorted."""
    data = json.loads(path.read_text(encoding="utf-8"))
    pool: dict[str, tuple[str, ...]] = {}
    for tag, assets in data["releases"].items():
        names = sorted(a["name"] for a in assets if f"+{tag}-" in a["name"])
        if names:
            pool[tag] = tuple(names)
    return pool


def _spread(names: tuple[str, ...], count: int) -> tuple[str, ...]:
    """``count`` names evenly spaced over the sorted list: a mix of versions and platforms."""
    return tuple(names[i * len(names) // count] for i in range(count))


def release_names(
    pool: dict[str, tuple[str, ...]], *, releases: int, total: int | None
) -> list[ReleaseNames]:
    """``releases`` releases holding ``total`` names between them, as evenly as possible.

    With ``total=None`` each release holds a complete real release's list (682-828 names). The
    result is sorted by tag.
    """
    if total is None:
        counts: list[int | None] = [None] * releases
        need = COMPLETE
    else:
        per, extra = divmod(total, releases)
        counts = [per + (i < extra) for i in range(releases)]
        need = per + (extra > 0)
    real = sorted((t for t, names in pool.items() if len(names) >= need), reverse=True)
    if not real:
        raise ValueError(f"no release in the data has {need} names")
    chosen: list[ReleaseNames] = []
    day = FIRST_INVENTED
    for i, count in enumerate(counts):
        template = real[i % len(real)]
        names = pool[template] if count is None else _spread(pool[template], count)
        if i < len(real):
            chosen.append(ReleaseNames(tag=template, names=names))
            continue
        while (tag := day.strftime("%Y%m%d")) in pool:
            day += timedelta(days=1)
        day += timedelta(days=1)
        renamed = tuple(n.replace(f"+{template}-", f"+{tag}-") for n in names)
        chosen.append(ReleaseNames(tag=tag, names=renamed))
    return sorted(chosen, key=lambda r: r.tag)


def spread_sizes(names: list[str], *, low: int, high: int) -> dict[str, int]:
    """A size in ``[low, high]`` per name, fixed by the name (uniform over the names)."""
    sizes: dict[str, int] = {}
    for name in names:
        seed = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
        sizes[name] = low + seed % (high - low + 1)
    return sizes


def load_history(path: Path = PBS_ASSETS) -> dict[str, tuple[str, ...]]:
    """Every real name by tag (all eras), each list sorted: the whole recorded history."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        tag: tuple(sorted({a["name"] for a in assets}))
        for tag, assets in data["releases"].items()
        if assets
    }


def history_names(
    history: dict[str, tuple[str, ...]],
    pool: dict[str, tuple[str, ...]],
    *,
    releases: int,
    total: int,
) -> dict[str, tuple[str, ...]]:
    """``releases`` releases holding about ``total`` names: real ones first, then invented.

    The newest real releases are taken whole while they fit; when they hold more than ``total``
    between them each is thinned evenly (``_spread``). When ``total`` needs more than the real
    history holds, the rest is spread over invented releases (``+20300101-`` and on) that re-use
    the names of complete era C releases (``pool``, from ``load_pool``) with the tag replaced.
    """
    real = sorted(history, reverse=True)[:releases]
    held = sum(len(history[t]) for t in real)
    if held >= total or len(real) == releases:
        keep = {t: max(1, len(history[t]) * total // held) for t in real}
        return {t: _spread(history[t], min(keep[t], len(history[t]))) for t in real}
    chosen = {t: history[t] for t in real}
    invented = releases - len(real)
    per, extra = divmod(total - held, invented)
    templates = sorted((t for t, names in pool.items() if len(names) >= per + 1), reverse=True)
    if not templates:
        raise ValueError(f"no release in the data has {per + 1} names")
    day = FIRST_INVENTED
    for i in range(invented):
        template = templates[i % len(templates)]
        while (tag := day.strftime("%Y%m%d")) in history:
            day += timedelta(days=1)
        day += timedelta(days=1)
        names = _spread(pool[template], per + (i < extra))
        chosen[tag] = tuple(n.replace(f"+{template}-", f"+{tag}-") for n in names)
    return chosen
