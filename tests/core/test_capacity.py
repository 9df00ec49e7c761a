"""The space and link decisions of ``core.capacity``, as tables."""

from __future__ import annotations

import pytest
from eras import DIGEST, DIGEST_TAG
from selection_table import make_asset

from mirrorsync.core.capacity import (
    MARGIN_BYTES,
    MARGIN_PER_FILE,
    SIZE_PROBE_FLOOR,
    assess_space,
    known_total,
    largest_to_probe,
    link_notes,
    link_problems,
    space_line,
    space_refusal,
)
from mirrorsync.core.layout import ASTRAL_LINK
from mirrorsync.core.model import Filesystem
from mirrorsync.core.units import human_size

GIB = 1 << 30
A, B = (make_asset(DIGEST_TAG, n, size=s) for n, s in zip(DIGEST[:2], (300, 700), strict=True))
MARGIN_2 = MARGIN_BYTES + 2 * MARGIN_PER_FILE


def disk(free: int | None, **kw: object) -> Filesystem:
    return Filesystem(place="/media/stick", free_bytes=free, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("free", "copies", "needed", "fits"),
    [
        (1000 + MARGIN_2, 0, 1000, True),  # exactly enough, margin included
        (1000 + MARGIN_2 - 1, 0, 1000, False),  # one byte short
        (2000 + MARGIN_2, 1000, 2000, True),  # flat: copy writes the archives a second time
        (1999 + MARGIN_2, 1000, 2000, False),
        (2500 + MARGIN_2, 1500, 2500, True),  # and copies of kept archives that have none yet
        (None, 0, 1000, None),  # a bucket cannot tell: neither fits nor refused
    ],
)
def test_assess_space(*, free: int | None, copies: int, needed: int, fits: bool | None) -> None:
    """The bytes to fetch and to copy, plus the margin, are compared with the free bytes."""
    space = assess_space([A, B], disk(free), files_after=2, copy_bytes=copies)
    assert (space.needed_bytes, space.margin_bytes, space.fits) == (needed, MARGIN_2, fits)
    refusal = space_refusal(space)
    assert (refusal is not None) == (fits is False)
    if refusal is not None:
        assert "not enough free space on /media/stick" in refusal
        assert f"({needed} bytes) plus a margin" in refusal
        assert f"({free} bytes) are free" in refusal


def test_files_larger_than_the_file_system_holds_are_refused_even_with_room() -> None:
    """A probed largest file size below a selected file refuses that file, naming it and the
    limit, whatever the free space."""
    space = assess_space([A, B], disk(10 * GIB, max_file_size=500), files_after=2)
    assert space.too_large == (B.path,)
    assert space.fits is False
    refusal = space_refusal(space)
    assert refusal is not None
    assert "cannot hold files larger than 500 B (500 bytes)" in refusal
    assert f"1 selected file(s) are larger: {B.path}" in refusal


@pytest.mark.parametrize(
    ("free", "line"),
    [
        (None, "space: needs 1000 B + {m} margin; /media/stick cannot tell its free space"),
        (GIB, "space: needs 1000 B + {m} margin, 1.0 GiB free on /media/stick: fits"),
        (1000, "space: needs 1000 B + {m} margin, 1000 B free on /media/stick: does NOT fit"),
    ],
)
def test_space_line(free: int | None, line: str) -> None:
    """plan's space line shows both figures and the path, or says the target cannot tell."""
    space = assess_space([A, B], disk(free), files_after=2)
    assert space_line(space) == line.format(m="264.0 KiB")


@pytest.mark.parametrize(
    ("sizes", "largest"),
    [((), 0), ((10, 20), 0), ((SIZE_PROBE_FLOOR - 1,), 0), ((1, 5 * GIB, 3 * GIB), 5 * GIB)],
)
def test_largest_to_probe(sizes: tuple[int, ...], largest: int) -> None:
    """Only a selection with a file of 2 GiB or more makes the target probe the largest size."""
    fetch = [make_asset(DIGEST_TAG, DIGEST[i], size=s) for i, s in enumerate(sizes)]
    assert largest_to_probe(fetch) == largest


@pytest.mark.parametrize(
    ("flat", "hard_links", "problem"),
    [(True, False, True), (True, True, False), ("copy", False, False), (False, False, False)],
)
def test_link_problems(*, flat: bool | str, hard_links: bool, problem: bool) -> None:
    """publish.flat: true without hard links is a configuration error naming the file system's
    limit and the way out; copy and false never are."""
    found = link_problems(flat=flat, fs=disk(0, hard_links=hard_links))
    assert bool(found) == problem
    if problem:
        assert "the file system of /media/stick has none" in found[0]
        assert "flat: copy" in found[0]


@pytest.mark.parametrize(
    ("astral", "symlinks", "noted"),
    [(True, False, True), (True, True, False), (False, False, False)],
)
def test_link_notes(*, astral: bool, symlinks: bool, noted: bool) -> None:
    """The Astral link left out for want of symbolic links is noted, only when it was asked for."""
    notes = link_notes(astral_layout=astral, fs=disk(0, symlinks=symlinks))
    assert bool(notes) == noted
    if noted:
        assert ASTRAL_LINK in notes[0]
        assert "no symbolic links" in notes[0]


U = make_asset(DIGEST_TAG, DIGEST[2], size=None)
"""A file whose size the listing does not give (Astral's index)."""
MARGIN_3 = MARGIN_BYTES + 3 * MARGIN_PER_FILE


@pytest.mark.parametrize(
    ("free", "fits", "line"),
    [
        (
            GIB,
            None,
            (
                "space: needs at least 1000 B + {m} margin (and 1 file(s) of unknown size), "
                "1.0 GiB free on /media/stick: cannot tell (sizes unknown)"
            ),
        ),
        (
            999 + MARGIN_3,
            False,
            (
                "space: needs at least 1000 B + {m} margin (and 1 file(s) of unknown size), "
                "{f} free on /media/stick: does NOT fit"
            ),
        ),
        (
            None,
            None,
            (
                "space: needs at least 1000 B + {m} margin (and 1 file(s) of unknown size); "
                "/media/stick cannot tell its free space"
            ),
        ),
    ],
)
def test_unknown_sizes_are_never_zero_bytes(
    *, free: int | None, fits: bool | None, line: str
) -> None:
    """A file of unknown size is counted apart, never as 0 bytes: the space check can then
    refuse (the known files alone do not fit) but never vouch that the run fits."""
    space = assess_space([A, B, U], disk(free), files_after=3)
    assert (space.needed_bytes, space.unknown_files, space.fits) == (1000, 1, fits)
    shown = "" if free is None else human_size(free)
    assert space_line(space) == line.format(m=human_size(MARGIN_3), f=shown)
    refusal = space_refusal(space)
    assert (refusal is not None) == (fits is False)
    if refusal is not None:
        assert "the run needs at least 1000 B" in refusal


@pytest.mark.parametrize(
    ("sizes", "total"), [((), 0), ((1, 2), 3), ((1, None), None), ((None,), None)]
)
def test_known_total(sizes: tuple[int | None, ...], total: int | None) -> None:
    """The bytes to fetch are a figure only when every size is known (None: "unknown")."""
    fetch = [make_asset(DIGEST_TAG, DIGEST[i], size=s) for i, s in enumerate(sizes)]
    assert known_total(fetch) == total
    assert largest_to_probe(fetch) == 0
