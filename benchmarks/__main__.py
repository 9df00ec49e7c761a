"""``python -m benchmarks [--quick] [--runs N] [--only S1,S4] [--markdown] [--json FILE]``."""

from __future__ import annotations

from benchmarks.suite import main

raise SystemExit(main())
