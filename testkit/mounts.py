"""TEST INFRASTRUCTURE: small file systems mounted for a test (as root), skipped elsewhere.

``small_tmpfs`` gives a tmpfs of a chosen size (a full disk). ``usb_filesystem`` gives what a USB
stick holds: an image file (``truncate``), formatted (``mkfs.exfat`` or ``mkfs.vfat -F 32``),
attached to a loop device (``losetup -f --show``) and mounted through a real implementation
(exFAT: the FUSE driver ``mount.exfat-fuse``, else the kernel's; FAT32: the kernel's ``vfat``,
else the FUSE driver ``fusefat``). It always unmounts and detaches, also when the test fails.
Without root, a tool, ``/dev/fuse`` or a loop device the test is skipped saying which, except
under ``CI=true``, where it fails: CI (``scripts/test``) installs the tools and must run these
tests. The fixtures ``exfat_stick`` and ``fat32_stick`` mount such a stick as the ``mirror``
fixture's root (registered in ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import pytest
from mirror_harness import Mirror

Kind = Literal["exfat", "fat32"]
STICK_MIB = 128
"""Images are sparse: 128 MiB costs nothing until written, and FAT32 needs more than 32 MiB."""
FORMAT: dict[Kind, tuple[str, ...]] = {
    "exfat": ("mkfs.exfat", "-L", "PYTHONS"),
    "fat32": ("mkfs.vfat", "-F", "32"),  # no label: fusefat lists a label as a file
}
DRIVERS: dict[Kind, tuple[str, ...]] = {
    "exfat": ("mount.exfat-fuse", "kernel:exfat"),
    "fat32": ("kernel:vfat", "fusefat"),
}
"""The implementations tried, in order: ``kernel:<type>`` is ``mount -t <type>`` (needs the
kernel's module), any other name a FUSE driver run as ``<driver> <device> <mount point>``."""
BLOCK_DEVICES_ONLY = frozenset({"mount.exfat-fuse"})
"""FUSE drivers that need the loop device (exfat-fuse mounts as ``fuseblk``: an image file is
refused with "Block device required"); fusefat opens the image itself when there is no loop."""


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    """``mount``/``umount`` and the like, found on PATH, their output captured."""
    tool = shutil.which(args[0]) or args[0]
    return subprocess.run(  # noqa: S603 - fixed tools, test paths
        [tool, *args[1:]], capture_output=True, text=True, check=False, timeout=120
    )


def unavailable(what: str) -> NoReturn:
    """Skip the test saying why; under CI=true fail it instead (CI installs what it needs)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}; CI must run the USB file-system tests (scripts/test installs them)")
    pytest.skip(what)


@contextlib.contextmanager
def small_tmpfs(where: Path, *, size: str) -> Iterator[None]:
    """A tmpfs of ``size`` mounted at ``where`` for the block; skips the test when impossible."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    mounted = run_tool("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield
    finally:
        run_tool("umount", str(where))


@dataclass(frozen=True)
class Stick:
    """A mounted USB-stick file system."""

    kind: Kind
    path: Path
    """The mount point."""
    image: Path
    device: str
    """The loop device, or the image itself when the FUSE driver opened it (no loop device)."""
    driver: str
    """What mounted it: ``kernel:exfat``, ``mount.exfat-fuse``, ``kernel:vfat`` or ``fusefat``."""

    def describe(self) -> str:
        via = "a loop device" if self.device.startswith("/dev/") else "the image file itself"
        return f"{self.kind} via {self.driver} on {via} ({self.device})"


def _mount(driver: str, device: str, where: Path) -> subprocess.CompletedProcess[str]:
    if driver.startswith("kernel:"):
        return run_tool("mount", "-t", driver.removeprefix("kernel:"), device, str(where))
    if driver == "fusefat":
        return run_tool("fusefat", "-o", "rw+", device, str(where))
    return run_tool(driver, device, str(where))


def _unmount(where: Path) -> None:
    """Unmount, lazily when busy (a test that failed may hold a file open)."""
    if not os.path.ismount(where):
        return
    if run_tool("umount", str(where)).returncode != 0:
        run_tool("umount", "-l", str(where))


@contextlib.contextmanager
def usb_filesystem(
    kind: Kind, where: Path, *, images: Path, size_mib: int = STICK_MIB, loop: bool = True
) -> Iterator[Stick]:
    """A freshly formatted ``kind`` file system of ``size_mib`` MiB mounted at ``where`` (made
    if missing, empty) for the block; its image lives in ``images``. Without a loop device (or
    ``loop=False``) a FUSE driver that can opens the image itself. Skips (fails under CI=true)
    when it cannot be made here."""
    if os.geteuid() != 0:
        unavailable(f"mounting an {kind} image needs root")
    mkfs = FORMAT[kind]
    if shutil.which(mkfs[0]) is None:
        package = "exfatprogs" if kind == "exfat" else "dosfstools"
        unavailable(f"{mkfs[0]} is not installed (Debian: apt-get install {package})")
    images.mkdir(parents=True, exist_ok=True)
    image = images / f"{kind}.img"
    with image.open("wb") as f:
        f.truncate(size_mib << 20)
    formatted = run_tool(*mkfs, str(image))
    if formatted.returncode != 0:
        unavailable(f"{' '.join(mkfs)} failed: {formatted.stderr.strip() or formatted.stdout}")
    where.mkdir(parents=True, exist_ok=True)
    use_loop = loop and shutil.which("losetup") is not None
    attached = run_tool("losetup", "-f", "--show", str(image)) if use_loop else None
    device = attached.stdout.strip() if attached is not None and attached.returncode == 0 else ""
    failures: list[str] = []
    if not device:
        why = attached.stderr.strip() if attached else "losetup not used"
        failures.append(f"no loop device ({why})")
    try:
        driver = _mount_first(kind, device, image, where, failures)
        stick = Stick(
            kind=kind, path=where, image=image, device=device or str(image), driver=driver
        )
        try:
            yield stick
        finally:
            _unmount(where)
    finally:
        if device:
            run_tool("losetup", "-d", device)


def _mount_first(kind: Kind, device: str, image: Path, where: Path, failures: list[str]) -> str:
    """Mount with the first driver of ``DRIVERS[kind]`` that works; the kernel needs the loop
    device, a FUSE driver opens the image itself when there is none."""
    for driver in DRIVERS[kind]:
        if driver.startswith("kernel:") and not device:
            continue
        if driver in BLOCK_DEVICES_ONLY and not device:
            failures.append(f"{driver} mounts block devices only (fuseblk)")
            continue
        if not driver.startswith("kernel:"):
            if shutil.which(driver) is None:
                failures.append(f"{driver} is not installed")
                continue
            if not Path("/dev/fuse").exists():
                failures.append(f"{driver} needs /dev/fuse, which is missing")
                continue
        done = _mount(driver, device or str(image), where)
        if done.returncode == 0 and os.path.ismount(where):
            return driver
        failures.append(f"{driver}: {(done.stderr or done.stdout).strip() or done.returncode}")
        _unmount(where)
    packages = "exfat-fuse" if kind == "exfat" else "fusefat"
    unavailable(
        f"cannot mount {kind} here (Debian: apt-get install {packages}): " + "; ".join(failures)
    )


@pytest.fixture
def exfat_stick(mirror: Mirror, tmp_path: Path) -> Iterator[Stick]:
    """A fresh 128 MiB exFAT stick (image, loop device, FUSE) mounted as the ``mirror`` fixture's
    root: take both, ``mirror`` then syncs onto the stick."""
    with usb_filesystem("exfat", mirror.root, images=tmp_path / "images") as stick:
        yield stick


@pytest.fixture
def fat32_stick(mirror: Mirror, tmp_path: Path) -> Iterator[Stick]:
    """A fresh 128 MiB FAT32 stick mounted as the ``mirror`` fixture's root."""
    with usb_filesystem("fat32", mirror.root, images=tmp_path / "images") as stick:
        yield stick
