"""On-disk caches in the state directory, so that an unchanged upstream costs only 304s."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mirrorsync.targets.files import write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedPage:
    """A listing page as last seen: its validator, body and the next page's URL."""

    url: str
    etag: str
    body: str
    next_url: str | None


def _checksum(text: str) -> str:
    # surrogatepass: a damaged entry may hold a lone surrogate ("\ud800" is valid JSON).
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class StateCache:
    """Listing pages by URL and small upstream files by asset identity, under ``directory``.

    A corrupt or unreadable entry is treated as absent: the cache only ever saves requests. Each
    entry carries the sha256 of its text: a page is replayed whenever upstream answers 304 to its
    ETag, so a damaged body that still parsed as JSON would otherwise be trusted on every run.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, kind: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return self.directory / kind / f"{digest}.json"

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.warning("%s: ignoring unreadable cache entry (%s)", path, e)
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _intact(data: dict[str, Any], text: str, *, what: str) -> bool:
        if "sha256" not in data:  # written before entries carried a checksum: a plain miss
            return False
        if data["sha256"] != _checksum(text):
            log.warning("%s: ignoring a damaged cache entry (checksum mismatch)", what)
            return False
        return True

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        try:
            write_atomic(path, json.dumps(data, separators=(",", ":")).encode("utf-8"))
        except OSError as e:  # a cache that cannot be written costs requests, nothing else
            log.warning("%s: cannot write cache entry (%s)", path, e)

    def page(self, url: str) -> CachedPage | None:
        data = self._read(self._path("pages", url))
        if data is None:
            return None
        try:
            page = CachedPage(
                url=str(data["url"]),
                etag=str(data["etag"]),
                body=str(data["body"]),
                next_url=None if data["next_url"] is None else str(data["next_url"]),
            )
        except KeyError:
            return None
        return page if self._intact(data, page.body, what=url) else None

    def store_page(self, page: CachedPage) -> None:
        self._write(
            self._path("pages", page.url),
            {
                "url": page.url,
                "etag": page.etag,
                "body": page.body,
                "next_url": page.next_url,
                "sha256": _checksum(page.body),
            },
        )

    def file(self, key: str, *, identity: str) -> str | None:
        data = self._read(self._path("files", key))
        if data is None or data.get("identity") != identity:
            return None
        text = data.get("text")
        if not isinstance(text, str):
            return None
        return text if self._intact(data, text, what=key) else None

    def store_file(self, key: str, *, identity: str, text: str) -> None:
        self._write(
            self._path("files", key),
            {"key": key, "identity": identity, "text": text, "sha256": _checksum(text)},
        )
