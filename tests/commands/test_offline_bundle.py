"""Offline bundles (issue 13): file systems without links, the space check before the first
download, and the tree's own check scripts, run for real with ``sh`` (and ``dash``)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from eras import DIGEST, DIGEST_TAG
from fake_github import is_archive
from mirror_harness import Mirror
from mounts import small_tmpfs

from mirrorsync.cli import main
from mirrorsync.core.layout import ASTRAL_LINK, STATE_DIR
from mirrorsync.errors import ConfigError, GuardRefused
from mirrorsync.targets import probe

KIB = 1 << 10


def no_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's seam: the target's file system refuses symbolic and hard links (FAT, exFAT)."""
    monkeypatch.setattr(probe, "probe_links", lambda _directory: (False, False))


def archive_downloads(mirror: Mirror) -> list[str]:
    """The archives the fake CDN served (checksum lists are not archives)."""
    return [h.asset for h in mirror.fake.downloads() if h.asset and is_archive(h.asset)]


async def cli(*argv: str) -> int:
    """``main(argv)`` off the event loop, with an empty environment."""
    return await asyncio.to_thread(main, list(argv), environ={})


# -- file systems without links ------------------------------------------------------------------


async def test_no_links_skips_the_astral_link_with_one_info_line_and_a_note(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without links the Astral link is left out: one info line per run, a note in status.json,
    no warning on the first run nor on a repeat run, and the tree verifies clean."""
    no_links(monkeypatch)
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert await mirror.run() == 0
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
        notes = [r.getMessage() for r in caplog.records if ASTRAL_LINK in r.getMessage()]
        assert len(notes) == 1, notes
        assert "has no symbolic links" in notes[0]
        assert mirror.status()["notes"] == notes
    assert not (mirror.root / "github").exists()
    assert await cli("verify", "--root", str(mirror.root), "--full") == 0


async def test_links_where_the_file_system_makes_them_leave_no_note(mirror: Mirror) -> None:
    """On a file system with links the Astral link is published and status.json has no note."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0
    assert (mirror.root / ASTRAL_LINK).is_symlink()
    assert "notes" not in mirror.status()
    assert not list((mirror.root / STATE_DIR).glob("probe-*")), "the probe cleans up after itself"


async def test_flat_true_without_hard_links_is_a_configuration_error(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """publish.flat: true on a file system without hard links: exit 2 naming the limit and the
    way out, before any archive is downloaded."""
    no_links(monkeypatch)
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure(publish={"flat": True})
    with pytest.raises(ConfigError) as caught:
        await mirror.sync()
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert f"the file system of {mirror.root} has none" in message
    assert "publish.flat: true needs hard links" in message
    assert "flat: copy" in message
    assert archive_downloads(mirror) == []


async def test_flat_copy_writes_real_copies_and_keeps_them_on_a_repeat_run(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """publish.flat: copy gives flat/<name> as real copies (own inodes, same bytes), left alone by
    an idle run, gone with the archive's entry when the option is turned off."""
    no_links(monkeypatch)
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure(publish={"flat": "copy"})
    assert await mirror.run() == 0
    flat = mirror.root / "flat"
    assert sorted(p.name for p in flat.iterdir()) == sorted(DIGEST)
    inodes = {}
    for name in DIGEST:
        copy, original = flat / name, mirror.root / DIGEST_TAG / name
        assert copy.read_bytes() == original.read_bytes()
        assert not copy.samefile(original)
        assert copy.stat().st_nlink == 1
        inodes[name] = copy.stat().st_ino
    assert await mirror.run() == 0
    assert {name: (flat / name).stat().st_ino for name in DIGEST} == inodes  # not rewritten
    assert "publish.flat" not in (mirror.root / "index.html").read_text(encoding="utf-8")
    mirror.configure(publish={"flat": False})
    assert await mirror.run() == 0
    assert not flat.exists()


async def test_turning_flat_copy_on_counts_the_copies_of_archives_already_there(
    mirror: Mirror,
) -> None:
    """With nothing to fetch, turning publish.flat: copy on still needs the space of a copy of
    every archive the mirror holds; once they are written, nothing more."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0
    held = sum(f["size"] for f in mirror.index()["files"])
    mirror.configure(publish={"flat": "copy"})
    plan = (await mirror.sync(dry_run=True)).plan
    assert plan.fetch == ()
    assert plan.space is not None
    assert plan.space.needed_bytes == held
    assert await mirror.run() == 0
    again = (await mirror.sync(dry_run=True)).plan.space
    assert again is not None
    assert again.needed_bytes == 0


# -- fits before it starts -----------------------------------------------------------------------


async def test_a_selection_larger_than_the_disk_is_refused_before_any_download(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a 1 MiB tmpfs, 1.5 MiB of archives: plan shows both figures and 'does NOT fit'; sync
    exits 2 with both figures and the path, and not one archive is requested."""
    names = DIGEST[:3]
    mirror.fake.add_release(DIGEST_TAG, names, sizes=dict.fromkeys(names, 512 * KIB))
    mirror.configure()
    with small_tmpfs(mirror.root, size="1m"):
        assert await cli("plan", "-c", str(mirror.config_path), "--json") == 0
        space = json.loads(capsys.readouterr().out)["space"]
        assert space["path"] == str(mirror.root)
        assert space["needed_bytes"] == 3 * 512 * KIB
        assert 0 < space["free_bytes"] <= 1 << 20
        assert space["fits"] is False
        assert await cli("plan", "-c", str(mirror.config_path)) == 0
        assert "does NOT fit" in capsys.readouterr().out.splitlines()[-1]
        assert await cli("sync", "-c", str(mirror.config_path)) == 2
        err = capsys.readouterr().err
        assert f"not enough free space on {mirror.root}" in err, err
        assert f"({3 * 512 * KIB} bytes) plus a margin" in err, err
        free = re.search(r"\((\d+) bytes\) are free", err)
        assert free is not None, err  # the state directory the run made took a few blocks
        assert 0 < int(free.group(1)) <= space["free_bytes"], err
        assert archive_downloads(mirror) == []
        assert not any(p.is_file() for p in (mirror.root / DIGEST_TAG).glob("*"))


async def test_a_file_larger_than_the_file_system_holds_is_refused_up_front(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the probe finds a largest file size (FAT32: 4 GiB - 1) below a selected file, the run
    exits 2 naming the limit and the file, with nothing downloaded."""
    big, small = DIGEST[0], DIGEST[1]
    mirror.fake.add_release(DIGEST_TAG, [big, small], sizes={big: 96 * KIB, small: 16 * KIB})
    monkeypatch.setattr(probe, "probe_max_file_size", lambda _directory, _largest: 64 * KIB)
    with pytest.raises(GuardRefused) as caught:
        await mirror.sync()
    message = str(caught.value)
    assert f"the file system of {mirror.root} cannot hold files larger than 64.0 KiB" in message
    assert f"1 selected file(s) are larger: {DIGEST_TAG}/{big}" in message
    assert archive_downloads(mirror) == []


# -- self-check without mirrorsync --------------------------------------------------------------


def shells() -> list[list[str]]:
    """Every POSIX shell here the script must run under: sh, and dash and busybox when present."""
    found = [["sh"]]
    if shutil.which("dash"):
        found.append(["dash"])
    if shutil.which("busybox"):
        found.append(["busybox", "sh"])
    return found


def verify_script(
    shell: list[str], root: Path, cwd: Path, *, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the tree's verify-mirror.sh with ``shell`` from another directory (with ``path`` as
    its PATH, when given)."""
    return subprocess.run(  # noqa: S603 - a test runs the script it generated
        [shutil.which(shell[0]) or shell[0], *shell[1:], str(root / "verify-mirror.sh")],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=60,
        env=None if path is None else {"PATH": path},
    )


def tools_dir(where: Path, *tools: str) -> str:
    """A directory holding links to just ``tools`` (a PATH without the others)."""
    where.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed here")
        (where / tool).symlink_to(found)
    return str(where)


async def test_verify_mirror_sh_uses_shasum_without_sha256sum_and_says_when_neither_is_there(
    mirror: Mirror, tmp_path: Path
) -> None:
    """Without sha256sum the script hashes with shasum -a 256 (macOS); with neither it exits 2
    saying so."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0
    with_shasum = tools_dir(tmp_path / "mac", "dirname", "shasum")
    done = verify_script(["sh"], mirror.root, tmp_path, path=with_shasum)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith(", 0 problem(s)\n")
    bare = tools_dir(tmp_path / "bare", "dirname")
    done = verify_script(["sh"], mirror.root, tmp_path, path=bare)
    assert done.returncode == 2
    assert "neither sha256sum nor shasum is installed" in done.stderr


@pytest.mark.parametrize("shell", shells(), ids=" ".join)
async def test_verify_mirror_sh_passes_a_clean_tree_and_names_each_problem(
    mirror: Mirror, tmp_path: Path, shell: list[str]
) -> None:
    """verify-mirror.sh: a clean tree exits 0 with its summary; a flipped byte exits 1 naming the
    file (FAILED); a missing file exits 1 naming it (MISSING); one line per problem."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0
    root, elsewhere = mirror.root, tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean = verify_script(shell, root, elsewhere)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.splitlines() == [
        f"verify-mirror: {len(DIGEST)} file(s) in 1 release(s) checked, 0 problem(s)"
    ]
    flipped, gone = (root / DIGEST_TAG / DIGEST[0]), (root / DIGEST_TAG / DIGEST[1])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    gone.unlink()
    broken = verify_script(shell, root, elsewhere)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    lines = broken.stdout.splitlines()
    assert len(lines) == 3, lines  # two problems (in SHA256SUMS order), then the summary
    assert f"MISSING {DIGEST_TAG}/{DIGEST[1]}" in lines[:2]
    (failed,) = [line for line in lines[:2] if line.startswith("FAILED  ")]
    assert failed.startswith(f"FAILED  {DIGEST_TAG}/{DIGEST[0]} (sha256 ")
    assert lines[2].endswith(", 2 problem(s)")


async def test_verify_mirror_sh_refuses_a_tree_without_releases(tmp_path: Path) -> None:
    """A directory holding the script but no <tag>/SHA256SUMS is no mirror: exit 1, saying so."""
    from mirrorsync.publish.scripts import VERIFY_MIRROR_SH  # noqa: PLC0415

    (tmp_path / "verify-mirror.sh").write_text(VERIFY_MIRROR_SH, encoding="utf-8")
    done = verify_script(["sh"], tmp_path, tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith("NO RELEASES: ")


async def test_the_check_scripts_are_client_files_the_readme_explains(mirror: Mirror) -> None:
    """Both scripts are written (the sh one executable), recorded as mirrorsync's own client files,
    never 'unlisted' for verify, and README.txt says how to run each."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0
    root = mirror.root
    owned = json.loads((root / STATE_DIR / "client-files.json").read_bytes())["files"]
    assert {"verify-mirror.sh", "verify-mirror.ps1"} <= set(owned)
    assert (root / "verify-mirror.sh").stat().st_mode & 0o111
    readme = (root / "README.txt").read_text(encoding="utf-8")
    assert "sh /path/to/this/dir/verify-mirror.sh" in readme
    assert "verify-mirror.ps1" in readme
    assert await cli("verify", "--root", str(root)) == 0


async def test_verify_mirror_ps1_makes_each_step_of_the_sh_script(mirror: Mirror) -> None:
    """PowerShell is not on this machine: the .ps1 is checked for each step verify-mirror.sh makes
    (every <tag>/SHA256SUMS, Get-FileHash SHA256, MISSING and FAILED lines, the summary, exit
    codes)."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0
    ps1 = (mirror.root / "verify-mirror.ps1").read_text(encoding="utf-8")
    for step in (
        "$PSScriptRoot",
        "Get-ChildItem -LiteralPath $root -Directory",
        "'SHA256SUMS'",
        "Get-Content -LiteralPath $list",
        "Get-FileHash -LiteralPath $file -Algorithm SHA256",
        "else { 'unreadable' }",
        'Write-Output "MISSING $shown/$name"',
        'Write-Output "FAILED  $shown/$name',
        'Write-Output "NO RELEASES: ',
        "checked, $problems problem(s)",
        "if ($problems -eq 0) { exit 0 } else { exit 1 }",
    ):
        assert step in ps1, step
