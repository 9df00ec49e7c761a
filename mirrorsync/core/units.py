"""Quantities as operators write them in a config: rates and sizes with units (pure)."""

from __future__ import annotations


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
