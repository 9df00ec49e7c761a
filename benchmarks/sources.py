"""``python -m benchmarks.sources [--runs N]``: requests and wall time of each upstream source.

The same selection (3 releases, 21 archives of 256 KiB) is mirrored from the fake GitHub
(``source: github``), a fake Astral holding the same releases (``source: astral``) and a mirror A
synced from the fake GitHub and served by ``mirrorsync serve`` (``source: mirror``), all on
loopback: a cold run into an empty directory, then a no-op run. Requests are counted by kind
(and status) where each server sees them; the wall time is the median over ``--runs`` runs of
``run_sync`` in-process. Printed as a Markdown table (the one in BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from fake_astral import FakeAstral
from fake_github import FakeGitHub
from loopback import serving

from mirrorsync.commands.sync import Runtime, run_sync
from mirrorsync.config.load import load_config

TAGS = ("20251014", "20251120", "20251217")
SIZE = 256 * 1024
_PLATFORMS = ("x86_64-unknown-linux-gnu", "aarch64-apple-darwin", "x86_64-pc-windows-msvc")
_PYTHONS = ("3.11.14", "3.12.12", "3.13.11")
SELECTION = {"releases": {"latest": None}}


def names(tag: str) -> list[str]:
    """Seven archive names of release ``tag``."""
    every = [
        f"cpython-{v}+{tag}-{p}-install_only_stripped.tar.gz" for v in _PYTHONS for p in _PLATFORMS
    ]
    return every[:7]


class AccessCount(logging.Handler):
    """Counts the requests ``serve`` logs, by kind and status."""

    LINE = re.compile(r'"GET (\S+) HTTP/[\d.]+" (\d+)')

    def __init__(self) -> None:
        super().__init__()
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        match = self.LINE.search(record.getMessage())
        if match:
            kind = "index.json" if match[1].endswith("/index.json") else "file"
            self.kinds[f"{kind} {match[2]}"] += 1


async def one_run(base: Path, upstream: dict[str, Any]) -> float:
    """A sync of the selection from ``upstream`` into ``base/mirror``; its wall time."""
    config = base / "mirror.yaml"
    doc = {"upstream": upstream, "target": {"path": "mirror"}, **SELECTION}
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    start = time.perf_counter()
    outcome = await run_sync(load_config(config), runtime=Runtime())
    elapsed = time.perf_counter() - start
    if outcome.exit_code != 0:
        raise RuntimeError(f"the run failed: {outcome.report.failed}")
    return elapsed


Measure = Callable[[], Counter[str]]


async def measure(
    label: str,
    *,
    work: Path,
    upstream: dict[str, Any],
    counted: Measure,
    reset: Callable[[], None],
    runs: int,
) -> list[tuple[str, str, str, float]]:
    """Cold and no-op runs from one source: rows of (source, run, requests, median seconds)."""
    times: dict[str, list[float]] = {"cold": [], "no-op": []}
    kinds: dict[str, Counter[str]] = {}
    for n in range(runs):
        base = work / f"{label}-{n}"
        base.mkdir()
        for run in ("cold", "no-op"):
            reset()
            times[run].append(await one_run(base, upstream))
            kinds[run] = counted()
    rows = []
    for run in ("cold", "no-op"):
        total = sum(kinds[run].values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(kinds[run].items()))
        rows.append((label, run, f"{total} ({detail})", statistics.median(times[run])))
    return rows


async def main_async(runs: int) -> list[tuple[str, str, str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        async with FakeGitHub() as github, FakeAstral() as astral:
            for tag in TAGS:
                github.add_release(tag, names(tag), sizes=dict.fromkeys(names(tag), SIZE))
            astral.copy_from(github, TAGS)

            def github_kinds() -> Counter[str]:
                return Counter(f"{h.route} {h.status}" for h in github.hits)

            def astral_kinds() -> Counter[str]:
                seen = Counter(
                    f"{'index' if h.path == '/index.ndjson' else 'file'} {h.status}"
                    for h in astral.hits
                )
                return seen + github_kinds()

            def clear() -> None:
                github.hits.clear()
                astral.hits.clear()

            rows += await measure(
                "github",
                work=work,
                upstream={"api_url": github.api_url},
                counted=github_kinds,
                reset=clear,
                runs=runs,
            )
            rows += await measure(
                "astral",
                work=work,
                upstream={
                    "source": "astral",
                    "index_url": astral.index_url,
                    "download_url": astral.download_url,
                },
                counted=astral_kinds,
                reset=clear,
                runs=runs,
            )
            a = work / "a"
            a.mkdir()
            await one_run(a, {"api_url": github.api_url})
            counter = AccessCount()
            serve_log = logging.getLogger("mirrorsync.commands.serve")
            serve_log.addHandler(counter)
            serve_log.setLevel(logging.INFO)

            def clear_all() -> None:
                counter.kinds.clear()
                clear()

            async with serving(a / "mirror") as url:
                rows += await measure(
                    "mirror",
                    work=work,
                    upstream={"source": "mirror", "url": url.rstrip("/")},
                    counted=lambda: counter.kinds + github_kinds(),
                    reset=clear_all,
                    runs=runs,
                )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = asyncio.run(main_async(args.runs))
    lines = [
        "| source | run | requests (by kind and status) | wall time (median) |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{s}` | {run} | {req} | {sec * 1000:.0f} ms |" for s, run, req, sec in rows]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
