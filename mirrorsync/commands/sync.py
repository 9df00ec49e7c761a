"""Orchestration of ``sync`` and ``plan``: list, select, plan, fetch, publish, prune, record."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mirrorsync import __version__
from mirrorsync.config.records import Config
from mirrorsync.core.checksums import parse_sha256sums, parse_sidecar, resolve_expected
from mirrorsync.core.layout import check_relpath
from mirrorsync.core.manifest import (
    INDEX_PATH,
    SUMS_NAME,
    entry_for,
    parse_index,
    render_index,
    render_status,
    render_tag_sums,
    timestamp,
)
from mirrorsync.core.model import Asset, Failure, IndexEntry, Plan, SyncReport, UpstreamAsset
from mirrorsync.core.plan import make_plan
from mirrorsync.core.releases import Catalog, build_catalog
from mirrorsync.core.selection import select_assets, select_releases
from mirrorsync.core.uvlist import UvList, parse_uv_download_list
from mirrorsync.errors import (
    AssetError,
    ConfigError,
    DownloadError,
    GuardRefused,
    MirrorsyncError,
    StateError,
    TargetError,
    UnsafeName,
    UpstreamError,
    describe_os_error,
)
from mirrorsync.net.client import HttpClient, open_client
from mirrorsync.net.download import fetch_asset
from mirrorsync.net.ratelimit import RateLimiter
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.publish.client_files import publish_client_files
from mirrorsync.publish.pages import RunInfo
from mirrorsync.targets.base import Target
from mirrorsync.targets.files import write_atomic
from mirrorsync.targets.open import open_target
from mirrorsync.upstream.cache import StateCache
from mirrorsync.upstream.github import GitHubReleases, fetch_small
from mirrorsync.upstream.source import ReleaseSource

log = logging.getLogger(__name__)
T = TypeVar("T")

GENERATOR = f"mirrorsync {__version__}"
CHECKSUM_FILE_LIMIT = 8 << 20
"""A release's SHA256SUMS is ~100 KB; anything far larger is not a checksum list."""
UV_LIST_LIMIT = 64 << 20
"""uv's own list is ~4 MB; a larger answer is not a download list."""
STATUS_PATH = "status.json"
HISTORY_PATH = "history.jsonl"
HISTORY_KEEP = 200
"""Runs remembered in ``history.jsonl`` (one JSON object a line, oldest first)."""


class Progress(Protocol):
    """How a run reports progress; ``cli`` implements it with tqdm on a terminal."""

    def begin(self, *, files: int, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def file_done(self, path: str) -> None: ...
    def end(self) -> None: ...


class NoProgress:
    """Progress that shows nothing (cron, ``--quiet``, not a terminal)."""

    def begin(self, *, files: int, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def file_done(self, path: str) -> None:
        pass

    def end(self) -> None:
        pass


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
    report: SyncReport
    exit_code: int = 0
    refused: str | None = None
    """Why a safety guard refused the prune, when it did."""


async def run_sync(
    cfg: Config, *, dry_run: bool = False, runtime: Runtime | None = None
) -> Outcome:
    """Run ``sync`` (or ``plan`` with ``dry_run``) for ``cfg``; raises ``MirrorsyncError``."""
    rt = runtime or Runtime()
    tree = open_target(cfg)
    async with tree.connect():
        if dry_run:
            return await _Run(cfg, tree, rt, dry_run=True).execute()
        await tree.prepare()
        async with tree.lock(now=rt.now()):
            return await _Run(cfg, tree, rt, dry_run=False).execute()


class _Run:
    def __init__(self, cfg: Config, tree: Target, rt: Runtime, *, dry_run: bool) -> None:
        self.cfg = cfg
        self.tree = tree
        self.rt = rt
        self.retry = rt.retry_policy(cfg)
        rate = cfg.download.max_rate
        self.limiter = (
            RateLimiter(rate, clock=rt.monotonic, sleep=rt.sleep) if rate is not None else None
        )
        self.dry_run = dry_run
        self.started = rt.now()
        self.t0 = time.monotonic()
        self.report = rt.report if rt.report is not None else SyncReport()
        # Without a state directory (a plan of a mirror that does not exist yet) nothing is cached.
        self.cache = StateCache(tree.state_dir / "cache") if tree.state_dir.is_dir() else None
        self.previous: dict[str, IndexEntry] = {}
        """The entries of the index as the run found it."""
        self.present: dict[str, IndexEntry] = {}
        self.index_existed = False
        self.client_fingerprint: str | None = None
        """What the client files were last written for (kept in status.json)."""
        """Those of ``previous`` whose files are on disk with their recorded size."""
        self.entries: dict[str, IndexEntry] = {}
        """What the mirror holds now: the index the run will write."""
        self.changes: list[tuple[str, str]] = []
        """(change, path) for the diff file: added, changed, removed."""
        self.unverifiable: dict[str, str] = {}
        """Paths whose release has a checksum list that could not be read, and why."""

    # -- the whole run -------------------------------------------------------------------------

    async def execute(self) -> Outcome:
        upstream = self.cfg.upstream
        async with open_client(
            concurrency=self.cfg.download.concurrency,
            stall_timeout=self.cfg.download.timeout,
            token=self.rt.token,
            api_url=upstream.api_url,
            proxies=self.rt.proxies,
        ) as http:
            source = GitHubReleases(
                http,
                api_url=upstream.api_url,
                repo=upstream.repo,
                retry=self.retry,
                cache=self.cache,
                has_token=self.rt.token is not None,
                full_listing_every=upstream.full_listing_hours * 3600,
                prove_consistent=self.cfg.prune,
            )
            try:
                plan = await self._plan(source, http)
                if self.dry_run:
                    return Outcome(plan=plan, report=self.report, exit_code=_plan_exit(plan))
                return await self._apply(plan, http)
            except BaseException as e:
                if not self.dry_run:
                    self._record_abort(e)
                raise

    async def _plan(self, source: ReleaseSource, http: HttpClient) -> Plan:
        releases = await source.list_releases()
        if isinstance(source, GitHubReleases):
            log.debug(
                "listing: %d page(s) fetched, %d unchanged (304), %d taken from the cache",
                source.pages_fetched,
                source.pages_unchanged,
                source.pages_trusted,
            )
        if not releases:
            raise GuardRefused(
                f"the upstream listing of {source.description} is empty; refusing to act on it",
                hint="check upstream.repo and upstream.api_url",
            )
        chosen = select_releases(releases, self.cfg.releases)
        for tag in chosen.unsafe_tags:
            log.warning("skipping release %r: its tag is not a safe directory name", tag)
        for tag in chosen.missing_tags:
            log.error("release %s: not found upstream (or a draft or prerelease)", tag)
        catalog = build_catalog(chosen.releases)
        for path in catalog.in_progress:
            log.info("%s: still being uploaded upstream; skipped this run", path)
        if catalog.unparsed:
            log.warning(
                "%d upstream file(s) with names this version does not understand were skipped: %s",
                len(catalog.unparsed),
                ", ".join(repr(n) for n in catalog.unparsed[:5])
                + (" …" if len(catalog.unparsed) > 5 else ""),  # noqa: PLR2004
            )
        candidates: Iterable[Asset] = catalog.assets
        uv_missing: list[str] = []
        if self.cfg.select.uv_metadata:
            uv_list = await self._load_uv_list(self.cfg.select.uv_metadata, http)
            upstream = {(r.tag, a.name) for r in releases for a in r.assets}
            uv_missing = sorted(f"{t}/{n}" for t, n in uv_list.url_names - upstream)
            if uv_missing:
                log.warning(
                    "%d file(s) the uv download list references are not upstream, e.g. %s",
                    len(uv_missing),
                    ", ".join(uv_missing[:3]),
                )
            candidates = [a for a in catalog.assets if uv_list.references(a.tag, a.name)]
        selected = await self._resolve_checksums(
            select_assets(candidates, self.cfg.select), catalog, source
        )
        self.previous = await self._load_index()
        self.present = await self.tree.present(self.previous)
        self.report.unparsed = catalog.unparsed
        return make_plan(
            selected,
            self.present,
            unparsed=catalog.unparsed,
            missing_tags=chosen.missing_tags,
            skipped_releases=chosen.unsafe_tags,
            uv_missing=uv_missing,
            in_progress=catalog.in_progress,
        )

    async def _load_uv_list(self, where: str, http: HttpClient) -> UvList:
        """The uv download list of ``select.uv_metadata``, from a file or a URL."""
        try:
            if where.startswith(("http://", "https://")):
                data = await fetch_small(
                    http, where, retry=self.retry, limit=UV_LIST_LIMIT, what=where
                )
            else:
                data = await asyncio.to_thread(Path(where).read_bytes)
            uv_list = parse_uv_download_list(data)
        except OSError as e:
            raise ConfigError(
                [f"select.uv_metadata: cannot read {where} ({describe_os_error(e)})"]
            ) from e
        except ValueError as e:
            raise ConfigError([f"select.uv_metadata: {where}: {e}"]) from e
        for line in uv_list.unmapped:
            log.debug("uv download list: not a python-build-standalone archive: %s", line)
        log.info(
            "the uv download list references %d python-build-standalone archive(s)",
            len(uv_list.url_names),
        )
        return uv_list

    async def _apply(self, plan: Plan, http: HttpClient) -> Outcome:
        # Everything present stays listed: deselected files until a prune removes them, and
        # old good copies until a verified replacement is renamed over them.
        self.entries = dict(self.present)
        fetch = await self._adopt(plan.fetch)
        self.report.kept = len(plan.keep) + (len(plan.fetch) - len(fetch))
        await self._fetch_all(fetch, http)
        outcome = Outcome(plan=plan, report=self.report, exit_code=0)
        prune: tuple[IndexEntry, ...] = ()
        if self.report.failed or plan.missing_tags:
            outcome.exit_code = 1
        elif self.cfg.prune and plan.prune:
            outcome.refused = self._prune_guard(plan)
            if outcome.refused:
                outcome.exit_code = GuardRefused.exit_code
            else:
                prune = plan.prune
        for entry in prune:
            self.entries.pop(entry.path, None)
            self.changes.append(("removed", entry.path))
        status = (
            "success" if outcome.exit_code == 0 else "refused" if outcome.refused else "partial"
        )
        # Indexes and client files stop naming pruned files before the files go.
        touched = await self._write_indexes()
        await self._write_client_files(status=status, touched=touched)
        if prune:
            await self.tree.delete_many([entry.path for entry in prune])
        for entry in prune:
            self.report.pruned += 1
            log.info("%s: pruned", entry.path)
        keep = {self.tree.staging_path(f.path) for f in self.report.failed}
        self.tree.sweep_staging(keep=keep)
        self.report.seconds = time.monotonic() - self.t0
        self._finish(status)
        return outcome

    async def _write_client_files(self, *, status: str, touched: set[str]) -> None:
        previous = self._read_status() or {}
        last_update = previous.get("last_update")
        ended = self.rt.now()
        # Client files depend on the files, the outcome shown on the pages, and the settings.
        fingerprint = hashlib.sha256(f"{self.cfg.publish!r} {GENERATOR}".encode()).hexdigest()
        refresh = (
            bool(self.changes)
            or self.entries != self.previous
            or status != previous.get("status")
            or fingerprint != previous.get("client_files")
        )
        self.client_fingerprint = fingerprint
        run = RunInfo(
            status=status,
            ended=timestamp(ended),
            last_update=timestamp(ended) if status == "success" else last_update,
            generator=GENERATOR,
        )
        await publish_client_files(
            self.tree,
            self.entries,
            publish=self.cfg.publish,
            run=run,
            touched_tags=touched,
            refresh=refresh,
        )

    # -- listing and checksums -----------------------------------------------------------------

    async def _resolve_checksums(
        self, selected: Iterable[Asset], catalog: Catalog, source: ReleaseSource
    ) -> list[Asset]:
        """Attach the expected sha256: the API digest, else SHA256SUMS, else the sidecar."""
        assets = list(selected)
        limit = asyncio.Semaphore(self.cfg.download.concurrency)
        tags = {a.tag for a in assets if a.upstream.digest is None} & set(catalog.sums)
        sums = await self._gather(
            {tag: (catalog.sums[tag], f"{tag}/{SUMS_NAME}") for tag in tags},
            parse_sha256sums,
            source=source,
            limit=limit,
        )
        wanted = {
            a.path: (catalog.sidecars[a.path], f"{a.path}.sha256")
            for a in assets
            if a.upstream.digest is None
            and a.name not in sums.get(a.tag, {})
            and a.path in catalog.sidecars
        }
        sidecars = await self._gather(wanted, parse_sidecar, source=source, limit=limit)
        resolved = [
            resolve_expected(a, sums=sums.get(a.tag), sidecar=sidecars.get(a.path)) for a in assets
        ]
        for a in resolved:
            # A checksum exists upstream but could not be read: never fetch such an asset
            # unverified (the next run tries again).
            if a.sha256 is None and a.tag in catalog.sums and a.tag not in sums:
                self.unverifiable[a.path] = f"{a.tag}/{SUMS_NAME} could not be read"
            elif a.sha256 is None and a.path in catalog.sidecars:
                self.unverifiable[a.path] = f"{a.name}.sha256 could not be read"
        return resolved

    async def _gather(
        self,
        files: Mapping[str, tuple[UpstreamAsset, str]],
        parse: Callable[[str], T],
        *,
        source: ReleaseSource,
        limit: asyncio.Semaphore,
    ) -> dict[str, T]:
        """Read and parse small checksum files concurrently; unreadable ones are left out."""
        results: dict[str, T] = {}

        async def load(key: str, up: UpstreamAsset, label: str) -> None:
            async with limit:
                text = await self._checksum_text(source, up, key=label)
            if text is None:
                return
            try:
                results[key] = parse(text)
            except ValueError as e:
                log.warning("%s is malformed and not used: %s", label, e)

        async with asyncio.TaskGroup() as tg:
            for key, (up, label) in sorted(files.items()):
                tg.create_task(load(key, up, label), name=label)
        return results

    async def _checksum_text(
        self, source: ReleaseSource, up: UpstreamAsset, *, key: str
    ) -> str | None:
        identity = f"{up.id}|{up.updated_at}|{up.size}|{up.url}"
        if self.cache is not None:
            cached = self.cache.file(key, identity=identity)
            if cached is not None:
                return cached
        try:
            data = await source.read_small(up, limit=CHECKSUM_FILE_LIMIT)
        except UpstreamError as e:
            # The assets it covers then carry no expected sha256 from it; they still get the
            # sidecar when there is one, else they fail below rather than pass unverified.
            log.warning("%s: cannot be read: %s", key, e)
            return None
        text = data.decode("utf-8", errors="replace")
        if self.cache is not None:
            self.cache.store_file(key, identity=identity, text=text)
        return text

    # -- the current mirror --------------------------------------------------------------------

    async def _load_index(self) -> dict[str, IndexEntry]:
        data = await self.tree.read(INDEX_PATH)
        self.index_existed = data is not None
        if data is None:
            return {}
        try:
            return _safe_entries(parse_index(data))
        except StateError as e:
            if self.dry_run:
                raise
            # Never a crash, never a loss: set the damaged file aside and rebuild; files on disk
            # that are still selected are adopted again by hashing them.
            aside = self.tree.state_dir / f"index.json.corrupt-{int(time.time())}"
            aside.write_bytes(data)
            log.error("%s; it was moved to %s and the index is rebuilt", e, aside)
            return {}

    async def _adopt(self, fetch: Iterable[Asset]) -> list[Asset]:
        """Keep files already in place that a killed run published but did not index.

        Only files whose size and upstream sha256 both match are adopted; the rest is fetched.
        """
        assets = list(fetch)
        candidates = [a for a in assets if a.path not in self.previous and a.sha256 is not None]
        absent = await self.tree.missing(a.path for a in candidates)
        adopted: set[str] = set()
        for asset in candidates:
            if asset.path in absent:
                continue
            digest = await self.tree.existing_sha256(asset.path, size=asset.size)
            if digest is not None and digest == asset.sha256:
                log.info("%s: already in place and verified; adopted", asset.path)
                self.entries[asset.path] = entry_for(asset, sha256=digest, size=asset.size)
                self.changes.append(("added", asset.path))
                adopted.add(asset.path)
        return [a for a in assets if a.path not in adopted]

    # -- fetching ------------------------------------------------------------------------------

    async def _fetch_all(self, fetch: list[Asset], http: HttpClient) -> None:
        progress = self.rt.progress
        progress.begin(files=len(fetch), total_bytes=sum(a.size for a in fetch))
        limit = asyncio.Semaphore(self.cfg.download.concurrency)

        async def one(asset: Asset) -> None:
            async with limit:
                try:
                    if asset.path in self.unverifiable:
                        raise DownloadError(asset.path, self.unverifiable[asset.path])
                    got = await fetch_asset(
                        http,
                        asset,
                        staged=self.tree.staging_path(asset.path),
                        retry=self.retry,
                        on_bytes=progress.advance,
                        limiter=self.limiter,
                    )
                    await self.tree.publish(got.staged, asset.path, sha256=got.sha256)
                except AssetError as e:
                    log.error("%s: %s", asset.path, e)
                    self.report.failed.append(Failure(path=asset.path, error=str(e)))
                    return
            change = "changed" if asset.path in self.previous else "added"
            self.changes.append((change, asset.path))
            self.entries[asset.path] = entry_for(asset, sha256=got.sha256, size=got.size)
            self.report.fetched += 1
            self.report.bytes_downloaded += got.downloaded
            progress.file_done(asset.path)
            log.info("%s: fetched %d bytes", asset.path, got.size)

        try:
            async with asyncio.TaskGroup() as tg:
                for asset in fetch:
                    tg.create_task(one(asset), name=asset.path)
        except* MirrorsyncError as group:
            raise group.exceptions[0] from None
        finally:
            progress.end()

    # -- publishing ----------------------------------------------------------------------------

    def _index_files(self, touched: set[str]) -> list[tuple[str, bytes | None]]:
        """(path, bytes) to write, or (path, None) to delete: each touched release's
        SHA256SUMS, then index.json when its entries changed."""
        entries = self.entries
        sums = render_tag_sums(entries.values())
        files: list[tuple[str, bytes | None]] = [
            (f"{tag}/{SUMS_NAME}", sums.get(tag)) for tag in sorted(touched)
        ]
        if entries != self.previous or not self.index_existed:
            upstream = {"source": self.cfg.upstream.source, "repo": self.cfg.upstream.repo}
            index = render_index(
                entries.values(), generator=GENERATOR, now=self.rt.now(), upstream=upstream
            )
            files.append((INDEX_PATH, index))
        return files

    def _touched_tags(self) -> set[str]:
        """Releases whose files changed: fetched, pruned, or found missing from the tree."""
        touched = {p.split("/", 1)[0] for _, p in self.changes}
        return touched | {e.tag for path, e in self.previous.items() if path not in self.entries}

    async def _write_indexes(self) -> set[str]:
        """Each touched release's SHA256SUMS, then index.json; only what changed is rewritten."""
        touched = self._touched_tags()
        others = {e.tag for e in self.entries.values()} - touched
        lost = await self.tree.missing(f"{tag}/{SUMS_NAME}" for tag in sorted(others))
        touched |= {path.split("/", 1)[0] for path in lost}  # deleted by hand: restore them
        for path, data in self._index_files(touched):
            if data is None:
                await self.tree.delete(path)
            else:
                await self.tree.write(path, data)
        return touched

    def _write_indexes_now(self) -> None:
        """The indexes of what an interrupted run published, written without awaiting."""
        for path, data in self._index_files(self._touched_tags()):
            try:
                if data is not None and not self.tree.write_now(path, data):
                    log.warning("the next run rewrites the indexes (%s)", self.tree.description)
                    return
            except TargetError as e:  # one file failing must not stop the others
                log.error("%s", e)

    def _prune_guard(self, plan: Plan) -> str | None:
        limit = self.cfg.prune_max.limit(len(self.entries))
        if len(plan.prune) <= limit:
            return None
        sample = ", ".join(e.path for e in plan.prune[:5])
        message = (
            f"prune refused: it would delete {len(plan.prune)} of {len(self.entries)} files, "
            f"more than prune_max allows ({limit}); e.g. {sample}"
        )
        log.error("%s", message)
        return message

    # -- records -------------------------------------------------------------------------------

    def _finish(self, status: str) -> None:
        self._append_diff()
        self._write_status(status)

    def _record_abort(self, error: BaseException) -> None:
        """On an error or interruption: index what was published, then record the outcome."""
        self.report.seconds = time.monotonic() - self.t0
        if isinstance(error, TargetError) and error.disk_full:
            # The index of the good files matters more than resumable partial downloads, and
            # those of the other downloads may hold the last free blocks.
            freed = self.tree.sweep_staging(keep=set())
            if freed:
                log.warning("the disk is full: removed %d partial download(s)", freed)
        if self.entries or self.changes:
            try:
                self._write_indexes_now()
            except MirrorsyncError as e:
                log.error("cannot write the indexes: %s", e)
        interrupted = isinstance(error, asyncio.CancelledError | KeyboardInterrupt)
        status = "interrupted" if interrupted else "failed"
        try:
            self._append_diff()
            self._write_status(status, error=str(error) or type(error).__name__)
        except (MirrorsyncError, OSError) as e:
            log.error("cannot record the run's status: %s", e)

    def _append_diff(self) -> None:
        if self.cfg.diff_file is None or not self.changes:
            return
        lines = [f"# {timestamp(self.started)} {GENERATOR}"]
        lines += [f"{change}\t{path}" for change, path in sorted(self.changes, key=lambda c: c[1])]
        try:
            self.cfg.diff_file.parent.mkdir(parents=True, exist_ok=True)
            with self.cfg.diff_file.open("a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        except OSError as e:
            raise TargetError(
                f"{self.cfg.diff_file}: cannot append ({describe_os_error(e)})"
            ) from e
        self.changes.clear()

    def _read_status(self) -> dict[str, Any] | None:
        try:
            previous = json.loads((self.tree.state_dir / STATUS_PATH).read_bytes())
        except (OSError, ValueError):
            return None
        return previous if isinstance(previous, dict) else None

    def _write_status(self, status: str, *, error: str | None = None) -> None:
        path = self.tree.state_dir / STATUS_PATH
        previous = self._read_status()
        extra: dict[str, Any] = {
            "fetched": self.report.fetched,
            "kept": self.report.kept,
            "pruned": self.report.pruned,
            "failed": [{"path": f.path, "error": f.error} for f in self.report.failed],
            "bytes_downloaded": self.report.bytes_downloaded,
            "generator": GENERATOR,
            "client_files": self.client_fingerprint,
        }
        if error:
            extra["error"] = error
        # Before the run reached its files, the mirror is still what the old index says.
        holding = self.entries if self.entries or self.changes else self.previous
        ended = self.rt.now()
        write_atomic(
            path,
            render_status(
                previous=previous,
                status=status,
                started=self.started,
                ended=ended,
                upstream=f"{self.cfg.upstream.api_url}/repos/{self.cfg.upstream.repo}",
                size=sum(e.size for e in holding.values()),
                files=len(holding),
                extra=extra,
            ),
        )
        record = {
            "started": timestamp(self.started),
            "ended": timestamp(ended),
            "status": status,
            "seconds": round(time.monotonic() - self.t0, 3),
            "files": len(holding),
            **{k: v for k, v in extra.items() if k not in ("generator", "client_files")},
        }
        append_history(self.tree.state_dir / HISTORY_PATH, record)


def append_history(path: Path, record: Mapping[str, Any]) -> None:
    """Append one run to the history, keeping the last ``HISTORY_KEEP`` runs."""
    line = json.dumps(record, separators=(",", ":")) + "\n"
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
    except (OSError, UnicodeDecodeError) as e:
        log.warning("%s: unreadable (%s); starting a new history", path, e)
        lines = []
    lines = [*lines[-(HISTORY_KEEP - 1) :], line]
    write_atomic(path, "".join(lines).encode("utf-8"))


def _safe_entries(entries: dict[str, IndexEntry]) -> dict[str, IndexEntry]:
    """``entries`` if every path is a safe ``<tag>/<name>``; ``StateError`` (a damaged index) else.

    The index is read back from disk, so its paths are as untrusted as upstream's names: one that
    escapes the root would otherwise fail every later run when it is stat'ed or pruned.
    """
    for path in entries:
        try:
            check_relpath(path)
        except UnsafeName as e:
            raise StateError(f"{INDEX_PATH}: unsafe path in files: {e}") from e
        if path.count("/") != 1:
            raise StateError(f"{INDEX_PATH}: a path in files is not <tag>/<name>: {path!r}")
    return entries


def _plan_exit(plan: Plan) -> int:
    return 1 if plan.missing_tags else 0
