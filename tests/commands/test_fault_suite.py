"""The fault-tolerance suite: every fault, one invariant check, then a clean rerun.

Each case injects one kind of fault (a ``kill -9`` at a seeded moment, a signal, 5xx storms,
broken bodies, wrong bytes, stalls, rate limits, expired signed URLs, a failing or empty listing,
a full disk, a concurrent run, hostile names, damaged state files), asserts the exit code, and
then runs the same checks:

- ``check_invariants``: every file in ``index.json`` is on disk with its recorded size and sha256,
  which is upstream's (or the good copy's the case started from); each release's ``SHA256SUMS`` is
  exactly what ``index.json`` implies; every file under the root outside ``.mirrorsync/`` is
  byte-identical to upstream (nothing partial under a final name); no good file was lost; nothing
  was written outside the root;
- ``rerun_clean``: with every fault cleared, the next run exits 0 with exactly the expected tree,
  never downloading again a file already complete on disk.

A table of the cases and their outcomes is printed when the module ends. Runs that must be real
processes (``kill -9``, signals, a full disk, two runs at once) start ``python -m mirrorsync``;
the others run in-process with the harness's never-sleeping retry policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from conftest import FakeClock
from fake_github import FakeGitHub, generated_content, is_archive
from mirror_harness import Mirror
from mounts import small_tmpfs

from mirrorsync.commands.sync import Outcome
from mirrorsync.commands.verify import ROOT_FILES, TAG_FILES, verify
from mirrorsync.core.layout import CLIENT_LAYOUTS
from mirrorsync.targets.open import open_root

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0
"""Seconds a subprocess may take to reach a state; only a failing case waits this long."""
KIB = 1024
STATE = ".mirrorsync"

TAG = "20251217"
OLD_TAG = "20210724"  # before 2022: upstream published no checksum at all
OLD_NAMES = [
    "cpython-3.9.6-x86_64-unknown-linux-gnu-install_only-20210724T1424.tar.gz",
    "cpython-3.9.6-aarch64-apple-darwin-install_only-20210724T1424.tar.gz",
]
_VERSIONS = ("3.10.19", "3.11.14", "3.12.12", "3.13.11")
_PLATFORMS = (
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
)
_FLAVORS = ("install_only", "install_only_stripped")


def pbs_names(count: int, *, tag: str = TAG) -> list[str]:
    """``count`` distinct, parseable era-C archive names of release ``tag``, sorted."""
    every = [
        f"cpython-{v}+{tag}-{p}-{f}.tar.gz" for v, p, f in product(_VERSIONS, _PLATFORMS, _FLAVORS)
    ]
    assert count <= len(every)
    return sorted(every[:count])


# -- the fake, with events the kill -9 and concurrency cases wait on -----------------------------


class EventfulGitHub(FakeGitHub):
    """The fake GitHub, plus an event per count of CDN bodies handed completely to the socket."""

    def __init__(self, *, now: FakeClock) -> None:
        super().__init__(now=now)
        self.bodies_sent = 0
        self._waiters: list[tuple[int, asyncio.Event]] = []

    def bodies_sent_at_least(self, count: int) -> asyncio.Event:
        """An event set once ``count`` CDN GETs have written their whole 200/206 body."""
        event = asyncio.Event()
        self._waiters.append((count, event))
        self._notify()
        return event

    def release_stalls(self) -> None:
        """Let stalled responses go on: each then breaks its connection, as a dying peer does."""
        self._released.set()

    def clear_faults(self) -> None:
        """Forget every scripted fault: what a clean rerun sees is a healthy upstream."""
        self._download_faults.clear()
        self._corrupt_forever.clear()
        self._expire_queue.clear()
        self._ignore_range.clear()
        self._listing_faults.clear()
        self._rate_limits.clear()
        self._empty_listings = 0

    def _notify(self) -> None:
        for count, event in self._waiters:
            if self.bodies_sent >= count:
                event.set()

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        response = await super()._cdn(request)
        if isinstance(response, web.Response) and response.status in (200, 206):
            # Send it here rather than after the handler returns, so that the count means
            # "the whole body is in the socket"; aiohttp skips an already prepared response.
            await response.prepare(request)
            await response.write_eof()
            self.bodies_sent += 1
            self._notify()
        return response


@pytest_asyncio.fixture
async def fake_github(fake_clock: FakeClock) -> AsyncIterator[EventfulGitHub]:
    """The module's fake GitHub (with events); fails the test if a token reached its CDN host."""
    async with EventfulGitHub(now=fake_clock) as fake:
        yield fake
    if fake.auth_violations:
        leaked = ", ".join(f"{h.method} {h.host}{h.path}" for h in fake.auth_violations)
        pytest.fail(f"Authorization header sent to the CDN host: {leaked}")


# -- what upstream serves ------------------------------------------------------------------------


def upstream_bytes(fake: FakeGitHub, path: str) -> bytes | None:
    """The bytes upstream serves for ``<tag>/<name>`` now, or None when it has no such file."""
    tag, _, name = path.partition("/")
    try:
        return fake.content(tag, name)
    except KeyError:
        return None


def upstream_archives(fake: FakeGitHub) -> set[str]:
    """Every path a healthy, unfiltered run mirrors: archives of published releases."""
    return {
        f"{r.tag}/{name}"
        for r in fake._releases.values()
        if not (r.draft or r.prerelease)
        for name, asset in r.assets.items()
        if is_archive(name) and asset.state == "uploaded"
    }


def unverifiable(fake: FakeGitHub, path: str) -> bool:
    """Whether upstream publishes no checksum for ``path`` (such a file cannot be adopted)."""
    tag = path.partition("/")[0]
    return tag not in fake._releases or fake.release(tag).checksums == "none"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the tree ------------------------------------------------------------------------------------


def read_index(root: Path) -> dict[str, dict[str, Any]] | None:
    """``index.json``'s entries by path; None when there is no index file (a killed first run)."""
    path = root / "index.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_bytes())
    files = doc["files"]
    assert [f["path"] for f in files] == sorted(f["path"] for f in files), "files not sorted"
    return {f["path"]: f for f in files}


def tree_files(root: Path) -> Iterator[str]:
    """Every regular file under ``root`` outside the state directory, without following links."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d != STATE and d not in CLIENT_LAYOUTS]
        for name in filenames:
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root).as_posix()


def is_index_file(rel: str) -> bool:
    parts = rel.split("/")
    return (len(parts) == 1 and parts[0] in ROOT_FILES) or (
        len(parts) == 2 and parts[1] in TAG_FILES
    )


def staged_parts(root: Path) -> dict[str, int]:
    """Staging files by the ``<tag>/<name>`` they belong to, with their sizes."""
    staging = root / STATE / "staging"
    if not staging.is_dir():
        return {}
    return {
        p.relative_to(staging).as_posix().removesuffix(".part"): p.stat().st_size
        for p in staging.rglob("*")
        if p.is_file()
    }


def outside_names(base: Path) -> set[str]:
    """What exists next to and above the mirror root: ``base`` (less the root) and its parent."""
    near = {
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if not p.is_relative_to(base / "mirror")
    }
    return near | {f"../{p.name}" for p in base.parent.iterdir()}


# -- the case record and the summary table -------------------------------------------------------


@dataclass
class CaseRecord:
    """One row of the summary table."""

    name: str
    runs: list[str] = field(default_factory=list)
    note: str = ""
    passed: bool = False


RESULTS: list[CaseRecord] = []


def render_table(rows: Iterable[CaseRecord]) -> list[str]:
    header = ("case", "exit codes", "result", "outcome")
    body = [
        (r.name, ", ".join(r.runs) or "-", "ok" if r.passed else "FAILED", r.note or "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(3)]

    def line(row: tuple[str, str, str, str]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return " | ".join([*cells, row[3]])

    rule = "-+-".join("-" * w for w in widths) + "-+-" + "-" * len(header[3])
    return ["fault-tolerance suite", line(header), rule, *map(line, body)]


@pytest.fixture(scope="module", autouse=True)
def _summary_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print the table of cases and outcomes once the module's tests have run."""
    RESULTS.clear()
    yield
    if not RESULTS:
        return
    lines = render_table(RESULTS)
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None:
        print("", *lines, sep="\n", file=sys.__stdout__)
        return
    # Outside capture, as capsys.disabled() does, so that the table shows on a passing run too.
    quiet = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
    with quiet:
        reporter.write_line("")
        for text in lines:
            reporter.write_line(text)


# -- the scenario: one case, its invariants, its clean rerun -------------------------------------


class Scenario:
    """One case: the mirror, its table row, the good copies it started from, and the checks."""

    def __init__(self, mirror: Mirror, fake: EventfulGitHub, record: CaseRecord) -> None:
        self.mirror = mirror
        self.fake = fake
        self.record = record
        self.good: dict[str, str] = {}
        """Path -> sha256 of the verified files on disk before the fault: none may be lost."""
        self.outside = outside_names(mirror.base)

    @property
    def root(self) -> Path:
        return self.mirror.root

    def ran(self, label: str, code: int) -> int:
        self.record.runs.append(f"{label} {code}")
        return code

    def done(self, note: str) -> None:
        self.record.note = note
        self.record.passed = True

    async def baseline(self) -> None:
        """A clean first sync; its files become the good copies the case must not lose."""
        outcome = await self.mirror.sync()
        self.ran("baseline", outcome.exit_code)
        assert outcome.exit_code == 0
        self.good = {p: e["sha256"] for p, e in self.mirror.indexed().items()}
        assert self.good

    def check_invariants(self, *, index_readable: bool = True) -> dict[str, dict[str, Any]]:
        """The uniform invariants after a faulty run; returns the index entries (if readable)."""
        indexed = read_index(self.root) if index_readable else None
        entries = indexed or {}
        self._indexed_files_are_intact(entries)
        if index_readable:
            self._sums_match_the_index(entries)
        self._nothing_partial_under_a_final_name()
        self._no_good_file_lost(indexed)
        # Nothing written outside the root.
        assert outside_names(self.mirror.base) - {"mirror.yaml"} == self.outside - {"mirror.yaml"}
        return entries

    def _indexed_files_are_intact(self, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Each indexed file has its recorded size and sha256: upstream's, or the good copy's."""
        for path, entry in entries.items():
            data = (self.root / path).read_bytes()
            assert len(data) == entry["size"], path
            assert sha256(data) == entry["sha256"], path
            up = upstream_bytes(self.fake, path)
            allowed = {self.good.get(path), None if up is None else sha256(up)}
            if up is None and not entry["verified"]:
                allowed.add(sha256(data))  # gone upstream, never verifiable: its own hash
            assert entry["sha256"] in allowed, f"{path}: indexed bytes neither good nor upstream"

    def _sums_match_the_index(self, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Each release's SHA256SUMS says exactly what index.json implies, and no other exists."""
        by_tag: dict[str, list[tuple[str, str]]] = {}
        for path, entry in entries.items():
            tag, name = path.split("/", 1)
            by_tag.setdefault(tag, []).append((name, entry["sha256"]))
        for rel in tree_files(self.root):
            if rel.endswith("/SHA256SUMS"):
                assert rel.split("/")[0] in by_tag, f"{rel} for a release with no indexed file"
        for tag, rows in by_tag.items():
            want = "".join(f"{sha}  {name}\n" for name, sha in sorted(rows))
            assert (self.root / tag / "SHA256SUMS").read_text(encoding="utf-8") == want, tag

    def _nothing_partial_under_a_final_name(self) -> None:
        """Every file outside the state directory is an index or upstream's exact bytes."""
        for rel in tree_files(self.root):
            if is_index_file(rel):
                continue
            data = (self.root / rel).read_bytes()
            good = self.good.get(rel)
            assert data == upstream_bytes(self.fake, rel) or (
                good is not None and sha256(data) == good
            ), f"{rel}: partial or foreign bytes under a final name"

    def _no_good_file_lost(self, indexed: Mapping[str, Any] | None) -> None:
        """Each good copy is on disk, intact (or upstream's newer bytes), and still indexed."""
        for path, sha in self.good.items():
            data = (self.root / path).read_bytes()
            assert sha256(data) == sha or data == upstream_bytes(self.fake, path), path
            if indexed is not None:
                assert path in indexed, f"{path}: good copy no longer indexed"

    async def rerun_clean(self, *, expected: set[str] | None = None) -> Outcome:
        """Clear the faults, rerun: exit 0, exactly the expected tree, no needless download."""
        self.fake.clear_faults()
        want = upstream_archives(self.fake) if expected is None else expected
        indexed = read_index(self.root) if (self.root / "index.json").is_file() else None
        complete = {
            rel
            for rel in tree_files(self.root)
            if not is_index_file(rel)
            and (up := upstream_bytes(self.fake, rel)) is not None
            and (self.root / rel).read_bytes() == up
            and (not unverifiable(self.fake, rel) or rel in (indexed or {}))
        }
        self.fake.reset_hits()
        outcome = await self.mirror.sync()
        self.ran("rerun", outcome.exit_code)
        assert outcome.exit_code == 0, outcome.report.failed
        downloaded = {h.asset for h in self.fake.downloads() if h.asset is not None}
        again = downloaded & {p.split("/", 1)[1] for p in complete}
        assert not again, f"complete files downloaded again: {sorted(again)}"
        self.good = {}
        entries = self.check_invariants()
        assert set(entries) == want
        assert self.mirror.published() == want
        for path in want:
            assert (self.root / path).read_bytes() == upstream_bytes(self.fake, path), path
        assert staged_parts(self.root) == {}, "staging not swept after a clean run"
        assert self.mirror.status()["status"] == "success"
        return outcome


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest, mirror: Mirror, fake_github: EventfulGitHub
) -> Iterator[Scenario]:
    """A case of the suite; its row joins the summary table whatever the outcome."""
    name = request.node.name.removeprefix("test_")
    record = CaseRecord(name=name)
    yield Scenario(mirror, fake_github, record)
    RESULTS.append(record)


# -- real processes ------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MIRRORSYNC_CONFIG", "GITHUB_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def spawn_sync(mirror: Mirror, *extra: str) -> asyncio.subprocess.Process:
    """``python -m mirrorsync sync -c <config>`` as a real process."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mirrorsync",
        "sync",
        "-c",
        str(mirror.config_path),
        *extra,
        cwd=mirror.base,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for the process; its exit code and stderr. A hung process fails the test."""
    try:
        _, err = await asyncio.wait_for(proc.communicate(), WAIT)
    except TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
        pytest.fail(f"the process did not exit within {WAIT}s: {err.decode(errors='replace')}")
    assert proc.returncode is not None
    text = err.decode(errors="replace")
    assert "Traceback" not in text, text
    return proc.returncode, text


async def reach(event: asyncio.Event, proc: asyncio.subprocess.Process, what: str) -> None:
    """Wait until ``event`` is set; fail, with the process's stderr, if it exits first."""
    async with asyncio.TaskGroup() as tg:
        reached = tg.create_task(event.wait())
        exited = tg.create_task(proc.wait())
        await asyncio.wait((reached, exited), timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        ok = reached.done()
        reached.cancel()
        exited.cancel()
    if not ok:
        if proc.returncode is None:
            proc.kill()
        _, err = await proc.communicate()
        pytest.fail(f"{what} never happened; exit {proc.returncode}: {err.decode()}")


# -- kill -9 at seeded moments -------------------------------------------------------------------

KILL_ASSETS = 40


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed{s}")
async def test_kill_9(scenario: Scenario, seed: int) -> None:
    """A SIGKILLed run leaves only correct bytes; the rerun adopts them, fetching only the rest."""
    rng = random.Random(seed)  # noqa: S311 - seeds pick test moments, not secrets
    names = pbs_names(KILL_ASSETS)
    sizes = {n: rng.randint(64 * KIB, 256 * KIB) for n in names}
    scenario.fake.add_release(TAG, names, sizes=sizes)
    scenario.mirror.configure(download={"concurrency": 4, "retries": 0})
    kill_after = rng.randint(1, KILL_ASSETS - 1)
    proc = await spawn_sync(scenario.mirror, "-q")
    try:
        await reach(scenario.fake.bodies_sent_at_least(kill_after), proc, "the downloads")
    finally:
        if proc.returncode is None:
            proc.kill()
    code = scenario.ran("killed", (await finish(proc))[0])
    assert code == -signal.SIGKILL

    scenario.check_invariants()
    on_disk = scenario.mirror.published()
    parts = staged_parts(scenario.root)
    whole = {p for p, size in parts.items() if size == sizes[p.split("/", 1)[1]]}
    outcome = await scenario.rerun_clean()
    downloaded = scenario.fake.downloads()
    fetched = {f"{TAG}/{h.asset}" for h in downloaded}
    # Only what was neither published nor completely staged is requested again, and a partial
    # staging file resumes where it stopped.
    assert fetched == {f"{TAG}/{n}" for n in names} - on_disk - whole
    for hit in downloaded:
        offset = parts.get(f"{TAG}/{hit.asset}", 0)
        assert hit.headers.get("Range") == (f"bytes={offset}-" if offset else None), hit.asset
    assert outcome.report.kept == len(on_disk)
    assert outcome.report.fetched == KILL_ASSETS - len(on_disk)
    scenario.done(
        f"killed after {kill_after} bodies: {len(on_disk)} published (rerun adopted them), "
        f"{len(parts)} staged ({len(whole)} whole); rerun fetched {len(fetched)}"
    )


# -- SIGINT / SIGTERM ----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_signal(scenario: Scenario, signum: signal.Signals) -> None:
    """Ctrl-C or SIGTERM mid-download exits 130 with everything published indexed."""
    names = pbs_names(12)
    scenario.fake.add_release(TAG, names, sizes=dict.fromkeys(names, 64 * KIB))
    stalled = names[-1]
    scenario.fake.stall(stalled)
    scenario.mirror.configure(download={"concurrency": 4, "retries": 0})
    proc = await spawn_sync(scenario.mirror)
    try:
        await reach(scenario.fake.stalled, proc, "the stall")
        proc.send_signal(signum)
    finally:
        code, err = await finish(proc)
    scenario.ran(signum.name, code)
    assert code == 130
    assert f"interrupted by {signum.name}" in err

    entries = scenario.check_invariants()
    assert set(entries) == scenario.mirror.published()
    assert f"{TAG}/{stalled}" not in entries
    assert scenario.mirror.status()["status"] == "interrupted"
    # Whatever of the stalled body had arrived is kept in staging (the stall sends half of it).
    partial = staged_parts(scenario.root).get(f"{TAG}/{stalled}", 0)
    assert partial <= 32 * KIB
    # The interrupted tree verifies clean; its partial downloads are listed for the next sync.
    report = await verify(open_root(scenario.root))
    assert report.ok, report.problems
    assert len(report.resumable) == len(staged_parts(scenario.root))
    await scenario.rerun_clean()
    (again,) = scenario.fake.downloads(stalled)
    assert again.headers.get("Range") == (f"bytes={partial}-" if partial else None)
    scenario.done(
        f"{len(entries)} of {len(names)} published and indexed; stalled one resumed at {partial}"
    )


# -- upstream faults, in-process -----------------------------------------------------------------


def grow_release(
    fake: FakeGitHub, *, old: int, new: int, size: int = 64 * KIB
) -> tuple[list[str], list[str]]:
    """Release ``TAG`` with ``old`` assets now; returns those and ``new`` names to add later."""
    names = pbs_names(old + new)
    fake.add_release(TAG, names[:old], sizes=dict.fromkeys(names[:old], size))
    return names[:old], names[old:]


def add_assets(fake: FakeGitHub, names: Iterable[str], *, size: int = 64 * KIB) -> None:
    for name in names:
        fake.add_asset(TAG, name, generated_content(name, size))


def replace(fake: FakeGitHub, name: str) -> None:
    """Upstream rebuilds an asset: new bytes, new digest (the mirror's copy is now outdated)."""
    fake.set_content(TAG, name, generated_content("rebuilt " + name, 64 * KIB))


async def faulty_run(scenario: Scenario, *, expect: int, failed: Iterable[str] = ()) -> Outcome:
    """One in-process run under the scripted faults, with its exit code and failed paths."""
    outcome = await scenario.mirror.sync()
    scenario.ran("faulty", outcome.exit_code)
    assert outcome.exit_code == expect, outcome.report.failed
    assert sorted(f.path for f in outcome.report.failed) == sorted(f"{TAG}/{n}" for n in failed)
    return outcome


async def test_5xx_storm(scenario: Scenario) -> None:
    """5xx answers on the listing and on every download are retried; persistent ones fail alone."""
    fake = scenario.fake
    fake.add_release(OLD_TAG, OLD_NAMES, checksums="none")
    old, new = grow_release(fake, old=4, new=8)
    scenario.mirror.configure(download={"retries": 3})
    await scenario.baseline()
    add_assets(fake, new)
    changed = old[0]
    replace(fake, changed)
    fake.fail_listing(502, 503, 500)
    for name in new[2:]:
        fake.fail(name, 500, 502, 503)
    hopeless = new[:2]
    for name in [*hopeless, changed]:
        fake.fail(name, *[503] * 4)
    await faulty_run(scenario, expect=1, failed=[*hopeless, changed])
    scenario.check_invariants()
    assert (scenario.root / TAG / changed).exists()
    await scenario.rerun_clean()
    scenario.done(f"{len(new) - 2} recovered after 3 errors each; 3 failed, old copy kept")


async def test_reset_mid_body(scenario: Scenario) -> None:
    """Resets mid-body resume with Range; one past its retries stays staged and resumes later."""
    fake = scenario.fake
    _, new = grow_release(fake, old=3, new=5, size=128 * KIB)
    scenario.mirror.configure(download={"retries": 2})
    await scenario.baseline()
    add_assets(fake, new, size=128 * KIB)
    for name in new[1:]:
        fake.reset_mid_body(name, 2)
    fake.reset_mid_body(new[0], 3)
    await faulty_run(scenario, expect=1, failed=[new[0]])
    scenario.check_invariants()
    partial = staged_parts(scenario.root)[f"{TAG}/{new[0]}"]
    assert 0 < partial < 128 * KIB
    await scenario.rerun_clean()
    (hit,) = fake.downloads(new[0])
    assert hit.headers["Range"] == f"bytes={partial}-"
    scenario.done(f"{len(new) - 1} resumed twice each; 1 failed, resumed at byte {partial} later")


async def test_truncated_body(scenario: Scenario) -> None:
    """Bodies cut short under a full Content-Length are never published; the good copy stays."""
    fake = scenario.fake
    old, new = grow_release(fake, old=3, new=4)
    scenario.mirror.configure(download={"retries": 1})
    await scenario.baseline()
    add_assets(fake, new)
    changed = old[1]
    replace(fake, changed)
    fake.truncate(new[0])
    fake.truncate(new[1], 2)
    fake.truncate(changed, 2)
    await faulty_run(scenario, expect=1, failed=[new[1], changed])
    scenario.check_invariants()
    assert scenario.mirror.sha256(f"{TAG}/{changed}") == scenario.good[f"{TAG}/{changed}"]
    await scenario.rerun_clean()
    scenario.done("1 recovered, 2 failed (one a replacement: old copy kept)")


async def test_wrong_bytes(scenario: Scenario) -> None:
    """A body with the right length but wrong bytes is never published nor retried."""
    fake = scenario.fake
    old, new = grow_release(fake, old=3, new=3)
    await scenario.baseline()
    add_assets(fake, new)
    changed = old[2]
    replace(fake, changed)
    fake.corrupt(new[0], times=None)
    fake.corrupt(new[1])
    fake.corrupt(changed, times=None)
    await faulty_run(scenario, expect=1, failed=[new[0], new[1], changed])
    scenario.check_invariants()
    assert len(fake.downloads(new[1])) == 1
    assert scenario.mirror.sha256(f"{TAG}/{changed}") == scenario.good[f"{TAG}/{changed}"]
    await scenario.rerun_clean()
    scenario.done("3 mismatches refused (no retry), old copy of the replacement kept")


@pytest.mark.timeout(30)
async def test_stalled_connection(scenario: Scenario) -> None:
    """A connection that stops sending hits the stall timeout; the retry resumes it."""
    fake = scenario.fake
    _, new = grow_release(fake, old=2, new=3)
    scenario.mirror.configure(download={"retries": 1, "timeout": 0.3})
    await scenario.baseline()
    add_assets(fake, new)
    fake.stall(new[0])
    fake.stall(new[1], 2)
    await faulty_run(scenario, expect=1, failed=[new[1]])
    scenario.check_invariants()
    await scenario.rerun_clean()
    scenario.done("1 stall recovered, 1 stalled past its retries")


async def test_rate_limits(scenario: Scenario) -> None:
    """403/429 rate limits wait exactly what their headers say, then the run succeeds."""
    fake = scenario.fake
    _, new = grow_release(fake, old=2, new=2)
    await scenario.baseline()
    add_assets(fake, new)
    start = scenario.mirror.clock()
    fake.rate_limit(status=403, reset_in=120)
    fake.rate_limit(status=429, reset_in=None, retry_after=7)
    fake.fail(new[0], 429)
    scenario.mirror.sleep.delays.clear()
    await faulty_run(scenario, expect=0)
    delays = scenario.mirror.sleep.delays
    assert delays[:2] == [int(start + 120) - start, 7.0]
    assert delays[2:] == [60.0]  # a bare 429 from the download host: GitHub's minute
    scenario.check_invariants()
    await scenario.rerun_clean()
    scenario.done("waited until x-ratelimit-reset, retry-after 7s, 60s for a bare 429")


async def test_expired_signed_url(scenario: Scenario) -> None:
    """A redirect target answering 403 (expired) is re-requested through browser_download_url."""
    fake = scenario.fake
    _, new = grow_release(fake, old=2, new=2)
    await scenario.baseline()
    add_assets(fake, new)
    fake.expire_redirect(new[0], times=2)
    fake.expire_redirect(new[1])
    await faulty_run(scenario, expect=0)
    scenario.check_invariants()
    redirects = [h for h in fake.hits if h.route == "download" and h.asset == new[0]]
    assert len(redirects) == 3
    refused = [h for h in fake.hits if h.route == "cdn" and h.status == 403]
    assert len(refused) == 3
    await scenario.rerun_clean()
    scenario.done("3 expired links, each retried from browser_download_url")


async def test_listing_fails_on_page_3(scenario: Scenario) -> None:
    """A listing failing on page 3 of 5 exits 1 and changes nothing, even with prune on."""
    fake = scenario.fake
    tags = [f"2025{month:02d}{day:02d}" for month in (1, 2) for day in range(1, 24)][:45]
    for tag in tags:
        fake.add_release(
            tag, [f"cpython-3.13.1+{tag}-x86_64-unknown-linux-gnu-install_only.tar.gz"]
        )
    await scenario.baseline()
    assert len(fake.listing_hits()) == 5  # per_page=10: five pages
    index_before = (scenario.root / "index.json").read_bytes()
    for tag in tags[:5]:
        fake.remove_release(tag)  # what a partial listing would make look deleted
    # Every page is asked for (no trust in an unchanged first page), so page 3 is reached.
    scenario.mirror.configure(
        prune=True, prune_max="100%", download={"retries": 2}, upstream={"full_listing_hours": 0}
    )
    fake.fail_listing(502, 502, 502, page=3)
    outcome_code = await scenario.mirror.run()
    scenario.ran("faulty", outcome_code)
    assert outcome_code == 1
    assert [h.query.get("page", "1") for h in fake.listing_hits()][-1] == "3"
    assert (scenario.root / "index.json").read_bytes() == index_before
    scenario.check_invariants()
    assert scenario.mirror.status()["status"] == "failed"
    await scenario.rerun_clean()
    scenario.done("nothing changed or pruned; the clean rerun pruned the 5 gone releases")


async def test_empty_listing_with_prune(scenario: Scenario) -> None:
    """An empty listing is refused (exit 2) with prune on: nothing is deleted."""
    fake = scenario.fake
    grow_release(fake, old=4, new=0)
    await scenario.baseline()
    index_before = (scenario.root / "index.json").read_bytes()
    scenario.mirror.configure(prune=True, prune_max="100%")
    fake.empty_listing()
    code = scenario.ran("faulty", await scenario.mirror.run())
    assert code == 2
    assert (scenario.root / "index.json").read_bytes() == index_before
    scenario.check_invariants()
    await scenario.rerun_clean()
    scenario.done("refused by the guard; all 4 files kept")


# -- hostile names -------------------------------------------------------------------------------


async def test_hostile_names(scenario: Scenario) -> None:
    """Hostile asset names and tags are reported and skipped; nothing lands outside the root."""
    fake, base = scenario.fake, scenario.mirror.base
    good = pbs_names(2)
    era_b = "cpython-3.9.6-x86_64-unknown-linux-gnu-install_only-20210724T1424.tar.gz"
    hostile = [
        "..",
        ".",
        "../../escape.tar.gz",
        "../../../escape-above.tar.gz",
        "..\\..\\escape-backslash.tar.gz",
        str(base / "absolute.tar.gz"),
        f"{good[0]}\x00.tar.gz",
        good[0].replace("-install_only", "\x1b[2J-install_only"),
        good[0] + "\n",
        "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-" + "pgo+" * 70 + "lto-full.tar.zst",
        "x" * 300 + ".tar.gz",
    ]
    fake.add_release(TAG, [*good, *hostile])
    hostile_tags = ["..", "../../escape-tag", str(base / "absolute-tag"), "tag\x00nul", "tag\nnl"]
    for tag in hostile_tags:
        fake.add_release(tag, [era_b], checksums="none")
    outcome = await scenario.mirror.sync()
    scenario.ran("faulty", outcome.exit_code)
    assert outcome.exit_code == 0
    assert set(outcome.plan.unparsed) == set(hostile)
    assert set(outcome.plan.skipped_releases) == set(hostile_tags)
    assert {h.asset for h in fake.downloads()} == set(good)
    expected = {f"{TAG}/{n}" for n in good}
    scenario.check_invariants()
    assert scenario.mirror.published() == expected
    await scenario.rerun_clean(expected=expected)
    scenario.done(f"{len(hostile)} names, {len(hostile_tags)} tags skipped; nothing escaped")


# -- damaged state on disk -----------------------------------------------------------------------


def garbage_index(root: Path) -> None:
    (root / "index.json").write_bytes(b'{"format": 1, "files": [\x00\xff garbage')


def hostile_index(root: Path) -> None:
    doc = json.loads((root / "index.json").read_bytes())
    doc["files"][0]["path"] = "../../outside.tar.gz"
    (root / "index.json").write_text(json.dumps(doc), encoding="utf-8")


def index_directory(root: Path) -> None:
    (root / "index.json").unlink()
    (root / "index.json" / "oops").mkdir(parents=True)


def garbage_status(root: Path) -> None:
    (root / STATE / "status.json").write_bytes(b"\x00\x01not json at all")


GARBAGE = [
    b"",
    b"\xff\xfe",
    b"[1, 2]",
    b'{"url": 1}',
    b'{"url": "u", "etag": "e", "body": "\\ud800", "next_url": null, "sha256": "0"}',
]


def garbage_cache(root: Path) -> None:
    files = [p for p in (root / STATE / "cache").rglob("*") if p.is_file()]
    assert files
    for i, path in enumerate(files):
        path.write_bytes(GARBAGE[i % len(GARBAGE)])


def mangled_cache(root: Path) -> None:
    """Valid JSON and the right ETag or identity, but the cached text cut in half.

    Upstream answers 304 to that ETag, so a listing page would be replayed from the damaged body.
    """
    cache = root / STATE / "cache"
    entries = [*(cache / "pages").glob("*.json"), *(cache / "files").glob("*.json")]
    assert {p.parent.name for p in entries} == {"pages", "files"}
    for path in entries:
        doc = json.loads(path.read_bytes())
        key = "body" if "body" in doc else "text"
        doc[key] = doc[key][: len(doc[key]) // 2]
        path.write_text(json.dumps(doc), encoding="utf-8")


def undo_index_directory(root: Path) -> None:
    shutil.rmtree(root / "index.json")


@dataclass(frozen=True, kw_only=True)
class Damage:
    name: str
    damage: Callable[[Path], None]
    exit_code: int
    says: str
    """Words stderr must carry (in its last line when the run refuses)."""
    note: str
    index_set_aside: bool = False
    """The index is unusable: it is set aside and rebuilt by adopting the files in place (those
    without an upstream checksum cannot be verified, so they are downloaded again)."""
    undo: Callable[[Path], None] | None = None
    """What the operator does before the clean rerun (nothing, when the run recovered alone)."""


DAMAGE = [
    Damage(
        name="index-garbage",
        damage=garbage_index,
        exit_code=0,
        index_set_aside=True,
        says="not valid JSON",
        note="set aside, rebuilt; verifiable files adopted, not downloaded",
    ),
    Damage(
        name="index-hostile-path",
        damage=hostile_index,
        exit_code=0,
        index_set_aside=True,
        says="unsafe path in files",
        note="'../..' path in files: set aside and rebuilt like garbage",
    ),
    Damage(
        name="index-is-a-directory",
        damage=index_directory,
        exit_code=1,
        says="index.json: cannot read (Is a directory)",
        undo=undo_index_directory,
        note="clear error; rerun after removing it rebuilt the index",
    ),
    Damage(
        name="status-garbage",
        damage=garbage_status,
        exit_code=0,
        says="success",
        note="ignored and rewritten",
    ),
    Damage(
        name="cache-garbage",
        damage=garbage_cache,
        exit_code=0,
        says="ignoring unreadable cache entry",
        note="unreadable entries ignored",
    ),
    Damage(
        name="cache-mangled",
        damage=mangled_cache,
        exit_code=0,
        says="ignoring a damaged cache entry (checksum mismatch)",
        note="entries failing their checksum ignored, listing fetched afresh",
    ),
]


@pytest.mark.parametrize("case", DAMAGE, ids=[d.name for d in DAMAGE])
async def test_damaged_state(scenario: Scenario, case: Damage) -> None:
    """A damaged index or state file is rebuilt or ignored, or refused clearly: never a crash."""
    fake = scenario.fake
    fake.add_release(OLD_TAG, OLD_NAMES, checksums="none")
    fake.add_release(TAG, pbs_names(4), checksums="sums")
    await scenario.baseline()
    case.damage(scenario.root)
    fake.reset_hits()
    proc = await spawn_sync(scenario.mirror)
    code, err = await finish(proc)
    scenario.ran("damaged", code)
    assert code == case.exit_code, err
    if case.exit_code != 0:
        assert case.says in err.splitlines()[-2]  # the error line, before the summary line
    else:
        assert case.says in err
        # Recovered alone: nothing verifiable downloaded again, every file still (or again) indexed.
        refetched = set(OLD_NAMES) if case.index_set_aside else set()
        assert {h.asset for h in fake.downloads()} - {"SHA256SUMS"} == refetched
        assert set(scenario.mirror.indexed()) == set(scenario.good)
    aside = list((scenario.root / STATE).glob("index.json.corrupt-*"))
    assert len(aside) == case.index_set_aside
    scenario.check_invariants(index_readable=case.exit_code == 0)
    if case.undo is not None:
        case.undo(scenario.root)
    await scenario.rerun_clean()
    scenario.done(case.note)


# -- a full disk ---------------------------------------------------------------------------------


async def test_full_disk(scenario: Scenario) -> None:
    """A disk that fills up mid-run (another writer took the space the start-up check saw free)
    exits 1 saying so; what was published stays intact and indexed."""
    fake = scenario.fake
    names = pbs_names(8)
    fake.add_release(TAG, names, sizes=dict.fromkeys(names, 128 * KIB))
    stalled = sorted(names)[4]  # one download at a time, in path order: four are in by then
    fake.stall(stalled)
    scenario.mirror.configure(download={"concurrency": 1, "retries": 1})
    with small_tmpfs(scenario.root, size="4m"):
        proc = await spawn_sync(scenario.mirror)
        await reach(fake.stalled, proc, "the stall")
        fill_up(scenario.root)  # the disk fills while the run waits on the stalled body,
        filler = scenario.root / "filler"  # but for less than the rest of that body
        os.truncate(filler, filler.stat().st_size - 32 * KIB)
        fake.release_stalls()  # the retry resumes it, and its next write finds no space
        code, err = await finish(proc)
        scenario.ran("disk full", code)
        assert code == 1, err
        assert "no space left" in err.splitlines()[-2], err  # the error, then the summary
        filler.unlink()  # the other writer's file: not the mirror's
        entries = scenario.check_invariants()
        published = scenario.mirror.published()
        assert published, "nothing fitted at all: the case tests nothing"
        assert set(entries) == published, err
        assert not staged_parts(scenario.root), "partial downloads must make room for the index"
        assert scenario.mirror.status()["status"] == "failed"
        await scenario.rerun_clean()
    scenario.done(f"{len(published)} of {len(names)} published and indexed before ENOSPC")


def fill_up(where: Path) -> None:
    """Write a file into ``where`` until its file system has not one byte left."""
    with (where / "filler").open("wb", buffering=0) as f:
        block = b"\0" * (64 * KIB)
        while block:
            try:
                f.write(block)
            except OSError:
                block = block[: len(block) // 2]  # the last free bytes, down to none


async def test_disk_already_full(scenario: Scenario) -> None:
    """With 0 bytes free from the start: exit 2 before any download, naming both figures and the
    path; status.json says 'failed' and the mirror is untouched."""
    fake = scenario.fake
    names = pbs_names(3)
    fake.add_release(TAG, names[:1], sizes={names[0]: 16 * KIB})
    scenario.mirror.configure(download={"retries": 0})
    with small_tmpfs(scenario.root, size="1m"):
        await scenario.baseline()
        assert scenario.mirror.status()["status"] == "success"
        for name in names[1:]:
            fake.add_asset(TAG, name, generated_content(name, 64 * KIB))
        fill_up(scenario.root)
        before = len(fake.downloads())
        proc = await spawn_sync(scenario.mirror)
        code, err = await finish(proc)  # fails the test on a traceback
        scenario.ran("disk full", code)
        assert code == 2, err
        assert f"not enough free space on {scenario.root}" in err, err
        assert "(131072 bytes) plus a margin" in err, err  # the bytes to fetch, then the free ones
        assert "(0 bytes) are free" in err, err
        assert err.splitlines()[-1].startswith("mirrorsync: failed: fetched 0 "), err
        assert [h for h in fake.downloads()[before:] if h.asset and is_archive(h.asset)] == []
        assert scenario.mirror.status()["status"] == "failed"
        (scenario.root / "filler").unlink()
        scenario.check_invariants()
        await scenario.rerun_clean()
    scenario.done(
        "0 bytes free: refused before downloading, status.json says so, the rerun completed"
    )


# -- two runs at once ----------------------------------------------------------------------------


async def test_concurrent_second_run(scenario: Scenario) -> None:
    """A second run while the first is mid-download exits 3 naming it; the first completes."""
    fake = scenario.fake
    names = pbs_names(6)
    fake.add_release(TAG, names, sizes=dict.fromkeys(names, 64 * KIB))
    fake.stall(names[0])  # fetched first: with one download at a time, the run waits on it
    scenario.mirror.configure(download={"concurrency": 1, "retries": 1})
    first = await spawn_sync(scenario.mirror)
    try:
        await reach(fake.stalled, first, "the first run's stall")
        before = {rel: (scenario.root / rel).read_bytes() for rel in tree_files(scenario.root)}
        code, err = await finish(await spawn_sync(scenario.mirror))
        scenario.ran("second", code)
        assert code == 3
        assert f"pid {first.pid}" in err
        assert {rel: (scenario.root / rel).read_bytes() for rel in tree_files(scenario.root)} == (
            before
        )
        holder = json.loads((scenario.root / STATE / "lock").read_text(encoding="utf-8"))
        assert holder["pid"] == first.pid
        fake.release_stalls()
    finally:
        code, err = await finish(first)
    scenario.ran("first", code)
    assert code == 0, err
    scenario.check_invariants()
    await scenario.rerun_clean()
    assert fake.downloads() == []
    scenario.done("second refused with the holder's pid; first resumed and completed")
