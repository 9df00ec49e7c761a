"""The benchmark scenarios of the Performance issue, their runner and their report.

Every measured program (``python -m mirrorsync``, aria2c, curl, dd, sha256sum) runs as a child
process reaped with ``os.wait4``, so its wall time, user+sys CPU and peak RSS are its own; the
upstream serves from another process (``benchmarks.upstream``) whose counters give the requests
and bytes of each run. Each figure is the median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from benchmarks import REPO
from benchmarks.measure import (
    MIB,
    ChildRun,
    child_env,
    compile_bytecode,
    disk_write,
    hash_file,
    hash_file_hashlib,
    load_average,
    machine,
    program,
    run_child,
    start_up,
)
from benchmarks.names import load_pool, release_names, spread_sizes
from benchmarks.upstream import Shape

KIB = 1 << 10
GIB = 1 << 30
MB = 1_000_000
SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6", "H1", "H10")
PROBE_FILE = "opens.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """The scale of every scenario; ``FULL`` is the issue's, ``QUICK`` the smoke test's."""

    runs: int
    concurrency: int = 8
    s1_assets: int
    s1_size: int
    s2_assets: int
    s2_size: int
    s2_latency: float
    s2_bandwidth: float
    small_low: int = 2 * KIB
    small_high: int = 40 * KIB
    s3_files: int
    s3_releases: int
    s4_files: int
    s4_releases: int
    s4_noop_runs: int
    s5_releases: int
    s5_total: int | None
    """None: each release holds a complete real list (682-828 names), as upstream's do."""
    s6_size: int
    h_releases: int
    """The whole-history scenario (H1): releases and assets (the issue's 123 and 28,561)."""
    h_total: int
    h_factor: int
    """H10 serves ``h_factor`` times H1's releases and assets."""
    h_runs: int = 1
    """Runs per figure of the H10 rows (each cold sync of it takes minutes)."""


FULL = Sizes(
    runs=3,
    s1_assets=64,
    s1_size=16 * MIB,
    s2_assets=64,
    s2_size=8 * MIB,
    s2_latency=0.050,
    s2_bandwidth=4 * MB,
    s3_files=6000,
    s3_releases=20,
    s4_files=10_000,
    s4_releases=120,
    s4_noop_runs=5,
    s5_releases=125,
    s5_total=None,
    s6_size=GIB,
    h_releases=123,
    h_total=28_561,
    h_factor=10,
)
QUICK = Sizes(
    runs=1,
    s1_assets=16,
    s1_size=1 * MIB,
    s2_assets=8,
    s2_size=256 * KIB,
    s2_latency=0.010,
    s2_bandwidth=4 * MB,
    s3_files=200,
    s3_releases=4,
    s4_files=300,
    s4_releases=6,
    s4_noop_runs=1,
    s5_releases=15,
    s5_total=600,
    s6_size=32 * MIB,
    h_releases=4,
    h_total=400,
    h_factor=3,
)

# Targets of the issue (on its 2-core machine).
S1_VS_BASELINE = 1.10
S1_VS_DISK = 0.90
S1_VS_FLOOR = 1.20
"""Scale issue: S1's wall at most this many times its floor (``Suite._s1_floor``)."""
S2_OF_CAPACITY = 0.85
S3_FILES_PER_S = 500.0
S4_WALL = 1.5
S4_REQUESTS = 2
S5_API_REQUESTS = 15
S6_RSS = 120 * MB


# ---------------------------------------------------------------------- results


@dataclass(slots=True, kw_only=True)
class Row:
    """One line of the report: a tool in a scenario, medians over its runs."""

    scenario: str
    title: str
    tool: str
    wall: float | None = None
    cpu: float | None = None
    rss: int | None = None
    wire_bytes: int | None = None
    requests: str = ""
    throughput: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""
    """``met``, ``MISSED``, or empty for reference rows."""
    note: str = ""
    failed: bool = False
    """A run behind the figures failed: they are reported but mean nothing."""
    upstream_cpu: float | None = None
    """CPU seconds the upstream process spent serving the run (median)."""
    runs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured:
    """One run of one tool: the child's figures and what the upstream served for it."""

    child: ChildRun
    served: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)
    ok: bool = True
    """False when the run failed or did not do the whole job: its figures mean nothing."""

    @property
    def wire_bytes(self) -> int:
        return int(sum(self.served.get("bytes", {}).values()))

    def summary(self) -> dict[str, Any]:
        return {
            "wall": round(self.child.wall, 4),
            "cpu": round(self.child.cpu, 4),
            "user": round(self.child.user, 4),
            "sys": round(self.child.system, 4),
            "max_rss": self.child.max_rss,
            "exit_code": self.child.exit_code,
            "ok": self.ok,
            "served": dict(self.served),
            **self.extra,
        }


def describe_requests(served: Mapping[str, Any]) -> str:
    requests: Mapping[str, int] = served.get("requests", {})
    statuses: Mapping[str, int] = served.get("statuses", {})
    parts = []
    for route in ("api", "redirect", "cdn"):
        count = requests.get(route, 0)
        if not count:
            continue
        text = f"{route} {count}"
        not_modified = statuses.get(f"{route} 304", 0)
        if not_modified:
            text += f" ({not_modified}x304)"
        parts.append(text)
    return ", ".join(parts) or "none"


def median_row(row: Row, runs: Sequence[Measured]) -> Row:
    """Fill ``row`` with the medians of ``runs``; requests and bytes of the median-wall run."""
    ordered = sorted(runs, key=lambda m: m.child.wall)
    middle = ordered[(len(ordered) - 1) // 2]
    row.wall = statistics.median(m.child.wall for m in runs)
    row.cpu = statistics.median(m.child.cpu for m in runs)
    row.rss = int(statistics.median(m.child.max_rss for m in runs))
    row.wire_bytes = middle.wire_bytes
    row.requests = describe_requests(middle.served)
    row.upstream_cpu = statistics.median(float(m.served.get("cpu", 0.0)) for m in runs)
    row.runs = [m.summary() for m in runs]
    row.failed = not all(m.ok for m in runs)
    return row


def verdict(*, met: bool) -> str:
    return "met" if met else "MISSED"


# ---------------------------------------------------------------------- the upstream process


@dataclass(frozen=True, slots=True, kw_only=True)
class Download:
    tag: str
    name: str
    url: str
    size: int
    sha256: str


class Upstream:
    """A ``benchmarks.upstream`` server process and its JSON-lines control channel."""

    def __init__(self, shape: Shape) -> None:
        argv = [sys.executable, "-m", "benchmarks.upstream", f"--latency={shape.latency}"]
        if shape.bandwidth:
            argv.append(f"--bandwidth={shape.bandwidth}")
        self._process = subprocess.Popen(  # noqa: S603 - this package's own server module
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
        )
        hello = self._read()
        self.api_url = str(hello["api_url"])
        self.cpu = 0.0

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None  # noqa: S101 - opened with PIPE
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark upstream exited unexpectedly")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the benchmark upstream refused a command: {answer['error']}")
        return answer

    def call(self, op: str, **payload: object) -> dict[str, Any]:
        assert self._process.stdin is not None  # noqa: S101 - opened with PIPE
        self._process.stdin.write(json.dumps({"op": op, **payload}) + "\n")
        self._process.stdin.flush()
        return self._read()

    def populate(self, releases: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
        payload = [{"tag": tag, "sizes": dict(sizes)} for tag, sizes in releases.items()]
        return self.call("populate", releases=payload)

    def downloads(self) -> list[Download]:
        rows = self.call("urls")["urls"]
        return [Download(tag=t, name=n, url=u, size=int(s), sha256=h) for t, n, u, s, h in rows]

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def close(self) -> None:
        """Stop the server and reap it; ``cpu`` is then its whole user+sys time."""
        for pipe in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):  # a dead server: nothing to tell it
                if pipe is self._process.stdin and pipe is not None:
                    pipe.write(json.dumps({"op": "stop"}) + "\n")
                if pipe is not None:
                    pipe.close()
        try:
            _, status, usage = os.wait4(self._process.pid, 0)
        except ChildProcessError:  # reaped already
            return
        self._process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------- the suite


class Suite:
    """Runs the scenarios and collects their rows."""

    def __init__(
        self,
        *,
        sizes: Sizes,
        workdir: Path,
        log: TextIO,
        only: Sequence[str] = SCENARIOS,
    ) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.log = log
        self.only = only
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self.pool = load_pool()
        self.env = child_env()
        compile_bytecode(env=self.env, cwd=REPO)
        self.tools = {name: program(name) for name in ("aria2c", "curl")}
        self.upstream_cpu: dict[str, float] = {}
        self._s4_runs: dict[str, list[Measured]] = {}
        self.history_points: dict[str, Any] = {}
        """H1's and H10's peak RSS by run (``benchmarks.history.Point``), for the slope."""

    # -- plumbing ------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        self.log.write(f"[bench] {message}\n")
        self.log.flush()

    def run(self) -> None:
        # The history scenarios build on this module's rows and runner: imported here, not above.
        from benchmarks.history import History  # noqa: PLC0415

        scenarios: dict[str, Callable[[], None]] = {
            "S1": self.s1_cold_loopback,
            "S2": self.s2_cold_wan,
            "S3": self.s3_small_files,
            "S4": self.s4_noop,
            "S5": self.s5_listing,
            "S6": self.s6_memory,
            "H1": lambda: History(self).whole(),
            "H10": lambda: History(self).tenfold(),
        }
        for key, scenario in scenarios.items():
            if key in self.only:
                began = time.monotonic()
                scenario()
                self.say(f"{key} done in {time.monotonic() - began:.1f}s")

    @contextlib.contextmanager
    def serve(self, key: str, shape: Shape) -> Iterator[Upstream]:
        """An upstream process for scenario ``key``; its whole CPU time is recorded at the end."""
        upstream = Upstream(shape)
        try:
            yield upstream
        finally:
            upstream.close()
            self.upstream_cpu[key] = upstream.cpu

    def fresh(self, name: str) -> Path:
        path = self.workdir / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def settle(self) -> None:
        """Flush what earlier runs left dirty, so that it is not written during the next one."""
        os.sync()

    def config(
        self, name: str, *, api_url: str, root: Path, target: Mapping[str, Any] | None = None
    ) -> Path:
        # JSON is YAML: no dependency needed to write the config.
        doc = {
            "upstream": {"api_url": api_url},
            "releases": {"latest": None},
            "select": {"prereleases": True},
            "target": dict(target) if target is not None else {"path": str(root)},
            "download": {"concurrency": self.sizes.concurrency},
        }
        path = self.workdir / f"{name}.yaml"
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        return path

    def mirrorsync(
        self,
        cfg: Path,
        *,
        command: str = "sync",
        upstream: Upstream,
        probe: Path | None = None,
        fetched: int | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> Measured:
        """One ``python -m mirrorsync COMMAND [ARGS] -q --json -c CFG`` run; failures recorded."""
        module = ["-m", "mirrorsync"] if probe is None else ["-m", "benchmarks.probe", str(probe)]
        argv = [sys.executable, *module, command, *args, "-q", "--json", "-c", str(cfg)]
        upstream.stats()
        self.settle()
        child = run_child(argv, scratch=self.workdir / "child", env=env or self.env, cwd=REPO)
        served = upstream.stats()
        document: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            document = json.loads(child.stdout)
        if child.exit_code != 0:
            tail = child.stderr.decode(errors="replace").strip().splitlines()[-3:]
            self.failures.append(f"mirrorsync {command} exited {child.exit_code}: {tail}")
            self.say(f"FAILED: mirrorsync {command} exited {child.exit_code}: {tail}")
        extra: dict[str, Any] = {
            k: document[k]
            for k in ("status", "fetched", "kept", "bytes_downloaded", "seconds", "totals")
            if k in document
        }
        ok = child.exit_code == 0
        if ok and fetched is not None and extra.get("fetched") != fetched:
            ok = False
            message = f"mirrorsync fetched {extra.get('fetched')} files, expected {fetched}"
            self.failures.append(message)
            self.say(f"FAILED: {message}")
        return Measured(child=child, served=served, extra=extra, ok=ok)

    def baseline(
        self, tool: str, downloads: Sequence[Download], dest: Path, *, upstream: Upstream
    ) -> Measured | None:
        """aria2c or curl fetching ``downloads`` into ``dest/<tag>/<name>``; None if absent."""
        path = self.tools.get(tool)
        if path is None:
            return None
        concurrency = self.sizes.concurrency
        listing = self.workdir / f"{tool}.input"
        if tool == "aria2c":
            listing.write_text(
                "".join(f"{d.url}\n  dir={dest / d.tag}\n  out={d.name}\n" for d in downloads),
                encoding="utf-8",
            )
            argv = [
                path,
                f"--input-file={listing}",
                f"--max-concurrent-downloads={concurrency}",
                "--split=1",
                "--max-connection-per-server=1",
                "--auto-file-renaming=false",
                "--allow-overwrite=true",
                "--console-log-level=error",
                "--summary-interval=0",
                "--download-result=hide",
                "--no-conf=true",
                "--quiet=true",
            ]
        else:
            listing.write_text(
                "".join(
                    f'url = "{d.url}"\noutput = "{dest / d.tag / d.name}"\n' for d in downloads
                ),
                encoding="utf-8",
            )
            argv = [
                path,
                "--parallel",
                "--parallel-immediate",
                "--parallel-max",
                str(concurrency),
                "--location",
                "--fail",
                "--silent",
                "--show-error",
                "--create-dirs",
                "--config",
                str(listing),
            ]
        upstream.stats()
        self.settle()
        child = run_child(argv, scratch=self.workdir / "child", env=self.env, cwd=REPO)
        served = upstream.stats()
        # Neither tool syncs its files to disk, as mirrorsync does before publishing each file:
        # the time this flush takes is reported beside theirs.
        began = time.perf_counter()
        os.sync()
        flush = time.perf_counter() - began
        wrong = [d.name for d in downloads if _size(dest / d.tag / d.name) != d.size]
        ok = child.exit_code == 0 and not wrong
        if not ok:
            message = f"{tool} exited {child.exit_code}, {len(wrong)} file(s) missing or short"
            self.failures.append(message)
            self.say(f"FAILED: {message}")
        return Measured(child=child, served=served, extra={"flush": round(flush, 4)}, ok=ok)

    def releases(self, *, releases: int, total: int | None) -> dict[str, list[str]]:
        return {
            r.tag: list(r.names) for r in release_names(self.pool, releases=releases, total=total)
        }

    # -- S1 ------------------------------------------------------------------------------------

    def s1_cold_loopback(self) -> None:
        sz = self.sizes
        title = f"cold sync, loopback, {sz.s1_assets} x {_binary(sz.s1_size)}, c={sz.concurrency}"
        names = self.releases(releases=1, total=sz.s1_assets)
        total = sz.s1_assets * sz.s1_size
        with self.serve("S1", Shape()) as upstream:
            upstream.populate({t: dict.fromkeys(n, sz.s1_size) for t, n in names.items()})
            downloads = upstream.downloads()
            limits = self._limits(total)
            runs: dict[str, list[Measured]] = {"mirrorsync": [], "aria2c": [], "curl": []}
            for i in range(sz.runs):
                self.say(f"S1 run {i + 1}/{sz.runs}")
                root = self.fresh("s1")
                cfg = self.config("s1", api_url=upstream.api_url, root=root)
                measured = self.mirrorsync(cfg, upstream=upstream, fetched=sz.s1_assets)
                runs["mirrorsync"].append(measured)
                for tool in ("aria2c", "curl"):
                    got = self.baseline(tool, downloads, self.fresh("s1"), upstream=upstream)
                    if got is not None:
                        runs[tool].append(got)
        shutil.rmtree(self.workdir / "s1", ignore_errors=True)
        self._s1_rows(title, runs, limits=limits, total=total)

    def _s1_limit_rows(self, limits: Mapping[str, list[ChildRun]], *, total: int) -> dict[str, Row]:
        """One row per machine limit measured in this run (median wall and CPU), by tool."""
        labels = {
            "dd": "machine limit: disk write (dd bs=1M conv=fsync)",
            "sha256sum": "machine limit: sha256sum of a cached file",
            "hashlib": "machine limit: Python hashlib.sha256 of a cached file",
            "start-up": "machine limit: Python start-up with a sync's imports (no work)",
        }
        rows: dict[str, Row] = {}
        for tool, label in labels.items():
            children = limits[tool]
            wall = statistics.median(c.wall for c in children)
            note = f"{_binary(total)}, median of {len(children)}"
            if tool == "hashlib":
                note += "; what mirrorsync hashes with (OpenSSL)"
            if tool == "start-up":
                note = f"paid by every mirrorsync run, never by curl; median of {len(children)}"
            rows[tool] = Row(
                scenario="S1",
                title=label,
                tool=tool,
                wall=wall,
                cpu=statistics.median(c.cpu for c in children),
                # No RSS: for programs this small the launcher's image dominates it.
                throughput="" if tool == "start-up" else f"{total / wall / MB:.0f} MB/s",
                note=note,
                runs=[{"wall": round(c.wall, 4), "cpu": round(c.cpu, 4)} for c in children],
            )
            self.rows.append(rows[tool])
        return rows

    def _s1_rows(
        self,
        title: str,
        runs: Mapping[str, list[Measured]],
        *,
        limits: Mapping[str, list[ChildRun]],
        total: int,
    ) -> None:
        limit_rows = self._s1_limit_rows(limits, total=total)
        startup = limit_rows["start-up"].wall or 0.0
        rates = {tool: total / (r.wall or 1.0) for tool, r in limit_rows.items()}
        dd_rate = rates["dd"]
        durable = ""
        baselines: dict[str, Row] = {}
        for tool in ("aria2c", "curl"):
            if not runs[tool]:
                self.rows.append(
                    Row(scenario="S1", title=title, tool=tool, note="skipped: not installed")
                )
                continue
            row = median_row(Row(scenario="S1", title=title, tool=tool), runs[tool])
            assert row.wall is not None  # noqa: S101 - set by median_row
            flush = statistics.median(m.extra["flush"] for m in runs[tool])
            row.throughput = f"{total / row.wall / MB:.0f} MB/s"
            row.note = f"no fsync; +{flush:.2f}s to flush afterwards"
            baselines[tool] = row
            self.rows.append(row)
        row = median_row(Row(scenario="S1", title=title, tool="mirrorsync"), runs["mirrorsync"])
        assert row.wall is not None  # noqa: S101 - set by median_row
        rate = total / row.wall
        row.throughput = f"{rate / MB:.0f} MB/s"
        disk = rate / dd_rate
        ratios = [f"{disk:.2f}x dd"]
        met = disk >= S1_VS_DISK
        if baselines:
            fastest = min(baselines.values(), key=lambda r: r.wall or 0.0)
            assert fastest.wall is not None  # noqa: S101 - set by median_row
            vs = row.wall / fastest.wall
            ratios.insert(0, f"{vs:.2f}x {fastest.tool} wall")
            met = met and vs <= S1_VS_BASELINE
            # The same durable result: the baseline's files flushed to disk as mirrorsync's are.
            flushed = fastest.wall + statistics.median(m.extra["flush"] for m in runs[fastest.tool])
            durable = (
                f"{row.wall / flushed:.2f}x {fastest.tool} wall + its flush; "
                f"start-up {startup:.2f}s of it"
            )
        else:
            row.note = "no baseline installed"
        row.ratio = "; ".join(ratios)
        row.target = f"<= {S1_VS_BASELINE}x faster baseline; >= {S1_VS_DISK}x dd"
        row.verdict = verdict(met=met)
        row.note = "; ".join(
            n for n in (row.note, "every sha256 verified, fsync per file", durable) if n
        )
        self.rows.append(row)
        if baselines:
            self.rows.append(self._s1_floor(title, fastest, mirrorsync=row, limits=limit_rows))

    @staticmethod
    def _s1_floor(title: str, fastest: Row, *, mirrorsync: Row, limits: Mapping[str, Row]) -> Row:
        """The least wall time any Python client that hashes every byte could reach here.

        Start-up runs alone; after it, the hash (hashlib's CPU for the same bytes), moving the
        bytes from socket to file (the fastest baseline's own CPU: it does nothing else) and the
        upstream's CPU share the machine's cores perfectly. Only an estimate, but each term is
        measured in the same run.
        """
        assert fastest.wall is not None  # noqa: S101 - set by median_row
        cores = os.cpu_count() or 1
        startup, hashing = limits["start-up"].wall or 0.0, limits["hashlib"].cpu or 0.0
        work = hashing + (fastest.cpu or 0.0) + (mirrorsync.upstream_cpu or 0.0)
        floor = startup + work / cores
        over = (mirrorsync.wall or 0.0) / floor
        return Row(
            scenario="S1",
            title=f"{title}: estimated floor for a client verifying sha256",
            tool="floor",
            wall=floor,
            ratio=f"{floor / fastest.wall:.2f}x {fastest.tool} wall; mirrorsync {over:.2f}x it",
            target=f"mirrorsync <= {S1_VS_FLOOR:g}x the floor",
            verdict=verdict(met=over <= S1_VS_FLOOR),
            note=(
                f"computed: start-up {startup:.2f}s + (hashlib {hashing:.2f}"
                f" + {fastest.tool} {fastest.cpu or 0.0:.2f} + upstream"
                f" {mirrorsync.upstream_cpu or 0.0:.2f} CPU s) / {cores} cores"
            ),
        )

    def _limits(self, total: int) -> dict[str, list[ChildRun]]:
        """dd (fsync), sha256sum and hashlib runs over ``total`` bytes, measured now."""
        scratch = self.fresh("limits")
        target = scratch / "dd.bin"
        children: dict[str, list[ChildRun]] = {
            "dd": [],
            "sha256sum": [],
            "hashlib": [],
            "start-up": [],
        }
        for _ in range(self.sizes.runs):
            target.unlink(missing_ok=True)
            self.settle()
            children["dd"].append(disk_write(target, size=total, scratch=scratch / "child"))
            children["sha256sum"].append(hash_file(target, scratch=scratch / "child"))
            children["hashlib"].append(hash_file_hashlib(target, scratch=scratch / "child"))
            children["start-up"].append(start_up(scratch=scratch / "child", env=self.env, cwd=REPO))
        shutil.rmtree(scratch, ignore_errors=True)
        return children

    # -- S2 ------------------------------------------------------------------------------------

    def s2_cold_wan(self) -> None:
        sz = self.sizes
        shape = Shape(latency=sz.s2_latency, bandwidth=sz.s2_bandwidth)
        title = (
            f"cold sync, WAN {shape.latency * 1000:.0f} ms/request, "
            f"{sz.s2_bandwidth / MB:g} MB/s/conn, {sz.s2_assets} x {_binary(sz.s2_size)}, "
            f"c={sz.concurrency}"
        )
        names = self.releases(releases=1, total=sz.s2_assets)
        total = sz.s2_assets * sz.s2_size
        capacity = sz.concurrency * sz.s2_bandwidth
        with self.serve("S2", shape) as upstream:
            upstream.populate({t: dict.fromkeys(n, sz.s2_size) for t, n in names.items()})
            downloads = upstream.downloads()
            runs: dict[str, list[Measured]] = {"mirrorsync": [], "curl": []}
            for i in range(sz.runs):
                self.say(f"S2 run {i + 1}/{sz.runs}")
                root = self.fresh("s2")
                cfg = self.config("s2", api_url=upstream.api_url, root=root)
                measured = self.mirrorsync(cfg, upstream=upstream, fetched=sz.s2_assets)
                runs["mirrorsync"].append(measured)
                got = self.baseline("curl", downloads, self.fresh("s2"), upstream=upstream)
                if got is not None:
                    runs["curl"].append(got)
        shutil.rmtree(self.workdir / "s2", ignore_errors=True)
        # The best any client can do: per asset, two requests' latency plus the paced body.
        per_asset = 2 * shape.latency + sz.s2_size / sz.s2_bandwidth
        waves = -(-sz.s2_assets // sz.concurrency)
        ideal = total / (waves * per_asset) / capacity
        for tool in ("curl", "mirrorsync"):
            if not runs[tool]:
                self.rows.append(
                    Row(scenario="S2", title=title, tool=tool, note="skipped: not installed")
                )
                continue
            row = median_row(Row(scenario="S2", title=title, tool=tool), runs[tool])
            assert row.wall is not None  # noqa: S101 - set by median_row
            share = total / row.wall / capacity
            row.throughput = f"{total / row.wall / MB:.1f} MB/s"
            row.ratio = f"{share:.2f} of {capacity / MB:g} MB/s"
            if tool == "mirrorsync":
                row.target = f">= {S2_OF_CAPACITY} of capacity"
                row.verdict = verdict(met=share >= S2_OF_CAPACITY)
                row.note = f"latency-bound ideal {ideal:.2f} of capacity"
            else:
                row.note = "reference"
            self.rows.append(row)

    # -- S3 ------------------------------------------------------------------------------------

    def s3_small_files(self) -> None:
        sz = self.sizes
        title = (
            f"many small files: {sz.s3_files} x {sz.small_low // KIB}-{sz.small_high // KIB} KiB "
            f"over {sz.s3_releases} releases, c={sz.concurrency}"
        )
        names = self.releases(releases=sz.s3_releases, total=sz.s3_files)
        with self.serve("S3", Shape()) as upstream:
            upstream.populate(
                {t: spread_sizes(n, low=sz.small_low, high=sz.small_high) for t, n in names.items()}
            )
            downloads = upstream.downloads()
            runs: dict[str, list[Measured]] = {"mirrorsync": [], "curl": []}
            for i in range(sz.runs):
                self.say(f"S3 run {i + 1}/{sz.runs}")
                root = self.fresh("s3")
                cfg = self.config("s3", api_url=upstream.api_url, root=root)
                measured = self.mirrorsync(cfg, upstream=upstream, fetched=sz.s3_files)
                runs["mirrorsync"].append(measured)
                got = self.baseline("curl", downloads, self.fresh("s3"), upstream=upstream)
                if got is not None:
                    runs["curl"].append(got)
        shutil.rmtree(self.workdir / "s3", ignore_errors=True)
        for tool in ("curl", "mirrorsync"):
            if not runs[tool]:
                self.rows.append(
                    Row(scenario="S3", title=title, tool=tool, note="skipped: not installed")
                )
                continue
            row = median_row(Row(scenario="S3", title=title, tool=tool), runs[tool])
            assert row.wall is not None  # noqa: S101 - set by median_row
            rate = sz.s3_files / row.wall
            row.throughput = f"{rate:.0f} files/s"
            row.ratio = f"{rate / S3_FILES_PER_S:.2f}x {S3_FILES_PER_S:.0f} files/s"
            if tool == "mirrorsync":
                row.target = f">= {S3_FILES_PER_S:.0f} files/s"
                row.verdict = verdict(met=rate >= S3_FILES_PER_S)
            else:
                row.note = "reference (no fsync, no index)"
            self.rows.append(row)

    # -- S4 ------------------------------------------------------------------------------------

    def s4_noop(self) -> None:
        sz = self.sizes
        names = self.releases(releases=sz.s4_releases, total=sz.s4_files)
        title = f"no-op re-sync, {sz.s4_files} files over {sz.s4_releases} releases"
        with self.serve("S4", Shape()) as upstream:
            upstream.populate(
                {t: spread_sizes(n, low=sz.small_low, high=sz.small_high) for t, n in names.items()}
            )
            downloads = upstream.downloads()
            root = self.fresh("s4")
            cfg = self.config("s4", api_url=upstream.api_url, root=root)
            self.say(f"S4 initial sync of {sz.s4_files} files")
            initial = self.mirrorsync(cfg, upstream=upstream, fetched=sz.s4_files)
            before = _snapshot(root)
            noop: list[Measured] = []
            for i in range(sz.s4_noop_runs):
                self.say(f"S4 no-op run {i + 1}")
                noop.append(self.mirrorsync(cfg, upstream=upstream, fetched=0))
            probe_file = self.workdir / PROBE_FILE
            self.mirrorsync(cfg, upstream=upstream, probe=probe_file)
            after = _snapshot(root)
        try:
            record = json.loads(probe_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {"open": [], "rename": [], "remove": []}
        opens = _classify(record, root, downloads)
        changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        shutil.rmtree(root, ignore_errors=True)

        setup = median_row(
            Row(
                scenario="S4",
                title=f"setup: initial sync of {sz.s4_files} files",
                tool="mirrorsync",
            ),
            [initial],
        )
        assert setup.wall is not None  # noqa: S101 - set by median_row
        setup.throughput = f"{sz.s4_files / setup.wall:.0f} files/s"
        setup.note = "reference (one run)"
        self.rows.append(setup)

        row = median_row(Row(scenario="S4", title=title, tool="mirrorsync"), noop)
        assert row.wall is not None  # noqa: S101 - set by median_row
        requests = max(sum(m.served.get("requests", {}).values()) for m in noop)
        not_modified = min(m.served.get("statuses", {}).get("api 304", 0) for m in noop)
        all_304 = requests == not_modified
        hashed = opens["archives_read"]
        # Any rewrite shows as a new inode or mtime, whether in place or by temp file + rename.
        rewritten = len(changed)
        row.ratio = (
            f"{row.wall / S4_WALL:.2f}x {S4_WALL}s; {requests}/{S4_REQUESTS} requests; "
            f"{hashed} hashed, {rewritten} rewritten"
        )
        row.target = f"< {S4_WALL}s, <= {S4_REQUESTS} requests (304), 0 hashed/rewritten"
        row.verdict = verdict(
            met=row.wall < S4_WALL
            and requests <= S4_REQUESTS
            and all_304
            and hashed == 0
            and rewritten == 0
        )
        row.note = (
            f"files opened: {opens['mirror_opened']} in the tree ({hashed} archives; "
            f"{', '.join(opens['tree_paths'])}), "
            f"{opens['state_opened']} in .mirrorsync/; written: {opens['mirror_written']} in the "
            f"tree, {opens['state_written']} in .mirrorsync/; rewritten in the tree: "
            f"{', '.join(changed[:5]) or 'none'}"
        )
        self.rows.append(row)
        self._s4_runs = {"initial": [initial], "noop": noop}

    # -- S5 ------------------------------------------------------------------------------------

    def s5_listing(self) -> None:
        sz = self.sizes
        names = self.releases(releases=sz.s5_releases, total=sz.s5_total)
        assets = sum(len(n) for n in names.values())
        title = f"listing: full crawl of {sz.s5_releases} releases ({assets} assets), plan --json"
        with self.serve("S5", Shape()) as upstream:
            # Listing only: the bodies are never fetched, so their size is irrelevant.
            upstream.populate({t: dict.fromkeys(n, 1) for t, n in names.items()})
            runs: list[Measured] = []
            for i in range(sz.runs):
                self.say(f"S5 run {i + 1}/{sz.runs}")
                # A mirror that does not exist: no cache, no conditional requests.
                root = self.workdir / "s5-absent"
                cfg = self.config("s5", api_url=upstream.api_url, root=root)
                runs.append(self.mirrorsync(cfg, command="plan", upstream=upstream))
        row = median_row(Row(scenario="S5", title=title, tool="mirrorsync"), runs)
        api = max(m.served.get("requests", {}).get("api", 0) for m in runs)
        api_bytes = statistics.median(m.served.get("bytes", {}).get("api", 0) for m in runs)
        planned = runs[0].extra.get("totals", {}).get("fetch_files")
        row.ratio = f"{api}/{S5_API_REQUESTS} API requests"
        row.throughput = f"{api_bytes / MB:.1f} MB API (gzip)"
        row.target = f"<= {S5_API_REQUESTS} API requests"
        row.verdict = verdict(met=api <= S5_API_REQUESTS)
        row.note = f"planned {planned} files"
        if planned != assets:
            self.failures.append(f"plan listed {planned} files, expected {assets}")
        self.rows.append(row)

    # -- S6 ------------------------------------------------------------------------------------

    def s6_memory(self) -> None:
        sz = self.sizes
        title = f"memory: sync of one {_binary(sz.s6_size)} asset"
        names = self.releases(releases=1, total=1)
        with self.serve("S6", Shape()) as upstream:
            upstream.populate({t: dict.fromkeys(n, sz.s6_size) for t, n in names.items()})
            runs: list[Measured] = []
            for i in range(sz.runs):
                self.say(f"S6 run {i + 1}/{sz.runs}")
                root = self.fresh("s6")
                cfg = self.config("s6", api_url=upstream.api_url, root=root)
                measured = self.mirrorsync(cfg, upstream=upstream, fetched=1)
                runs.append(measured)
        shutil.rmtree(self.workdir / "s6", ignore_errors=True)
        row = median_row(Row(scenario="S6", title=title, tool="mirrorsync"), runs)
        assert row.wall is not None  # noqa: S101 - set by median_row
        self._rss_row(row, note="peak RSS, median of runs")
        row.throughput = f"{sz.s6_size / row.wall / MB:.0f} MB/s"
        self.rows.append(row)
        if "noop" in self._s4_runs:
            for key, label in (("noop", "no-op re-sync"), ("initial", "initial sync")):
                row = median_row(
                    Row(scenario="S6", title=f"memory: scenario 4 {label}", tool="mirrorsync"),
                    self._s4_runs[key],
                )
                self._rss_row(row, note="from the S4 runs", target=key == "noop")
                self.rows.append(row)

    @staticmethod
    def _rss_row(row: Row, *, note: str, target: bool = True) -> None:
        assert row.rss is not None  # noqa: S101 - set by median_row
        row.ratio = f"{row.rss / S6_RSS:.2f}x {S6_RSS // MB} MB"
        if target:
            row.target = f"< {S6_RSS // MB} MB peak RSS"
            row.verdict = verdict(met=row.rss < S6_RSS)
        row.note = note


# ---------------------------------------------------------------------- helpers


def _binary(size: int) -> str:
    """``16 MiB``, ``1 GiB``, ``256 KiB``: the largest unit that divides ``size``."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _walk(root: Path) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".mirrorsync"]
        for name in files:
            yield Path(directory, name)


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, mtime, size) of every file of the tree outside ``.mirrorsync/``."""
    snapshot: dict[str, tuple[int, int, int]] = {}
    for path in _walk(root):
        st = path.lstat()
        snapshot[path.relative_to(root).as_posix()] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return snapshot


def _classify(
    record: Mapping[str, Any], root: Path, downloads: Sequence[Download]
) -> dict[str, Any]:
    """Count the probe's file events by where they point: tree, state directory, archives."""
    top = str(root.resolve())
    state = f"{top}/.mirrorsync/"
    archives = {f"{top}/{d.tag}/{d.name}" for d in downloads}
    counts: dict[str, Any] = dict.fromkeys(
        ("mirror_opened", "mirror_written", "state_opened", "state_written", "archives_read"), 0
    )
    opened: set[str] = set()
    for path, writing in record["open"]:
        if path.startswith(state):
            counts["state_opened"] += 1
            counts["state_written"] += int(writing)
        elif path.startswith(top + "/"):
            counts["mirror_opened"] += 1
            counts["mirror_written"] += int(writing)
            counts["archives_read"] += int(path in archives and not writing)
            opened.add(path.removeprefix(top + "/"))
    for _, destination in record["rename"]:
        if destination and destination.startswith(top + "/") and not destination.startswith(state):
            counts["mirror_written"] += 1
    counts["tree_paths"] = sorted(opened)
    return counts


# ---------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


COLUMNS = (
    "scenario",
    "tool",
    "wall s",
    "user+sys s",
    "peak RSS MB",
    "MB served",
    "requests",
    "throughput",
    "ratio to baseline",
    "target",
    "verdict",
)


def _note(row: Row) -> str:
    notes = [row.note] if row.note else []
    if row.upstream_cpu is not None:
        notes.append(f"the upstream process used {row.upstream_cpu:.2f}s CPU")
    return "; ".join(notes)


def _cells(row: Row) -> list[str]:
    return [
        f"{row.scenario} {row.title}",
        row.tool,
        _fmt(row.wall, ".3f"),
        _fmt(row.cpu, ".2f"),
        _fmt(None if row.rss is None else row.rss / MB, ".1f"),
        _fmt(None if row.wire_bytes is None else row.wire_bytes / MB, ".1f"),
        row.requests,
        row.throughput,
        row.ratio,
        row.target,
        "RUN FAILED" if row.failed else row.verdict,
    ]


def render_text(rows: Sequence[Row]) -> str:
    lines = []
    for row in rows:
        cells = _cells(row)
        lines.append(" | ".join(cells))
        if note := _note(row):
            lines.append(f"    {note}")
    return "\n".join(lines) + "\n"


def render_markdown(rows: Sequence[Row]) -> str:
    head = "| " + " | ".join(COLUMNS) + " |\n"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|\n"
    body = "".join("| " + " | ".join(_cells(r)) + " |\n" for r in rows)
    notes = "".join(f"- {r.scenario} {r.tool}: {_note(r)}\n" for r in rows if _note(r))
    return head + rule + body + "\n" + notes


# ---------------------------------------------------------------------- command line


def _install_aria2(log: TextIO) -> None:
    """``apt-get install -y aria2`` when it is missing and we may (root, apt present)."""
    apt = program("apt-get")
    if program("aria2c") is not None or apt is None or os.geteuid() != 0:
        return
    log.write("[bench] aria2c is missing: apt-get install -y aria2\n")
    scratch = Path(tempfile.gettempdir()) / "mirrorsync-bench-apt"
    install = [apt, "install", "-y", "-q", "aria2"]
    if run_child(install, scratch=scratch).exit_code != 0:
        run_child([apt, "update", "-q"], scratch=scratch)
        if run_child(install, scratch=scratch).exit_code != 0:
            log.write("[bench] could not install aria2; its baseline is skipped\n")
    shutil.rmtree(scratch, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark mirrorsync against a loopback fake GitHub (see BENCHMARKS.md).",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (smoke test)")
    parser.add_argument("--runs", type=int, help="runs per measurement (median); default 3")
    parser.add_argument(
        "--only", help=f"comma-separated scenarios to run, of {','.join(SCENARIOS)}"
    )
    parser.add_argument("--workdir", type=Path, help="where mirrors are written (default: /tmp)")
    parser.add_argument("--json", type=Path, dest="json_out", help="also write results here")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install a missing aria2c"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the suite; 0 when every run completed (targets missed or not), 1 otherwise."""
    args = build_parser().parse_args(argv)
    stdout = out or sys.stdout
    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = replace(sizes, runs=args.runs)
    only = tuple(s.strip().upper() for s in args.only.split(",")) if args.only else SCENARIOS
    if not args.quick and not args.no_install:
        _install_aria2(sys.stderr)
    base = args.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mirrorsync-bench-", dir=base))
    began = time.monotonic()
    info = machine(workdir)
    try:
        suite = Suite(sizes=sizes, workdir=workdir, log=sys.stderr, only=only)
        stdout.write("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + "\n")
        suite.run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - began
    info["load average at end"] = load_average()
    stdout.write(render_text(suite.rows))
    if args.markdown:
        stdout.write("\n" + render_markdown(suite.rows))
    upstream_cpu = {k: round(v, 2) for k, v in suite.upstream_cpu.items()}
    stdout.write(
        f"upstream CPU s per scenario: {json.dumps(upstream_cpu)}\n"
        f"load average at end: {info['load average at end']}\n"
        f"suite: {elapsed:.0f}s, {'quick' if args.quick else 'full'} sizes, "
        f"{sizes.runs} run(s) per figure\n"
    )
    if args.json_out:
        doc = {
            "machine": info,
            "sizes": asdict(sizes),
            "rows": [asdict(r) for r in suite.rows],
            "upstream_cpu": suite.upstream_cpu,
            "failures": suite.failures,
            "seconds": elapsed,
        }
        args.json_out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for failure in suite.failures:
        stdout.write(f"FAILED: {failure}\n")
    return 1 if suite.failures else 0
