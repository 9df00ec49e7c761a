"""The shipped example configurations stay valid as the config schema evolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirrorsync.config.load import load_config

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_there_are_examples() -> None:
    """examples/ ships configurations (guards the parametrized test against an empty glob)."""
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_loads(path: Path) -> None:
    """Each example configuration loads without a single problem."""
    cfg = load_config(path)
    assert cfg.target.path.is_absolute()
