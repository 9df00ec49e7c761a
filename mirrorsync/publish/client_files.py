"""Files for clients beyond the tree itself: uv metadata, HTML pages, offline scripts, layouts.

Everything here is written after the archives and the indexes, each file atomically and only when
its content changed, so a run with nothing new rewrites nothing but the root page.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mirrorsync.config.records import FLAT_COPY, PublishConfig
from mirrorsync.core.layout import (
    ASTRAL_LINK,
    FLAT_DIR,
    PAGE_NAME,
    USE_MIRROR_SH,
    UV_METADATA,
    UV_METADATA_MIRROR,
    VERIFY_MIRROR_SH,
)
from mirrorsync.core.model import Filesystem, IndexEntry
from mirrorsync.core.uvlist import render_uv_metadata, uv_download_metadata
from mirrorsync.errors import TargetError
from mirrorsync.publish.pages import RunInfo, render_root_page, render_tag_page
from mirrorsync.publish.scripts import OFFLINE_FILES
from mirrorsync.targets.base import Target
from mirrorsync.targets.files import write_atomic

log = logging.getLogger(__name__)

ASTRAL_TARGET = "../../.."


OWNED_PATH = "client-files.json"
"""In the state directory: the sha256 of each client file as mirrorsync last wrote it."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(slots=True, kw_only=True)
class Owned:
    """The client files mirrorsync itself wrote: it overwrites or deletes only those.

    An operator's own ``README.txt`` or ``index.html`` in the mirror's root, or a file edited
    after mirrorsync wrote it, is kept, and the run says so. A tree from before this record
    (``legacy``) counts its existing client files as mirrorsync's, once; a first run into a
    directory holding such files of someone else's is refused before it starts
    (``targets.local.foreign_files``).
    """

    path: Path
    files: dict[str, str]
    legacy: bool
    changed: bool = False

    @classmethod
    def load(cls, state_dir: Path) -> Owned:
        path = state_dir / OWNED_PATH
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(path=path, files={}, legacy=True)
        except (OSError, ValueError):
            log.warning("%s: unreadable; client files are taken as mirrorsync's this once", path)
            return cls(path=path, files={}, legacy=True)
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            return cls(path=path, files={}, legacy=True)
        return cls(path=path, files={str(k): str(v) for k, v in files.items()}, legacy=False)

    def ours(self, path: str, current: bytes | None) -> bool:
        """Whether mirrorsync may replace or delete ``path``, which now holds ``current``."""
        if current is None:
            return True
        recorded = self.files.get(path)
        return self.legacy if recorded is None else recorded == _digest(current)

    def wrote(self, path: str, data: bytes) -> None:
        if self.files.get(path) != (digest := _digest(data)):
            self.files[path] = digest
            self.changed = True

    def forget(self, path: str) -> None:
        if self.files.pop(path, None) is not None:
            self.changed = True

    def save(self) -> None:
        if self.changed or self.legacy:
            doc = {"files": dict(sorted(self.files.items()))}
            write_atomic(self.path, json.dumps(doc, indent=1).encode("utf-8") + b"\n")
            self.changed = self.legacy = False


async def _current(tree: Target, path: str) -> bytes | None:
    try:
        return await tree.read(path)
    except TargetError as e:
        log.debug("%s: unreadable (%s); rewriting it", path, e)
        return None


async def write_if_changed(
    tree: Target, path: str, data: bytes, *, owned: Owned | None = None
) -> bool:
    """Write ``path`` atomically unless it already holds exactly ``data`` or is not
    mirrorsync's to replace (``owned``); True if written."""
    current = await _current(tree, path)
    if current == data:
        if owned is not None:
            owned.wrote(path, data)
        return False
    if owned is not None and not owned.ours(path, current):
        log.warning(
            "%s: not written by mirrorsync (or changed since); kept as it is. Remove it to "
            "let mirrorsync write its own",
            path,
        )
        return False
    await tree.write(path, data)
    if owned is not None:
        owned.wrote(path, data)
    return True


async def _delete_ours(tree: Target, path: str, owned: Owned) -> None:
    """Delete ``path`` if mirrorsync wrote it (a feature turned off); keep it otherwise."""
    if owned.ours(path, await _current(tree, path)):
        await tree.delete(path)
        owned.forget(path)
    else:
        log.warning("%s: not written by mirrorsync; not deleted", path)


async def publish_client_files(
    tree: Target,
    entries: Mapping[str, IndexEntry],
    *,
    publish: PublishConfig,
    run: RunInfo,
    touched_tags: Iterable[str],
    refresh: bool = True,
    filesystem: Filesystem | None = None,
) -> list[str]:
    """Write every client file the configuration asks for; returns the paths written.

    Without ``refresh`` (nothing changed since the last run: files, outcome, settings), only
    files that have gone missing are written again, so an idle run writes nothing at all.
    ``filesystem`` (probed by the run) says which links the target's file system makes.
    """
    written: list[str] = []
    files = list(entries.values())
    touched = set(touched_tags)
    if not refresh and not await tree.missing(_expected_names(publish)):
        _sync_layouts(tree, files, publish, filesystem)
        return written
    owned = await asyncio.to_thread(Owned.load, tree.state_dir)

    async def put(path: str, data: bytes) -> None:
        if await write_if_changed(tree, path, data, owned=owned):
            written.append(path)

    async def drop(path: str) -> None:
        await _delete_ours(tree, path, owned)

    wanted = _root_files(files, publish)
    for name, data in wanted.items():
        await put(name, data)
    unwanted = [n for n in (UV_METADATA, UV_METADATA_MIRROR, *OFFLINE_FILES) if n not in wanted]
    for name in sorted(set(unwanted) - await tree.missing(unwanted)):
        await drop(name)  # a feature turned off: its file goes
    if publish.offline_scripts:
        for script in (USE_MIRROR_SH, VERIFY_MIRROR_SH):
            tree.make_executable(script)
    has_links = _sync_layouts(tree, files, publish, filesystem)
    if publish.html:
        await _publish_pages(tree, files, touched_tags=touched, put=put, drop=drop)
        root_page = render_root_page(
            files,
            run=run,
            base_url=publish.base_url,
            extras=wanted,
            flat=bool(publish.flat) and has_links,
        )
        await put(PAGE_NAME, root_page)
    else:
        await _remove_pages(tree, files, drop=drop)
    await asyncio.to_thread(owned.save)
    return written


def _sync_layouts(
    tree: Target, files: list[IndexEntry], publish: PublishConfig, fs: Filesystem | None
) -> bool:
    """The client layouts made of links; whether the target has the flat view (a bucket has no
    links: it answers False and nothing is written). On a file system without symbolic links the
    Astral link is skipped: the run has logged and recorded that once (``capacity.link_notes``)."""
    if fs is None or fs.symlinks:
        try:
            # github/python-build-standalone/releases/download -> ../../.. for UV_ASTRAL_MIRROR_URL
            tree.symlink(ASTRAL_LINK, ASTRAL_TARGET, wanted=publish.astral_layout)
        except TargetError as e:  # a file in the way, a link refused after all
            log.warning("cannot publish the Astral layout link %s", e)
    # The Pythons only: flat/ is pbs-installer's view, and uv's own archives (bundle.uv) are none.
    sources = {e.name: e.path for e in files if e.kind == "python"} if publish.flat else {}
    try:  # flat/<name>: hard links (or copies) of every archive, for PBS_INSTALLER_BASE_URL
        return tree.hard_links(FLAT_DIR, sources, copies=publish.flat == FLAT_COPY)
    except TargetError as e:
        log.warning("cannot publish the flat view %s", e)
        return True


def _expected_names(publish: PublishConfig) -> list[str]:
    """The root's client files the configuration asks for (without rendering them)."""
    names = [PAGE_NAME] if publish.html else []
    if publish.download_metadata:
        names += [UV_METADATA, *([UV_METADATA_MIRROR] if publish.base_url else [])]
    if publish.offline_scripts:
        names += list(OFFLINE_FILES)
    return names


def _root_files(files: list[IndexEntry], publish: PublishConfig) -> dict[str, bytes]:
    """The root's client files the configuration asks for, by name."""
    wanted: dict[str, bytes] = {}
    if publish.download_metadata:
        wanted[UV_METADATA] = render_uv_metadata(uv_download_metadata(files))
        if publish.base_url:
            mirror_meta = uv_download_metadata(files, base_url=publish.base_url + "/")
            wanted[UV_METADATA_MIRROR] = render_uv_metadata(mirror_meta)
    if publish.offline_scripts:
        wanted.update((name, text.encode("utf-8")) for name, text in OFFLINE_FILES.items())
    return wanted


async def _publish_pages(
    tree: Target,
    files: list[IndexEntry],
    *,
    touched_tags: Iterable[str],
    put: Callable[[str, bytes], Awaitable[None]],
    drop: Callable[[str], Awaitable[None]],
) -> None:
    """Each release's page: rewritten when the release changed or its page is missing."""
    by_tag: dict[str, list[IndexEntry]] = defaultdict(list)
    for e in files:
        by_tag[e.tag].append(e)
    without_page = await tree.missing(f"{tag}/{PAGE_NAME}" for tag in sorted(by_tag))
    for tag in sorted(set(touched_tags) | {p.rsplit("/", 1)[0] for p in without_page}):
        if tag in by_tag:
            await put(f"{tag}/{PAGE_NAME}", render_tag_page(tag, by_tag[tag]))
        else:
            await drop(f"{tag}/{PAGE_NAME}")


async def _remove_pages(
    tree: Target, files: list[IndexEntry], *, drop: Callable[[str], Awaitable[None]]
) -> None:
    """Pages turned off: the ones written before go."""
    pages = [PAGE_NAME, *sorted({f"{e.tag}/{PAGE_NAME}" for e in files})]
    for page in sorted(set(pages) - await tree.missing(pages)):
        await drop(page)
