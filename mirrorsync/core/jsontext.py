"""JSON documents with long lists written an element at a time (pure)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any


def write_rows(
    head: Mapping[str, Any],
    rows: Mapping[str, Iterable[Any]],
    write: Callable[[str], object],
    *,
    ensure_ascii: bool = True,
) -> None:
    """Write ``json.dumps(doc, indent=1, ensure_ascii=ensure_ascii)``, ``doc`` being ``head``
    with each list named in ``rows`` (an empty list in ``head``, at its place there) filled from
    ``rows`` an element at a time: a list of tens of thousands of objects is never held whole,
    as objects or text.

    ``head`` must be an object whose ``rows`` keys are at its top level.
    """
    for piece in iter_rows(head, rows, ensure_ascii=ensure_ascii):
        write(piece)


def iter_rows(
    head: Mapping[str, Any], rows: Mapping[str, Iterable[Any]], *, ensure_ascii: bool = True
) -> Iterator[str]:
    """The text ``write_rows`` writes, piece by piece, each rendered when it is asked for."""
    text = json.dumps(head, indent=1, ensure_ascii=ensure_ascii)
    for key, elements in rows.items():
        # At the top level of an indent=1 document a key starts a line with one space; a JSON
        # string never holds a raw newline, so this can only be that key.
        marker = f"\n {json.dumps(key, ensure_ascii=ensure_ascii)}: []"
        before, found, text = text.partition(marker)
        if not found:
            raise ValueError(f"{key!r} is not an empty list at the top level of the document")
        yield before + marker[:-2]
        opening = "[\n  "
        for element in elements:
            rendered = json.dumps(element, indent=1, ensure_ascii=ensure_ascii)
            yield opening + rendered.replace("\n", "\n  ")
            opening = ",\n  "
        yield "[]" if opening == "[\n  " else "\n ]"
    yield text
