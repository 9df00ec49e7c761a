"""The applying half of ``sync``: adopt, fetch and publish, write the indexes, prune, and write
the client files, keeping the ``Ledger`` of what the mirror holds up to date as it goes."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from mirrorsync.commands.planner import Planned
from mirrorsync.commands.records import GENERATOR, Ledger, RunRecords
from mirrorsync.config.records import Config
from mirrorsync.core.capacity import known_total
from mirrorsync.core.layout import SUMS_NAME
from mirrorsync.core.manifest import (
    client_files_due,
    client_files_fingerprint,
    entry_for,
    index_files,
    tag_of,
    touched_tags,
)
from mirrorsync.core.model import Asset, Failure, Filesystem, SyncReport
from mirrorsync.core.plan import Settlement, settle
from mirrorsync.core.units import timestamp
from mirrorsync.errors import AssetError, DownloadError, MirrorsyncError, TargetError
from mirrorsync.net.client import HttpClient
from mirrorsync.net.download import (
    STREAK_BYTES,
    STREAK_FILES,
    Fetched,
    fetch_asset,
    fetch_streak,
    streakable,
)
from mirrorsync.net.ratelimit import RateLimiter
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.publish.client_files import publish_client_files
from mirrorsync.publish.pages import RunInfo
from mirrorsync.targets.base import Target

log = logging.getLogger(__name__)

ADOPT_BATCH = 2048
"""Assets whose paths ``Applier._adopt`` asks the target about at once."""


class Progress(Protocol):
    """How a run reports progress; ``cli`` implements it with tqdm on a terminal."""

    def begin(self, *, files: int, total_bytes: int | None) -> None:
        """``total_bytes``: None when a file's size is unknown (learned as it downloads)."""
        ...

    def advance(self, nbytes: int) -> None: ...
    def file_done(self, path: str) -> None: ...
    def end(self) -> None: ...


class NoProgress:
    """Progress that shows nothing (cron, ``--quiet``, not a terminal)."""

    def begin(self, *, files: int, total_bytes: int | None) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def file_done(self, path: str) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass(slots=True)
class Applier:
    """Carries out a plan on the target; every change goes into the ledger as it is made."""

    cfg: Config
    tree: Target
    ledger: Ledger
    records: RunRecords
    _: KW_ONLY
    retry: RetryPolicy
    limiter: RateLimiter | None
    """The ``download.max_rate`` bandwidth cap, when set."""
    progress: Progress
    now: Callable[[], datetime]

    @property
    def report(self) -> SyncReport:
        return self.records.report

    async def apply(self, planned: Planned, http: HttpClient) -> Settlement:
        """Fetch what the plan says, publish the indexes, prune when allowed, record the run."""
        ledger, report = self.ledger, self.report
        # Everything present stays listed: deselected files until a prune removes them, and
        # old good copies until a verified replacement is renamed over them.
        ledger.entries = dict(planned.present)
        listed = len(planned.plan.fetch)
        fetch = await self._adopt(planned.take_fetch())
        plan = planned.plan
        report.kept = len(plan.keep) + (listed - len(fetch))
        await self._fetch_all(fetch, http, unverifiable=planned.unverifiable)
        settled = settle(
            plan,
            failed=bool(report.failed),
            prune=self.cfg.prune,
            prune_max=self.cfg.prune_max,
            total_files=len(ledger.entries),
        )
        if settled.refused:
            log.error("%s", settled.refused)
        for entry in settled.prune:
            ledger.entries.pop(entry.path, None)
            ledger.changes.add("removed", entry.path)
        # Indexes and client files stop naming pruned files before the files go.
        touched = await self._write_indexes()
        await self._write_client_files(
            status=settled.status, touched=touched, filesystem=planned.filesystem
        )
        if settled.prune:
            await self.tree.delete_many([entry.path for entry in settled.prune])
        for entry in settled.prune:
            report.pruned += 1
            log.info("%s: pruned", entry.path)
        keep = {self.tree.staging_path(f.path) for f in report.failed}
        self.tree.sweep_staging(keep=keep)
        self.records.finish(settled.status)
        return settled

    async def _adopt(self, assets: list[Asset]) -> deque[Asset]:
        """Keep files already in place that a killed run published but did not index.

        Only files whose size and upstream sha256 both match are adopted; the rest is fetched
        (the queue of them: ``_fetch_all`` takes each asset out of it).
        """
        adopted: set[str] = set()
        # In batches: the paths asked about (a string each) are never those of a whole cold
        # history at once, on top of its assets.
        for start in range(0, len(assets), ADOPT_BATCH):
            await self._adopt_some(assets[start : start + ADOPT_BATCH], adopted)
        if not adopted:
            return deque(assets)
        return deque(a for a in assets if a.path not in adopted)

    async def _adopt_some(self, assets: list[Asset], adopted: set[str]) -> None:
        previous = self.ledger.previous
        # A file of unknown size (Astral's index lists none) is fetched again, not adopted.
        candidates = [
            a
            for a in assets
            if a.path not in previous and a.sha256 is not None and a.size is not None
        ]
        absent = await self.tree.missing(a.path for a in candidates)
        for asset in candidates:
            if asset.path in absent:
                continue
            size = asset.size
            assert size is not None  # noqa: S101 - candidates have a known size
            digest = await self.tree.existing_sha256(asset.path, size=size)
            if digest is not None and digest == asset.sha256:
                log.info("%s: already in place and verified; adopted", asset.path)
                entry = entry_for(asset, sha256=digest, size=size)
                self.ledger.entries[entry.path] = entry
                self.ledger.changes.add("added", entry.path)
                adopted.add(entry.path)

    async def _fetch_all(
        self, queue: deque[Asset], http: HttpClient, *, unverifiable: dict[str, str]
    ) -> None:
        """Fetch and publish the assets of ``queue`` with ``download.concurrency`` workers, each
        taking the next assets out of it when it is done: a whole-history sync holds that many
        coroutines, not one per file, and no asset past its fetch. Small files go in streaks
        (``fetch_streak``), the rest one by one."""
        progress = self.progress
        progress.begin(files=len(queue), total_bytes=known_total(queue))

        workers = min(self.cfg.download.concurrency, len(queue))

        async def worker() -> None:
            while True:
                # Streaks shrink as the queue does: every worker keeps a share to the end.
                most = min(STREAK_FILES, len(queue) // (4 * workers))
                streak, alone = self._take_streak(queue, most, unverifiable=unverifiable)
                if streak:
                    await self._fetch_streak(streak, http)
                if alone is not None:
                    await self._fetch_one(alone, http, unverifiable=unverifiable)
                elif not streak:
                    return

        try:
            async with asyncio.TaskGroup() as tg:
                for n in range(workers):
                    tg.create_task(worker(), name=f"download worker {n}")
        except* MirrorsyncError as group:
            raise group.exceptions[0] from None
        finally:
            progress.end()

    def _take_streak(
        self, queue: deque[Asset], most: int, *, unverifiable: dict[str, str]
    ) -> tuple[list[tuple[Asset, Path]], Asset | None]:
        """The next small files from ``queue`` with their staging files, ``most`` of them (at
        least one), up to ``STREAK_BYTES``, and the asset that ended the streak when it must be
        fetched on its own."""
        streak: list[tuple[Asset, Path]] = []
        total = 0
        while not streak or (len(streak) < most and total < STREAK_BYTES):
            if not queue:
                break
            asset = queue.popleft()
            if asset.path in unverifiable or not streakable(asset):
                return streak, asset
            try:
                staged = self.tree.staging_path(asset.path)
            except AssetError:
                return streak, asset  # _fetch_one records why
            streak.append((asset, staged))
            total += asset.size or 0
        return streak, None

    async def _fetch_streak(self, streak: list[tuple[Asset, Path]], http: HttpClient) -> None:
        outcomes = await fetch_streak(
            http,
            streak,
            retry=self.retry,
            on_bytes=self.progress.advance,
            limiter=self.limiter,
            drop_cached=not self.tree.reads_staged,
        )
        for (asset, _), got in zip(streak, outcomes, strict=True):
            if isinstance(got, AssetError):
                self._failed(asset, got)
                continue
            try:
                await self.tree.publish(got.staged, asset.path, sha256=got.sha256)
            except AssetError as e:
                self._failed(asset, e)
                continue
            self._fetched(asset, got)

    async def _fetch_one(
        self, asset: Asset, http: HttpClient, *, unverifiable: dict[str, str]
    ) -> None:
        """Download, verify and publish one asset; an asset's own failure is recorded, a run's
        failure (the target, an interruption) is raised."""
        try:
            if asset.path in unverifiable:
                raise DownloadError(asset.path, unverifiable[asset.path])
            got = await fetch_asset(
                http,
                asset,
                staged=self.tree.staging_path(asset.path),
                retry=self.retry,
                on_bytes=self.progress.advance,
                limiter=self.limiter,
                drop_cached=not self.tree.reads_staged,
            )
            await self.tree.publish(got.staged, asset.path, sha256=got.sha256)
        except AssetError as e:
            self._failed(asset, e)
            return
        self._fetched(asset, got)

    def _failed(self, asset: Asset, error: AssetError) -> None:
        log.error("%s: %s", asset.path, error)
        self.report.failed.append(Failure(path=asset.path, error=str(error)))

    def _fetched(self, asset: Asset, got: Fetched) -> None:
        """Record a published file in the ledger and the report."""
        ledger, report = self.ledger, self.report
        entry = entry_for(asset, sha256=got.sha256, size=got.size)
        # One string for the path, shared by the entry, its key and the change (``asset.path``
        # builds a new one each time: three per file held to the end of the run otherwise).
        path = entry.path
        change = "changed" if path in ledger.previous else "added"
        ledger.changes.add(change, path)
        ledger.entries[path] = entry
        report.fetched += 1
        report.bytes_downloaded += got.downloaded
        self.progress.file_done(path)
        log.info("%s: fetched %d bytes", path, got.size)

    # -- indexes and client files --------------------------------------------------------------

    def _index_files(self, touched: Iterable[str]) -> Iterator[tuple[str, Iterable[bytes] | None]]:
        ledger, upstream = self.ledger, self.cfg.upstream
        return index_files(
            ledger.entries,
            touched=touched,
            previous=ledger.previous,
            index_existed=ledger.index_existed,
            generator=GENERATOR,
            now=self.now(),
            upstream=upstream.manifest(),
        )

    def _touched_tags(self) -> set[str]:
        ledger = self.ledger
        changed = (path for _, path in ledger.changes)
        return touched_tags(changed, previous=ledger.previous, entries=ledger.entries)

    async def _put(self, files: Iterable[tuple[str, Iterable[bytes] | None]]) -> None:
        for path, data in files:
            if data is None:
                await self.tree.delete(path)
            else:
                await self.tree.write_pieces(path, data)

    async def _write_indexes(self) -> set[str]:
        """Each touched release's SHA256SUMS, then index.json; only what changed is rewritten."""
        touched = self._touched_tags()
        others = {e.tag for e in self.ledger.entries.values()} - touched
        lost = await self.tree.missing(f"{tag}/{SUMS_NAME}" for tag in sorted(others))
        touched |= {tag_of(path) for path in lost}  # deleted by hand: restore them
        await self._put(self._index_files(touched))
        return touched

    async def write_published_indexes(self) -> None:
        """The indexes of what a stopped run published, each file on its own (one failing must
        not keep the others from being written); nothing when the run never reached its files."""
        if not self.ledger.touched:
            return
        # Rendered one by one as they are written: a rendering error ends the files there.
        files = self._index_files(self._touched_tags())
        while True:
            try:
                one = next(files, None)
            except MirrorsyncError as e:
                log.error("cannot write the indexes: %s", e)
                return
            if one is None:
                return
            try:
                await self._put([one])
            except TargetError as e:
                log.error("%s", e)
            except MirrorsyncError as e:  # index.json failed to render as it was written
                log.error("cannot write the indexes: %s", e)
                return

    def free_disk(self, error: BaseException) -> None:
        """On a full disk, remove partial downloads so that the indexes still fit."""
        if isinstance(error, TargetError) and error.disk_full:
            # The index of the good files matters more than resumable partial downloads, and
            # those of the other downloads may hold the last free blocks.
            freed = self.tree.sweep_staging(keep=set())
            if freed:
                log.warning("the disk is full: removed %d partial download(s)", freed)

    async def _write_client_files(
        self, *, status: str, touched: set[str], filesystem: Filesystem | None
    ) -> None:
        ledger = self.ledger
        last = self.records.read_status() or {}
        ended = self.now()
        made_from = self.cfg.upstream.label()
        fingerprint = client_files_fingerprint(
            self.cfg.publish, generator=GENERATOR, upstream=made_from
        )
        refresh = client_files_due(
            files_changed=bool(ledger.changes) or ledger.entries != ledger.previous,
            status=status,
            fingerprint=fingerprint,
            last=last,
        )
        ledger.client_fingerprint = fingerprint
        run = RunInfo(
            status=status,
            ended=timestamp(ended),
            last_update=timestamp(ended) if status == "success" else last.get("last_update"),
            generator=GENERATOR,
            upstream=made_from,
        )
        await publish_client_files(
            self.tree,
            ledger.entries,
            publish=self.cfg.publish,
            run=run,
            touched_tags=touched,
            refresh=refresh,
            filesystem=filesystem,
        )
