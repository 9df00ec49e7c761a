"""Quantities and moments as people read and write them: rates, sizes, timestamps (pure).

The one definition of each spelling the mirror uses: a rate in a config (``20M``), a size for
a person (``1.5 KiB``), a moment in a document (``2026-11-24T08:00:00Z``) and a moment in a
file name (``20261124T080000Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime

KIB = 1024
"""One binary kilo: sizes for people are shown in binary units (KiB, MiB, ...)."""

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""RFC 3339 in UTC with a ``Z``, to the second: every moment in a JSON document or a lock."""
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""The same moment without separators, for names of directories (a quarantine per repair)."""


def parse_rate(text: str | float) -> int:
    """``"20M"`` -> 20000000, ``"500K"`` -> 500000, ``"1.5M"``, ``"1G"``, or a number of bytes.

    Decimal units, as network speeds are quoted (``Mi``/``Ki`` for binary ones). ``ValueError``
    for anything else.
    """
    units = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "KI": 2**10, "MI": 2**20, "GI": 2**30}
    if isinstance(text, bool):
        raise TypeError("expected a rate such as 20M, 500K or a number of bytes per second")
    if isinstance(text, int | float):
        value, unit = float(text), ""
    else:
        raw = text.replace(" ", "").upper().removesuffix("/S").removesuffix("B")
        number = raw.rstrip("KMGI")
        unit = raw[len(number) :]
        try:
            value = float(number)
        except ValueError:
            raise ValueError(
                f"expected a rate such as 20M, 500K or a number of bytes per second, got {text!r}"
            ) from None
        if unit not in units:
            raise ValueError(f"unknown unit {unit!r} in {text!r}; use K, M, G, Ki, Mi or Gi")
    rate = int(value * units[unit])
    if rate <= 0:
        raise ValueError(f"a rate must be positive, got {text!r}")
    return rate


def human_size(n: int) -> str:
    """Bytes below 1 KiB, else one decimal of the largest binary unit that keeps it under 1024.

    ``1536`` -> ``1.5 KiB``; ``1048575`` -> ``1.0 MiB`` (decided on the rounded value, so never
    ``1024.0 KiB``); TiB has no ceiling.
    """
    if n < KIB:
        return f"{n} B"
    value = n / KIB
    for unit in ("KiB", "MiB", "GiB"):
        if round(value, 1) < KIB:
            return f"{value:.1f} {unit}"
        value /= KIB
    return f"{value:.1f} TiB"


def timestamp(now: datetime) -> str:
    """``now`` as :data:`TIMESTAMP_FORMAT` (``2026-11-24T08:00:00Z``)."""
    return now.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: object) -> datetime | None:
    """The UTC moment a :func:`timestamp` wrote, or None for anything else (exactly that form)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    # strptime also takes unpadded fields ("2026-1-5T..."): only the written form counts.
    return moment if timestamp(moment) == text else None


def compact_timestamp(now: datetime) -> str:
    """``now`` as :data:`STAMP_FORMAT` (``20261124T080000Z``), safe in a file name."""
    return now.strftime(STAMP_FORMAT)
