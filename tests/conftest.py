"""Fixtures shared by the whole suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder laid beside the checkout (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: the suite needs ../shared beside the checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pbs_releases(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    """Real upstream asset names by release tag, from ``pbs_assets.json``."""
    data = json.loads((shared_data / "pbs_assets.json").read_text(encoding="utf-8"))
    releases: dict[str, list[dict[str, Any]]] = data["releases"]
    return releases
