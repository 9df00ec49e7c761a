"""``sync`` and ``plan``: wire the listing, the target and the network into a run.

The run itself is in three parts: ``planner`` (listing -> selection -> checksums -> ``Plan``),
``applier`` (adopt, fetch, publish, indexes, prune, client files) and ``records`` (status.json,
history.jsonl, the diff file). This module opens what they need and decides how a run ends,
also when it is stopped: an error or Ctrl-C/SIGTERM still indexes what was published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mirrorsync.commands.applier import Applier, NoProgress, Progress
from mirrorsync.commands.idle import IdleCheck
from mirrorsync.commands.memory import give_back_large_blocks
from mirrorsync.commands.planner import Planner
from mirrorsync.commands.records import GENERATOR, Ledger, RunRecords
from mirrorsync.config.records import Config
from mirrorsync.core.idle import IdleProof
from mirrorsync.core.model import Plan, SyncReport
from mirrorsync.core.plan import plan_exit
from mirrorsync.net.client import open_client
from mirrorsync.net.ratelimit import RateLimiter
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.targets.base import Target
from mirrorsync.targets.open import open_target
from mirrorsync.upstream.cache import StateCache
from mirrorsync.upstream.open import open_source, open_uv_source

__all__ = [
    "GENERATOR",
    "NoProgress",
    "Outcome",
    "Progress",
    "Runtime",
    "open_target",
    "run_sync",
]

log = logging.getLogger(__name__)

ABORT_WRITE_SECONDS = 30.0
"""How long a stopped run may take to index what it published before it gives up on that."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """What a run takes from its surroundings: time, progress, the token. Tests inject these."""

    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.time
    """Epoch seconds, for rate-limit resets."""
    monotonic: Callable[[], float] = time.monotonic
    """For the bandwidth cap."""
    now: Callable[[], datetime] = _utcnow
    progress: Progress = field(default_factory=NoProgress)
    token: str | None = None
    proxies: Mapping[str, str] = field(default_factory=dict)
    """Proxies by scheme, and ``no`` for the hosts that bypass them (HTTP(S)_PROXY, NO_PROXY):
    ``cli`` reads them from the environment; without them every request goes direct."""
    report: SyncReport | None = None
    """Filled in as the run goes, so that a caller still has the figures when the run fails."""

    def retry_policy(self, cfg: Config) -> RetryPolicy:
        return RetryPolicy(retries=cfg.download.retries, sleep=self.sleep, clock=self.clock)


@dataclass(slots=True, kw_only=True)
class Outcome:
    """The result of ``sync`` or ``plan``: the plan, the report and the exit code."""

    plan: Plan
    """The plan; after a ``sync`` its ``fetch`` is empty (each asset was dropped once fetched:
    the report says what was)."""
    report: SyncReport
    exit_code: int = 0
    refused: str | None = None
    """Why a safety guard refused the prune, when it did."""


async def run_sync(
    cfg: Config, *, dry_run: bool = False, runtime: Runtime | None = None
) -> Outcome:
    """Run ``sync`` (or ``plan`` with ``dry_run``) for ``cfg``; raises ``MirrorsyncError``."""
    rt = runtime or Runtime()
    give_back_large_blocks()  # before the listing's pages: see commands/memory.py
    tree = open_target(cfg)
    async with tree.connect():
        if dry_run:
            return await _execute(cfg, tree, rt, dry_run=True)
        await tree.prepare()
        async with tree.lock(now=rt.now()):
            return await _execute(cfg, tree, rt, dry_run=False)


async def _execute(cfg: Config, tree: Target, rt: Runtime, *, dry_run: bool) -> Outcome:
    """Plan, then (unless ``dry_run``) apply; a run that stops on the way is recorded as such."""
    retry = rt.retry_policy(cfg)
    report = rt.report if rt.report is not None else SyncReport()
    ledger = Ledger()
    records = RunRecords(cfg, tree, ledger, report, now=rt.now)
    rate = cfg.download.max_rate
    limiter = RateLimiter(rate, clock=rt.monotonic, sleep=rt.sleep) if rate is not None else None
    # Without a state directory (a plan of a mirror that does not exist yet) nothing is cached.
    cache = StateCache(tree.state_dir / "cache") if tree.state_dir.is_dir() else None
    upstream = cfg.upstream
    # Only the GitHub source has a token to send (and only to its API's origin).
    token = rt.token if upstream.source == "github" else None
    async with open_client(
        concurrency=cfg.download.concurrency,
        stall_timeout=cfg.download.timeout,
        token=token,
        api_url=upstream.api_url,
        proxies=rt.proxies,
    ) as http:
        source = open_source(cfg, http, retry=retry, cache=cache, has_token=token is not None)
        uv = open_uv_source(
            cfg, http, python=source, retry=retry, cache=cache, has_token=token is not None
        )
        planner = Planner(cfg, tree, ledger, report, retry=retry, cache=cache, dry_run=dry_run)
        applier = Applier(
            cfg,
            tree,
            ledger,
            records,
            retry=retry,
            limiter=limiter,
            progress=rt.progress,
            now=rt.now,
        )
        idle = IdleCheck(cfg, tree, source)
        try:
            last = None if dry_run else (records.read_status() or {}).get("status")
            proof = None if dry_run else await idle.take(last_status=last)
            if proof is not None:
                return await _idle_run(proof, idle, ledger, records)
            planned = await planner.plan(source, http, uv=uv)
            if dry_run:
                return Outcome(plan=planned.plan, report=report, exit_code=plan_exit(planned.plan))
            settled = await applier.apply(planned, http)
        except BaseException as e:
            if not dry_run:
                await _record_stop(e, applier, records)
            raise
        if settled.status == "success" and settled.exit_code == 0:
            await idle.leave(ledger=ledger)
        return Outcome(
            plan=planned.plan, report=report, exit_code=settled.exit_code, refused=settled.refused
        )


async def _idle_run(
    proof: IdleProof, idle: IdleCheck, ledger: Ledger, records: RunRecords
) -> Outcome:
    """A run with nothing to do (``core.idle``): recorded like the last one, and nothing else."""
    report = records.report
    report.kept = proof.files
    ledger.held = (proof.files, proof.size)
    ledger.client_fingerprint = proof.client_files
    ledger.notes = list(proof.notes)
    for note in ledger.notes:  # one info line per run, as a planned run says it
        log.info("%s", note)
    records.finish("success")
    await idle.leave(proof)
    return Outcome(plan=Plan(fetch=(), keep=(), prune=()), report=report, exit_code=0)


async def _record_stop(error: BaseException, applier: Applier, records: RunRecords) -> None:
    """Index what a stopped run published, then record how it ended.

    Also after Ctrl-C/SIGTERM (the run's task cancelled): the index writes run in a task of their
    own that the cancellation does not reach, awaited through the target's ordinary ``write``
    for at most ``ABORT_WRITE_SECONDS`` (a second signal stops the wait, and with it the run).
    """
    applier.free_disk(error)
    writes = asyncio.ensure_future(applier.write_published_indexes())
    try:
        # asyncio.wait never cancels what it waits for: the writes are shielded from this task.
        done, _ = await asyncio.wait({writes}, timeout=ABORT_WRITE_SECONDS)
        if not done:
            log.error(
                "the indexes were not written within %.0f s; the next run rewrites them",
                ABORT_WRITE_SECONDS,
            )
        elif (failure := writes.exception()) is not None:
            log.error("cannot write the indexes: %s", failure)
    finally:
        writes.cancel()  # done, out of time, or a second signal: nothing outlives the run
        records.abort(error)
