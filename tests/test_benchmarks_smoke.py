"""Smoke test of the benchmark suite (``python -m benchmarks --quick``), so that it never rots.

It asserts only that the suite completes and reports every scenario: never a timing, which would
depend on the machine and its load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6", "H1", "H10")


@pytest.mark.timeout(300)
def test_quick_suite_completes_and_reports_every_scenario(tmp_path: Path) -> None:
    """The quick suite exits 0 and prints a measured mirrorsync row for each of S1-S6, H1, H10."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and package
        [sys.executable, "-m", "benchmarks", "--quick", "--workdir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line.split(" | ") for line in done.stdout.splitlines() if " | " in line]
    measured = {
        cells[0].split()[0] for cells in rows if cells[1] == "mirrorsync" and cells[2] != "-"
    }
    assert measured == set(SCENARIOS), done.stdout
    assert not list(tmp_path.iterdir()), "the suite left files behind"
