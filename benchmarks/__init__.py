"""Benchmarks of ``mirrorsync sync`` against a loopback upstream: ``python -m benchmarks``.

BENCHMARK INFRASTRUCTURE, not part of the shipped package. The upstream is the test suite's
fake GitHub (``testkit/fake_github.py``), extended in ``benchmarks.upstream`` to serve
large generated bodies without holding them in memory and to shape traffic like a WAN.
``BENCHMARKS.md`` at the repository root has the scenarios, the targets, the figures and the
reproduction command.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTKIT = REPO / "testkit"

# The fake GitHub lives in the test kit (``testkit/``, not a package): make it importable as
# ``fake_github`` for every module of this package (and for the upstream server process).
if str(TESTKIT) not in sys.path:
    sys.path.insert(0, str(TESTKIT))
