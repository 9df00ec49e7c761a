"""core.jsontext: a document with long lists written an element at a time, byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mirrorsync.core.jsontext import write_rows

ROWS = [{"path": "a/é", "n": 1}, {"path": "b", "nested": {"x": [1, 2]}}]


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize(
    ("head", "rows"),
    [
        ({"files": [], "tail": {"k": "v"}}, {"files": ROWS}),
        ({"before": 1, "files": []}, {"files": ROWS[:1]}),
        ({"files": [], "other": [], "x": "files"}, {"files": [], "other": ROWS}),
        ({"a": '\n "files": []', "files": []}, {"files": ROWS}),
    ],
)
def test_rows_written_one_by_one_equal_the_whole_document(
    head: dict[str, Any], rows: dict[str, list[Any]], *, ensure_ascii: bool
) -> None:
    """The text equals json.dumps(indent=1) of the whole document, for lists of any length, at
    any place, with a value that looks like the key (it is escaped, never a line of its own)."""
    parts: list[str] = []
    write_rows(head, rows, parts.append, ensure_ascii=ensure_ascii)
    whole = {k: rows.get(k, v) for k, v in head.items()}
    assert "".join(parts) == json.dumps(whole, indent=1, ensure_ascii=ensure_ascii)


def test_a_row_list_missing_from_the_head_is_an_error() -> None:
    """A list to fill that is not an empty top-level list of the head is refused, not dropped."""
    with pytest.raises(ValueError, match="files"):
        write_rows({"other": []}, {"files": ROWS}, lambda _: None)
