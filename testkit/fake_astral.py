"""TEST INFRASTRUCTURE: a fake of Astral's release index and download host on 127.0.0.1.

It serves the NDJSON index (``/index.ndjson``: one line per Python version of a release, like
``releases.astral.sh/github/versions/main/v1/python-build-standalone.ndjson``) conditionally
(``ETag``, ``Last-Modified``; 304 when either matches) and the archives below
``/download/<tag>/<name>``. Each artifact's ``url`` is where the file "really" is (the fake
GitHub's ``browser_download_url`` when built with ``copy_from``), as Astral's index points at
GitHub. Faults: a raw line inserted into the index, statuses for the next index requests, an
index body cut mid-line, statuses for the next requests of a file, and names the download base
answers 404 for.

``EXCERPT``: two lines of the real index (``3.13.11+20260127`` and ``3.12.12+20260127``, fetched
from Astral on 2026-01-30, artifacts trimmed to the macOS ``debug-full`` and ``install_only``
ones and one Linux build), kept verbatim otherwise: their macOS ``debug-full`` artifacts carry
the index's known mistake (``platform: aarch64-apple-darwin-debug``, ``variant: full``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from urllib.parse import quote

from aiohttp import web
from fake_github import FakeGitHub, is_archive
from loopback import running, send_cut

EXCERPT = Path(__file__).parent / "data" / "astral-index-excerpt.ndjson"
LAST_MODIFIED = "Fri, 30 Jan 2026 14:46:07 GMT"


@dataclass(kw_only=True)
class AstralHit:
    """One request the fake received."""

    path: str
    status: int
    headers: Mapping[str, str]


@dataclass
class FakeAstral:
    """Releases as {tag: {name: bytes}}, served as Astral serves them."""

    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    urls: dict[tuple[str, str], str] = field(default_factory=dict)
    """Each artifact's own ``url`` in the index, when not on this host."""
    hits: list[AstralHit] = field(default_factory=list)
    inserted: dict[int, bytes] = field(default_factory=dict)
    """Raw lines put before the line of that number (from 1) of the index."""
    index_faults: list[int] = field(default_factory=list)
    index_cuts: list[str] = field(default_factory=list)
    """Faults (``truncate``, ``reset``) for the next 200s of the index: the body stops mid-line."""
    file_faults: dict[str, list[int]] = field(default_factory=dict)
    """Name -> statuses the download base answers its next requests with, one each."""
    missing: set[str] = field(default_factory=set)
    """Names the download base answers 404 for (the index still lists them)."""
    base_url: str = ""
    uv_files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """uv versions as {version: {archive name: bytes}}, listed in ``/uv.ndjson``."""
    uv_urls: dict[tuple[str, str], str] = field(default_factory=dict)
    uv_sha256: dict[tuple[str, str], str] = field(default_factory=dict)
    """A sha256 the uv index states instead of the archive's own (a wrong one, for a test)."""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/index.ndjson", self._index)
        app.router.add_get("/uv.ndjson", self._uv_index)
        app.router.add_get("/download/{tag}/{name}", self._download)
        app.router.add_get("/github/{repo}/releases/download/{tag}/{name}", self._github_layout)
        self._running = running(app)
        self.base_url = await self._running.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._running.__aexit__(None, None, None)

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/index.ndjson"

    @property
    def download_url(self) -> str:
        return f"{self.base_url}/download"

    def add_release(self, tag: str, files: Mapping[str, bytes]) -> None:
        self.files[tag] = dict(files)

    def copy_from(self, github: FakeGitHub, tags: Iterable[str]) -> None:
        """The archives of these fake GitHub releases, their ``url`` pointing at GitHub (their
        checksum files are not artifacts: the index carries each sha256)."""
        for tag in tags:
            release = github.release(tag)
            self.files[tag] = {n: a.data for n, a in release.assets.items() if is_archive(n)}
            for name in self.files[tag]:
                self.urls[tag, name] = github.browser_download_url(tag, name)

    @property
    def github_layout_url(self) -> str:
        """The Python archives' base in GitHub's layout, as Astral's own download host has it
        (``…/github/python-build-standalone/releases/download``); uv's is beside it."""
        return f"{self.base_url}/github/python-build-standalone/releases/download"

    def copy_uv_from(self, uv_repo: FakeGitHub, versions: Iterable[str]) -> None:
        """The uv archives of these releases of a fake ``astral-sh/uv``, their ``url`` pointing
        at GitHub (Astral's uv index names GitHub's URLs)."""
        for version in versions:
            release = uv_repo.release(version)
            self.uv_files[version] = {
                n: a.data
                for n, a in release.assets.items()
                if n.startswith("uv-") and n.endswith((".tar.gz", ".zip"))
            }
            for name in self.uv_files[version]:
                self.uv_urls[version, name] = uv_repo.browser_download_url(version, name)

    def uv_index_lines(self) -> list[bytes]:
        """``v1/uv.ndjson``: one line per version, newest first, as Astral writes it."""
        lines = []
        newest_first = sorted(self.uv_files, key=lambda v: tuple(map(int, v.split("."))))
        for version in reversed(newest_first):
            artifacts = [
                {
                    "platform": name.removeprefix("uv-").split(".", 1)[0],
                    "variant": "default",
                    "url": self.uv_urls.get(
                        (version, name),
                        f"{self.base_url}/github/uv/releases/download/{version}/{name}",
                    ),
                    "archive_format": "zip" if name.endswith(".zip") else "tar.gz",
                    "sha256": self.uv_sha256.get((version, name), hashlib.sha256(data).hexdigest()),
                }
                for name, data in sorted(self.uv_files[version].items())
            ]
            line = {"version": version, "date": "2026-01-29T20:24:46Z", "artifacts": artifacts}
            lines.append(json.dumps(line, separators=(",", ":")).encode())
        return lines

    def index_lines(self) -> list[bytes]:
        """The index: newest release first, one line per Python version of a release."""
        lines = []
        for tag in sorted(self.files, reverse=True):
            by_version: dict[str, list[dict[str, str]]] = {}
            for name, data in self.files[tag].items():
                version = name.split("-")[1]
                by_version.setdefault(version, []).append(
                    {
                        "platform": "wrong-platform-field",  # never trusted
                        "variant": "wrong-variant-field",
                        "url": self.urls.get((tag, name), self.file_url(tag, name)),
                        "archive_format": name.rsplit(".", 2)[-2],
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                )
            lines += [
                json.dumps(
                    {"version": version, "date": "2026-01-30T14:46:07+00:00", "artifacts": arts},
                    separators=(",", ":"),
                ).encode()
                for version, arts in by_version.items()
            ]
        for number in sorted(self.inserted, reverse=True):
            lines.insert(number - 1, self.inserted[number])
        return lines

    def file_url(self, tag: str, name: str) -> str:
        return f"{self.download_url}/{quote(tag, safe='')}/{quote(name, safe='')}"

    def body(self) -> bytes:
        return b"".join(line + b"\n" for line in self.index_lines())

    def index_hits(self) -> list[AstralHit]:
        return [h for h in self.hits if h.path == "/index.ndjson"]

    async def _uv_index(self, request: web.Request) -> web.StreamResponse:
        body = b"".join(line + b"\n" for line in self.uv_index_lines())
        return await self._serve_index(request, body)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if self.index_faults:
            return self._hit(request, web.Response(status=self.index_faults.pop(0)))
        return await self._serve_index(request, self.body())

    async def _serve_index(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """An NDJSON index, conditionally (and cut short while ``index_cuts`` say so)."""
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if request.headers.get("If-None-Match") == etag:
            return self._hit(request, web.Response(status=304, headers=headers))
        if self.index_cuts:
            self._hit(request, web.Response(status=200))
            at = body.index(b"\n", len(body) // 2) - 5  # inside a line
            return await send_cut(request, body, at=at, fault=self.index_cuts.pop(0))
        response = web.Response(body=body, headers=headers, content_type="application/x-ndjson")
        return self._hit(request, response)

    async def _download(self, request: web.Request) -> web.Response:
        tag, name = request.match_info["tag"], request.match_info["name"]
        return self._file(request, self.files, tag, name)

    def _file(
        self, request: web.Request, files: Mapping[str, Mapping[str, bytes]], tag: str, name: str
    ) -> web.Response:
        data = files.get(tag, {}).get(name)
        if self.file_faults.get(name):
            return self._hit(request, web.Response(status=self.file_faults[name].pop(0)))
        if data is None or name in self.missing:
            return self._hit(request, web.Response(status=404, text="not found"))
        return self._hit(request, web.Response(body=data))

    async def _github_layout(self, request: web.Request) -> web.Response:
        """``/github/<repo>/releases/download/<tag>/<name>``: the Python archives (repo
        ``python-build-standalone``) and uv's (repo ``uv``), like Astral's download host."""
        repo, tag, name = (request.match_info[k] for k in ("repo", "tag", "name"))
        files = {"python-build-standalone": self.files, "uv": self.uv_files}.get(repo, {})
        return self._file(request, files, tag, name)

    def _hit(self, request: web.Request, response: web.Response) -> web.Response:
        self.hits.append(
            AstralHit(path=request.path, status=response.status, headers=dict(request.headers))
        )
        return response
