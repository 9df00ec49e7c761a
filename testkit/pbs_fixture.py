"""TEST INFRASTRUCTURE: a small python-build-standalone archive made from the running CPython.

``docs/clients.md`` §6 step 1: a ``.tar.gz`` whose top directory ``python/`` holds a copy of this
interpreter's binary, its shared ``libpython`` and a trimmed standard library, named like a PBS
``install_only`` asset of the far-future release ``20991231``. The binary keeps the library path
it was linked with, so the archive only runs on the machine that built it: a fixture, never an
artefact. Linux x86_64/aarch64 with glibc only.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
import sysconfig
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TAG = "20991231"
"""A release tag upstream will not reach, so the archive can never shadow a real one."""
GITHUB_PREFIX = "https://github.com/astral-sh/python-build-standalone/releases/download/"

SUPPORTED_MACHINES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}
STDLIB_SKIPPED = frozenset({"test", "idlelib", "tkinter", "ensurepip"})
"""Top-level stdlib directories nobody needs to start Python (docs/clients.md §6 step 1)."""
CONFIG_PREFIX = "config-"
"""``config-X.Y-<triple>/`` holds the static ``libpython.a`` (tens of MiB) for building
extensions; leaving it out halves the archive and nothing in these tests compiles C."""
GZIP_LEVEL = 1
"""Compression time dominates the build; uv hashes whatever bytes it gets."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FakePbsArchive:
    """The archive on disk, with everything a test asserts about it."""

    path: Path
    version: str
    """``X.Y.Z`` of the running interpreter."""
    triple: str
    arch: str
    """uv's ``arch.family`` (``x86_64`` or ``aarch64``)."""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def minor(self) -> str:
        return self.version.rpartition(".")[0]

    @property
    def mirror_path(self) -> str:
        """``<tag>/<name>`` with the literal ``+``, as the mirror stores it."""
        return f"{TAG}/{self.name}"

    @property
    def quoted_name(self) -> str:
        """The name as uv sends it: ``+`` written ``%2B``."""
        return self.name.replace("+", "%2B")

    @property
    def github_url(self) -> str:
        return f"{GITHUB_PREFIX}{TAG}/{self.quoted_name}"

    @property
    def uv_key(self) -> str:
        """uv's download key: ``cpython-{X.Y.Z}-linux-{arch}-gnu``."""
        return f"cpython-{self.version}-linux-{self.arch}-gnu"

    @property
    def installed(self) -> set[str]:
        """What uv creates in its install directory: the version and its minor-version link."""
        return {self.uv_key, f"cpython-{self.minor}-linux-{self.arch}-gnu"}

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def unsupported_reason() -> str | None:
    """Why this machine cannot build a runnable fake archive, or None when it can."""
    if sys.platform != "linux":
        return f"the fake PBS archive is built for Linux only, not {sys.platform}"
    machine = platform.machine().lower()
    if machine not in SUPPORTED_MACHINES:
        return f"the fake PBS archive is built for x86_64/aarch64 only, not {machine}"
    if platform.libc_ver()[0] != "glibc":
        return "the fake PBS archive is built for glibc (gnu) Linux only"
    if sys.version_info.releaselevel != "final":
        return f"Python {sys.version.split()[0]} is a prerelease; the mirror skips those"
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name} is not CPython"
    return None


def _stdlib_files(stdlib: Path) -> Iterator[tuple[Path, str]]:
    """``(source, path below lib/pythonX.Y/)`` of the trimmed stdlib, directories included."""
    for current, dirs, files in os.walk(stdlib):
        here = Path(current)
        rel = here.relative_to(stdlib)
        top = not rel.parts
        keep = []
        for d in sorted(dirs):
            if d == "__pycache__" or (top and (d in STDLIB_SKIPPED or d.startswith(CONFIG_PREFIX))):
                continue
            keep.append(d)
        dirs[:] = keep
        yield here, rel.as_posix()
        if rel.parts[:1] == ("site-packages",):
            dirs[:] = []  # keep the empty directory only
            continue
        for f in sorted(files):
            yield here / f, (rel / f).as_posix()


def build_fake_pbs_archive(dest: Path) -> FakePbsArchive:
    """Write the running CPython's archive into ``dest``; needs ``unsupported_reason()`` None."""
    machine = SUPPORTED_MACHINES[platform.machine().lower()]
    triple = f"{machine}-unknown-linux-gnu"
    major, minor, micro = sys.version_info[:3]
    version = f"{major}.{minor}.{micro}"
    xy = f"{major}.{minor}"
    name = f"cpython-{version}+{TAG}-{triple}-install_only.tar.gz"

    stdlib = Path(os.__file__).resolve().parent
    if not list(stdlib.glob("_sysconfigdata_*.py")):
        # uv refuses an installation without it (MissingSysconfigdata, docs/clients.md §2.3).
        raise RuntimeError(f"{stdlib}: no _sysconfigdata_*.py to put in the fake archive")
    binary = Path(os.path.realpath(sys.executable))
    lib_dynload = Path(sysconfig.get_config_var("DESTSHARED") or stdlib / "lib-dynload").resolve()

    path = dest / name
    part = dest / f".{name}.part"
    with tarfile.open(part, "w:gz", compresslevel=GZIP_LEVEL) as tar:
        tar.add(binary, f"python/bin/python{xy}")
        link = tarfile.TarInfo("python/bin/python3")
        link.type = tarfile.SYMTYPE
        link.linkname = f"python{xy}"
        link.mode = 0o777
        tar.addfile(link)
        if sysconfig.get_config_var("Py_ENABLE_SHARED"):
            libdir = Path(sysconfig.get_config_var("LIBDIR"))
            for lib in sorted(libdir.glob(f"libpython{xy}*.so*")):
                tar.add(lib, f"python/lib/{lib.name}", recursive=False)
        target = f"python/lib/python{xy}"
        for source, rel in _stdlib_files(stdlib):
            tar.add(source, f"{target}/{rel}".removesuffix("/."), recursive=False)
        if not lib_dynload.is_relative_to(stdlib):
            for source, rel in _stdlib_files(lib_dynload):
                tar.add(source, f"{target}/lib-dynload/{rel}".removesuffix("/."), recursive=False)
    shutil.move(part, path)
    return FakePbsArchive(path=path, version=version, triple=triple, arch=machine)
