"""The summary line a sync ends with (docs/interface.md §7.2), as dashboards parse it, and the
plan's figures."""

from __future__ import annotations

import json

from eras import DIGEST, DIGEST_TAG
from selection_table import make_asset

from mirrorsync.commands.documents import (
    plan_document,
    plan_text,
    sync_summary,
    write_plan_document,
)
from mirrorsync.core.manifest import entry_for
from mirrorsync.core.model import Plan, SyncReport


def test_summary_line_shows_bytes_in_binary_units_and_every_count() -> None:
    """The line names the status, files and bytes fetched (as human sizes), and every count."""
    report = SyncReport(fetched=3, kept=412, bytes_downloaded=61_026_713, seconds=41.73)
    assert sync_summary(report, status="success") == (
        "mirrorsync: success: fetched 3 (58.2 MiB), kept 412, pruned 0, failed 0, unparsed 0 "
        "in 41.7s"
    )


def test_summary_line_rounds_into_the_next_unit() -> None:
    """A byte count just under a unit reads as that unit (1.0 MiB), never as 1024.0 KiB."""
    report = SyncReport(fetched=1, bytes_downloaded=1_048_575)
    assert "fetched 1 (1.0 MiB)" in sync_summary(report, status="success")


def test_plan_says_size_unknown_where_the_listing_gives_none() -> None:
    """A file of unknown size reads "size unknown" in the plan text and null in ``--json``
    (never 0 bytes); with every size known the figures stay as they were."""
    known = make_asset(DIGEST_TAG, DIGEST[0], size=2048)
    unknown = make_asset(DIGEST_TAG, DIGEST[1], size=None)
    plan = Plan(fetch=(known, unknown), keep=(), prune=())
    text = plan_text(plan)
    assert f"fetch  {known.path}  (2.0 KiB)" in text
    assert f"fetch  {unknown.path}  (size unknown)" in text
    assert "2 to fetch (size unknown)" in text
    doc = plan_document(plan)
    assert [f["size"] for f in doc["fetch"]] == [2048, None]
    assert doc["totals"]["fetch_bytes"] is None
    sized = Plan(fetch=(known,), keep=(), prune=())
    assert "1 to fetch (2.0 KiB)" in plan_text(sized)
    assert plan_document(sized)["totals"]["fetch_bytes"] == 2048


def test_streamed_plan_document_is_the_document() -> None:
    """``plan --json`` written row by row is exactly ``json.dumps`` of the whole document, with
    rows in each list, one row, or none."""
    first = make_asset(DIGEST_TAG, DIGEST[0], size=2048)
    second = make_asset(DIGEST_TAG, DIGEST[1], size=None)
    entry = entry_for(first, sha256="a" * 64, size=2048)
    plans = (
        Plan(fetch=(), keep=(), prune=()),
        Plan(fetch=(first,), keep=(), prune=(entry,)),
        Plan(fetch=(first, second), keep=(entry, entry), prune=(), unparsed=("x",)),
    )
    for plan in plans:
        parts: list[str] = []
        write_plan_document(plan, parts.append)
        assert "".join(parts) == json.dumps(plan_document(plan), indent=1)
