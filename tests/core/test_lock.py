"""What a lock records about its holder, and how a refused run names that holder."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mirrorsync.core.lock import held_message, holder_record, holder_text, parse_holder


def test_holder_record_names_pid_host_and_start() -> None:
    """A lock records the holder's pid, host and start time (as a document timestamp)."""
    started = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    record = holder_record(pid=12, host="mirror1", started=started)
    assert record == {"pid": 12, "host": "mirror1", "started": "2026-11-24T08:00:00Z"}
    assert holder_text(record) == "pid 12, host mirror1, since 2026-11-24T08:00:00Z"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b'{"pid": 1, "host": "a", "started": "s"}', "pid 1, host a, since s"),
        (
            b'{"pid": 1, "host": "a", "started": "s", "expires": "e"}',
            "pid 1, host a, since s, expires e",
        ),
        (b'{"host": "a"}', "pid ?, host a, since ?"),  # a field missing is marked, not invented
        (b"", "holder unknown"),  # a lock file just created, not yet written
        (b"pid 1\n", "holder unknown"),  # not JSON
        (b"[1, 2]", "holder unknown"),  # JSON, but not a record
        (b"\xff", "holder unknown"),  # not even text
    ],
)
def test_holder_text_names_what_the_lock_says_and_nothing_else(data: bytes, text: str) -> None:
    """The holder line quotes the record's fields; an unreadable record reads "holder unknown"."""
    assert holder_text(parse_holder(data)) == text


def test_held_message_says_another_run_holds_the_lock() -> None:
    """The exit-3 message names the holder in parentheses."""
    message = held_message({"pid": 1, "host": "a", "started": "s"})
    assert message == "another run holds the lock on this mirror (pid 1, host a, since s)"
