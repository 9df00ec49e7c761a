"""What ``plan`` and ``sync`` print: the documents of docs/interface.md §6-§7 and summary lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mirrorsync.core.capacity import known_total, space_line
from mirrorsync.core.jsontext import write_rows
from mirrorsync.core.model import Plan, Space, SyncReport
from mirrorsync.core.units import human_size


def _plan_rows(plan: Plan) -> dict[str, Iterator[dict[str, Any]]]:
    """The per-file lists of the plan document, one row at a time, in document order."""
    return {
        "fetch": ({"path": a.path, "size": a.size, "sha256": a.sha256} for a in plan.fetch),
        "keep": ({"path": e.path, "size": e.size, "sha256": e.sha256} for e in plan.keep),
        "prune": ({"path": e.path} for e in plan.prune),
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    """The ``plan --json`` document; ``fetch`` + ``keep`` is exactly the selected set."""
    return {key: list(rows) for key, rows in _plan_rows(plan).items()} | _plan_head(plan)


def write_plan_document(plan: Plan, write: Callable[[str], object]) -> None:
    """``json.dumps(plan_document(plan), indent=1)``, written a row at a time: the plan of a
    whole history has tens of thousands of rows, never all held as objects and text at once."""
    rows = _plan_rows(plan)
    write_rows({key: [] for key in rows} | _plan_head(plan), rows, write)


def _plan_head(plan: Plan) -> dict[str, Any]:
    return {
        "unparsed": list(plan.unparsed),
        "missing_tags": list(plan.missing_tags),
        "uv_missing": list(plan.uv_missing),
        "totals": {
            "fetch_files": len(plan.fetch),
            "fetch_bytes": known_total(plan.fetch),  # null: a size upstream does not list
            "keep_files": len(plan.keep),
            "prune_files": len(plan.prune),
        },
        "space": None if plan.space is None else space_document(plan.space),
    }


def space_document(space: Space) -> dict[str, Any]:
    """The ``space`` of ``plan --json``: the bytes needed against the bytes free."""
    return {
        "path": space.place,
        "needed_bytes": space.needed_bytes,
        "margin_bytes": space.margin_bytes,
        "free_bytes": space.free_bytes,
        "fits": space.fits,
        "too_large": list(space.too_large),
        "max_file_size": space.max_file_size,
    } | ({"unknown_size_files": space.unknown_files} if space.unknown_files else {})


DOCUMENT_STATUSES = frozenset({"success", "partial", "failed"})
"""The ``status`` words of the ``--json`` documents (docs/interface.md §7.1); a run that was
refused or interrupted is ``failed`` there, with its ``error``, while the summary line and
``status.json`` name it exactly."""


def sync_document(report: SyncReport, *, status: str, error: str | None = None) -> dict[str, Any]:
    """The ``sync --json`` document; ``status`` is the run's word, narrowed to the document's."""
    doc: dict[str, Any] = {
        "status": status if status in DOCUMENT_STATUSES else "failed",
        "fetched": report.fetched,
        "kept": report.kept,
        "pruned": report.pruned,
        "failed": [{"path": f.path, "error": f.error} for f in report.failed],
        "bytes_downloaded": report.bytes_downloaded,
        "seconds": round(report.seconds, 3),
        "unparsed": len(report.unparsed),
    }
    if error is not None:
        doc["error"] = error
    return doc


def sync_summary(report: SyncReport, *, status: str) -> str:
    """The one line a run ends with, also under ``--quiet`` (parsable by dashboards)."""
    return (
        f"mirrorsync: {status}: fetched {report.fetched} "
        f"({human_size(report.bytes_downloaded)}), kept {report.kept}, "
        f"pruned {report.pruned}, failed {len(report.failed)}, "
        f"unparsed {len(report.unparsed)} in {report.seconds:.1f}s"
    )


def plan_text(plan: Plan) -> str:
    """A readable plan for a terminal."""
    lines = [f"fetch  {a.path}  ({_size_text(a.size)})" for a in plan.fetch]
    lines += [f"prune  {e.path}" for e in plan.prune]
    lines += [f"unparsed  {name!r}" for name in plan.unparsed]
    lines += [f"missing tag  {tag}" for tag in plan.missing_tags]
    lines.append(
        f"{len(plan.fetch)} to fetch ({_size_text(known_total(plan.fetch))}), "
        f"{len(plan.keep)} up to date, "
        f"{len(plan.prune)} no longer selected, {len(plan.unparsed)} unparsed"
    )
    if plan.space is not None:
        lines.append(space_line(plan.space))
    return "\n".join(lines)


def _size_text(size: int | None) -> str:
    return "size unknown" if size is None else human_size(size)
