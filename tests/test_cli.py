"""The command line: exit codes, messages, ``--json`` purity, ``--quiet``, config lookup, signals.

In-process runs call ``main`` in a worker thread, because the fake GitHub serves from the test's
event loop; signal tests start ``python -m mirrorsync`` as a real subprocess.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import pty
import re
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from eras import (
    DIGEST,
    DIGEST_TAG,
    LINUX,
    NO_SUMS,
    NO_SUMS_TAG,
    SUMS_TAG,
    all_paths,
    three_eras,
)
from mirror_harness import Mirror

from mirrorsync import __version__
from mirrorsync.cli import main
from mirrorsync.targets.lock import hold_lock

REPO = Path(__file__).resolve().parents[1]
WAIT = 30.0
"""Seconds a subprocess may take to reach a state; generous, only a failing test waits it out."""

# An unknown platform: listed under "unparsed", never fetched, no failure.
UNKNOWN = "cpython-3.13.11+20251217-loongarch64-unknown-linux-gnu-install_only.tar.gz"

SYNC_KEYS = {"status", "fetched", "kept", "pruned", "failed", "bytes_downloaded", "seconds"}
PLAN_KEYS = {"fetch", "keep", "prune", "unparsed", "totals", "space"}
SUMMARY = re.compile(
    r"mirrorsync: (?P<status>success|partial|failed|refused|interrupted): "
    r"fetched (?P<fetched>\d+) \([^)]*\), "
    r"kept (?P<kept>\d+), pruned (?P<pruned>\d+), failed (?P<failed>\d+), "
    r"unparsed (?P<unparsed>\d+) in \d+\.\ds"
)


async def cli(*argv: str, environ: Mapping[str, str] | None = None) -> int:
    """``main(argv)`` off the event loop, with an empty environment unless one is given."""
    return await asyncio.to_thread(main, list(argv), environ={} if environ is None else environ)


def one_document(out: str) -> dict[str, Any]:
    """The whole of stdout parsed as one JSON object (json.loads rejects trailing data)."""
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


def assert_consistent(mirror: Mirror) -> None:
    """Exactly the indexed files are published, each byte-identical to upstream."""
    indexed = mirror.indexed()
    assert set(indexed) == mirror.published()
    for path, entry in indexed.items():
        tag, name = path.split("/")
        assert mirror.sha256(path) == entry["sha256"] == mirror.fake.sha256(tag, name)
    for tag in {p.split("/")[0] for p in indexed}:
        sums = (mirror.root / tag / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
        listed = {f"{tag}/{line.split('  ', 1)[1]}": line.split("  ")[0] for line in sums}
        assert listed == {p: e["sha256"] for p, e in indexed.items() if p.startswith(f"{tag}/")}


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` reconfigures the ``mirrorsync`` loggers; give later tests theirs back."""
    loggers = [logging.getLogger(name) for name in ("mirrorsync", "mirrorsync.net.retry")]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


# -- version and usage ---------------------------------------------------------------------------


def test_version_prints_name_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` prints ``mirrorsync 0.1.0`` on stdout and returns 0."""
    assert main(["--version"], environ={}) == 0
    assert capsys.readouterr().out == "mirrorsync 0.1.0\n"
    assert __version__ == "0.1.0"


def test_usage_error_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command returns exit code 2 with argparse's usage message on stderr."""
    assert main(["frobnicate"], environ={}) == 2
    assert "usage: mirrorsync" in capsys.readouterr().err


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment without mirrorsync's variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("MIRRORSYNC_CONFIG", "GITHUB_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env | extra


async def spawn(*argv: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mirrorsync",
        *argv,
        cwd=cwd,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_python_dash_m_version(tmp_path: Path) -> None:
    """``python -m mirrorsync --version`` prints the version and exits 0."""
    proc = await spawn("--version", cwd=tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == f"mirrorsync {__version__}\n"


async def test_the_command_line_starts_without_the_network_side_or_the_config_reader(
    tmp_path: Path,
) -> None:
    """Importing the command line (what ``verify --root`` and ``serve --root`` start with) loads
    neither aiohttp nor the config's reader (YAML, the schema): they cost start-up only to the
    commands that use them."""
    probe = (
        "import sys, mirrorsync.cli; "
        "print(sorted({'aiohttp', 'yaml', 'mirrorsync.config.load'} & set(sys.modules)))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        probe,
        cwd=tmp_path,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "[]"


# -- sync output ---------------------------------------------------------------------------------


async def test_sync_success_ends_with_the_summary_line(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clean sync exits 0, prints nothing on stdout, and stderr's last line is the summary."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await cli("sync", "-c", str(mirror.config_path)) == 0
    out, err = capsys.readouterr()
    assert out == ""
    summary = SUMMARY.fullmatch(err.splitlines()[-1])
    assert summary is not None, err
    assert summary.groupdict() == {
        "status": "success",
        "fetched": "11",
        "kept": "0",
        "pruned": "0",
        "failed": "0",
        "unparsed": "0",
    }
    assert mirror.published() == all_paths()


async def test_default_verbosity_logs_each_file(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without -q or -v, each fetched file gets its own log line on stderr."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure()
    assert await cli("sync", "-c", str(mirror.config_path)) == 0
    lines = capsys.readouterr().err.splitlines()
    for name in DIGEST:
        assert any(f"{DIGEST_TAG}/{name}" in line and "fetched" in line for line in lines[:-1])


async def sync_with_stderr(mirror: Mirror, *, terminal: bool, extra: tuple[str, ...] = ()) -> str:
    """Run ``sync`` as a child whose stderr is a pseudo-terminal (or a pipe); its stderr text."""
    reader, writer = pty.openpty() if terminal else os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mirrorsync",
            "sync",
            *extra,
            "-c",
            str(mirror.config_path),
            env=child_env(COLUMNS="100"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=writer,
        )
    finally:
        os.close(writer)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(reader, 65536)
            except OSError:  # EIO: the terminal's other side closed
                return
            if not data:
                return
            chunks.append(data)

    try:
        await asyncio.wait_for(asyncio.gather(asyncio.to_thread(drain), proc.wait()), WAIT)
    finally:
        os.close(reader)
    assert proc.returncode == 0
    return b"".join(chunks).decode("utf-8", "replace")


async def test_progress_bar_only_on_a_terminal(mirror: Mirror) -> None:
    """A terminal gets a progress bar with bytes, rate and files; a pipe or --quiet gets none."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure()
    shown = await sync_with_stderr(mirror, terminal=True)
    assert "downloading" in shown
    assert f"{len(DIGEST)}/{len(DIGEST)} files" in shown
    assert "/s" in shown  # the rate
    mirror.configure(target={"path": "mirror2"})
    assert "downloading" not in await sync_with_stderr(mirror, terminal=False)
    mirror.configure(target={"path": "mirror3"})
    assert "downloading" not in await sync_with_stderr(mirror, terminal=True, extra=("-q",))


async def test_quiet_prints_only_warnings_and_the_summary(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--quiet`` leaves on stderr only the unparsed-name warning and the summary line."""
    mirror.fake.add_release(DIGEST_TAG, [*DIGEST, UNKNOWN])
    mirror.configure()
    assert await cli("sync", "-q", "-c", str(mirror.config_path)) == 0
    out, err = capsys.readouterr()
    assert out == ""
    warning, summary = err.splitlines()
    assert warning.startswith("WARNING: ")
    assert UNKNOWN in warning
    match = SUMMARY.fullmatch(summary)
    assert match is not None
    assert (match["status"], match["fetched"], match["unparsed"]) == ("success", "4", "1")


# -- --json --------------------------------------------------------------------------------------


async def test_sync_json_is_one_document_with_the_report(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sync --json`` prints one JSON document, docs/interface.md §7's, with the run's counts."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await cli("sync", "--json", "-c", str(mirror.config_path)) == 0
    out, err = capsys.readouterr()
    doc = one_document(out)
    assert set(doc) >= SYNC_KEYS
    assert doc["status"] == "success"
    assert (doc["fetched"], doc["kept"], doc["pruned"], doc["failed"]) == (11, 0, 0, [])
    assert doc["bytes_downloaded"] == sum(
        len(mirror.fake.content(*p.split("/"))) for p in all_paths()
    )
    assert isinstance(doc["seconds"], float | int)
    assert SUMMARY.fullmatch(err.splitlines()[-1])


async def test_plan_json_lists_fetch_and_keep_sorted_with_null_sha256(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """``plan --json`` (docs/interface.md §6): fetch + keep = selection, sorted, null sha256s."""
    three_eras(mirror.fake)
    mirror.configure(releases={"since": "2024-01-01", "latest": None})
    assert await cli("sync", "-q", "-c", str(mirror.config_path)) == 0
    mirror.configure()
    capsys.readouterr()
    assert await cli("plan", "--json", "-c", str(mirror.config_path)) == 0
    doc = one_document(capsys.readouterr().out)
    assert set(doc) >= PLAN_KEYS
    fetch, keep = doc["fetch"], doc["keep"]
    assert [f["path"] for f in fetch] == sorted(f"{NO_SUMS_TAG}/{n}" for n in NO_SUMS)
    assert [k["path"] for k in keep] == sorted(all_paths() - {f["path"] for f in fetch})
    for item in fetch:  # the pre-2022 era publishes no checksum at all
        assert item["sha256"] is None
        assert item["size"] == len(mirror.fake.content(*item["path"].split("/")))
    for item in keep:
        assert item["sha256"] == mirror.fake.sha256(*item["path"].split("/"))
    assert doc["prune"] == []
    assert doc["unparsed"] == []
    assert doc["totals"] == {
        "fetch_files": 3,
        "fetch_bytes": sum(f["size"] for f in fetch),
        "keep_files": 8,
        "prune_files": 0,
    }
    space = doc["space"]  # the same figures a sync checks before its first download
    assert space["path"] == str(mirror.root)
    assert space["needed_bytes"] == doc["totals"]["fetch_bytes"]
    assert 0 < space["margin_bytes"] < space["free_bytes"]
    assert space["fits"] is True
    assert space["too_large"] == []


async def test_plan_json_names_unparsed_and_prunable_files(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """``plan --json`` lists unparsed upstream names and the files a prune would delete."""
    mirror.fake.add_release(DIGEST_TAG, [*DIGEST, UNKNOWN])
    mirror.configure()
    assert await cli("sync", "-q", "-c", str(mirror.config_path)) == 0
    mirror.configure(select={"platforms": ["x86_64-unknown-linux-gnu"]})
    capsys.readouterr()
    assert await cli("plan", "--json", "-c", str(mirror.config_path)) == 0
    doc = one_document(capsys.readouterr().out)
    assert doc["unparsed"] == [UNKNOWN]
    assert doc["prune"] == [{"path": f"{DIGEST_TAG}/{n}"} for n in sorted(DIGEST[1:3])]
    assert doc["fetch"] == []
    assert [k["path"] for k in doc["keep"]] == sorted(
        f"{DIGEST_TAG}/{n}" for n in (LINUX, DIGEST[3])
    )


async def test_plan_equals_sync_dry_run_and_writes_nothing(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """``plan --json`` and ``sync --dry-run --json`` print the same document; no root is created."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await cli("plan", "--json", "-c", str(mirror.config_path)) == 0
    plan = one_document(capsys.readouterr().out)
    assert await cli("sync", "--dry-run", "--json", "-c", str(mirror.config_path)) == 0
    dry = one_document(capsys.readouterr().out)
    for doc in (plan, dry):  # the disk is shared: other processes write between the two runs
        assert isinstance(doc["space"].pop("free_bytes"), int)
    assert plan == dry
    assert len(plan["fetch"]) == 11
    assert not mirror.root.exists()
    # Only checksum lists are read; no archive is downloaded.
    assert {h.asset for h in mirror.fake.downloads()} <= {"SHA256SUMS"}


async def test_plan_without_json_prints_a_readable_plan(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain ``plan`` prints one line per file to fetch, a totals line and the space line."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure()
    assert await cli("plan", "-c", str(mirror.config_path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:-2]] == sorted(f"{DIGEST_TAG}/{n}" for n in DIGEST)
    assert lines[-2].startswith("4 to fetch")
    assert lines[-1].startswith("space: needs "), lines[-1]
    assert lines[-1].endswith(f"free on {mirror.root}: fits"), lines[-1]
    assert not mirror.root.exists()


# -- exit codes ----------------------------------------------------------------------------------


async def test_corrupt_asset_exits_1_naming_it(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt download exits 1 with status partial and its path in ``failed``; the rest syncs."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.fake.corrupt(LINUX)
    mirror.configure(download={"retries": 0})
    assert await cli("sync", "--json", "-c", str(mirror.config_path)) == 1
    out, err = capsys.readouterr()
    doc = one_document(out)
    assert doc["status"] == "partial"
    assert [f["path"] for f in doc["failed"]] == [f"{DIGEST_TAG}/{LINUX}"]
    assert "sha256" in doc["failed"][0]["error"]
    assert doc["fetched"] == 3
    assert f"{DIGEST_TAG}/{LINUX}" in err
    summary = SUMMARY.fullmatch(err.splitlines()[-1])
    assert summary is not None
    assert (summary["status"], summary["failed"]) == ("partial", "1")
    assert mirror.published() == {f"{DIGEST_TAG}/{n}" for n in DIGEST[1:]}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
async def test_empty_listing_exits_2(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], *, as_json: bool
) -> None:
    """An empty upstream listing exits 2 and says so; with --json as one failed document."""
    mirror.fake.empty_listing()
    mirror.configure(download={"retries": 0})
    extra = ["--json"] if as_json else []
    assert await cli("sync", *extra, "-c", str(mirror.config_path)) == 2
    out, err = capsys.readouterr()
    if as_json:
        doc = one_document(out)
        assert set(doc) >= SYNC_KEYS
        assert (doc["status"], doc["fetched"], doc["failed"]) == ("failed", 0, [])
        assert "empty" in doc["error"]
    else:
        assert out == ""
    error, summary = err.splitlines()[-2:]  # the error, then the summary line, in both modes
    assert error.startswith("mirrorsync: failed: ")
    assert "empty" in error
    assert SUMMARY.fullmatch(summary)
    assert mirror.status()["status"] == "failed"
    assert not (mirror.root / "index.json").exists()


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_config_errors_are_all_listed_with_key_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config with a wrong type and an unknown key exits 2, naming both by key path."""
    config = write_config(
        tmp_path / "mirror.yaml", "select:\n  platforms: [12, x86_64-*]\n  colour: blue\n"
    )
    assert await cli("sync", "-c", str(config)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{config}: select.platforms[0]: expected a string, got 12" in err
    assert f"{config}: select.colour: unknown key" in err
    assert not (tmp_path / "mirror").exists()


@pytest.mark.parametrize("command", ["sync", "plan"])
async def test_config_errors_with_json_are_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """With --json, a config error prints exactly one failed document naming every problem."""
    config = write_config(tmp_path / "mirror.yaml", "select:\n  platforms: [12]\nbogus: 1\n")
    assert await cli(command, "--json", "-c", str(config)) == 2
    doc = one_document(capsys.readouterr().out)
    assert doc["status"] == "failed"
    assert "select.platforms[0]" in doc["error"]
    assert "bogus" in doc["error"]
    if command == "sync":  # docs/interface.md §7's keys: scripts can read them unconditionally
        assert set(doc) >= SYNC_KEYS
        assert (doc["fetched"], doc["kept"], doc["failed"]) == (0, 0, [])


async def test_yaml_syntax_error_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A YAML syntax error exits 2 with the file, line and column of the problem."""
    config = write_config(
        tmp_path / "mirror.yaml",
        "prune: false\nselect:\n  platforms: [x86_64-*\n  flavors: [full]\n",
    )
    assert await cli("plan", "-c", str(config)) == 2
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(str(config))}:4:\d+: ", err), err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("releases: {since: 2025-13-01}\n", ": releases.since: not a real date: '2025-13-01'"),
        ("releases:\n  since: 2025-02-30\n", ": releases.since: not a real date: '2025-02-30'"),
        (
            "releases: {since: 2025-01-01T25:00:00}\n",
            (
                ": releases.since: expected a date as 'YYYYMMDD' or 'YYYY-MM-DD', "
                "got '2025-01-01T25:00:00'"
            ),
        ),
        ("prune_max: 2025-13-01\n", ": prune_max: expected 'N%' (0 < N <= 100) or a number"),
        ("download: {retries: !!int abc}\n", ":1:21: cannot read 'abc' as !!int"),
        ("prune: !!bool maybe\n", ":1:8: cannot read 'maybe' as !!bool"),
        ("download: {timeout: !!float x}\n", ":1:21: cannot read 'x' as !!float"),
        ("select:\n\tplatforms: []\n", ":2:1: found character '\\t' that cannot start"),
        ("prune: true\nprune: false\n", ":2:1: found duplicate key 'prune'"),
        ("target: {path: \udcff}\n", ":1:16: not valid UTF-8 (byte 0xff)"),
        ("select: " + "[" * 5000 + "]" * 5000 + "\n", ": nested too deeply to be a configuration"),
    ],
    ids=[
        "invalid-date",
        "no-such-day",
        "invalid-time",
        "invalid-date-elsewhere",
        "bad-int-tag",
        "bad-bool-tag",
        "bad-float-tag",
        "tab-indent",
        "duplicate-key",
        "not-utf8",
        "too-deep",
    ],
)
async def test_values_the_yaml_loader_cannot_construct_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    """What PyYAML turns into an exception is a config error (exit 2) naming where, no traceback."""
    config = tmp_path / "mirror.yaml"
    config.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert await cli("plan", "-c", str(config)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{config}{problem}" in err
    assert "Traceback" not in err


async def test_missing_config_exits_2_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without any config file, sync exits 2 and points at -c and MIRRORSYNC_CONFIG."""
    monkeypatch.chdir(tmp_path)
    assert await cli("sync") == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "mirror.yaml") in err
    assert "-c" in err
    assert "MIRRORSYNC_CONFIG" in err


@pytest.mark.parametrize(
    ("use_option", "use_env", "expected"),
    [
        (True, True, "option"),  # -c wins over the variable and ./mirror.yaml
        (False, True, "env"),  # then MIRRORSYNC_CONFIG, over ./mirror.yaml
        (False, False, "cwd"),  # then ./mirror.yaml
    ],
)
async def test_config_lookup_order(
    mirror: Mirror,
    monkeypatch: pytest.MonkeyPatch,
    *,
    use_option: bool,
    use_env: bool,
    expected: str,
) -> None:
    """The config is -c, else $MIRRORSYNC_CONFIG, else ./mirror.yaml; its paths are its own."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:1])
    config = {"upstream": {"api_url": mirror.fake.api_url}, "target": {"path": "mirror"}}
    for where in ("option", "env", "cwd"):
        (mirror.base / where).mkdir()
        (mirror.base / where / "mirror.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.chdir(mirror.base / "cwd")
    argv = ["sync", "-q"]
    if use_option:
        argv += ["-c", str(Path("..", "option", "mirror.yaml"))]  # relative to the cwd
    environ = {"MIRRORSYNC_CONFIG": str(mirror.base / "env" / "mirror.yaml")} if use_env else {}
    assert await cli(*argv, environ=environ) == 0
    synced = {w for w in ("option", "env", "cwd") if (mirror.base / w / "mirror").exists()}
    assert synced == {expected}


async def test_held_lock_exits_3_naming_the_holder(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """While another run holds the lock, sync exits 3 naming its pid and host, touching nothing."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure()
    with hold_lock(mirror.root / ".mirrorsync" / "lock"):
        assert await cli("sync", "-c", str(mirror.config_path)) == 3
    err = capsys.readouterr().err
    assert f"pid {os.getpid()}" in err
    assert f"host {socket.gethostname()}" in err
    assert mirror.fake.downloads() == []
    assert not (mirror.root / "index.json").exists()


# -- the token -----------------------------------------------------------------------------------


async def test_token_from_token_env_reaches_the_api_and_is_never_logged(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """The variable named by upstream.token_env is sent as a Bearer token and never printed."""
    secret = "ghp_cliTokenThatMustNotLeak0123456789"
    three_eras(mirror.fake)
    mirror.configure(upstream={"token_env": "PBS_MIRROR_TOKEN"})
    environ = {"PBS_MIRROR_TOKEN": secret}
    assert await cli("sync", "-v", "-c", str(mirror.config_path), environ=environ) == 0
    out, err = capsys.readouterr()
    api = mirror.fake.api_hits()
    assert api
    assert all(h.headers.get("Authorization") == f"Bearer {secret}" for h in api)
    assert err  # -v did log
    assert secret not in out
    assert secret not in err
    assert mirror.fake.auth_violations == []


async def test_no_token_without_the_variable(mirror: Mirror) -> None:
    """With the token variable unset, API requests carry no Authorization header."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST[:1])
    mirror.configure(upstream={"token_env": "PBS_MIRROR_TOKEN"})
    assert (
        await cli("sync", "-q", "-c", str(mirror.config_path), environ={"GITHUB_TOKEN": "x"}) == 0
    )
    assert mirror.fake.api_hits()
    assert all("Authorization" not in h.headers for h in mirror.fake.api_hits())


# -- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_signal_exits_130_with_a_consistent_tree_and_next_run_resumes(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], signum: signal.Signals
) -> None:
    """A signal mid-download exits 130 leaving only verified indexed files; a rerun completes."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    stalled = max(DIGEST)  # fetched last: with one download at a time the others are in place
    mirror.fake.stall(stalled)
    mirror.configure(download={"retries": 0, "concurrency": 1})
    proc = await spawn("sync", "--json", "-c", str(mirror.config_path), cwd=mirror.base)
    try:
        await asyncio.wait_for(mirror.fake.stalled.wait(), WAIT)
    except TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
        pytest.fail(f"the download never stalled; exit {proc.returncode}: {err.decode()}")
    proc.send_signal(signum)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, err.decode()
    doc = json.loads(out)  # still exactly one JSON document, with the figures reached
    assert doc["status"] == "failed"  # the document's word; the summary line names it
    assert f"interrupted by {signum.name}" in doc["error"]
    error_line, summary_line = err.decode().splitlines()[-2:]  # the error, then the summary
    assert error_line.startswith(f"mirrorsync: interrupted: interrupted by {signum.name}")
    assert summary_line.startswith("mirrorsync: interrupted: fetched ")
    assert doc["fetched"] == len(DIGEST) - 1

    everything = {f"{DIGEST_TAG}/{n}" for n in DIGEST}
    assert_consistent(mirror)
    assert mirror.published() == everything - {f"{DIGEST_TAG}/{stalled}"}
    assert mirror.status()["status"] == "interrupted"

    assert await cli("sync", "-q", "-c", str(mirror.config_path)) == 0
    summary = SUMMARY.fullmatch(capsys.readouterr().err.splitlines()[-1])
    assert summary is not None
    assert (summary["fetched"], summary["kept"]) == ("1", "3")
    assert_consistent(mirror)
    assert mirror.published() == everything
    assert mirror.status()["status"] == "success"
    assert hashlib.sha256((mirror.root / DIGEST_TAG / stalled).read_bytes()).hexdigest() == (
        mirror.fake.sha256(DIGEST_TAG, stalled)
    )


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
async def test_refused_prune_says_refused_everywhere(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], *, as_json: bool
) -> None:
    """A prune over ``prune_max`` exits 2; summary, --json and status.json all say ``refused``."""
    three_eras(mirror.fake)
    mirror.configure()
    assert await cli("sync", "-q", "-c", str(mirror.config_path)) == 0
    for tag in (SUMS_TAG, NO_SUMS_TAG):
        mirror.fake.remove_release(tag)
    mirror.configure(prune=True, prune_max=1)
    capsys.readouterr()
    extra = ["--json"] if as_json else []
    assert await cli("sync", *extra, "-c", str(mirror.config_path)) == 2
    out, err = capsys.readouterr()
    if as_json:
        doc = one_document(out)
        assert (doc["status"], doc["error"] is not None) == ("failed", True)  # the document's
    summary = SUMMARY.fullmatch(err.splitlines()[-1])
    assert summary is not None
    assert summary["status"] == "refused"
    assert any(line.startswith("mirrorsync: refused: ") for line in err.splitlines()[:-1])
    assert mirror.status()["status"] == "refused"


async def test_plan_and_dry_run_agree_on_a_foreign_index(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a foreign index.json, plan and sync --dry-run print the same plan, exit the same, and
    leave the tree as it was; the plan is what the sync would do (rebuild from scratch)."""
    three_eras(mirror.fake)
    mirror.configure()
    mirror.root.mkdir()
    foreign = b'{"name": "somebody else\'s site", "version": 3}\n'
    (mirror.root / "index.json").write_bytes(foreign)
    results = []
    for argv in (["plan", "--json"], ["sync", "--dry-run", "--json"]):
        code = await cli(*argv, "-c", str(mirror.config_path))
        out, err = capsys.readouterr()
        doc = one_document(out)
        assert isinstance(doc["space"].pop("free_bytes"), int)  # the disk is shared: it moves
        results.append((code, doc))
        assert "a sync would move it aside" in err
    assert results[0] == results[1]
    code, doc = results[0]
    assert code == 0
    assert {f["path"] for f in doc["fetch"]} == all_paths()
    assert (mirror.root / "index.json").read_bytes() == foreign
    assert sorted(p.name for p in mirror.root.iterdir()) == ["index.json"]
