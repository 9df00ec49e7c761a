"""The manifest's decisions: which indexes a run rewrites, safe index paths, client-file refresh."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from selection_table import make_asset

from mirrorsync.config.records import PublishConfig
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
from mirrorsync.core.model import IndexEntry
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
    files = index_files(
        entries,
        touched=touched,
        previous=previous,
        index_existed=existed,
        generator="mirrorsync test",
        now=NOW,
        upstream=UPSTREAM,
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
        index_files(
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
