"""The summary line a sync ends with (docs/interface.md §7.2), as dashboards parse it."""

from __future__ import annotations

from mirrorsync.commands.documents import sync_summary
from mirrorsync.core.model import SyncReport


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
