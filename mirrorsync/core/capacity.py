"""Whether a selection fits its target, and what a file system without links means (pure).

The target answers what its file system can do (``Filesystem``, probed once per run by
``targets``); the decisions are here: the space a run needs against the space there is, the files
too large for the file system, and which link layouts it can carry.
"""

from __future__ import annotations

from collections.abc import Sequence

from mirrorsync.core.layout import ASTRAL_LINK, FLAT_DIR
from mirrorsync.core.model import Asset, Filesystem, Space
from mirrorsync.core.units import human_size

MARGIN_BYTES = 256 << 10
"""Room kept free beyond the archives for the root's client files and the run records (the
listing cache is already written when the space is measured)."""
MARGIN_PER_FILE = 4 << 10
"""And per file the mirror will hold: its lines in ``index.json``, ``SHA256SUMS``, uv's lists
and the pages, rounded up to a block."""
SIZE_PROBE_FLOOR = 1 << 31
"""Files below 2 GiB fit every file system in use: only larger ones make the target probe."""


def known_total(fetch: Sequence[Asset]) -> int | None:
    """The bytes of ``fetch``, or None when a file's size is unknown (never counted as 0)."""
    sizes = [a.size for a in fetch]
    return None if None in sizes else sum(s for s in sizes if s is not None)


def largest_to_probe(fetch: Sequence[Asset]) -> int:
    """The size the target must probe whether it can hold (0: nothing large enough to ask)."""
    largest = max((a.size for a in fetch if a.size is not None), default=0)
    return largest if largest >= SIZE_PROBE_FLOOR else 0


def assess_space(
    fetch: Sequence[Asset], fs: Filesystem, *, files_after: int, copy_bytes: int = 0
) -> Space:
    """The space ``fetch`` needs on ``fs``, plus ``copy_bytes`` for the copies ``publish.flat:
    copy`` will write (of the archives fetched, and of those kept that have none yet).

    A file whose size upstream does not list counts in ``unknown_files``, never as 0 bytes: the
    space can then only be refused (the known files alone do not fit), never vouched for.
    """
    known = [a.size for a in fetch if a.size is not None]
    needed = sum(known) + copy_bytes
    limit = fs.max_file_size
    too_large = tuple(
        sorted(a.path for a in fetch if limit is not None and a.size is not None and a.size > limit)
    )
    return Space(
        unknown_files=len(fetch) - len(known),
        place=fs.place,
        needed_bytes=needed,
        margin_bytes=MARGIN_BYTES + MARGIN_PER_FILE * files_after,
        free_bytes=fs.free_bytes,
        too_large=too_large,
        max_file_size=limit,
    )


def space_refusal(space: Space) -> str | None:
    """Why a run must not start on this target, or None when it may."""
    if space.too_large:
        shown = ", ".join(space.too_large[:3]) + (" …" if len(space.too_large) > 3 else "")  # noqa: PLR2004
        return (
            f"the file system of {space.place} cannot hold files larger than "
            f"{human_size(space.max_file_size or 0)} ({space.max_file_size} bytes); "
            f"{len(space.too_large)} selected file(s) are larger: {shown}"
        )
    if space.fits is False:
        assert space.free_bytes is not None  # noqa: S101 - fits is False only when it is known
        return (
            f"not enough free space on {space.place}: the run needs {_at_least(space)}"
            f"{human_size(space.needed_bytes)} ({space.needed_bytes} bytes) plus a margin of "
            f"{human_size(space.margin_bytes)}, and {human_size(space.free_bytes)} "
            f"({space.free_bytes} bytes) are free"
        )
    return None


def space_line(space: Space) -> str:
    """One line for ``plan``: the figures, or that the target cannot tell."""
    needs = (
        f"{_at_least(space)}{human_size(space.needed_bytes)} + "
        f"{human_size(space.margin_bytes)} margin{_unknown(space)}"
    )
    if space.free_bytes is None:
        return f"space: needs {needs}; {space.place} cannot tell its free space"
    verdict = {True: "fits", False: "does NOT fit", None: "cannot tell (sizes unknown)"}[space.fits]
    return f"space: needs {needs}, {human_size(space.free_bytes)} free on {space.place}: {verdict}"


def _at_least(space: Space) -> str:
    return "at least " if space.unknown_files else ""


def _unknown(space: Space) -> str:
    n = space.unknown_files
    return f" (and {n} file(s) of unknown size)" if n else ""


def link_problems(*, flat: bool | str, fs: Filesystem) -> list[str]:
    """Configuration errors on this file system: ``publish.flat: true`` needs hard links."""
    if flat is True and not fs.hard_links:
        return [
            (
                f"publish.flat: true needs hard links, and the file system of {fs.place} has none; "
                f"write `flat: copy` for real copies in {FLAT_DIR}/ (twice the archives' space) "
                "or `flat: false`"
            )
        ]
    return []


def link_notes(*, astral_layout: bool, fs: Filesystem) -> list[str]:
    """What is left out on this file system, and why (a line in the log and ``status.json``)."""
    if astral_layout and not fs.symlinks:
        return [
            (
                f"the Astral layout link {ASTRAL_LINK} is not published: the file system of "
                f"{fs.place} has no symbolic links (UV_PYTHON_INSTALL_MIRROR works without it)"
            )
        ]
    return []
