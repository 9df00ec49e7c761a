"""Hypothesis properties of ``mirrorsync.core.uvlist`` over subsets of real release names."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirrorsync.core.model import IndexEntry
from mirrorsync.core.names import parse_asset_name
from mirrorsync.core.uvlist import (
    GITHUB_DOWNLOAD_PREFIX,
    UvList,
    parse_uv_download_list,
    render_uv_metadata,
    uv_download_metadata,
)

pytestmark = pytest.mark.property

POOL_TAGS = ("20210724", "20240415", "20240713", "20240726", "20241205", "20250212", "20251217")
"""Releases whose names cover era B, Windows duplicates, pre-dynamic musl and the variants."""


@pytest.fixture(scope="module")
def pool(pbs_releases: dict[str, list[dict[str, Any]]]) -> list[str]:
    """``<tag>/<name>`` of every recorded archive of the pool's releases."""
    return sorted(f"{tag}/{a['name']}" for tag in POOL_TAGS for a in pbs_releases[tag])


def entry(path: str) -> IndexEntry:
    tag, name = path.split("/")
    p = parse_asset_name(name, release_tag=tag)
    return IndexEntry(
        path=path,
        size=1,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        verified=True,
        python=p.python,
        platform=p.platform,
        flavor=p.flavor,
        build=p.build,
        variant=p.variant,
        linkage=p.linkage,
    )


def meta_of(paths: list[str], *, base_url: str = GITHUB_DOWNLOAD_PREFIX) -> dict[str, Any]:
    return uv_download_metadata([entry(p) for p in paths], base_url=base_url)


def pointed_at(meta: dict[str, Any]) -> set[str]:
    parsed = parse_uv_download_list(render_uv_metadata(meta))
    assert parsed.unmapped == ()
    assert parsed.ignored == 0
    return {f"{tag}/{name}" for tag, name in parsed.url_names}


def subsets(pool: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(pool), unique=True, max_size=80)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_list_ignores_input_order(pool: list[str], data: st.DataObject) -> None:
    """The same files in any order give the same list, byte for byte."""
    paths = data.draw(subsets(pool))
    shuffled = data.draw(st.permutations(paths))
    assert render_uv_metadata(meta_of(shuffled)) == render_uv_metadata(meta_of(paths))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_list_points_only_at_given_files_one_per_key(pool: list[str], data: st.DataObject) -> None:
    """Every URL names a file of the input, never one twice, and reads back without loss."""
    paths = data.draw(subsets(pool))
    meta = meta_of(paths)
    targets = pointed_at(meta)
    assert targets <= set(paths)
    assert len(targets) == len(meta)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_keeping_only_the_listed_files_gives_the_same_list(
    pool: list[str], data: st.DataObject
) -> None:
    """A mirror pruned to what the list references yields that very list again."""
    meta = meta_of(data.draw(subsets(pool)))
    assert meta_of(sorted(pointed_at(meta))) == meta


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_more_files_never_lose_a_key(pool: list[str], data: st.DataObject) -> None:
    """Adding files to the mirror can change which archive a key lists, never drop the key."""
    paths = data.draw(subsets(pool))
    more = data.draw(subsets(pool))
    assert set(meta_of(paths)) <= set(meta_of(sorted(set(paths) | set(more))))


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}(:[0-9]{2,5})?", fullmatch=True)
segments = st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True), max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    scheme=st.sampled_from(["http", "https"]),
    host=hosts,
    path=segments,
    slash=st.booleans(),
)
def test_mirror_base_urls_read_back_to_the_same_files(
    pool: list[str],
    data: st.DataObject,
    scheme: str,
    host: str,
    path: list[str],
    *,
    slash: bool,
) -> None:
    """A list written with a mirror's base URL references the same files as the canonical one."""
    paths = data.draw(subsets(pool))
    base = f"{scheme}://{host}/" + "/".join(path) + ("/" if slash else "")
    mirrored = meta_of(paths, base_url=base)
    assert all(v["url"].startswith(base.rstrip("/") + "/") for v in mirrored.values())
    assert all("+" not in v["url"] for v in mirrored.values())
    assert pointed_at(mirrored) == pointed_at(meta_of(paths))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(doc=json_values)
def test_any_json_is_parsed_or_refused_with_value_error(doc: object) -> None:
    """Arbitrary JSON yields a list or a ValueError, never another exception."""
    try:
        parsed = parse_uv_download_list(json.dumps(doc).encode())
    except ValueError:
        return
    assert isinstance(doc, dict | list)
    assert len(parsed.url_names) + len(parsed.unmapped) + parsed.ignored <= len(doc)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_with_value_error(data: bytes) -> None:
    """Arbitrary bytes yield a list or a ValueError, never another exception."""
    with contextlib.suppress(ValueError):
        assert isinstance(parse_uv_download_list(data), UvList)
