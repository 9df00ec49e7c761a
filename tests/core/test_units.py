"""The one spelling of each quantity: sizes for people, timestamps in documents and names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mirrorsync.core.units import compact_timestamp, human_size, parse_timestamp, timestamp

MOMENT = datetime(2026, 11, 24, 8, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1_048_575, "1.0 MiB"),  # decided on the rounded value, never "1024.0 KiB"
        (1_048_576, "1.0 MiB"),
        (2_621_440, "2.5 MiB"),
        (61_026_713, "58.2 MiB"),  # the README's summary-line example
        (5 * 1024**3, "5.0 GiB"),
        (3 * 1024**4, "3.0 TiB"),
        (5000 * 1024**4, "5000.0 TiB"),  # the largest unit has no ceiling
    ],
)
def test_human_size_uses_the_largest_binary_unit_below_1024(size: int, shown: str) -> None:
    """A size reads in B, or KiB to TiB with one decimal, rounding into the next unit at 1024."""
    assert human_size(size) == shown


def test_timestamp_is_rfc3339_utc_to_the_second_and_parses_back() -> None:
    """A document's moment is YYYY-MM-DDTHH:MM:SSZ, and parse_timestamp gives the moment back."""
    assert timestamp(MOMENT) == "2026-11-24T08:05:09Z"
    assert parse_timestamp(timestamp(MOMENT)) == MOMENT


@pytest.mark.parametrize(
    "text",
    ["", "2026-11-24", "2026-11-24T08:05:09", "2026-11-24 08:05:09Z", "2026-1-4T08:05:09Z", 7],
)
def test_parse_timestamp_takes_only_the_written_form(text: object) -> None:
    """Anything but exactly the form timestamp() writes (unpadded fields too) parses to None."""
    assert parse_timestamp(text) is None


def test_compact_timestamp_fits_in_a_file_name() -> None:
    """A moment in a directory name has no separators: YYYYMMDDTHHMMSSZ."""
    assert compact_timestamp(MOMENT) == "20261124T080509Z"
