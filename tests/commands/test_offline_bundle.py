"""Offline bundles (issue 13) on any file system: links where it makes them, the space of
``publish.flat: copy``, and the tree's own check scripts, run for real with ``sh`` (and ``dash``).
On real exFAT and FAT32 sticks: ``test_usb_filesystems.py``."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eras import DIGEST, DIGEST_TAG
from mirror_harness import Mirror

from mirrorsync.cli import main
from mirrorsync.core.layout import ASTRAL_LINK, STATE_DIR


async def cli(*argv: str) -> int:
    """``main(argv)`` off the event loop, with an empty environment."""
    return await asyncio.to_thread(main, list(argv), environ={})


# -- file systems without links ------------------------------------------------------------------


async def test_links_where_the_file_system_makes_them_leave_no_note(mirror: Mirror) -> None:
    """On a file system with links the Astral link is published and status.json has no note."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0
    assert (mirror.root / ASTRAL_LINK).is_symlink()
    assert "notes" not in mirror.status()
    assert not list((mirror.root / STATE_DIR).glob("probe-*")), "the probe cleans up after itself"


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
