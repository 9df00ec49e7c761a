"""What a mirror's lock says about the run holding it: its record and one line for people (pure).

The directory lock (``targets.lock``) and the bucket lock (``targets.s3``) store the same
JSON record (``pid``, ``host``, ``started``; a bucket adds ``owner``, ``renewed``, ``expires``)
and name its holder in the same words when a second run is refused (exit 3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mirrorsync.core.units import timestamp

_SAID = (("pid", "pid"), ("host", "host"), ("since", "started"))
"""How each field of the record is named in a message, in order."""


def holder_record(*, pid: int, host: str, started: datetime) -> dict[str, Any]:
    """The fields every lock records about its holder."""
    return {"pid": pid, "host": host, "started": timestamp(started)}


def parse_holder(data: bytes | str) -> dict[str, Any]:
    """The record a lock holds; ``{}`` for anything that is not a JSON object (never raises)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def holder_text(info: Mapping[str, Any]) -> str:
    """``pid 12, host mirror1, since 2026-11-24T08:00:00Z`` (and ``, expires …`` if it expires)."""
    if not info:
        return "holder unknown"
    text = ", ".join(f"{word} {info.get(key, '?')}" for word, key in _SAID)
    if "expires" in info:
        text += f", expires {info['expires']}"
    return text


def held_message(info: Mapping[str, Any]) -> str:
    """Why a second run is refused (exit 3), naming the holder."""
    return f"another run holds the lock on this mirror ({holder_text(info)})"
