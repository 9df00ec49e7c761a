"""The planning half of ``sync`` (all of ``plan``): the upstream listing, the selected assets with
their expected sha256, the mirror's current index, and the ``Plan`` that diffs them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, replace
from pathlib import Path
from typing import TypeVar

from mirrorsync.commands.records import Ledger
from mirrorsync.config.records import FLAT_COPY, Config
from mirrorsync.core.capacity import (
    assess_space,
    largest_to_probe,
    link_notes,
    link_problems,
    space_refusal,
)
from mirrorsync.core.checksums import (
    lists_to_read,
    parse_sha256sums,
    parse_sidecar,
    resolve_expected,
    sidecars_to_read,
    unverifiable,
)
from mirrorsync.core.layout import FLAT_DIR, INDEX_PATH, SUMS_NAME
from mirrorsync.core.manifest import parse_index, safe_entries
from mirrorsync.core.model import (
    Asset,
    Filesystem,
    IndexEntry,
    Plan,
    SyncReport,
    UpstreamAsset,
)
from mirrorsync.core.plan import check_listing, make_plan
from mirrorsync.core.releases import Catalog, build_catalog
from mirrorsync.core.selection import select_assets, select_releases
from mirrorsync.core.uvbundle import choose_versions, unpublished_checksums, uv_catalog, uv_dir
from mirrorsync.core.uvlist import UvList, parse_uv_download_list
from mirrorsync.errors import (
    ConfigError,
    GuardRefused,
    StateError,
    UpstreamError,
    describe_os_error,
)
from mirrorsync.net.client import HttpClient
from mirrorsync.net.retry import RetryPolicy
from mirrorsync.targets.base import Target
from mirrorsync.upstream.cache import StateCache
from mirrorsync.upstream.github import fetch_small
from mirrorsync.upstream.source import ReleaseSource

log = logging.getLogger(__name__)
T = TypeVar("T")

CHECKSUM_FILE_LIMIT = 8 << 20
"""A release's SHA256SUMS is ~100 KB; anything far larger is not a checksum list."""
UV_LIST_LIMIT = 64 << 20
"""uv's own list is ~4 MB; a larger answer is not a download list."""
UNPARSED_SAMPLE = 5
"""How many names of upstream files it does not understand a run's warning quotes."""


@dataclass(slots=True, kw_only=True)
class Planned:
    """A plan and what applying it needs besides."""

    plan: Plan
    """The plan; once ``take_fetch`` handed its assets over, one with an empty ``fetch``."""
    present: dict[str, IndexEntry]
    """The entries of the index as found whose files are there with their recorded size."""
    unverifiable: dict[str, str]
    """Paths whose release has a checksum that could not be read, and why: never fetched."""
    filesystem: Filesystem | None = None
    """What the target's file system can do, as probed before the first download."""

    def take_fetch(self) -> list[Asset]:
        """The plan's assets to fetch, handed over: ``plan`` keeps none of them, so that each
        asset (its parsed name, upstream record and strings) is freed once it is fetched, not
        held to the end of a whole-history sync beside the index entry that replaces it."""
        fetch = list(self.plan.fetch)
        self.plan = replace(self.plan, fetch=())
        return fetch


@dataclass(slots=True)
class Planner:
    """Lists upstream, selects, resolves checksums and reads the mirror's index into a plan."""

    cfg: Config
    tree: Target
    ledger: Ledger
    report: SyncReport
    _: KW_ONLY
    retry: RetryPolicy
    cache: StateCache | None
    """Listing pages and checksum files kept between runs; None without a state directory."""
    dry_run: bool
    """``plan``: a damaged index is an error rather than set aside."""

    async def plan(
        self, source: ReleaseSource, http: HttpClient, *, uv: ReleaseSource | None = None
    ) -> Planned:
        """The plan for the current listing; the index as found goes into the ledger.

        ``uv``: where uv's releases come from, when ``bundle.uv`` names any."""
        releases = await source.list_releases()
        check_listing(releases, description=source.description)
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
                ", ".join(repr(n) for n in catalog.unparsed[:UNPARSED_SAMPLE])
                + (" …" if len(catalog.unparsed) > UNPARSED_SAMPLE else ""),
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
        selected, unreadable = await self._resolve_checksums(
            select_assets(candidates, self.cfg.select), catalog, source
        )
        uv_catalog_, uv_missing_tags = await self._uv_catalog(uv)
        uv_selected, uv_unreadable = await self._resolve_checksums(
            uv_catalog_.assets, uv_catalog_, uv or source
        )
        selected += uv_selected
        unreadable |= uv_unreadable | unpublished_checksums(uv_selected)
        self.ledger.previous = await self._load_index()
        present = await self.tree.present(self.ledger.previous)
        self.report.unparsed = catalog.unparsed
        plan = make_plan(
            selected,
            present,
            unparsed=catalog.unparsed,
            missing_tags=(*chosen.missing_tags, *uv_missing_tags),
            skipped_releases=chosen.unsafe_tags,
            uv_missing=uv_missing,
            in_progress=(*catalog.in_progress, *uv_catalog_.in_progress),
        )
        plan, fs = await self._check_target(plan)
        return Planned(plan=plan, present=present, unverifiable=unreadable, filesystem=fs)

    async def _uv_catalog(self, uv: ReleaseSource | None) -> tuple[Catalog, tuple[str, ...]]:
        """The uv archives ``bundle.uv`` asks for (``core.uvbundle``), and the versions upstream
        lacks (as ``uv/<version>``: like a missing tag, exit 1)."""
        if uv is None or not self.cfg.bundle.uv:
            return uv_catalog([], platforms=()), ()
        try:
            listing = await uv.list_releases()
        except UpstreamError as e:
            # Say which listing failed: the Pythons' hint ("check upstream.repo") is not it.
            raise UpstreamError(
                f"bundle.uv: uv's releases ({uv.description}): {e.args[0]}",
                hint=None
                if e.hint is None
                else e.hint.replace("upstream.repo", "upstream.uv_repo"),
            ) from e
        choice = choose_versions(self.cfg.bundle.uv, listing)
        for where in choice.missing:
            log.error("%s: not found upstream (bundle.uv; or only as a draft or prerelease)", where)
        catalog = uv_catalog(choice.releases, platforms=self.cfg.select.platforms)
        for release in choice.releases:
            count = sum(1 for a in catalog.assets if a.tag == uv_dir(release.tag))
            log.info("uv %s: %d archive(s) for the selected platforms", release.tag, count)
        return catalog, choice.missing

    async def _check_target(self, plan: Plan) -> tuple[Plan, Filesystem]:
        """Ask the target what its file system can do, once, before the first download: the plan
        gets the space figures; a run that cannot fit, or asks for links the file system does
        not make, stops here (exit 2) with nothing downloaded."""
        publish = self.cfg.publish
        fs = await self.tree.filesystem(
            largest=largest_to_probe(plan.fetch), probe_links=not self.dry_run
        )
        space = assess_space(
            plan.fetch,
            fs,
            files_after=len(plan.fetch) + len(plan.keep) + len(plan.prune),
            copy_bytes=await self._copy_bytes(plan) if publish.flat == FLAT_COPY else 0,
        )
        plan = replace(plan, space=space)
        if self.dry_run:
            return plan, fs
        if problems := link_problems(flat=publish.flat, fs=fs):
            raise ConfigError(problems)
        if (refusal := space_refusal(space)) is not None:
            raise GuardRefused(refusal)
        if space.free_bytes is None:
            log.info(
                "%s cannot tell its free space; the selection is not checked against it", fs.place
            )
        elif space.unknown_files:
            log.info(
                "%d file(s) to fetch have no size in the listing; the free space is checked "
                "for the others only",
                space.unknown_files,
            )
        self.ledger.notes = link_notes(astral_layout=publish.astral_layout, fs=fs)
        for note in self.ledger.notes:
            log.info("%s", note)
        return plan, fs

    async def _copy_bytes(self, plan: Plan) -> int:
        """The bytes ``publish.flat: copy`` will write: a copy of each archive fetched, and of
        each kept one whose copy is not there yet (the option just turned on)."""
        kept = {f"{FLAT_DIR}/{e.name}": e.size for e in plan.keep if e.kind == "python"}
        absent = await self.tree.missing(kept)
        # Archives of unknown size are counted by assess_space (unknown_files), never as 0.
        fetched = sum(a.size for a in plan.fetch if a.size is not None and a.kind == "python")
        return fetched + sum(kept[path] for path in absent)

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
        if not uv_list.url_names:
            # An empty list, or one of another tool's format, would select nothing at all and
            # report "success, 0 files": almost certainly the wrong file.
            problem = (
                f"select.uv_metadata: {where} references no python-build-standalone archive "
                f"({len(uv_list.unmapped)} CPython entries without one, "
                f"{uv_list.ignored} of other implementations)"
            )
            raise ConfigError(
                [problem],
                hint="point it at uv's download-metadata.json or at the output of "
                "`uv python list --only-downloads --all-versions --all-platforms "
                "--all-arches --output-format json`",
            )
        for line in uv_list.unmapped:
            log.debug("uv download list: not a python-build-standalone archive: %s", line)
        log.info(
            "the uv download list references %d python-build-standalone archive(s)",
            len(uv_list.url_names),
        )
        return uv_list

    # -- checksums -----------------------------------------------------------------------------

    async def _resolve_checksums(
        self, selected: Iterable[Asset], catalog: Catalog, source: ReleaseSource
    ) -> tuple[list[Asset], dict[str, str]]:
        """Attach the expected sha256: the API digest, else SHA256SUMS, else the sidecar; and
        say which assets must not be fetched because a checksum for them was unreadable."""
        assets = list(selected)
        limit = asyncio.Semaphore(self.cfg.download.concurrency)
        tags = lists_to_read(assets, published=catalog.sums)
        sums = await self._gather(
            {tag: (catalog.sums[tag], f"{tag}/{SUMS_NAME}") for tag in tags},
            parse_sha256sums,
            source=source,
            limit=limit,
        )
        paths = sidecars_to_read(assets, sums=sums, published=catalog.sidecars)
        sidecars = await self._gather(
            {path: (catalog.sidecars[path], f"{path}.sha256") for path in paths},
            parse_sidecar,
            source=source,
            limit=limit,
        )
        resolved = [
            resolve_expected(a, sums=sums.get(a.tag), sidecar=sidecars.get(a.path)) for a in assets
        ]
        reasons = unverifiable(
            resolved, lists=catalog.sums, lists_read=sums, sidecars=catalog.sidecars
        )
        return resolved, reasons

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
        """The text of a checksum file (from the cache while upstream's copy is unchanged), or
        None when it cannot be read: the assets it covers then are never fetched unverified."""
        identity = f"{up.id}|{up.updated_at}|{up.size}|{up.url}"
        if self.cache is not None:
            cached = self.cache.file(key, identity=identity)
            if cached is not None:
                return cached
        try:
            data = await source.read_small(up, limit=CHECKSUM_FILE_LIMIT)
        except UpstreamError as e:
            log.warning("%s: cannot be read: %s", key, e)
            return None
        text = data.decode("utf-8", errors="replace")
        if self.cache is not None:
            self.cache.store_file(key, identity=identity, text=text)
        return text

    # -- the current mirror --------------------------------------------------------------------

    async def _load_index(self) -> dict[str, IndexEntry]:
        data = await self.tree.read(INDEX_PATH)
        self.ledger.index_existed = data is not None
        if data is None:
            return {}
        try:
            return safe_entries(parse_index(data))
        except StateError as e:
            if self.dry_run:
                # Plan what the sync would do (it rebuilds), touching nothing.
                log.error("%s; a sync would move it aside and rebuild the index", e)
                return {}
            # Never a crash, never a loss: set the damaged file aside and rebuild; files on disk
            # that are still selected are adopted again by hashing them.
            aside = self.tree.state_dir / f"index.json.corrupt-{int(time.time())}"
            aside.write_bytes(data)
            log.error("%s; it was moved to %s and the index is rebuilt", e, aside)
            return {}
