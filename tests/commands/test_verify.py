"""``verify`` (without ``--repair``) on trees built by a real sync against the fake GitHub."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from mirror_harness import Mirror
from processes import reaped, spawned

from mirrorsync.commands.verify import BLOCK, VerifyReport, verify, verify_document
from mirrorsync.targets import local
from mirrorsync.targets.open import open_root

DIGEST_TAG = "20251217"  # API digests and SHA256SUMS
DIGEST = [
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-aarch64-apple-darwin-install_only_stripped.tar.gz",
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst",
]
NO_SUMS_TAG = "20210724"  # no checksum published: sha256 recorded while mirroring
NO_SUMS = ["cpython-3.9.6-x86_64-unknown-linux-gnu-install_only-20210724T1424.tar.gz"]
BIG = DIGEST[2]
BIG_SIZE = 2 * BLOCK + 123  # three blocks: the streaming loop runs more than once
LINUX = f"{DIGEST_TAG}/{DIGEST[0]}"
SUMS = f"{DIGEST_TAG}/SHA256SUMS"
ASSETS = {f"{DIGEST_TAG}/{n}" for n in DIGEST} | {f"{NO_SUMS_TAG}/{n}" for n in NO_SUMS}


@pytest.fixture
async def synced(mirror: Mirror) -> Mirror:
    """A mirror synced from two releases of different checksum eras, one file over 2 MiB."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST, sizes={BIG: BIG_SIZE})
    mirror.fake.add_release(NO_SUMS_TAG, NO_SUMS, checksums="none")
    outcome = await mirror.sync()
    assert outcome.exit_code == 0
    return mirror


def kinds(report: VerifyReport) -> list[tuple[str, str]]:
    return [(p.path, p.kind) for p in report.problems]


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path below ``root`` (symlinks not followed) with its mode, size and mtime."""
    out = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            st = (Path(directory) / name).lstat()
            out[os.path.relpath(Path(directory) / name, root)] = (
                st.st_mode,
                st.st_size,
                st.st_mtime_ns,
            )
    return out


@pytest.mark.parametrize("full", [False, True])
async def test_clean_tree_verifies_ok(synced: Mirror, *, full: bool) -> None:
    """A freshly synced tree has no problems in fast or full mode, and every file is checked."""
    report = await verify(open_root(synced.root), full=full)
    assert report.problems == ()
    assert report.ok
    assert report.files_checked == 4
    total = sum(f["size"] for f in synced.index()["files"])
    assert report.bytes_hashed == (total if full else 0)


async def test_full_mode_reports_progress_as_it_reads(
    synced: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full mode tells on_bytes about the bytes as they are read, not only per finished run of
    files: with a 1 MiB step, calls of at most two blocks that add up to every byte hashed."""
    monkeypatch.setattr(local, "_PROGRESS_STEP", BLOCK)
    seen: list[int] = []
    report = await verify(open_root(synced.root), full=True, concurrency=2, on_bytes=seen.append)
    assert report.ok
    assert sum(seen) == report.bytes_hashed
    assert max(seen) <= 2 * BLOCK
    assert len(seen) >= 3  # the big file's two whole blocks, then the rest


async def test_full_mode_finds_the_same_with_one_worker_or_many(synced: Mirror) -> None:
    """Hashing with 1, 2 or 8 threads reports the same problems, in the same (sorted) order."""
    for rel in (LINUX, f"{DIGEST_TAG}/{BIG}"):
        path = synced.root / rel
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF  # same size: only the hash can tell
        path.write_bytes(bytes(data))
    (synced.root / NO_SUMS_TAG / NO_SUMS[0]).unlink()
    reports = [await verify(open_root(synced.root), full=True, concurrency=n) for n in (1, 2, 8)]
    assert [p.kind for p in reports[0].problems] == ["missing", "sha256", "sha256"]
    assert all(r == reports[0] for r in reports)
    assert reports[0].problems == tuple(
        sorted(reports[0].problems, key=lambda p: (p.path, p.kind, p.detail))
    )


async def test_full_mode_finds_the_same_in_processes_as_in_threads(
    synced: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrupt file, a missing one, an extra one and a listed path that is a directory are
    reported the same whether hashing processes or threads read the files; the bytes told to
    the progress bar add up the same (the small unlisted file's too: hashed ahead of the
    index); the processes are gone afterwards."""
    corrupt = synced.root / LINUX
    data = bytearray(corrupt.read_bytes())
    data[0] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    (synced.root / NO_SUMS_TAG / NO_SUMS[0]).unlink()
    (synced.root / DIGEST_TAG / "notes.txt").write_bytes(b"x" * 5000)
    big = synced.root / DIGEST_TAG / BIG
    big.unlink()
    big.mkdir()
    reports, told = [], []
    for threshold in (10**9, 1):
        monkeypatch.setattr(local, "_PROCESS_MIN_FILES", threshold)
        pids = spawned(monkeypatch)
        seen: list[int] = []
        reports.append(await verify(open_root(synced.root), full=True, on_bytes=seen.append))
        told.append(sum(seen))
        assert bool(pids) == (threshold == 1)
        assert all(reaped(pid) for pid in pids)
    assert kinds(reports[0]) == sorted(
        [
            (f"{NO_SUMS_TAG}/{NO_SUMS[0]}", "missing"),
            (f"{DIGEST_TAG}/{BIG}", "missing"),
            (LINUX, "sha256"),
            (f"{DIGEST_TAG}/notes.txt", "unlisted"),
        ]
    )
    assert reports[1] == reports[0]
    assert told[1] == told[0] == reports[0].bytes_hashed + 5000  # the notes, hashed ahead


async def test_full_mode_announces_the_bytes_to_hash_first(synced: Mirror) -> None:
    """Full mode calls on_total once, before any on_bytes, with the bytes it then hashes."""
    seen: list[tuple[str, int]] = []
    report = await verify(
        open_root(synced.root),
        full=True,
        on_bytes=lambda n: seen.append(("bytes", n)),
        on_total=lambda n: seen.append(("total", n)),
    )
    assert seen[0] == ("total", report.bytes_hashed)
    assert [kind for kind, _ in seen].count("total") == 1


async def test_full_mode_counts_listed_files_only(synced: Mirror) -> None:
    """An unlisted file in a release directory, hashed ahead of the index, adds no bytes to the
    report: bytes_hashed and on_total count the listed files, and it is reported as unlisted."""
    (synced.root / DIGEST_TAG / "notes.txt").write_bytes(b"x" * 5000)
    totals: list[int] = []
    report = await verify(open_root(synced.root), full=True, on_total=totals.append)
    assert report.bytes_hashed == sum(f["size"] for f in synced.index()["files"])
    assert totals == [report.bytes_hashed]
    assert [(p.path, p.kind) for p in report.problems] == [(f"{DIGEST_TAG}/notes.txt", "unlisted")]


async def test_full_mode_never_reads_a_large_unlisted_file(synced: Mirror) -> None:
    """A large unlisted file in a release directory is not hashed ahead of the index: the bytes
    told to the progress bar are exactly the listed files' (none of its 9 MiB), and it is
    reported as unlisted."""
    (synced.root / DIGEST_TAG / "operator.iso").write_bytes(b"\0" * (9 << 20))
    told: list[int] = []
    report = await verify(open_root(synced.root), full=True, on_bytes=told.append)
    assert sum(told) == report.bytes_hashed == sum(f["size"] for f in synced.index()["files"])
    assert [(p.path, p.kind) for p in report.problems] == [
        (f"{DIGEST_TAG}/operator.iso", "unlisted")
    ]


async def test_full_mode_reports_an_unsafe_unlisted_name(synced: Mirror) -> None:
    """A file named with a line end in a release directory (no index can list it) is reported
    as unlisted by --full as by the fast mode; it does not fail the verify."""
    (synced.root / DIGEST_TAG / "notes\nold.txt").write_bytes(b"x")
    for full in (False, True):
        report = await verify(open_root(synced.root), full=full)
        assert kinds(report) == [(f"{DIGEST_TAG}/notes\nold.txt", "unlisted")]


async def test_full_mode_hashes_a_listed_file_behind_a_link(synced: Mirror) -> None:
    """A listed file that is a link (the walk does not hash it) is still hashed in full mode:
    through a link to a copy with one byte changed, its sha256 is reported."""
    path = synced.root / LINUX
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    copy = synced.root.parent / "elsewhere.bin"
    copy.write_bytes(bytes(data))
    path.unlink()
    path.symlink_to(copy)
    report = await verify(open_root(synced.root), full=True)
    assert [(p.path, p.kind) for p in report.problems] == [(LINUX, "sha256")]
    assert report.bytes_hashed == sum(f["size"] for f in synced.index()["files"])


async def test_deleted_file_is_missing(synced: Mirror) -> None:
    """A listed file that is gone is reported as missing, and nothing else is."""
    (synced.root / LINUX).unlink()
    report = await verify(open_root(synced.root))
    assert kinds(report) == [(LINUX, "missing")]
    assert not report.ok


@pytest.mark.parametrize("full", [False, True])
async def test_truncated_file_is_a_size_problem(synced: Mirror, *, full: bool) -> None:
    """A file shorter than recorded is a size problem in both modes, naming both sizes."""
    path = synced.root / LINUX
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    report = await verify(open_root(synced.root), full=full)
    assert kinds(report) == [(LINUX, "size")]
    assert str(len(data) - 10) in report.problems[0].detail
    assert str(len(data)) in report.problems[0].detail


async def test_flipped_byte_is_found_only_in_full_mode(synced: Mirror) -> None:
    """A same-size corruption passes the fast check and is a sha256 problem with full=True."""
    path = synced.root / DIGEST_TAG / BIG
    data = bytearray(path.read_bytes())
    data[BLOCK + 7] ^= 0x01  # in the second block
    path.write_bytes(bytes(data))
    assert (await verify(open_root(synced.root))).ok
    report = await verify(open_root(synced.root), full=True)
    assert kinds(report) == [(f"{DIGEST_TAG}/{BIG}", "sha256")]
    assert synced.indexed()[f"{DIGEST_TAG}/{BIG}"]["sha256"] in report.problems[0].detail


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (f"{DIGEST_TAG}/notes.txt", "unlisted"),
        (f"{DIGEST_TAG}/{DIGEST[0]}.sha256", "unlisted"),  # sidecars are never mirrored
        (
            f"{DIGEST_TAG}/cpython-3.13.11+20251217-i686-pc-windows-msvc-install_only.tar.gz",
            "unlisted",
        ),
        (f"{DIGEST_TAG}/sub/index.html", "unlisted"),  # index.html only at the tag level
        ("notes.txt", "unlisted"),
        ("SHA256SUMS", "unlisted"),  # per tag only
        ("lost+found/x", "unlisted"),
        (f"{DIGEST_TAG}/.{DIGEST[0]}.4242.tmp", "leftover"),
        (".index.json.4242.tmp", "leftover"),
        (f"{DIGEST_TAG}/index.html", None),
        ("index.html", None),
        ("download-metadata.json", None),
        ("download-metadata.mirror.json", None),
        ("use-mirror.sh", None),
        ("use-mirror.ps1", None),
        ("README.txt", None),
        (f"flat/{DIGEST[0]}", None),  # client layouts are generated links, never checked
        ("github/python-build-standalone/notes.txt", None),
        (".mirrorsync/status.json.bak", None),  # state outside staging is not the tree
    ],
)
async def test_extra_files_are_classified(synced: Mirror, path: str, kind: str | None) -> None:
    """An unindexed file is unlisted, a stray temp file leftover, an allowed one no problem."""
    extra = synced.root / path
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_bytes(b"extra")
    report = await verify(open_root(synced.root))
    assert kinds(report) == ([] if kind is None else [(path, kind)])


async def test_damaged_sums_line_is_a_sums_problem(synced: Mirror) -> None:
    """A SHA256SUMS line with a wrong hash is reported on that file, naming the archive."""
    sums = synced.root / SUMS
    lines = sums.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = "0" * 64 + lines[0][64:]
    sums.write_text("".join(lines), encoding="utf-8")
    report = await verify(open_root(synced.root))
    assert kinds(report) == [(SUMS, "sums")]
    assert "sha256 differs" in report.problems[0].detail
    assert lines[0][66:].strip() in report.problems[0].detail


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        (lambda text: text.replace(DIGEST[1], "renamed.tar.gz"), "no line for"),
        (lambda text: "".join(sorted(text.splitlines(keepends=True), reverse=True)), "canonical"),
        (lambda text: text.replace("\n", "\r\n"), "canonical"),
        (lambda text: text + "not a sums line\n", "line 4"),
        (lambda _: "", "no line for"),
    ],
)
async def test_sums_must_equal_what_the_index_implies(
    synced: Mirror, damage: Callable[[str], str], detail: str
) -> None:
    """SHA256SUMS is compared byte for byte with the index's rendering; the detail says how."""
    sums = synced.root / SUMS
    sums.write_text(damage(sums.read_text(encoding="utf-8")), encoding="utf-8", newline="")
    report = await verify(open_root(synced.root))
    assert kinds(report) == [(SUMS, "sums")]
    assert detail in report.problems[0].detail


async def test_missing_or_stale_sums_are_sums_problems(synced: Mirror) -> None:
    """A missing SHA256SUMS, and one in a directory with no listed file, are sums problems."""
    (synced.root / SUMS).unlink()
    stale = synced.root / "20200101" / "SHA256SUMS"
    stale.parent.mkdir()
    stale.write_text("", encoding="utf-8")
    report = await verify(open_root(synced.root))
    assert kinds(report) == [("20200101/SHA256SUMS", "sums"), (SUMS, "sums")]


async def test_partial_download_in_staging_is_resumable_not_a_problem(synced: Mirror) -> None:
    """A partial download in the staging area is listed as resumable; the tree still verifies."""
    part = synced.root / ".mirrorsync" / "staging" / DIGEST_TAG / f"{DIGEST[0]}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"partial")
    report = await verify(open_root(synced.root))
    assert report.ok
    assert report.resumable == (f".mirrorsync/staging/{DIGEST_TAG}/{DIGEST[0]}.part",)
    assert verify_document(report)["resumable"] == list(report.resumable)


@pytest.mark.parametrize("kind", ["symlink", "too deep", "directory level"])
async def test_odd_part_files_in_staging_are_leftovers(synced: Mirror, kind: str) -> None:
    """A .part that no sync could resume (a link, or not at <tag>/<name>.part) is a leftover."""
    staging = synced.root / ".mirrorsync" / "staging"
    rel = {
        "symlink": f"{DIGEST_TAG}/link.part",
        "too deep": f"{DIGEST_TAG}/x/deep.part",
        "directory level": "top.part",
    }[kind]
    path = staging.joinpath(*rel.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "symlink":
        path.symlink_to(synced.root / "index.json")
    else:
        path.write_bytes(b"partial")
    report = await verify(open_root(synced.root))
    assert report.resumable == ()
    assert kinds(report) == [(f".mirrorsync/staging/{rel}", "leftover")]


async def test_other_file_in_staging_is_leftover(synced: Mirror) -> None:
    """A staging file that is no partial download (a killed write's temp file) is a leftover."""
    stray = synced.root / ".mirrorsync" / "staging" / DIGEST_TAG / ".x.4242.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"")
    report = await verify(open_root(synced.root))
    assert kinds(report) == [(f".mirrorsync/staging/{DIGEST_TAG}/.x.4242.tmp", "leftover")]
    assert report.resumable == ()


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (None, "missing"),
        (b"{not json", "not valid JSON"),
        (b'{"format": 99, "files": []}', "format 1"),
        (b'{"format": 1, "files": [{"path": "x"}]}', "files[0]"),
    ],
)
async def test_broken_index_is_a_problem_and_files_are_unlisted(
    synced: Mirror, content: bytes | None, detail: str
) -> None:
    """A missing or unparsable index.json is an index problem; every asset is then unlisted."""
    index = synced.root / "index.json"
    if content is None:
        index.unlink()
    else:
        index.write_bytes(content)
    for full in (False, True):
        report = await verify(open_root(synced.root), full=full)
        index_problems = [p for p in report.problems if p.kind == "index"]
        assert [p.path for p in index_problems] == ["index.json"]
        assert detail in index_problems[0].detail
        assert {p.path for p in report.problems if p.kind == "unlisted"} == ASSETS
        assert report.files_checked == 0
        assert report.bytes_hashed == 0


async def test_unsafe_index_path_is_refused(synced: Mirror, tmp_path: Path) -> None:
    """An index entry pointing outside the root is an index problem and is never looked at."""
    outside = tmp_path / "outside.tar.gz"
    outside.write_bytes(b"secret")
    doc = synced.index()
    doc["files"].append(dict(doc["files"][0], path="../outside.tar.gz", size=6))
    (synced.root / "index.json").write_text(json.dumps(doc), encoding="utf-8")
    report = await verify(open_root(synced.root), full=True)
    assert kinds(report) == [("index.json", "index")]
    assert "../outside.tar.gz" in report.problems[0].detail
    assert report.files_checked == 4


async def test_verify_never_modifies_the_tree(synced: Mirror) -> None:
    """Verifying a damaged tree in both modes leaves every path, size and mtime as it was."""
    (synced.root / LINUX).write_bytes(b"damaged")
    (synced.root / SUMS).unlink()
    part = synced.root / ".mirrorsync" / "staging" / DIGEST_TAG / "x.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"partial")
    before = snapshot(synced.root)
    for full in (False, True):
        assert not (await verify(open_root(synced.root), full=full)).ok
    assert snapshot(synced.root) == before


async def test_copied_tree_verifies_with_root_only(synced: Mirror, tmp_path: Path) -> None:
    """A copy without config or state directory verifies clean in full mode and stays unchanged."""
    stick = tmp_path / "usb" / "python"
    # Like `cp -a`: links stay links (the Astral-layout link would loop if followed).
    shutil.copytree(synced.root, stick, symlinks=True, ignore=shutil.ignore_patterns(".mirrorsync"))
    synced.config_path.unlink()
    shutil.rmtree(synced.root)
    before = snapshot(stick)
    report = await verify(open_root(stick), full=True)
    assert report.ok
    assert report.files_checked == 4
    assert snapshot(stick) == before
    assert not (stick / ".mirrorsync").exists()


async def test_symlink_layouts_cause_no_loop(synced: Mirror) -> None:
    """The github/ layout's self-referencing symlink and flat/ links are skipped, not followed."""
    download = synced.root / "github" / "python-build-standalone" / "releases" / "download"
    assert download.is_symlink()  # sync publishes it by default
    (synced.root / "flat").mkdir()
    (synced.root / "flat" / DIGEST[0]).symlink_to(Path("..", DIGEST_TAG, DIGEST[0]))
    report = await verify(open_root(synced.root), full=True)
    assert report.ok
    assert report.files_checked == 4


async def test_other_symlinks_are_unlisted_not_followed(synced: Mirror) -> None:
    """A looping directory symlink inside a release is one unlisted entry, never walked."""
    (synced.root / DIGEST_TAG / "loop").symlink_to("..", target_is_directory=True)
    report = await verify(open_root(synced.root))
    assert kinds(report) == [(f"{DIGEST_TAG}/loop", "unlisted")]


async def test_json_document_shape(synced: Mirror) -> None:
    """The --json document carries status, counts, each problem's path, kind and detail, and the
    resumable partial downloads."""
    clean = verify_document(await verify(open_root(synced.root), full=True))
    assert clean == {
        "status": "ok",
        "files_checked": 4,
        "bytes_hashed": sum(f["size"] for f in synced.index()["files"]),
        "problems": [],
        "resumable": [],
    }
    (synced.root / LINUX).unlink()
    (synced.root / DIGEST_TAG / "notes.txt").write_bytes(b"x")
    report = await verify(open_root(synced.root))
    doc = json.loads(json.dumps(verify_document(report)))
    assert doc["status"] == "problems"
    assert doc["bytes_hashed"] == 0
    assert [(p["path"], p["kind"]) for p in doc["problems"]] == [
        (LINUX, "missing"),
        (f"{DIGEST_TAG}/notes.txt", "unlisted"),
    ]
    assert all(set(p) == {"path", "kind", "detail"} and p["detail"] for p in doc["problems"])


async def test_concurrency_must_be_positive(tmp_path: Path) -> None:
    """A concurrency below one is a programming error, refused before anything is read."""
    with pytest.raises(ValueError, match="concurrency"):
        await verify(open_root(tmp_path), full=True, concurrency=0)


async def test_cancelling_a_full_verify_stops_its_hashing_threads(
    synced: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during --full: the verify is cancelled and no hashing thread outlives it."""
    monkeypatch.setattr(local, "_PROGRESS_STEP", 1)  # every block reaches the loop
    task: asyncio.Task[VerifyReport] | None = None

    def stop(_: int) -> None:
        assert task is not None
        task.cancel()

    task = asyncio.create_task(verify(open_root(synced.root), full=True, on_bytes=stop))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not [t for t in threading.enumerate() if t.name.startswith("mirrorsync-hash")]
