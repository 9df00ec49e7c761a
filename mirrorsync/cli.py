"""The command line: arguments, config lookup, logging, progress, JSON output, exit codes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from mirrorsync import __version__
from mirrorsync.commands.documents import (
    plan_text,
    sync_document,
    sync_summary,
    write_plan_document,
)
from mirrorsync.commands.records import stop_status
from mirrorsync.commands.verify import VerifyReport, verify, verify_document
from mirrorsync.config.records import Config
from mirrorsync.core.model import SyncReport
from mirrorsync.errors import ConfigError, Interrupted, MirrorsyncError
from mirrorsync.targets.base import Target
from mirrorsync.targets.open import open_root, open_target, served_root

# sync, plan and repair import the network side (aiohttp: a quarter of a second of start-up) when
# they run, not at start-up: verify, serve and --help never need it.
if TYPE_CHECKING:
    from tqdm import tqdm

    from mirrorsync.commands.sync import Outcome, Progress

log = logging.getLogger("mirrorsync")
T = TypeVar("T")

EXIT_USAGE = 2
EXIT_INTERRUPTED = Interrupted.exit_code


def _port(text: str) -> int:
    """A TCP port number for ``serve --port``: 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:  # noqa: PLR2004 - the TCP port range
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mirrorsync",
        description="Mirror python-build-standalone releases into a verified static tree.",
    )
    parser.add_argument("--version", action="version", version=f"mirrorsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-c",
            "--config",
            metavar="FILE",
            help="the configuration file (default: $MIRRORSYNC_CONFIG, else ./mirror.yaml)",
        )

    def output_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--json", action="store_true", help="print one JSON document on stdout, nothing else"
        )
        noise = p.add_mutually_exclusive_group()
        noise.add_argument(
            "-q", "--quiet", action="store_true", help="only warnings, errors and a summary line"
        )
        noise.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    sync = commands.add_parser("sync", help="bring the mirror up to date with upstream")
    config_option(sync)
    sync.add_argument(
        "--dry-run", action="store_true", help="show what would change and change nothing"
    )
    output_options(sync)

    sync.add_argument(
        "--prune", action="store_true", help="prune this run, as if the config said prune: true"
    )

    plan = commands.add_parser("plan", help="show what a sync would do (sync --dry-run)")
    config_option(plan)
    output_options(plan)

    verify = commands.add_parser("verify", help="check the mirror against its index.json")
    where = verify.add_mutually_exclusive_group()
    where.add_argument(
        "-c", "--config", metavar="FILE", help="the configuration file naming the mirror"
    )
    where.add_argument(
        "--root", metavar="DIR", help="a mirror root, e.g. a copied tree; no config needed"
    )
    verify.add_argument("--full", action="store_true", help="also re-hash every file")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="set corrupt files aside, fetch them again from upstream and rewrite the indexes",
    )
    output_options(verify)

    serve = commands.add_parser("serve", help="serve the mirror over HTTP (LAN, air-gapped site)")
    where = serve.add_mutually_exclusive_group()
    where.add_argument(
        "-c", "--config", metavar="FILE", help="the configuration file naming the mirror"
    )
    where.add_argument("--root", metavar="DIR", help="the mirror root to serve")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0 = any)")
    serve.add_argument("-q", "--quiet", action="store_true", help="no access log")
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    serve.set_defaults(json=False)
    return parser


class _TqdmHandler(logging.Handler):
    """Log lines that do not tear the progress bar apart."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm  # noqa: PLC0415 - only on a terminal: 20 ms of start-up otherwise

        with contextlib.suppress(Exception):
            tqdm.write(self.format(record), file=sys.stderr)


def _configure_logging(*, quiet: bool, verbose: bool, bars: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler = _TqdmHandler() if bars else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 0


class TqdmProgress:
    """Bytes and files with their rate, on a terminal only."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: tqdm[Any] | None = None
        self._files = 0
        self._done = 0

    def begin(self, *, files: int, total_bytes: int | None) -> None:
        if not files:
            return
        self._files, self._done = files, 0
        from tqdm import tqdm  # noqa: PLC0415 - only on a terminal: 20 ms of start-up otherwise

        sized = _terminal_width(self._stream) > 0
        self._bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="downloading",
            file=self._stream,
            # A terminal that reports no size (a bare pty, some CI consoles) would get no bar at
            # all: fall back to 80x24 there, and follow resizes everywhere else.
            dynamic_ncols=sized,
            ncols=None if sized else 80,
            nrows=None if sized else 24,
        )
        self._bar.set_postfix_str(f"0/{files} files")

    def advance(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.update(nbytes)

    def file_done(self, path: str) -> None:  # noqa: ARG002 - part of the Progress protocol
        self._done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._done}/{self._files} files")

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


async def _interruptible(work: Awaitable[T]) -> T:
    """Run ``work`` so that SIGINT and SIGTERM cancel it cleanly; raise ``Interrupted`` then."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop, signum)
            handled.append(signum)
        except (ValueError, RuntimeError, NotImplementedError):
            pass  # not the main thread (an embedding program): its signals stay its own
    try:
        return await task
    except asyncio.CancelledError:
        if received:
            name = signal.Signals(received[0]).name
            raise Interrupted(f"interrupted by {name}; the mirror is consistent") from None
        raise
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def _emit_json(doc: Mapping[str, Any]) -> None:
    # Streamed: a plan of a whole history is megabytes of text, never held whole.
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _failure_document(
    error: MirrorsyncError,
    *,
    dry_run: bool,
    report: SyncReport | None = None,
) -> dict[str, Any]:
    # A failed sync still answers with the keys of docs/interface.md §7 and the figures it
    # reached, so scripts can read them unconditionally; a plan has no failure shape, and empty
    # fetch/keep lists would read as "nothing to do".
    if dry_run:
        return {"status": "failed", "error": str(error)}
    return sync_document(report or SyncReport(), status="failed", error=str(error))


def _load(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    # The config's reader (YAML, the schema, PEP 440) is imported by the commands that read a
    # config: verify --root and serve --root start without it.
    from mirrorsync.config.load import find_config, load_config  # noqa: PLC0415

    path = find_config(args.config, environ, Path.cwd())
    return load_config(path)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    env = os.environ if environ is None else environ
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --version, --help and usage errors: argparse exits by itself
        if e.code is None:
            return 0
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    bars = sys.stderr.isatty() and not args.quiet and not args.json
    _configure_logging(quiet=args.quiet, verbose=args.verbose, bars=bars)
    if args.command == "verify":
        return _verify_command(args, env, bars=bars)
    if args.command == "serve":
        return _serve_command(args, env)
    dry_run = args.command == "plan" or bool(getattr(args, "dry_run", False))
    try:
        cfg = _load(args, env)
    except ConfigError as e:
        for problem in e.problems:
            log.error("%s", problem)
        if args.json:
            _emit_json(_failure_document(e, dry_run=dry_run))
        return e.exit_code
    if getattr(args, "prune", False):
        cfg = dataclasses.replace(cfg, prune=True)
    from mirrorsync.commands.sync import NoProgress, Runtime, run_sync  # noqa: PLC0415
    from mirrorsync.net.policy import proxies_from  # noqa: PLC0415

    token = env.get(cfg.upstream.token_env) or None
    progress: Progress = TqdmProgress(sys.stderr) if bars and not dry_run else NoProgress()
    report = SyncReport()
    runtime = Runtime(progress=progress, token=token, proxies=proxies_from(env), report=report)
    return _run(
        lambda: run_sync(cfg, dry_run=dry_run, runtime=runtime),
        args,
        dry_run=dry_run,
        report=report,
    )


def _run(
    start: Callable[[], Awaitable[Outcome]],
    args: argparse.Namespace,
    *,
    dry_run: bool,
    report: SyncReport,
) -> int:
    try:
        outcome = asyncio.run(_interruptible(start()))
    except (MirrorsyncError, KeyboardInterrupt) as e:
        error = e if isinstance(e, MirrorsyncError) else Interrupted("interrupted")
        status = stop_status(error)
        # One line on stderr in every mode (--json keeps stdout for its document alone), then
        # the summary line a run always ends with, with the status that status.json records.
        sys.stderr.write(f"mirrorsync: {status}: {error}\n")
        if args.json:
            _emit_json(_failure_document(error, dry_run=dry_run, report=report))
        if not dry_run:
            sys.stderr.write(sync_summary(report, status=status) + "\n")
        return error.exit_code
    if dry_run:
        if args.json:
            write_plan_document(outcome.plan, sys.stdout.write)
            sys.stdout.write("\n")
            sys.stdout.flush()
        else:
            sys.stdout.write(plan_text(outcome.plan) + "\n")
        return outcome.exit_code
    report = outcome.report
    status = "success" if outcome.exit_code == 0 else "partial"
    if outcome.refused:
        status = "refused"
        sys.stderr.write(f"mirrorsync: refused: {outcome.refused}\n")
    if args.json:
        _emit_json(sync_document(report, status=status, error=outcome.refused))
    sys.stderr.write(sync_summary(report, status=status) + "\n")
    return outcome.exit_code


def _verify_target(
    args: argparse.Namespace, env: Mapping[str, str]
) -> tuple[Callable[[], Target], Config | None]:
    """How to open the mirror to verify (once per step), and the config when one is given."""
    if args.root is not None:
        if args.repair:
            raise ConfigError(
                ["--repair fetches from upstream and needs the configuration: use -c FILE"]
            )
        root = Path(args.root).expanduser().absolute()
        open_root(root, existing=True)  # no mirror there: a usage error before anything runs
        return lambda: open_root(root), None
    cfg = _load(args, env)
    open_target(cfg, existing=True)
    return lambda: open_target(cfg), cfg


def _verify_command(args: argparse.Namespace, env: Mapping[str, str], *, bars: bool) -> int:
    try:
        opener, cfg = _verify_target(args, env)
    except ConfigError as e:
        for line in e.problems:
            log.error("%s", line)
        if args.json:
            _emit_json({"status": "failed", "error": str(e)})
        return e.exit_code
    work = _verify(opener, cfg, full=args.full, repair=args.repair, bars=bars, env=env)
    try:
        report, actions = asyncio.run(_interruptible(work))
    except MirrorsyncError as e:
        sys.stderr.write(f"mirrorsync verify: failed: {e}\n")  # with --json too, on stderr
        if args.json:
            _emit_json({"status": "failed", "error": str(e)})
        return e.exit_code
    if args.json:
        _emit_json(verify_document(report) | ({"repaired": actions} if args.repair else {}))
    else:
        for problem in report.problems:
            log.warning("%s: %s: %s", problem.path, problem.kind, problem.detail)
        if report.resumable:
            log.info(
                "%d partial download(s) in the staging area: the next sync resumes them",
                len(report.resumable),
            )
    hashed = f", {report.bytes_hashed} bytes hashed" if args.full else ""
    outcome = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    sys.stderr.write(
        f"mirrorsync verify: {outcome}: {report.files_checked} files checked{hashed}\n"
    )
    return 0 if report.ok else 1


async def _verify(
    opener: Callable[[], Target],
    cfg: Config | None,
    *,
    full: bool,
    repair: bool,
    bars: bool,
    env: Mapping[str, str],
) -> tuple[VerifyReport, list[str]]:
    """verify; with ``repair``: set aside, sync, verify again (each step opens the target anew)."""
    report = await _verify_once(opener(), full=full, bars=bars)
    if not repair or report.ok or cfg is None:
        return report, []
    # The network side, imported only when there is something to repair.
    from mirrorsync.commands.repair import (  # noqa: PLC0415
        prepare_repair,
        unrepaired,
        upstream_records,
    )
    from mirrorsync.commands.sync import GENERATOR, Runtime, run_sync  # noqa: PLC0415
    from mirrorsync.net.policy import proxies_from  # noqa: PLC0415

    token = env.get(cfg.upstream.token_env) or None
    runtime = Runtime(token=token, proxies=proxies_from(env))  # for the repair's syncs
    # What upstream publishes for each path: a damaged record of a good file is re-recorded,
    # never quarantined.
    planned = await run_sync(cfg, dry_run=True, runtime=runtime)
    actions = await prepare_repair(
        opener(),
        report,
        now=datetime.now(UTC),
        generator=GENERATOR,
        upstream=upstream_records(planned.plan),
    )
    for action in actions:
        log.info("repair: %s", action)
    outcome = await run_sync(cfg, runtime=runtime)
    log.info("repair: sync fetched %d file(s)", outcome.report.fetched)
    actions.append(f"sync fetched {outcome.report.fetched} file(s)")
    after = await _verify_once(opener(), full=full, bars=bars)
    failed = {f.path: f.error for f in outcome.report.failed}
    if lost := await unrepaired(opener(), report, failed=failed):
        problems = sorted((*after.problems, *lost), key=lambda p: (p.path, p.kind, p.detail))
        after = dataclasses.replace(after, problems=tuple(problems))
    return after, actions


async def _verify_once(target: Target, *, full: bool, bars: bool) -> VerifyReport:
    if not (full and bars):
        return await verify(target, full=full)
    from tqdm import tqdm  # noqa: PLC0415 - only on a terminal: 20 ms of start-up otherwise

    with tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc="hashing", file=sys.stderr) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        def total(n: int) -> None:
            bar.reset(total=n)

        return await verify(target, full=True, on_bytes=advance, on_total=total)


def _serve_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    try:
        if args.root is not None:
            root = Path(args.root).expanduser().absolute()
        else:
            root = served_root(_load(args, env))
        # Imported here: aiohttp.web costs every other command a tenth of a second to load.
        from mirrorsync.commands.serve import serve  # noqa: PLC0415

        work = serve(root, host=args.host, port=args.port)
        asyncio.run(_interruptible(work))
    except Interrupted:
        return 0  # serving ends by being interrupted: that is success
    except ConfigError as e:
        for line in e.problems:
            log.error("%s", line)
        return e.exit_code
    except MirrorsyncError as e:
        sys.stderr.write(f"mirrorsync serve: failed: {e}\n")
        return e.exit_code
    return 0
