"""Offline bundles on real USB-stick file systems (issue 13): an exFAT image on a loop device
mounted through FUSE, and FAT32 where a real implementation mounts it read-write (the kernel's
vfat, else fusefat). Nothing is monkeypatched: the probe, the free space and the scripts meet the
file system itself. Without root, the tools or /dev/fuse the tests skip; under CI=true they fail
(``testkit/mounts.py``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eras import DIGEST, DIGEST_TAG
from fake_github import FakeAsset, FakeGitHub, FakeRelease, is_archive
from mirror_harness import Mirror
from mounts import Stick, run_tool, usb_filesystem

from mirrorsync.cli import main
from mirrorsync.core.layout import ASTRAL_LINK, STATE_DIR
from mirrorsync.targets import probe

MIB = 1 << 20
SUMMARY = re.compile(r"mirrorsync: success: fetched \d+ \([^)]*\), kept \d+, .* in \d+\.\ds")


async def cli(*argv: str) -> int:
    """``main(argv)`` off the event loop, with an empty environment."""
    return await asyncio.to_thread(main, list(argv), environ={})


async def process(*argv: str) -> tuple[int, str, str]:
    """``python -m mirrorsync argv`` as a process of its own (the fake keeps answering
    meanwhile): exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mirrorsync",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def archive_requests(fake: FakeGitHub) -> list[str]:
    """Every request for an archive the fake received, whatever it answered."""
    return [
        h.asset
        for h in fake.hits
        if h.route in ("download", "cdn") and h.asset and is_archive(h.asset)
    ]


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("WARNING", "ERROR"))]


def verify_mirror_sh(root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The tree's own check, run with ``sh`` as on a machine without mirrorsync."""
    return subprocess.run(  # noqa: S603 - the script the test generated
        [shutil.which("sh") or "sh", str(root / "verify-mirror.sh")],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=60,
    )


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def no_probe_files(mirror: Mirror) -> None:
    left = [p.name for p in (mirror.root / STATE_DIR).glob("probe-*")]
    assert left == [], f"the probe left {left}"


# -- exFAT ----------------------------------------------------------------------------------------


def test_the_probe_finds_no_links_on_exfat_and_leaves_nothing(
    mirror: Mirror, exfat_stick: Stick
) -> None:
    """exFAT refuses symbolic and hard links (the FUSE driver answers ENOSYS and EPERM): the probe
    says so; a 5 GiB file on a 128 MiB stick is "too full to tell" (ENOSPC), never a limit; the
    free space is the image's; the probe leaves no file behind."""
    stick = mirror.root
    assert probe.probe_links(stick) == (False, False), exfat_stick.describe()
    assert probe.holds(stick, 5 << 30) is None
    assert probe.probe_max_file_size(stick, 5 << 30) is None
    free = probe.free_bytes(stick)
    assert free is not None
    assert 100 * MIB < free <= 128 * MIB
    assert list(stick.iterdir()) == []


async def test_sync_onto_exfat_then_a_quiet_repeat_run_prints_only_its_summary(
    mirror: Mirror, exfat_stick: Stick, capfd: pytest.CaptureFixture[str]
) -> None:
    """On exFAT a sync succeeds with no warning, the Astral link is left out with one info line and
    a note in status.json; a repeat run under --quiet, a process of its own, prints nothing but
    its summary line and writes nothing."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure()
    assert await cli("sync", "-c", str(mirror.config_path)) == 0, exfat_stick.describe()
    out, err = capfd.readouterr()
    assert warnings(err) == []
    notes = [line for line in err.splitlines() if ASTRAL_LINK in line]
    assert len(notes) == 1
    assert "has no symbolic links" in notes[0]
    assert mirror.status()["notes"] == [notes[0].removeprefix("INFO: ")]
    assert not (mirror.root / "github").exists()
    assert sorted(p.name for p in (mirror.root / DIGEST_TAG).iterdir()) == sorted(
        [*DIGEST, "SHA256SUMS", "index.html"]
    )
    no_probe_files(mirror)
    before = {p: p.stat().st_mtime_ns for p in mirror.root.rglob("*") if STATE_DIR not in p.parts}
    code, out, err = await process("sync", "--quiet", "-c", str(mirror.config_path))
    assert (code, out) == (0, "")
    assert SUMMARY.fullmatch(err.rstrip("\n")), err
    after = {p: p.stat().st_mtime_ns for p in mirror.root.rglob("*") if STATE_DIR not in p.parts}
    assert after == before, "an idle run writes nothing outside the state directory"
    no_probe_files(mirror)


async def test_flat_true_on_exfat_is_a_configuration_error_before_any_download(
    mirror: Mirror, exfat_stick: Stick, capfd: pytest.CaptureFixture[str]
) -> None:
    """publish.flat: true on exFAT: exit 2 naming the missing hard links and `flat: copy`, and not
    one archive requested."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure(publish={"flat": True})
    assert await cli("sync", "-c", str(mirror.config_path)) == 2, exfat_stick.describe()
    err = capfd.readouterr().err
    assert "publish.flat: true needs hard links" in err
    assert f"the file system of {mirror.root} has none" in err
    assert "flat: copy" in err
    assert archive_requests(mirror.fake) == []


async def test_flat_copy_on_exfat_writes_real_copies_kept_by_a_repeat_run(
    mirror: Mirror, exfat_stick: Stick, capfd: pytest.CaptureFixture[str]
) -> None:
    """publish.flat: copy on exFAT: flat/<name> holds a copy of each archive (same bytes), a
    repeat run warns of nothing and leaves the copies alone, turning it off removes them, and
    verify --full is clean throughout."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure(publish={"flat": "copy"})
    assert await cli("sync", "-c", str(mirror.config_path)) == 0, exfat_stick.describe()
    flat = mirror.root / "flat"
    assert sorted(p.name for p in flat.iterdir()) == sorted(DIGEST)
    for name in DIGEST:
        assert (flat / name).read_bytes() == (mirror.root / DIGEST_TAG / name).read_bytes()
    copies = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in flat.iterdir()}
    assert await cli("sync", "-c", str(mirror.config_path)) == 0
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in flat.iterdir()} == copies
    assert "publish.flat" not in (mirror.root / "index.html").read_text(encoding="utf-8")
    assert await cli("verify", "--root", str(mirror.root), "--full") == 0
    assert warnings(capfd.readouterr().err) == []
    mirror.configure(publish={"flat": False})
    assert await cli("sync", "-c", str(mirror.config_path)) == 0
    assert not flat.exists()


async def test_a_selection_larger_than_the_exfat_stick_is_refused_with_no_archive_requested(
    mirror: Mirror, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """24 MiB of archives onto a 16 MiB exFAT stick: plan shows both figures and 'does NOT fit';
    sync exits 2 naming both figures and the path, and the fake sees zero archive requests."""
    names = DIGEST[:3]
    mirror.fake.add_release(DIGEST_TAG, names, sizes=dict.fromkeys(names, 8 * MIB))
    mirror.configure()
    with usb_filesystem("exfat", mirror.root, images=tmp_path / "images", size_mib=16) as stick:
        assert await cli("plan", "-c", str(mirror.config_path), "--json") == 0, stick.describe()
        space = json.loads(capsys.readouterr().out)["space"]
        assert (space["path"], space["needed_bytes"]) == (str(mirror.root), 24 * MIB)
        assert 8 * MIB < space["free_bytes"] <= 16 * MIB
        assert space["fits"] is False
        assert await cli("plan", "-c", str(mirror.config_path)) == 0
        assert "does NOT fit" in capsys.readouterr().out.splitlines()[-1]
        assert await cli("sync", "-c", str(mirror.config_path)) == 2
        err = capsys.readouterr().err
        assert f"not enough free space on {mirror.root}" in err, err
        assert f"({24 * MIB} bytes) plus a margin" in err, err
        assert re.search(r"\(\d+ bytes\) are free", err), err
        assert archive_requests(mirror.fake) == []
        assert not any(p.is_file() for p in (mirror.root / DIGEST_TAG).glob("*"))


async def test_verify_and_verify_mirror_sh_on_exfat_pass_then_catch_a_flipped_byte(
    mirror: Mirror, exfat_stick: Stick, tmp_path: Path
) -> None:
    """A synced exFAT stick: verify and verify --full exit 0 and verify-mirror.sh (run with sh from
    elsewhere) too; after one byte of an archive flips on the stick, verify-mirror.sh exits 1 with a
    FAILED line naming it and verify --full exits 1."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    assert await mirror.run() == 0, exfat_stick.describe()
    root = str(mirror.root)
    assert await cli("verify", "--root", root) == 0
    assert await cli("verify", "--root", root, "--full") == 0
    clean = verify_mirror_sh(mirror.root, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.endswith(f"{len(DIGEST)} file(s) in 1 release(s) checked, 0 problem(s)\n")
    flip_a_byte(mirror.root / DIGEST_TAG / DIGEST[2])
    broken = verify_mirror_sh(mirror.root, tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    failed, summary = broken.stdout.splitlines()
    assert failed.startswith(f"FAILED  {DIGEST_TAG}/{DIGEST[2]} (sha256 ")
    assert summary.endswith(", 1 problem(s)")
    assert await cli("verify", "--root", root, "--full") == 1


# -- FAT32 ----------------------------------------------------------------------------------------


def claim_size(fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch, name: str, size: int) -> None:
    """The fake's listing says ``name`` has ``size`` bytes (no such download is ever needed)."""
    rendered = fake._asset_json  # the listing's one seam for an asset's size

    def claimed(release: FakeRelease, asset: FakeAsset) -> dict[str, Any]:
        doc = rendered(release, asset)
        if asset.name == name:
            doc["size"] = size
        return doc

    monkeypatch.setattr(fake, "_asset_json", claimed)


async def test_fat32_refuses_a_file_of_4_gib_or_more_up_front(
    mirror: Mirror, fat32_stick: Stick, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On FAT32 a selected file of 5 GiB (so says the listing) is refused before any download by
    the probe meeting the real file system: exit 2 naming the 4 GiB - 1 limit and the file; the
    probe leaves nothing behind."""
    big = DIGEST[3]
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    claim_size(mirror.fake, monkeypatch, big, 5 << 30)
    mirror.configure()
    limit = (1 << 32) - 1
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the refusal's class is checked below
        await mirror.sync()
    assert getattr(caught.value, "exit_code", None) == 2, fat32_stick.describe()
    message = str(caught.value)
    assert (
        f"the file system of {mirror.root} cannot hold files larger than 4.0 GiB ({limit} bytes)"
        in message
    )
    assert f"1 selected file(s) are larger: {DIGEST_TAG}/{big}" in message
    assert archive_requests(mirror.fake) == []
    no_probe_files(mirror)


async def test_sync_onto_fat32_with_flat_copy_is_clean_and_verifies(
    mirror: Mirror, fat32_stick: Stick, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """FAT32 (no links, no modes, 2 s times): publish.flat: copy makes copies and nothing else in
    flat/ (no temporary file left), two runs warn of nothing, verify --full and verify-mirror.sh
    are clean."""
    mirror.fake.add_release(DIGEST_TAG, DIGEST)
    mirror.configure(publish={"flat": "copy"})
    for _ in range(2):
        assert await cli("sync", "-c", str(mirror.config_path)) == 0, fat32_stick.describe()
        assert warnings(capfd.readouterr().err) == []
    assert sorted(p.name for p in (mirror.root / "flat").iterdir()) == sorted(DIGEST)
    assert await cli("verify", "--root", str(mirror.root), "--full") == 0
    assert warnings(capfd.readouterr().err) == []
    clean = verify_mirror_sh(mirror.root, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr


# -- the sticks themselves ------------------------------------------------------------------------


def attached_images() -> str:
    return run_tool("losetup", "-a").stdout


def test_a_stick_is_unmounted_and_detached_when_the_test_fails(tmp_path: Path) -> None:
    """An exception inside ``usb_filesystem`` still unmounts the stick (a file held open on it)
    and detaches its loop device."""
    where = tmp_path / "stick"
    with (  # noqa: PT012 - the failure is raised inside the stick's block
        pytest.raises(RuntimeError, match="the test failed"),
        usb_filesystem("exfat", where, images=tmp_path / "images") as stick,
    ):
        assert os.path.ismount(where)
        assert str(stick.image) in attached_images()
        held = (where / "open.txt").open("w")
        raise RuntimeError("the test failed")
    held.close()
    assert not os.path.ismount(where)
    assert str(stick.image) not in attached_images()


def test_without_a_loop_device_fusefat_opens_the_fat32_image_itself(tmp_path: Path) -> None:
    """With no loop device a FUSE driver that can opens the image file (fusefat) and says so."""
    where = tmp_path / "stick"
    with usb_filesystem("fat32", where, images=tmp_path / "images", loop=False) as stick:
        assert (stick.driver, stick.device) == ("fusefat", str(stick.image))
        assert "on the image file itself" in stick.describe()
        (where / "hello.txt").write_text("hello", encoding="utf-8")
        assert (where / "hello.txt").read_text(encoding="utf-8") == "hello"
    assert not os.path.ismount(where)
