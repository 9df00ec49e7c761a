"""The manifest's decisions: which indexes a run rewrites, safe index paths, client-file refresh."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from selection_table import make_asset

from mirrorsync.config.records import PublishConfig
from mirrorsync.core import manifest
from mirrorsync.core.checksums import resolve_expected
from mirrorsync.core.layout import INDEX_PATH
from mirrorsync.core.manifest import (
    client_files_due,
    client_files_fingerprint,
    entry_for,
    index_files,
    parse_index,
    safe_entries,
    touched_tags,
)
from mirrorsync.core.model import IndexEntry, Release, UpstreamAsset
from mirrorsync.core.uvbundle import uv_catalog
from mirrorsync.errors import StateError

H = hashlib.sha256(b"x").hexdigest()
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
UPSTREAM = {"source": "github", "repo": "astral-sh/python-build-standalone"}


def entry(tag: str, python: str = "3.12.4") -> IndexEntry:
    name = f"cpython-{python}+{tag}-x86_64-unknown-linux-gnu-install_only.tar.gz"
    return entry_for(make_asset(tag, name), sha256=H, size=1)


A1, A2, B1, C1 = (
    entry("20240726"),
    entry("20240726", "3.11.9"),
    entry("20241016"),
    entry("20250101"),
)


def by_path(*entries: IndexEntry) -> dict[str, IndexEntry]:
    return {e.path: e for e in entries}


def rendered_index_files(
    entries: dict[str, IndexEntry], **kwargs: Any
) -> list[tuple[str, bytes | None]]:
    """``index_files`` with each file's pieces joined."""
    return [
        (path, None if pieces is None else b"".join(pieces))
        for path, pieces in index_files(entries, **kwargs)
    ]


@pytest.mark.parametrize(
    ("changed", "previous", "entries", "expect"),
    [
        ((), by_path(A1, B1), by_path(A1, B1), set()),  # nothing happened
        ((A2.path,), by_path(A1, B1), by_path(A1, A2, B1), {"20240726"}),  # fetched or adopted
        ((B1.path,), by_path(A1, B1), by_path(A1), {"20241016"}),  # pruned
        ((), by_path(A1, B1), by_path(A1), {"20241016"}),  # gone from the tree, not a change
        ((C1.path,), {}, by_path(C1), {"20250101"}),  # a first run
        ((A1.path, A2.path), by_path(A1), by_path(A1, A2), {"20240726"}),  # one tag once
    ],
)
def test_touched_tags(
    changed: tuple[str, ...],
    previous: dict[str, IndexEntry],
    entries: dict[str, IndexEntry],
    expect: set[str],
) -> None:
    """A release is touched when one of its files changed or an indexed file is no longer held."""
    assert touched_tags(changed, previous=previous, entries=entries) == expect


@pytest.mark.parametrize(
    ("entries", "touched", "previous", "existed", "expect"),
    [
        # (paths to write, paths to delete)
        (by_path(A1), (), by_path(A1), True, ([], [])),  # unchanged: nothing rewritten
        (by_path(A1), (), by_path(A1), False, ([INDEX_PATH], [])),  # no index yet: write one
        (by_path(A1), (), {}, True, ([INDEX_PATH], [])),  # a damaged index was set aside
        (by_path(), (), {}, False, ([INDEX_PATH], [])),  # an empty mirror gets an empty index
        (
            by_path(A1, A2),
            ("20240726",),
            by_path(A1),
            True,
            (["20240726/SHA256SUMS", INDEX_PATH], []),
        ),
        (  # the last file of a release went: its SHA256SUMS goes too
            by_path(A1),
            ("20241016",),
            by_path(A1, B1),
            True,
            ([INDEX_PATH], ["20241016/SHA256SUMS"]),
        ),
        (  # a SHA256SUMS deleted by hand is restored although the index is unchanged
            by_path(A1),
            ("20240726",),
            by_path(A1),
            True,
            (["20240726/SHA256SUMS"], []),
        ),
    ],
)
def test_index_files(
    *,
    entries: dict[str, IndexEntry],
    touched: tuple[str, ...],
    previous: dict[str, IndexEntry],
    existed: bool,
    expect: tuple[list[str], list[str]],
) -> None:
    """Touched releases' SHA256SUMS are written (or deleted), index.json only when it changed."""
    files = list(
        rendered_index_files(
            entries,
            touched=touched,
            previous=previous,
            index_existed=existed,
            generator="mirrorsync test",
            now=NOW,
            upstream=UPSTREAM,
        )
    )
    written = [path for path, data in files if data is not None]
    deleted = [path for path, data in files if data is None]
    assert (written, deleted) == expect
    if INDEX_PATH in written:
        index = dict(files)[INDEX_PATH]
        assert index is not None
        assert parse_index(index) == entries
        assert json.loads(index)["updated_at"] == "2025-01-02T03:04:05Z"


def test_index_files_sums_list_the_release_files() -> None:
    """A touched release's SHA256SUMS lists exactly the files the mirror holds for it."""
    files = dict(
        rendered_index_files(
            by_path(A1, A2, B1),
            touched=("20240726",),
            previous=by_path(A1, A2, B1),
            index_existed=True,
            generator="g",
            now=NOW,
            upstream=UPSTREAM,
        )
    )
    assert files == {"20240726/SHA256SUMS": f"{H}  {A2.name}\n{H}  {A1.name}\n".encode()}


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../etc/passwd", "unsafe path"),
        ("/abs/file", "unsafe path"),
        (".mirrorsync/x", "unsafe path"),
        ("20240726/a\x00b", "unsafe path"),
        ("file-at-the-root", "not <tag>/<name>"),
        ("20240726/sub/file", "not <tag>/<name>"),
    ],
)
def test_safe_entries_refuses_unsafe_paths(path: str, problem: str) -> None:
    """An index whose paths leave the root or are not <tag>/<name> is a damaged index."""
    with pytest.raises(StateError, match=problem):
        safe_entries({path: A1})


def test_safe_entries_passes_a_good_index_through() -> None:
    """Ordinary <tag>/<name> paths are returned as they are."""
    good = by_path(A1, B1)
    assert safe_entries(good) is good


def test_the_client_files_fingerprint_follows_settings_and_generator() -> None:
    """The fingerprint changes with the publish settings and the generator, nothing else."""
    base = client_files_fingerprint(PublishConfig(), generator="mirrorsync 1")
    assert base == client_files_fingerprint(PublishConfig(), generator="mirrorsync 1")
    assert base != client_files_fingerprint(PublishConfig(), generator="mirrorsync 2")
    other = PublishConfig(base_url="https://mirror.example/pbs")
    assert base != client_files_fingerprint(other, generator="mirrorsync 1")


@pytest.mark.parametrize(
    ("changed", "status", "fingerprint", "last", "due"),
    [
        (False, "success", "f", {"status": "success", "client_files": "f"}, False),
        (True, "success", "f", {"status": "success", "client_files": "f"}, True),
        (False, "partial", "f", {"status": "success", "client_files": "f"}, True),
        (False, "success", "g", {"status": "success", "client_files": "f"}, True),
        (False, "success", "f", {}, True),  # no status.json yet
    ],
)
def test_client_files_due(
    *, changed: bool, status: str, fingerprint: str, last: dict[str, str], due: bool
) -> None:
    """Client files are rewritten when the files, the shown outcome or the settings changed."""
    got = client_files_due(files_changed=changed, status=status, fingerprint=fingerprint, last=last)
    assert got == due


# -- uv archives (bundle.uv) ---------------------------------------------------------------------


def uv_entry(version: str, triple: str = "x86_64-unknown-linux-gnu") -> IndexEntry:
    up = UpstreamAsset(name=f"uv-{triple}.tar.gz", size=1, link="https://x/uv", digest=H)
    (asset,) = uv_catalog([Release(tag=version, assets=(up,))], platforms=[]).assets
    return entry_for(resolve_expected(asset, sums=None, sidecar=None), sha256=H, size=1)


U1 = uv_entry("0.9.28")


def test_uv_archives_are_listed_apart_and_read_back_as_uv() -> None:
    """index.json keeps ``files`` for the Pythons and lists uv archives under ``uv`` (kind,
    version, triple); reading it back gives the same entries."""
    entries = by_path(A1, U1)
    ((_, data),) = rendered_index_files(
        entries, touched=(), previous={}, index_existed=False, generator="g", now=NOW, upstream={}
    )
    assert data is not None
    doc = json.loads(data)
    assert [f["path"] for f in doc["files"]] == [A1.path]
    assert doc["uv"] == [
        {
            "kind": "uv",
            "path": "uv/0.9.28/uv-x86_64-unknown-linux-gnu.tar.gz",
            "size": 1,
            "sha256": H,
            "verified": True,
            "version": "0.9.28",
            "platform": "x86_64-unknown-linux-gnu",
            "tag": "uv/0.9.28",
            "upstream_id": None,
            "upstream_updated_at": None,
        }
    ]
    assert parse_index(data) == entries
    assert safe_entries(parse_index(data)) == entries


def test_an_index_without_uv_has_no_uv_key() -> None:
    """A mirror without bundle.uv writes the index it always wrote (no ``uv`` key)."""
    ((_, data),) = rendered_index_files(
        by_path(A1),
        touched=(),
        previous={},
        index_existed=False,
        generator="g",
        now=NOW,
        upstream={},
    )
    assert data is not None
    assert "uv" not in json.loads(data)


@pytest.mark.parametrize(
    ("uv", "problem"),
    [
        ("not a list", "'uv' is not a list"),
        ([{"path": A1.path, "size": 1, "sha256": H, "verified": True, "platform": "p"}], "uv path"),
        (
            [
                {
                    "path": "uv/0.9/uv-a.tar.gz",
                    "size": 1,
                    "sha256": H,
                    "verified": True,
                    "platform": "p",
                }
            ],
            "uv path",
        ),
        (
            [{"path": U1.path, "size": 1, "sha256": "x", "verified": True, "platform": "p"}],
            "sha256",
        ),
        ([{"path": U1.path, "sha256": H, "verified": True, "platform": "p"}], "'size'"),
    ],
)
def test_a_malformed_uv_list_is_a_damaged_index(uv: object, problem: str) -> None:
    """A ``uv`` list that is not a list of uv/<version>/<name> entries is a damaged index."""
    doc = {"format": 1, "files": [], "uv": uv}
    with pytest.raises(StateError, match=problem):
        parse_index(json.dumps(doc).encode())


def test_a_uv_path_in_files_is_a_damaged_index() -> None:
    """A Python entry shaped like uv/<version>/<name> is refused (and the reverse)."""
    python_at_uv_path = dataclasses.replace(A1, path=U1.path)
    with pytest.raises(StateError, match="not <tag>/<name>"):
        safe_entries({U1.path: python_at_uv_path})
    with pytest.raises(StateError, match="not <tag>/<name>"):
        safe_entries({A1.path: dataclasses.replace(U1, path=A1.path)})


def test_a_uv_version_is_a_release_of_its_own_for_sha256sums() -> None:
    """uv/<version>/SHA256SUMS is written for a touched uv version, beside the Pythons'."""
    files = dict(
        rendered_index_files(
            by_path(A1, U1),
            touched=touched_tags([U1.path], previous={}, entries=by_path(A1, U1)),
            previous=by_path(A1, U1),
            index_existed=True,
            generator="g",
            now=NOW,
            upstream={},
        )
    )
    assert files == {"uv/0.9.28/SHA256SUMS": f"{H}  uv-x86_64-unknown-linux-gnu.tar.gz\n".encode()}


_RAW: dict[str, Any] = {
    "path": "20251217/cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz",
    "size": 1234,
    "sha256": "a" * 64,
    "verified": True,
    "python": "3.13.11",
    "platform": "x86_64-unknown-linux-gnu",
    "flavor": "install_only",
    "build": "",
    "variant": "",
    "linkage": "gnu",
    "upstream_id": 7,
    "upstream_updated_at": "2025-12-17T00:00:00Z",
}


@pytest.mark.parametrize(
    "optional",
    [{}, {"linkage": None, "upstream_id": None, "upstream_updated_at": None}, {"unknown": 1}],
)
def test_the_quick_entry_reading_equals_the_careful_one(optional: dict[str, Any]) -> None:
    """An entry mirrorsync wrote (optional fields present, null or absent; unknown keys) reads
    the same through the quick path as field by field."""
    raw = {**_RAW, **optional}
    quick = manifest._plain_entry(raw)
    assert quick is not None
    assert quick == manifest._checked_entry(raw, "", kind="python")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("path", 1),
        ("size", True),
        ("size", "1234"),
        ("sha256", "A" * 64),
        ("sha256", "a" * 63),
        ("verified", 1),
        ("platform", None),
        ("build", 0),
        ("linkage", 3),
        ("upstream_id", True),
        ("upstream_id", 1.5),
        ("upstream_updated_at", 5),
    ],
)
def test_the_quick_entry_reading_declines_what_it_would_doubt(key: str, value: object) -> None:
    """Any field of another type, a malformed sha256 or a missing field is left to the careful
    reading (which then says what is wrong, or reads the field as it always has)."""
    assert manifest._plain_entry({**_RAW, key: value}) is None


@pytest.mark.parametrize("key", sorted(_RAW))
def test_the_quick_entry_reading_needs_every_required_field(key: str) -> None:
    """Without a required field the quick path declines (the careful one names it); without
    an optional one it reads the entry as the careful one does."""
    raw = {k: v for k, v in _RAW.items() if k != key}
    quick = manifest._plain_entry(raw)
    if key in {"linkage", "upstream_id", "upstream_updated_at"}:
        assert quick == manifest._checked_entry(raw, "", kind="python")
    else:
        assert quick is None
        with pytest.raises(StateError, match=key):
            manifest._checked_entry(raw, "files[0]", kind="python")
