"""One document fetched conditionally (an upstream mirror's ``index.json``, Astral's index): its
validators, and what its source keeps with them, in the state cache; its error answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import NoReturn

import aiohttp
from yarl import URL

from mirrorsync.errors import UpstreamError
from mirrorsync.net.bodies import read_head
from mirrorsync.net.policy import classify
from mirrorsync.upstream.cache import StateCache
from mirrorsync.upstream.github import MAX_ERROR_BYTES


def conditional_headers(
    headers: Mapping[str, str], cached: Mapping[str, str] | None
) -> dict[str, str]:
    """``headers`` plus ``If-None-Match``/``If-Modified-Since`` from a cached record's
    validators."""
    made = dict(headers)
    if cached is not None:
        if cached.get("etag"):
            made["If-None-Match"] = cached["etag"]
        if cached.get("last_modified"):
            made["If-Modified-Since"] = cached["last_modified"]
    return made


def read_record(
    cache: StateCache | None, key: str, *, identity: str, needs: str
) -> dict[str, str] | None:
    """The record kept under ``key`` for ``identity``, when it holds the string ``needs``."""
    if cache is None:
        return None
    text = cache.file(key, identity=identity)
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get(needs), str):
        return None
    return data


def store_record(
    cache: StateCache | None,
    key: str,
    *,
    identity: str,
    headers: Mapping[str, str],
    **fields: str,
) -> None:
    """Keep the answer's validators with ``fields``; nothing when it had none to offer."""
    etag, modified = headers.get("ETag"), headers.get("Last-Modified")
    if cache is None or not (etag or modified):
        return
    record = {"etag": etag or "", "last_modified": modified or "", **fields}
    cache.store_file(key, identity=identity, text=json.dumps(record))


async def refuse(
    r: aiohttp.ClientResponse,
    url: URL,
    *,
    message: str,
    hint: str,
    clock: Callable[[], float],
) -> NoReturn:
    """An error answer: a transient error (retried) or an ``UpstreamError`` saying ``message``."""
    body = (await read_head(r, limit=MAX_ERROR_BYTES)).decode("utf-8", errors="replace")
    verdict = classify(r.status, r.headers, body, now=clock(), expires=False)
    if verdict.retryable:
        raise verdict.error(url)
    raise UpstreamError(message, hint=hint)
