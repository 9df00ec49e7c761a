"""``mirrorsync serve``: a static HTTP server over a mirror root, for LANs and air-gapped sites.

Consumers ask for ``<tag>/<name>`` with the ``+`` sent as ``%2B`` (uv) or literally (pbs-installer,
mise, rules_python), so the request path is percent-decoded exactly once and a ``+`` is never a
space (consumers.md §4, §5). Request paths are untrusted: a file is served only if it resolves,
symlinks included, inside the resolved root, and nothing hidden (``.mirrorsync/``, dot-files) is
ever served or listed.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias
from urllib.parse import quote, unquote_to_bytes

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict, CIMultiDictProxy

from mirrorsync.core.media import CACHE_CONTROL, HTML, CacheClass, cache_class, content_type
from mirrorsync.errors import ConfigError, MirrorsyncError

log = logging.getLogger(__name__)

TAG = re.compile(r"[0-9]{8}")
"""A release directory; any other directory below the root is the operator's (never immutable)."""
INDEX_FILE = "index.html"
SHUTDOWN_GRACE = 5.0
"""Seconds in-flight downloads get on shutdown (aiohttp's 60 s default delays Ctrl-C)."""

ROOT_KEY = web.AppKey("mirrorsync_root", Path)


@dataclass(frozen=True, slots=True, kw_only=True)
class _File:
    """A regular file inside the root, with the headers it is served with."""

    path: Path
    content_type: str
    cache_control: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    """One line of a directory listing."""

    name: str
    is_dir: bool
    size: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Listing:
    entries: tuple[_Entry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _SlashRedirect:
    """A directory asked for without its trailing slash."""


_Found: TypeAlias = _File | _Listing | _SlashRedirect


def valid_name(name: str) -> bool:
    """Whether a decoded path segment (or a directory entry) may be served at all."""
    return not (
        not name
        or name.startswith(".")  # ".", "..", dot-files and the .mirrorsync/ state directory
        or any(c in name for c in "/\\:")  # ":" would make a Windows drive or NTFS stream
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)  # noqa: PLR2004 - ASCII controls
    )


def parse_request_path(raw_path: str) -> tuple[tuple[str, ...], bool] | None:
    """Split a still-encoded URL path into decoded segments and whether it ended in ``/``.

    Each segment is percent-decoded once, after splitting, so ``%2F`` can never become a
    separator; ``+`` is not special in a path. None means "not found", whatever the reason.
    """
    if not raw_path.startswith("/"):
        return None
    body = raw_path[1:]
    if not body:
        return (), True
    slash = body.endswith("/")
    parts: list[str] = []
    for raw in (body[:-1] if slash else body).split("/"):
        try:
            # Bytes, not str: a file name need not be UTF-8, and a listing links it as its bytes.
            part = os.fsdecode(unquote_to_bytes(raw.encode("utf-8", "surrogateescape")))
        except UnicodeError:
            return None
        if not valid_name(part):
            return None
        parts.append(part)
    return tuple(parts), slash


def _inside(base: Path, real: Path) -> tuple[str, ...] | None:
    """``real``'s parts below ``base`` if it stays inside and is not hidden, else None."""
    if not real.is_relative_to(base):
        return None
    rel = real.relative_to(base).parts
    if any(p.startswith(".") for p in rel):  # a link into .mirrorsync/ is still .mirrorsync/
        return None
    return rel


def _cache_control(parts: tuple[str, ...], rel: tuple[str, ...]) -> str:
    # Immutable only if both the URL (what caches key on) and the file on disk are
    # <tag>/<archive>: a "latest/" link to a tag directory must stay revalidated.
    url, disk = parts[-2:], rel
    if (
        all(cache_class("/".join(p)) is CacheClass.IMMUTABLE for p in (url, disk))
        and all(TAG.fullmatch(p[0]) is not None for p in (url, disk))
        and disk[-1] == url[-1]
    ):
        return CACHE_CONTROL[CacheClass.IMMUTABLE]
    return CACHE_CONTROL[CacheClass.REVALIDATE]


def _list_dir(base: Path, directory: Path) -> tuple[_Entry, ...]:
    entries: list[_Entry] = []
    with os.scandir(directory) as it:
        for e in it:
            if not valid_name(e.name):
                continue
            try:
                if e.is_symlink():
                    target = Path(e.path).resolve(strict=True)
                    if _inside(base, target) is None:
                        continue
                    st = target.stat()
                    # A linked directory can be an ancestor (the Astral link points at the
                    # root itself): listing it would give crawlers an endless URL space.
                    if stat.S_ISDIR(st.st_mode):
                        continue
                else:
                    st = e.stat(follow_symlinks=False)
            except (OSError, RuntimeError):  # RuntimeError: a symlink loop before Python 3.13
                continue
            if stat.S_ISDIR(st.st_mode):
                entries.append(_Entry(name=e.name, is_dir=True, size=None))
            elif stat.S_ISREG(st.st_mode):
                entries.append(_Entry(name=e.name, is_dir=False, size=st.st_size))
    return tuple(sorted(entries, key=lambda x: x.name))


def locate(root: Path, parts: tuple[str, ...], *, slash: bool) -> _Found | None:
    """What ``parts`` names inside ``root`` (blocking file-system calls; run it in a thread)."""
    try:
        # Resolved per request: an operator may swap a "current" root link between syncs.
        base = root.resolve(strict=True)
        real = base.joinpath(*parts).resolve(strict=True)
        rel = _inside(base, real)
        if rel is None:
            return None
        mode = real.stat().st_mode
        if stat.S_ISDIR(mode):
            if not slash:
                return _SlashRedirect()
            index = locate(root, (*parts, INDEX_FILE), slash=False)
            return index if isinstance(index, _File) else _Listing(entries=_list_dir(base, real))
    except (OSError, RuntimeError):
        return None
    if slash or not stat.S_ISREG(mode):
        return None
    name = parts[-1]
    return _File(
        path=real, content_type=content_type(name), cache_control=_cache_control(parts, rel)
    )


def _display(name: str) -> str:
    # os.fsdecode keeps undecodable bytes as surrogates, which cannot be sent as UTF-8.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def render_listing(parts: tuple[str, ...], entries: tuple[_Entry, ...]) -> str:
    """A minimal HTML index of one directory; names escaped, links relative and encoded."""
    title = html.escape("/" + "".join(f"{_display(p)}/" for p in parts))
    rows = [] if not parts else ['<tr><td><a href="../">../</a></td><td></td></tr>']
    for e in entries:
        # quote() of the bytes: "+" becomes %2B, so S3-style servers in front cannot mangle it.
        href = quote(os.fsencode(e.name), safe="") + ("/" if e.is_dir else "")
        label = html.escape(_display(e.name) + ("/" if e.is_dir else ""))
        size = "-" if e.size is None else str(e.size)
        rows.append(f'<tr><td><a href="{html.escape(href)}">{label}</a></td><td>{size}</td></tr>')
    body = "\n".join(rows)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Index of {title}</title></head>\n"
        f"<body><h1>Index of {title}</h1>\n<table>\n{body}\n</table></body></html>\n"
    )


def _without_accept_encoding(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    kept: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        if key.lower() == "accept-encoding":
            continue
        try:
            value.encode("utf-8")  # Request.clone re-encodes headers strictly
        except UnicodeError:
            continue
        kept.add(key, value)
    return kept


class _IdentityFileResponse(web.FileResponse):
    """A ``FileResponse`` that always sends the named file's own bytes.

    ``FileResponse`` sends a sibling ``X.gz``/``X.br`` with ``Content-Encoding`` in place of ``X``
    when the client accepts that encoding; a client then unpacks a ``.tar.gz`` on the fly and its
    sha256 no longer matches. Hiding ``Accept-Encoding`` disables that lookup, whatever encodings
    a later aiohttp adds, while Range, HEAD, conditional requests and sendfile stay aiohttp's.
    """

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if hdrs.ACCEPT_ENCODING in request.headers:
            request = request.clone(headers=_without_accept_encoding(request.headers))
        return await super().prepare(request)


async def _handle(request: web.Request) -> web.StreamResponse:
    url = request.rel_url
    parsed = parse_request_path(url.raw_path)  # still encoded: request.path decodes %2F to "/"
    if parsed is None:
        raise web.HTTPNotFound
    parts, slash = parsed
    found = await asyncio.to_thread(locate, request.app[ROOT_KEY], parts, slash=slash)
    if isinstance(found, _File):
        return _IdentityFileResponse(
            found.path,
            headers={
                hdrs.CONTENT_TYPE: found.content_type,
                hdrs.CACHE_CONTROL: found.cache_control,
            },
        )
    if isinstance(found, _Listing):
        return web.Response(
            text=render_listing(parts, found.entries),
            headers={
                hdrs.CONTENT_TYPE: HTML,
                hdrs.CACHE_CONTROL: CACHE_CONTROL[CacheClass.REVALIDATE],
            },
        )
    if isinstance(found, _SlashRedirect):
        query = f"?{url.raw_query_string}" if url.raw_query_string else ""
        raise web.HTTPMovedPermanently(location=f"{url.raw_path}/{query}")
    raise web.HTTPNotFound


async def _log_access(request: web.Request, response: web.StreamResponse) -> None:
    # Logged once the headers are final, so a FileResponse's Content-Length is known.
    version = request.version
    log.info(
        '%s "%s %s HTTP/%d.%d" %d %s "%s"',
        request.remote or "-",
        request.method,
        request.raw_path,
        version.major,
        version.minor,
        response.status,
        response.headers.get(hdrs.CONTENT_LENGTH, "-"),
        request.headers.get(hdrs.USER_AGENT, "-"),
    )


def build_app(root: Path, *, access_log: bool = True) -> web.Application:
    """The static-file application over the mirror ``root``: GET and HEAD only."""
    if not root.is_dir():
        raise ConfigError([f"{root}: the mirror root is not a directory"])
    app = web.Application()
    app[ROOT_KEY] = root
    # add_get also answers HEAD; the router answers 405 (with Allow) to every other method.
    app.router.add_get("/{path:.*}", _handle)
    if access_log:
        app.on_response_prepare.append(_log_access)
    return app


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``root`` over HTTP until cancelled; ``ready(base_url)`` once listening."""
    # The app writes the access lines itself; aiohttp's own would double them.
    runner = web.AppRunner(build_app(root), access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as e:
            raise MirrorsyncError(
                f"cannot listen on {_url_host(host)}:{port} ({e.strerror or e})"
            ) from e
        bound_port = runner.addresses[0][1]  # port 0 asks the OS for a free one
        base_url = f"http://{_url_host(host)}:{bound_port}/"
        log.info("serving %s at %s", root, base_url)
        if ready is not None:
            ready(base_url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
